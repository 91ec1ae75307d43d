//! TPM 2.0 evidence, verifier side: quotes and other TPMS_ATTEST (certify, certify-creation)
//! signed with RSASSA, RSA-PSS (salt length detected) or ECDSA P-256/P-384; TPMT_PUBLIC and
//! object names; the verifier half of credential activation; EK certificate chains to vendor CAs;
//! TCG measured-boot event logs (SHA-1 legacy and crypto-agile, every bank), Linux IMA and TDX
//! CCEL replay.
//!
//! ```text
//! quote.msg ─▶ Attest::parse ─▶ verify_quote(msg, sig, AttestationKey, nonce, PcrValues) ─▶ VerifiedQuote
//!              signature over the received bytes · magic · type · nonce · signed selection ==
//!              supplied PCRs · pcrDigest = H_sig(values)
//! event log ─▶ EventLog::parse ─▶ replay() ─▶ Replay (values per bank, warnings) ─▶ PcrValues
//! CCEL      ─▶ EventLog::parse ─▶ ccel::replay_ccel ─▶ RTMR0..3
//! EK cert   ─▶ EkCaStore::verify(ek, intermediates, at) ─▶ VerifiedEkCert
//! EK public + AK name ─▶ credential::make_credential ─▶ cred.blob
//! ```
//!
//! Pure: no I/O and no clock (the verification time is an input). Parsers take arbitrary bytes
//! and return a [`ParseError`](shomei_core::ParseError) naming the field and offset; every
//! refusal has a stable [`Rejection::check`] name.

pub mod alg;
pub mod ccel;
pub mod cel;
pub mod credential;
pub mod decode;
pub mod ekca;
pub mod error;
pub mod eventlog;
pub mod ima;
pub mod keys;
pub mod quote;
pub mod structures;

pub use alg::HashAlg;
pub use error::{Error, Rejection};
pub use eventlog::{EventLog, Replay};
pub use keys::{AnySignature, AttestationKey};
pub use quote::{
    PcrValues, QuoteOptions, VerifiedAttest, VerifiedCertify, VerifiedQuote, quote_selection,
    verify_certify, verify_quote,
};
pub use structures::{Attest, PcrSelection, Public, Signature};

impl PcrValues {
    /// The values a replayed log gives for exactly the PCRs of `selection` (initial values for
    /// indices the log does not extend), to verify a quote against the log.
    pub fn from_replay(replay: &Replay, selection: &PcrSelection) -> Result<Self, Error> {
        let mut out = PcrValues::default();
        for bank in &selection.banks {
            let h = bank
                .hash()
                .ok_or_else(|| Error::Unsupported(format!("PCR bank {:#06x}", bank.hash_id)))?;
            if !bank.indices().is_empty() && !replay.pcrs.contains_key(&h) {
                return Err(Rejection::EventLogBank(h.name()).into());
            }
            for i in bank.indices() {
                out.insert(h, i, replay.value(h, i));
            }
        }
        Ok(out)
    }
}

/// Checks that a verified quote's PCR values are what the event log replays to (the replay is
/// bound to the *quoted* values, never to separately read ones).
pub fn check_event_log(quote: &VerifiedQuote, replay: &Replay) -> Result<(), Rejection> {
    for (bank, m) in &quote.pcrs().0 {
        if !replay.pcrs.contains_key(bank) {
            return Err(Rejection::EventLogBank(bank.name()));
        }
        for (i, quoted) in m {
            let replayed = replay.value(*bank, *i);
            if &replayed != quoted {
                return Err(Rejection::EventLogReplay {
                    bank: bank.name(),
                    index: *i,
                    replayed: hex::encode(replayed),
                    quoted: hex::encode(quoted),
                });
            }
        }
    }
    Ok(())
}
