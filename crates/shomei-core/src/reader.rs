//! A bounded, zero-copy reader over received bytes, in the style of rustls' codec: every read
//! names the field it reads, so every error says *what* and *where*.

use core::fmt;

/// Why a parse failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The input ended before the field did.
    Truncated { needed: usize, available: usize },
    /// Bytes were left over after the structure ended.
    TrailingData { extra: usize },
    /// A reserved field that must be zero was not.
    ReservedNonZero,
    /// A field holds a value the format does not allow.
    InvalidValue { value: u64 },
    /// The structure's version is not one this parser knows.
    UnsupportedVersion { found: u32 },
    /// A length field exceeds the allowed bound.
    LengthTooLarge { length: u64, max: u64 },
    /// Anything else, described.
    Malformed(&'static str),
}

/// A parse failure: the field, its byte offset in the input, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    pub field: &'static str,
    pub offset: usize,
    pub kind: ParseErrorKind,
}

impl ParseError {
    pub fn new(field: &'static str, offset: usize, kind: ParseErrorKind) -> Self {
        Self {
            field,
            offset,
            kind,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (field, off) = (self.field, self.offset);
        match &self.kind {
            ParseErrorKind::Truncated { needed, available } => write!(
                f,
                "{field} at offset {off:#x}: truncated (needs {needed} bytes, {available} available)"
            ),
            ParseErrorKind::TrailingData { extra } => {
                write!(
                    f,
                    "{field} at offset {off:#x}: {extra} unexpected trailing bytes"
                )
            }
            ParseErrorKind::ReservedNonZero => {
                write!(f, "{field} at offset {off:#x}: reserved field is not zero")
            }
            ParseErrorKind::InvalidValue { value } => {
                write!(f, "{field} at offset {off:#x}: invalid value {value:#x}")
            }
            ParseErrorKind::UnsupportedVersion { found } => {
                write!(f, "{field} at offset {off:#x}: unsupported version {found}")
            }
            ParseErrorKind::LengthTooLarge { length, max } => write!(
                f,
                "{field} at offset {off:#x}: length {length} exceeds the maximum {max}"
            ),
            ParseErrorKind::Malformed(why) => write!(f, "{field} at offset {off:#x}: {why}"),
        }
    }
}

/// A cursor over a byte slice. Reads never panic and never allocate.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf[0]` within the outermost input, so nested readers report absolute offsets.
    base: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            base: 0,
        }
    }

    /// The absolute offset of the next byte.
    pub fn offset(&self) -> usize {
        self.base.saturating_add(self.pos)
    }

    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The unread bytes, without consuming them.
    pub fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    /// Takes `n` bytes for `field`.
    pub fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], ParseError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        match end.and_then(|end| self.buf.get(self.pos..end).map(|s| (s, end))) {
            Some((s, end)) => {
                self.pos = end;
                Ok(s)
            }
            None => Err(ParseError::new(
                field,
                self.offset(),
                ParseErrorKind::Truncated {
                    needed: n,
                    available: self.remaining(),
                },
            )),
        }
    }

    /// Takes exactly `N` bytes as an array.
    pub fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], ParseError> {
        let s = self.take(N, field)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    pub fn u8(&mut self, field: &'static str) -> Result<u8, ParseError> {
        Ok(self.array::<1>(field)?[0])
    }

    pub fn u16_le(&mut self, field: &'static str) -> Result<u16, ParseError> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }

    pub fn u32_le(&mut self, field: &'static str) -> Result<u32, ParseError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    pub fn u64_le(&mut self, field: &'static str) -> Result<u64, ParseError> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    pub fn u16_be(&mut self, field: &'static str) -> Result<u16, ParseError> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    pub fn u32_be(&mut self, field: &'static str) -> Result<u32, ParseError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    /// A sub-reader over the next `n` bytes (for length-prefixed data); offsets stay absolute.
    pub fn sub(&mut self, n: usize, field: &'static str) -> Result<Reader<'a>, ParseError> {
        let base = self.offset();
        let buf = self.take(n, field)?;
        Ok(Reader { buf, pos: 0, base })
    }

    /// Takes `n` bytes that must all be zero.
    pub fn reserved_zero(&mut self, n: usize, field: &'static str) -> Result<(), ParseError> {
        let at = self.offset();
        let s = self.take(n, field)?;
        match s.iter().position(|b| *b != 0) {
            None => Ok(()),
            Some(i) => Err(ParseError::new(
                field,
                at.saturating_add(i),
                ParseErrorKind::ReservedNonZero,
            )),
        }
    }

    /// Succeeds only when every byte has been read.
    pub fn finish(self, what: &'static str) -> Result<(), ParseError> {
        match self.remaining() {
            0 => Ok(()),
            extra => Err(ParseError::new(
                what,
                self.offset(),
                ParseErrorKind::TrailingData { extra },
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_past_end_names_field_and_offset() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16_le("a").ok(), Some(0x0201));
        let e = r.u32_le("b").err();
        assert_eq!(
            e,
            Some(ParseError::new(
                "b",
                2,
                ParseErrorKind::Truncated {
                    needed: 4,
                    available: 1
                }
            ))
        );
    }

    #[test]
    fn sub_reader_reports_absolute_offsets() {
        let data = [0u8, 0, 0, 0, 5, 0];
        let mut r = Reader::new(&data);
        r.take(2, "x").ok();
        let mut s = r.sub(4, "inner").ok().unwrap_or_else(|| Reader::new(&[]));
        let e = s.reserved_zero(4, "rsv").err();
        assert_eq!(e.map(|e| e.offset), Some(4));
    }

    #[test]
    fn finish_rejects_trailing_bytes() {
        let mut r = Reader::new(&[0, 0, 0]);
        r.take(1, "x").ok();
        assert!(matches!(
            r.finish("t").err().map(|e| e.kind),
            Some(ParseErrorKind::TrailingData { extra: 2 })
        ));
    }

    #[test]
    fn huge_take_does_not_overflow() {
        let mut r = Reader::new(&[0u8; 4]);
        r.take(2, "x").ok();
        assert!(r.take(usize::MAX, "y").is_err());
    }
}
