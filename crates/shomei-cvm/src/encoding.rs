//! Byte fields as evidence documents carry them: JSON arrays of numbers (serde's `Vec<u8>`), hex
//! strings, or base64 (URL-safe or standard, padded or not).

use base64ct::{Base64, Base64Unpadded, Base64Url, Base64UrlUnpadded, Encoding};
use serde::de::{self, Deserializer, SeqAccess, Visitor};

/// Decodes base64 in any of its four common forms (whitespace ignored).
pub fn b64_decode(s: &str) -> Result<Vec<u8>, String> {
    let t: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let url = t.contains('-') || t.contains('_');
    type Decode = fn(&str) -> Result<Vec<u8>, base64ct::Error>;
    let attempts: [Decode; 2] = if url {
        [Base64Url::decode_vec, Base64UrlUnpadded::decode_vec]
    } else {
        [Base64::decode_vec, Base64Unpadded::decode_vec]
    };
    for f in attempts {
        if let Ok(v) = f(&t) {
            return Ok(v);
        }
    }
    // A URL-safe string without '-' or '_' is also standard base64, handled above.
    Err("not valid base64 or base64url".to_owned())
}

/// Base64 (standard) of `b`, for documents this crate writes.
pub fn b64_encode(b: &[u8]) -> String {
    Base64::encode_string(b)
}

/// How a string member is decoded first.
#[derive(Clone, Copy)]
pub enum Prefer {
    Hex,
    Base64,
}

/// Decodes a string member: the preferred encoding, then the other.
pub fn decode_str(s: &str, prefer: Prefer) -> Result<Vec<u8>, String> {
    let hex_first = || shomei_core::hexfmt::decode(s).map_err(|e| e.to_string());
    match prefer {
        Prefer::Hex => hex_first().or_else(|_| b64_decode(s)),
        Prefer::Base64 => b64_decode(s).or_else(|_| hex_first()),
    }
    .map_err(|_| "neither hex nor base64".to_owned())
}

struct BytesVisitor(Prefer);

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("bytes: an array of numbers 0-255, a hex string or a base64 string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
        decode_str(v, self.0).map_err(E::custom)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        // Bounded by the document, which the caller has already read into memory.
        let mut out = Vec::new();
        while let Some(b) = seq.next_element::<u8>()? {
            out.push(b);
        }
        Ok(out)
    }
}

/// Serde: bytes from an array, hex (preferred) or base64.
pub fn hex_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    d.deserialize_any(BytesVisitor(Prefer::Hex))
}

/// Serde: bytes from an array, base64 (preferred) or hex.
pub fn b64_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    d.deserialize_any(BytesVisitor(Prefer::Base64))
}

/// Serde: a list of byte strings (hex preferred).
pub fn hex_bytes_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
    struct One(Vec<u8>);
    impl<'de> serde::Deserialize<'de> for One {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            hex_bytes(d).map(One)
        }
    }
    let v: Vec<One> = serde::Deserialize::deserialize(d)?;
    Ok(v.into_iter().map(|o| o.0).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_forms_all_decode() {
        for s in ["_-8", "_-8=", "/+8=", "/+8"] {
            assert_eq!(b64_decode(s).ok(), Some(vec![0xff, 0xef]), "{s}");
        }
        assert!(b64_decode("@@").is_err());
    }

    #[test]
    fn hex_preferred_then_base64() {
        assert_eq!(decode_str("0102", Prefer::Hex).ok(), Some(vec![1, 2]));
        assert_eq!(
            decode_str("AQI=", Prefer::Hex).ok(),
            Some(vec![1, 2]),
            "falls back to base64"
        );
        assert_eq!(decode_str("AQI", Prefer::Base64).ok(), Some(vec![1, 2]));
    }
}
