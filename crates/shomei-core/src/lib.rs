//! Vocabulary shared by every shomei crate: the bounded byte [`Reader`], typed parse errors,
//! verification time ([`UnixTime`]), hex helpers and the X.509 primitives the evidence families
//! build their own chain checks on.
//!
//! Nothing here reads the clock or the network.

pub mod hexfmt;
pub mod policy;
pub mod reader;
pub mod time;
pub mod vectors;
pub mod x509;

pub use reader::{ParseError, ParseErrorKind, Reader};
pub use time::UnixTime;
