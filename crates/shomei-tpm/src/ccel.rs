//! TDX CCEL: a crypto-agile TCG log whose PCR-index field is the CC measurement-register index
//! (0 MRTD, 1..4 = RTMR0..3), SHA-384 only, in a fixed-size area padded with 0xFF. RTMRs start at
//! zero and are extended exactly like PCRs.

use shomei_core::{ParseError, ParseErrorKind};

use crate::alg::HashAlg;
use crate::eventlog::{EventLog, Replay};

/// RTMR0..3 replayed from a CCEL log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CcelReplay {
    pub rtmrs: [[u8; 48]; 4],
    pub replay: Replay,
}

/// Whether a parsed log looks like a CCEL: SHA-384 is its only algorithm and every record's
/// index is a CC MR index (0..=4).
pub fn looks_like_ccel(log: &EventLog<'_>) -> bool {
    log.spec_id
        .as_ref()
        .is_some_and(|s| s.algorithms == [(HashAlg::Sha384.id(), 48)])
        && log.events.iter().all(|e| e.pcr <= 4)
}

/// Replays RTMR0..3 from a parsed CCEL log.
pub fn replay_ccel(log: &EventLog<'_>) -> Result<CcelReplay, ParseError> {
    if !log.banks().contains(&HashAlg::Sha384) {
        return Err(ParseError::new(
            "TCG_EfiSpecIdEvent.algorithms",
            0,
            ParseErrorKind::Malformed("a CCEL log must have a SHA-384 bank"),
        ));
    }
    if let Some(e) = log.events.iter().find(|e| e.pcr > 4) {
        return Err(ParseError::new(
            "TCG_PCR_EVENT2.pcrIndex (CC MR index)",
            e.offset,
            ParseErrorKind::InvalidValue {
                value: u64::from(e.pcr),
            },
        ));
    }
    let replay = log.replay_with(false);
    let mut rtmrs = [[0u8; 48]; 4];
    for (mr, slot) in (1u32..).zip(rtmrs.iter_mut()) {
        let v = replay.value(HashAlg::Sha384, mr);
        if v.len() == 48 {
            slot.copy_from_slice(&v);
        }
    }
    Ok(CcelReplay { rtmrs, replay })
}
