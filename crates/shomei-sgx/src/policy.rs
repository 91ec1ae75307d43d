//! What the caller accepts as a peer. The SDK returns the peer's identity and leaves the judgement
//! to the caller (its sample even comments the MRSIGNER check out); here the judgement is an
//! explicit [`IdentityPolicy`] that returns every [`Violation`].
//!
//! Which checks are possible in which direction (seed 002, "証明側 - 検証側REPORTと共有秘密の検証"):
//! an enclave cannot contain its peer's MRENCLAVE *and* have its own MRENCLAVE contained by the
//! peer (each would change the other's measurement), so MRENCLAVE checks are one-way unless both
//! enclaves are the same image ([`IdentityPolicy::mr_enclave`] with the enclave's own value).
//! The other direction checks MRSIGNER, ISVPRODID and ISVSVN — or, with KSS, the MRENCLAVE
//! that the *checking* enclave's signer wrote into its own ISVFAMILYID ‖ ISVEXTPRODID: those 32
//! bytes are signed in SIGSTRUCT but do not enter MRENCLAVE, so there is no cycle
//! ([`IdentityPolicy::peer_mr_enclave_from_own_kss`]). CONFIGID tracks individual enclave
//! instances ([`SeenConfigIds`], after the KSS nested-attestation paper, eprint 2025/727).

use std::collections::HashSet;
use std::fmt;

use crate::dh::VerifiedPeer;
use crate::types::{Attributes, Measurement};

/// One failed policy check: a stable name and a human explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub check: &'static str,
    pub detail: String,
}

impl Violation {
    fn new(check: &'static str, detail: String) -> Self {
        Self { check, detail }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.check, self.detail)
    }
}

/// The identity a peer must have. Empty lists and `None` are "not checked"; INITTED is always
/// required and DEBUG always refused unless allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityPolicy {
    /// Accepted MRENCLAVE values.
    pub mr_enclave: Vec<Measurement>,
    /// Accepted MRSIGNER values.
    pub mr_signer: Vec<Measurement>,
    /// The exact ISVPRODID.
    pub isv_prod_id: Option<u16>,
    /// The minimum ISVSVN.
    pub min_isv_svn: Option<u16>,
    /// Accept a peer whose memory a debugger can read.
    pub allow_debug: bool,
    /// The exact ISVFAMILYID (KSS).
    pub isv_family_id: Option<[u8; 16]>,
    /// The exact ISVEXTPRODID (KSS).
    pub isv_ext_prod_id: Option<[u8; 16]>,
    /// Accepted CONFIGID values (KSS).
    pub config_ids: Vec<[u8; 64]>,
    /// The minimum CONFIGSVN (KSS).
    pub min_config_svn: Option<u16>,
}

impl IdentityPolicy {
    /// A policy that accepts any non-debug, initialised enclave on this CPU.
    pub fn any_release() -> Self {
        Self::default()
    }

    pub fn mr_enclave(mut self, m: Measurement) -> Self {
        self.mr_enclave.push(m);
        self
    }

    pub fn mr_signer(mut self, m: Measurement) -> Self {
        self.mr_signer.push(m);
        self
    }

    pub fn isv_prod_id(mut self, id: u16) -> Self {
        self.isv_prod_id = Some(id);
        self
    }

    pub fn min_isv_svn(mut self, svn: u16) -> Self {
        self.min_isv_svn = Some(svn);
        self
    }

    pub fn allow_debug(mut self, allow: bool) -> Self {
        self.allow_debug = allow;
        self
    }

    pub fn config_id(mut self, id: [u8; 64]) -> Self {
        self.config_ids.push(id);
        self
    }

    pub fn min_config_svn(mut self, svn: u16) -> Self {
        self.min_config_svn = Some(svn);
        self
    }

    /// The MRENCLAVE that an enclave's own signer put in its ISVFAMILYID ‖ ISVEXTPRODID (KSS):
    /// the mutual-verification trick of seed 002. `None` when the fields are zero.
    pub fn peer_mr_enclave_from_own_kss(
        own_isv_family_id: [u8; 16],
        own_isv_ext_prod_id: [u8; 16],
    ) -> Option<Measurement> {
        let mut m = [0u8; 32];
        for (d, s) in m
            .iter_mut()
            .zip(own_isv_family_id.iter().chain(own_isv_ext_prod_id.iter()))
        {
            *d = *s;
        }
        (m != [0; 32]).then_some(Measurement(m))
    }

    /// Every violation (empty: the peer is acceptable). The checks read the peer's verified
    /// REPORT body, so the KSS fields are available on both sides (the SDK's responder-side
    /// identity leaves them zero).
    pub fn appraise(&self, peer: &VerifiedPeer) -> Vec<Violation> {
        let b = peer.report_body();
        let mut out = Vec::new();
        let attrs = b.attributes();
        if !attrs.has(Attributes::INITTED) {
            out.push(Violation::new(
                "initted",
                "ATTRIBUTES.INITTED is clear: the enclave was not initialised".into(),
            ));
        }
        if attrs.is_debug() && !self.allow_debug {
            out.push(Violation::new(
                "debug",
                "ATTRIBUTES.DEBUG is set: a debugger can read the peer's memory".into(),
            ));
        }
        one_of("mr_enclave", b.mr_enclave(), &self.mr_enclave, &mut out);
        one_of("mr_signer", b.mr_signer(), &self.mr_signer, &mut out);
        if let Some(want) = self.isv_prod_id {
            if b.isv_prod_id() != want {
                out.push(Violation::new(
                    "isv_prod_id",
                    format!(
                        "ISVPRODID is {}, the policy requires {want}",
                        b.isv_prod_id()
                    ),
                ));
            }
        }
        if let Some(min) = self.min_isv_svn {
            if b.isv_svn() < min {
                out.push(Violation::new(
                    "isv_svn",
                    format!(
                        "ISVSVN is {}, the policy requires at least {min}",
                        b.isv_svn()
                    ),
                ));
            }
        }
        let kss = attrs.has(Attributes::KSS);
        let kss_fields = [
            ("isv_family_id", self.isv_family_id, b.isv_family_id()),
            ("isv_ext_prod_id", self.isv_ext_prod_id, b.isv_ext_prod_id()),
        ];
        for (check, want, got) in kss_fields {
            if let Some(want) = want {
                if !kss || got != want {
                    out.push(Violation::new(
                        check,
                        format!(
                            "{} is {}{}, the policy requires {}",
                            check.to_uppercase().replace('_', ""),
                            hex::encode(got),
                            if kss { "" } else { " (KSS not enabled)" },
                            hex::encode(want)
                        ),
                    ));
                }
            }
        }
        if !self.config_ids.is_empty() && !self.config_ids.contains(&b.config_id()) {
            out.push(Violation::new(
                "config_id",
                format!(
                    "CONFIGID {} is not among the {} accepted value(s)",
                    hex::encode(b.config_id()),
                    self.config_ids.len()
                ),
            ));
        }
        if let Some(min) = self.min_config_svn {
            if b.config_svn() < min {
                out.push(Violation::new(
                    "config_svn",
                    format!(
                        "CONFIGSVN is {}, the policy requires at least {min}",
                        b.config_svn()
                    ),
                ));
            }
        }
        out
    }
}

fn one_of(
    check: &'static str,
    got: Measurement,
    allowed: &[Measurement],
    out: &mut Vec<Violation>,
) {
    if !allowed.is_empty() && !allowed.contains(&got) {
        out.push(Violation::new(
            check,
            format!(
                "{} is {got}, not among the {} accepted value(s)",
                check.to_uppercase().replace('_', ""),
                allowed.len()
            ),
        ));
    }
}

/// CONFIGIDs already admitted: refuses a second session with the same enclave instance (the
/// "post-compromise identification" of eprint 2025/727).
#[derive(Debug, Default, Clone)]
pub struct SeenConfigIds {
    seen: HashSet<[u8; 64]>,
}

impl SeenConfigIds {
    pub fn new() -> Self {
        Self::default()
    }

    /// Admits the peer's CONFIGID once; a second time is a violation.
    pub fn admit(&mut self, peer: &VerifiedPeer) -> Result<(), Violation> {
        let id = peer.report_body().config_id();
        if self.seen.insert(id) {
            Ok(())
        } else {
            Err(Violation::new(
                "config_id_reuse",
                format!(
                    "CONFIGID {} was already admitted: this enclave instance is being reused",
                    hex::encode(id)
                ),
            ))
        }
    }
}
