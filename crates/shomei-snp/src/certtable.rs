//! The extended-report certificate table (GHCB spec 56421 §4.1.8.1): 24-byte entries
//! `{guid[16], offset u32, length u32}` ended by an all-zero entry, with the blobs after it at
//! offsets relative to the start of the table. GUIDs are stored in RFC 4122 (string) byte order.
//! This is what `/dev/sev-guest` SNP_GET_EXT_REPORT and configfs-tsm `auxblob` return.

use shomei_core::x509::{Certificate, Crl};
use shomei_core::{ParseError, ParseErrorKind, Reader};

use crate::error::Error;
use crate::verify::Collateral;

const fn guid(s: [u8; 16]) -> [u8; 16] {
    s
}

/// `c0b406a4-a803-4952-9743-3fb6014cd0ae`
pub const GUID_ARK: [u8; 16] = guid([
    0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52, 0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae,
]);
/// `4ab7b379-bbac-4fe4-a02f-05aef327c782` (ASK, also used for the ASVK)
pub const GUID_ASK: [u8; 16] = guid([
    0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4, 0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82,
]);
/// `63da758d-e664-4564-adc5-f4b93be8accd`
pub const GUID_VCEK: [u8; 16] = guid([
    0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64, 0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd,
]);
/// `a8074bc2-a25a-483e-aae6-39c045a0b8a1`
pub const GUID_VLEK: [u8; 16] = guid([
    0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e, 0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1,
]);
/// `92f81bc3-5811-4d3d-97ff-d19f88dc67ea`
pub const GUID_CRL: [u8; 16] = guid([
    0x92, 0xf8, 0x1b, 0xc3, 0x58, 0x11, 0x4d, 0x3d, 0x97, 0xff, 0xd1, 0x9f, 0x88, 0xdc, 0x67, 0xea,
]);

/// At most this many entries are read (a real table has at most five).
pub const MAX_ENTRIES: usize = 64;

/// One entry of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    pub guid: [u8; 16],
    pub data: &'a [u8],
}

/// Parses a certificate table. Bytes after the last blob (page padding) are allowed.
pub fn parse(table: &[u8]) -> Result<Vec<Entry<'_>>, ParseError> {
    let mut r = Reader::new(table);
    let mut headers = Vec::new();
    loop {
        let at = r.offset();
        let guid: [u8; 16] = r.array("cert_table.guid")?;
        let offset = r.u32_le("cert_table.offset")?;
        let length = r.u32_le("cert_table.length")?;
        if guid == [0; 16] && offset == 0 && length == 0 {
            break;
        }
        if headers.len() >= MAX_ENTRIES {
            return Err(ParseError::new(
                "cert_table",
                at,
                ParseErrorKind::LengthTooLarge {
                    length: u64::try_from(headers.len()).unwrap_or(u64::MAX),
                    max: 64,
                },
            ));
        }
        headers.push((at, guid, offset, length));
    }
    let header_end = r.offset();
    let mut out = Vec::with_capacity(headers.len());
    for (at, guid, offset, length) in headers {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let len = usize::try_from(length).unwrap_or(usize::MAX);
        if start < header_end {
            return Err(ParseError::new(
                "cert_table.offset (points into the header)",
                at.saturating_add(16),
                ParseErrorKind::InvalidValue {
                    value: u64::from(offset),
                },
            ));
        }
        let data = start
            .checked_add(len)
            .and_then(|end| table.get(start..end))
            .ok_or_else(|| {
                ParseError::new(
                    "cert_table.length (past the end of the table)",
                    at.saturating_add(20),
                    ParseErrorKind::Truncated {
                        needed: start.saturating_add(len),
                        available: table.len(),
                    },
                )
            })?;
        out.push(Entry { guid, data });
    }
    Ok(out)
}

/// Builds a table from entries (for emulators and tests): headers, terminator, then blobs.
pub fn encode(entries: &[([u8; 16], &[u8])]) -> Vec<u8> {
    let header = (entries.len() + 1) * 24;
    let mut out = Vec::new();
    let mut blob_off = header;
    for (g, data) in entries {
        out.extend_from_slice(g);
        out.extend_from_slice(&u32::try_from(blob_off).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_le_bytes());
        blob_off += data.len();
    }
    out.extend_from_slice(&[0u8; 24]);
    for (_, data) in entries {
        out.extend_from_slice(data);
    }
    out
}

/// Turns a parsed table into verification collateral. Unknown GUIDs are ignored.
pub fn to_collateral(entries: &[Entry<'_>]) -> Result<Collateral, Error> {
    let mut c = Collateral::new();
    for e in entries {
        let what = match e.guid {
            GUID_ARK => "ARK",
            GUID_ASK => "ASK",
            GUID_VCEK => "VCEK",
            GUID_VLEK => "VLEK",
            GUID_CRL => {
                let crl = Crl::from_der_or_pem(e.data).map_err(|source| Error::Certificate {
                    what: "certificate table CRL".into(),
                    source,
                })?;
                c.crls.push(crl);
                continue;
            }
            _ => continue,
        };
        let cert = Certificate::from_der(e.data).map_err(|source| Error::Certificate {
            what: format!("certificate table {what}"),
            source,
        })?;
        c.certificates.push(cert);
    }
    Ok(c)
}

/// Whether `bytes` looks like a certificate table (its first GUID is a known one).
pub fn looks_like_table(bytes: &[u8]) -> bool {
    bytes.get(..16).is_some_and(|g| {
        [GUID_ARK, GUID_ASK, GUID_VCEK, GUID_VLEK, GUID_CRL]
            .iter()
            .any(|k| k == g)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let a = [1u8, 2, 3];
        let b = [9u8; 10];
        let t = encode(&[(GUID_VCEK, &a), (GUID_ARK, &b)]);
        let e = parse(&t).ok().unwrap_or_default();
        assert_eq!(e.len(), 2);
        assert_eq!(e.first().map(|x| x.data), Some(&a[..]));
        assert_eq!(e.get(1).map(|x| (x.guid, x.data)), Some((GUID_ARK, &b[..])));
        assert!(looks_like_table(&t));
    }

    #[test]
    fn offsets_into_the_header_or_past_the_end_are_rejected() {
        let mut t = encode(&[(GUID_VCEK, &[1, 2, 3])]);
        t[16..20].copy_from_slice(&4u32.to_le_bytes());
        assert!(parse(&t).is_err());
        let mut t = encode(&[(GUID_VCEK, &[1, 2, 3])]);
        t[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse(&t).is_err());
    }

    #[test]
    fn missing_terminator_is_truncation() {
        let t = encode(&[(GUID_VCEK, &[])]);
        assert!(parse(&t[..30]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let _ = parse(&data);
        }
    }
}
