//! Hex encoding and decoding of fixed-size fields for command lines, JSON and policies.

use serde::{Deserialize, Deserializer, Serializer};

/// Decodes hex (upper or lower case, optional `0x` prefix, optional ':' or whitespace separators).
pub fn decode(s: &str) -> Result<Vec<u8>, hex::FromHexError> {
    let t = s.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    let cleaned: String = t
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    hex::decode(cleaned)
}

pub fn encode(b: &[u8]) -> String {
    hex::encode(b)
}

/// Serde helper: serialize bytes as lowercase hex.
pub fn serialize<S: Serializer, T: AsRef<[u8]>>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(v.as_ref()))
}

/// Serde helper: deserialize bytes from hex.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let s = String::deserialize(d)?;
    decode(&s).map_err(serde::de::Error::custom)
}
