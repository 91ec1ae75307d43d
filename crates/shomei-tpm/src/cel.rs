//! The TCG Canonical Event Log (CEL), TLV encoding: each record is a sequence of
//! `{type u8, length u32 big-endian, value}` — RECNUM (0), then the register (PCR 1, NV index 2,
//! or a confidential-computing MR index 108 as Google's Confidential Space writes on TDX), then
//! DIGESTS (3: nested TLVs whose type is the TPM_ALG_ID and whose value is the digest), then the
//! content (4 CEL_MGT, 5 PCCLIENT_STD, 7 IMA_TEMPLATE, 8 IMA_TLV, 0x50 COS, …). Replay extends
//! each recorded digest into its register, exactly as the TCG log formats do.

use std::collections::BTreeMap;

use shomei_core::{ParseError, ParseErrorKind, Reader};

use crate::alg::HashAlg;

pub const TLV_RECNUM: u8 = 0;
pub const TLV_PCR: u8 = 1;
pub const TLV_NV_INDEX: u8 = 2;
pub const TLV_DIGESTS: u8 = 3;
pub const TLV_CC_MR: u8 = 108;

/// Records are bounded: a larger log is refused rather than read without limit.
pub const MAX_RECORDS: usize = 1 << 20;

/// The register a record extends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Register {
    Pcr(u32),
    NvIndex(u32),
    /// Confidential-computing MR index (1..4 = RTMR0..3 on TDX).
    CcMr(u32),
}

/// One CEL record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CelRecord<'a> {
    /// Offset of the record in the log.
    pub offset: usize,
    pub recnum: u64,
    pub register: Register,
    /// (TPM_ALG_ID, digest) as recorded.
    pub digests: Vec<(u16, &'a [u8])>,
    pub content_type: u8,
    pub content: &'a [u8],
}

struct Tlv<'a> {
    at: usize,
    tag: u8,
    value: &'a [u8],
}

fn tlv<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<Tlv<'a>, ParseError> {
    let at = r.offset();
    let tag = r.u8(what)?;
    let len = usize::try_from(r.u32_be("CEL TLV length")?).unwrap_or(usize::MAX);
    let value = r.take(len, "CEL TLV value")?;
    Ok(Tlv { at, tag, value })
}

/// A big-endian unsigned integer of at most `max` bytes.
fn uint(t: &Tlv<'_>, max: usize, what: &'static str) -> Result<u64, ParseError> {
    if t.value.is_empty() || t.value.len() > max {
        return Err(ParseError::new(
            what,
            t.at,
            ParseErrorKind::LengthTooLarge {
                length: u64::try_from(t.value.len()).unwrap_or(u64::MAX),
                max: u64::try_from(max).unwrap_or(u64::MAX),
            },
        ));
    }
    Ok(t.value
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

/// Parses a CEL-TLV log. Every record must have RECNUM, a register, DIGESTS and a content TLV, in
/// that order; trailing bytes that do not form a record are an error.
pub fn parse(bytes: &[u8]) -> Result<Vec<CelRecord<'_>>, ParseError> {
    let mut r = Reader::new(bytes);
    let mut out = Vec::new();
    while !r.is_empty() {
        if out.len() >= MAX_RECORDS {
            return Err(ParseError::new(
                "CEL",
                r.offset(),
                ParseErrorKind::LengthTooLarge {
                    length: u64::try_from(out.len()).unwrap_or(u64::MAX),
                    max: u64::try_from(MAX_RECORDS).unwrap_or(u64::MAX),
                },
            ));
        }
        let offset = r.offset();
        let rec = tlv(&mut r, "CEL RECNUM type")?;
        if rec.tag != TLV_RECNUM {
            return Err(ParseError::new(
                "CEL record: expected RECNUM (0)",
                rec.at,
                ParseErrorKind::InvalidValue {
                    value: u64::from(rec.tag),
                },
            ));
        }
        let recnum = uint(&rec, 8, "CEL RECNUM")?;
        let reg = tlv(&mut r, "CEL register type")?;
        let index = u32::try_from(uint(&reg, 4, "CEL register index")?).unwrap_or(u32::MAX);
        let register = match reg.tag {
            TLV_PCR => Register::Pcr(index),
            TLV_NV_INDEX => Register::NvIndex(index),
            TLV_CC_MR => Register::CcMr(index),
            other => {
                return Err(ParseError::new(
                    "CEL record: expected PCR (1), NV index (2) or CC MR (108)",
                    reg.at,
                    ParseErrorKind::InvalidValue {
                        value: u64::from(other),
                    },
                ));
            }
        };
        let dig = tlv(&mut r, "CEL DIGESTS type")?;
        if dig.tag != TLV_DIGESTS {
            return Err(ParseError::new(
                "CEL record: expected DIGESTS (3)",
                dig.at,
                ParseErrorKind::InvalidValue {
                    value: u64::from(dig.tag),
                },
            ));
        }
        let mut dr = Reader::new(dig.value);
        let mut digests = Vec::new();
        while !dr.is_empty() {
            let d = tlv(&mut dr, "CEL digest algorithm")?;
            let alg = u16::from(d.tag);
            if let Some(h) = HashAlg::from_id(alg) {
                if d.value.len() != h.len() {
                    return Err(ParseError::new(
                        "CEL digest length",
                        dig.at.saturating_add(5).saturating_add(d.at),
                        ParseErrorKind::InvalidValue {
                            value: u64::try_from(d.value.len()).unwrap_or(u64::MAX),
                        },
                    ));
                }
            }
            digests.push((alg, d.value));
        }
        let content = tlv(&mut r, "CEL content type")?;
        out.push(CelRecord {
            offset,
            recnum,
            register,
            digests,
            content_type: content.tag,
            content: content.value,
        });
    }
    Ok(out)
}

/// Replays every PCR and CC MR a CEL extends: bank → register → value. PCRs 17–22 start at all
/// 0xFF (the TPM's DRTM rule), everything else at zero; unknown digest algorithms are skipped.
pub fn replay(records: &[CelRecord<'_>]) -> BTreeMap<HashAlg, BTreeMap<Register, Vec<u8>>> {
    let mut banks: BTreeMap<HashAlg, BTreeMap<Register, Vec<u8>>> = BTreeMap::new();
    for rec in records {
        for (alg, digest) in &rec.digests {
            let Some(h) = HashAlg::from_id(*alg) else {
                continue;
            };
            let reg = banks
                .entry(h)
                .or_default()
                .entry(rec.register)
                .or_insert_with(|| {
                    let fill = match rec.register {
                        Register::Pcr(17..=22) => 0xFF,
                        _ => 0,
                    };
                    vec![fill; h.len()]
                });
            *reg = h.extend(reg, digest);
        }
    }
    banks
}

/// Whether `bytes` starts like a CEL-TLV log: a RECNUM TLV of 1..=8 bytes followed by a PCR, NV
/// index or CC MR TLV of 1..=4 bytes. (A TCG log also starts with four zero bytes — PCR 0 — so
/// the first TLV alone is not enough.)
pub fn looks_like_cel(bytes: &[u8]) -> bool {
    let Some((&[0, 0, 0, 0, n], rest)) = bytes.split_first_chunk::<5>() else {
        return false;
    };
    if !(1..=8).contains(&n) {
        return false;
    }
    let after = rest.get(usize::from(n)..).unwrap_or(&[]);
    matches!(after, [TLV_PCR | TLV_NV_INDEX | TLV_CC_MR, 0, 0, 0, l, ..] if (1..=4).contains(l))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv_bytes(tag: u8, value: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        v.extend_from_slice(&u32::try_from(value.len()).unwrap_or(0).to_be_bytes());
        v.extend_from_slice(value);
        v
    }

    fn record(n: u8, reg: (u8, u8), digests: &[(u8, Vec<u8>)], content: &[u8]) -> Vec<u8> {
        let mut d = Vec::new();
        for (alg, dig) in digests {
            d.extend(tlv_bytes(*alg, dig));
        }
        [
            tlv_bytes(TLV_RECNUM, &[n]),
            tlv_bytes(reg.0, &[reg.1]),
            tlv_bytes(TLV_DIGESTS, &d),
            tlv_bytes(0x50, content),
        ]
        .concat()
    }

    fn sha256(parts: &[&[u8]]) -> Vec<u8> {
        let mut c = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        for p in parts {
            c.update(p);
        }
        c.finish().as_ref().to_vec()
    }

    fn sample() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let (a, b) = (sha256(&[b"event a"]), sha256(&[b"event b"]));
        let log = [
            record(0, (TLV_PCR, 13), &[(0x0B, a.clone())], b"a"),
            record(1, (TLV_PCR, 13), &[(0x0B, b.clone())], b"b"),
            record(2, (TLV_CC_MR, 4), &[(0x0B, a.clone())], b"c"),
        ]
        .concat();
        (log, a, b)
    }

    #[test]
    fn replay_extends_each_register_from_its_initial_value() {
        let (log, a, b) = sample();
        let recs = parse(&log).ok().unwrap_or_default();
        assert_eq!(recs.len(), 3);
        assert_eq!(recs.get(2).map(|r| r.register), Some(Register::CcMr(4)));
        let banks = replay(&recs);
        let pcr13 = sha256(&[&sha256(&[&[0u8; 32], &a]), &b]);
        let rtmr3 = sha256(&[&[0u8; 32], &a]);
        let sha = banks.get(&HashAlg::Sha256);
        assert_eq!(sha.and_then(|m| m.get(&Register::Pcr(13))), Some(&pcr13));
        assert_eq!(sha.and_then(|m| m.get(&Register::CcMr(4))), Some(&rtmr3));
        assert!(looks_like_cel(&log));
        // A TCG log's first header (PCR 0, EV_NO_ACTION, zero SHA-1 digest) is not a CEL.
        let mut tcg = vec![0u8, 0, 0, 0, 3, 0, 0, 0];
        tcg.extend_from_slice(&[0; 20]);
        assert!(!looks_like_cel(&tcg));
    }

    #[test]
    fn every_truncation_fails_and_order_is_enforced() {
        let (log, a, _) = sample();
        for n in 1..log.len() {
            let cut = log.get(..n).unwrap_or(&[]);
            // A cut exactly between records is a shorter valid log.
            let boundary = [0usize, 1, 2]
                .iter()
                .any(|k| parse(&log).ok().and_then(|r| r.get(*k).map(|x| x.offset)) == Some(n));
            assert_eq!(parse(cut).is_ok(), boundary, "cut at {n}");
        }
        let swapped = [tlv_bytes(TLV_PCR, &[1]), tlv_bytes(TLV_RECNUM, &[0])].concat();
        assert!(parse(&swapped).is_err());
        let short_digest = record(0, (TLV_PCR, 1), &[(0x0B, a[..31].to_vec())], b"");
        assert!(parse(&short_digest).is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse(&data).map(|r| replay(&r));
        }
    }
}
