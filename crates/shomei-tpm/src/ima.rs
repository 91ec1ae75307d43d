//! Linux IMA measurement lists: the ASCII form (`ascii_runtime_measurements`) and the binary
//! form (`binary_runtime_measurements`), templates `ima`, `ima-ng` and `ima-sig`, replayed into
//! PCR 10 of any bank.

use shomei_core::{ParseError, ParseErrorKind, Reader};

use crate::alg::HashAlg;

/// TCG_EVENT_NAME_LEN_MAX.
const MAX_TEMPLATE_NAME: usize = 255;

/// One measurement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImaEntry {
    pub pcr: u32,
    /// The SHA-1 template hash as logged (all zero for a violation).
    pub template_hash: Vec<u8>,
    pub template: String,
    /// The template data (as logged in binary form; rebuilt from the fields for ASCII).
    pub template_data: Vec<u8>,
    /// File digest algorithm and value (`sha256`, …).
    pub file_digest: Option<(String, Vec<u8>)>,
    pub path: String,
    /// The ima-sig signature, when present.
    pub signature: Option<Vec<u8>>,
}

impl ImaEntry {
    /// Whether this is a violation entry (logged as zeros, extended as 0xFF…).
    pub fn is_violation(&self) -> bool {
        self.template_hash.iter().all(|b| *b == 0)
    }
}

fn bad(field: &'static str, offset: usize, why: &'static str) -> ParseError {
    ParseError::new(field, offset, ParseErrorKind::Malformed(why))
}

fn push_len(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&u32::try_from(b.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(b);
}

/// Parses either form (binary when the first byte is not an ASCII digit).
pub fn parse(bytes: &[u8]) -> Result<Vec<ImaEntry>, ParseError> {
    if bytes.is_empty() {
        return Err(bad("IMA log", 0, "empty measurement list"));
    }
    if bytes.first().is_some_and(u8::is_ascii_digit)
        && bytes.get(1..4).is_some_and(|b| b.contains(&b' '))
    {
        parse_ascii(bytes)
    } else {
        parse_binary(bytes)
    }
}

fn split_digest(field: &str) -> Option<(String, Vec<u8>)> {
    let (alg, hexd) = field.split_once(':')?;
    Some((alg.to_owned(), hex::decode(hexd).ok()?))
}

/// The ASCII form: `<pcr> <template-hash> <template> <fields…>` per line.
pub fn parse_ascii(bytes: &[u8]) -> Result<Vec<ImaEntry>, ParseError> {
    let text = core::str::from_utf8(bytes)
        .map_err(|e| bad("IMA ascii log", e.valid_up_to(), "not UTF-8"))?;
    let mut out = Vec::new();
    let mut offset = 0usize;
    for line in text.split_inclusive('\n') {
        let at = offset;
        offset = offset.saturating_add(line.len());
        let line = line.trim_end_matches(['\n', '\r']);
        if line.is_empty() {
            continue;
        }
        let mut f = line.split(' ');
        let pcr: u32 = f
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| bad("IMA entry PCR", at, "not a number"))?;
        let template_hash = f
            .next()
            .and_then(|h| hex::decode(h).ok())
            .filter(|h| h.len() == 20)
            .ok_or_else(|| bad("IMA entry template hash", at, "not 20 bytes of hex"))?;
        let template = f
            .next()
            .ok_or_else(|| bad("IMA entry template", at, "missing"))?
            .to_owned();
        let rest: Vec<&str> = f.collect();
        let (file_digest, path, signature, data) = match template.as_str() {
            "ima-ng" | "ima-sig" => {
                let dg = rest
                    .first()
                    .and_then(|d| split_digest(d))
                    .ok_or_else(|| bad("IMA d-ng field", at, "not <alg>:<hex>"))?;
                let (sig, path_fields) = if template == "ima-sig" && rest.len() >= 3 {
                    let s = rest.last().and_then(|s| hex::decode(s).ok());
                    (s, rest.get(1..rest.len().saturating_sub(1)).unwrap_or(&[]))
                } else {
                    (None, rest.get(1..).unwrap_or(&[]))
                };
                let path = path_fields.join(" ");
                let mut d_ng = format!("{}:", dg.0).into_bytes();
                d_ng.push(0);
                d_ng.extend_from_slice(&dg.1);
                let mut n_ng = path.clone().into_bytes();
                n_ng.push(0);
                let mut data = Vec::new();
                push_len(&mut data, &d_ng);
                push_len(&mut data, &n_ng);
                if template == "ima-sig" {
                    push_len(&mut data, sig.as_deref().unwrap_or(&[]));
                }
                (Some(dg), path, sig, data)
            }
            "ima" => {
                let d = rest
                    .first()
                    .and_then(|d| hex::decode(d).ok())
                    .filter(|d| d.len() == 20)
                    .ok_or_else(|| bad("IMA d field", at, "not 20 bytes of hex"))?;
                let path = rest.get(1..).unwrap_or(&[]).join(" ");
                let mut data = d.clone();
                let mut name = path.clone().into_bytes();
                name.resize(256, 0);
                data.extend_from_slice(&name);
                (Some(("sha1".to_owned(), d)), path, None, data)
            }
            _ => {
                return Err(bad(
                    "IMA entry template",
                    at,
                    "unsupported template (ima, ima-ng, ima-sig)",
                ));
            }
        };
        out.push(ImaEntry {
            pcr,
            template_hash,
            template,
            template_data: data,
            file_digest,
            path,
            signature,
        });
    }
    if out.is_empty() {
        return Err(bad("IMA ascii log", 0, "no entries"));
    }
    Ok(out)
}

/// The binary form: pcr u32, template hash[20], name length u32, name, data length u32, data
/// (host-endian; little-endian assumed).
pub fn parse_binary(bytes: &[u8]) -> Result<Vec<ImaEntry>, ParseError> {
    let mut r = Reader::new(bytes);
    let mut out = Vec::new();
    while !r.is_empty() {
        let pcr = r.u32_le("IMA pcr")?;
        let template_hash = r.take(20, "IMA template hash")?.to_vec();
        let at = r.offset();
        let nlen = usize::try_from(r.u32_le("IMA template name length")?).unwrap_or(usize::MAX);
        if nlen == 0 || nlen > MAX_TEMPLATE_NAME {
            return Err(bad("IMA template name length", at, "not 1..=255"));
        }
        let name = r.take(nlen, "IMA template name")?;
        let template = String::from_utf8_lossy(name).into_owned();
        let dlen = usize::try_from(r.u32_le("IMA template data length")?).unwrap_or(usize::MAX);
        let data = r.take(dlen, "IMA template data")?.to_vec();
        let (file_digest, path, signature) = decode_ng(&template, &data);
        out.push(ImaEntry {
            pcr,
            template_hash,
            template,
            template_data: data,
            file_digest,
            path,
            signature,
        });
    }
    Ok(out)
}

type NgFields = (Option<(String, Vec<u8>)>, String, Option<Vec<u8>>);

fn decode_ng(template: &str, data: &[u8]) -> NgFields {
    if !matches!(template, "ima-ng" | "ima-sig") {
        return (None, String::new(), None);
    }
    let mut r = Reader::new(data);
    let mut field = || -> Option<&[u8]> {
        let n = usize::try_from(r.u32_le("len").ok()?).ok()?;
        r.take(n, "field").ok()
    };
    let d = field();
    let n = field();
    let s = field();
    let digest = d.and_then(|d| {
        let colon = d.iter().position(|b| *b == b':')?;
        let alg = String::from_utf8_lossy(d.get(..colon)?).into_owned();
        let rest = d.get(colon.saturating_add(2)..)?;
        Some((alg, rest.to_vec()))
    });
    let path = n
        .map(|n| String::from_utf8_lossy(n.strip_suffix(&[0]).unwrap_or(n)).into_owned())
        .unwrap_or_default();
    (
        digest,
        path,
        s.filter(|s| !s.is_empty()).map(<[u8]>::to_vec),
    )
}

/// How a non-SHA-1 bank is extended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BankDigest {
    /// H_bank(template data) (kernels with crypto-agile template hashes, 5.x+).
    TemplateData,
    /// The SHA-1 template hash zero-padded to the bank size (older kernels).
    PaddedSha1,
}

/// Result of a PCR 10 replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImaReplay {
    pub value: Vec<u8>,
    /// Indices of entries whose logged SHA-1 template hash is not SHA-1(template data).
    pub template_hash_mismatches: Vec<usize>,
}

/// Replays the entries for `pcr` (normally 10) in `bank`.
pub fn replay(entries: &[ImaEntry], pcr: u32, bank: HashAlg, how: BankDigest) -> ImaReplay {
    let mut value = vec![0u8; bank.len()];
    let mut mismatches = Vec::new();
    for (i, e) in entries.iter().enumerate().filter(|(_, e)| e.pcr == pcr) {
        let digest = if e.is_violation() {
            vec![0xFF; bank.len()]
        } else {
            if HashAlg::Sha1.digest(&e.template_data) != e.template_hash {
                mismatches.push(i);
            }
            match (bank, how) {
                (HashAlg::Sha1, _) => e.template_hash.clone(),
                (_, BankDigest::TemplateData) => bank.digest(&e.template_data),
                (_, BankDigest::PaddedSha1) => {
                    let mut d = e.template_hash.clone();
                    d.resize(bank.len(), 0);
                    d
                }
            }
        };
        value = bank.extend(&value, &digest);
    }
    ImaReplay {
        value,
        template_hash_mismatches: mismatches,
    }
}
