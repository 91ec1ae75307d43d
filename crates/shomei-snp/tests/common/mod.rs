//! The real vectors (see `shomei_core::vectors`): a missing folder fails the test with
//! instructions, never a silent skip.

#![allow(dead_code, clippy::panic)]

pub fn read(rel: &str) -> Vec<u8> {
    shomei_core::vectors::read(rel).unwrap_or_else(|e| panic!("{e}"))
}
