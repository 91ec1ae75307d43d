//! The SDK's `sgx_dh` local-attestation protocol, byte for byte (SDK `common/inc/sgx_dh.h`,
//! `sdk/ec_dh_lib/ec_dh.cpp`): msg1 (576 B), msg2 (512 B), msg3 (452 + N B); the responder and
//! initiator state machines (states 0–5, zeroised and in ERROR after any failure); LAv1 and
//! LAv2 (the responder tries LAv1 and falls back to LAv2, as the SDK does); SMK/AEK derivation;
//! the 260-byte peer identity.
//!
//! ```text
//! Responder (verifier)                          Initiator (prover)
//! DhResponder::new          RESET               DhInitiator::new(v)   WAIT_M1
//! gen_msg1 ───────── msg1: g_a ‖ TARGETINFO ──▶ proc_msg1             WAIT_M3
//!            WAIT_M2 ◀── msg2: g_b ‖ REPORT ‖ CMAC
//! proc_msg2 ──── msg3: CMAC ‖ REPORT ‖ len ‖ prop ──▶ proc_msg3
//!            ACTIVE (AEK, initiator identity)            ACTIVE (AEK, responder identity)
//! ```
//!
//! The protocol runs against [`LocalEnclave`] (EREPORT and `sgx_verify_report`), which the
//! emulated CPU implements; the library itself never judges the identity — an
//! [`IdentityPolicy`](crate::IdentityPolicy) does.

use core::fmt;

use shomei_core::{ParseError, ParseErrorKind, Reader};
use zeroize::Zeroizing;

use crate::crypto::{EcPublicKey, Ephemeral, Key128, cmac, cmac_verify, derive_key, sha256};
use crate::error::{Error, Rejection};
use crate::types::{Report, ReportBody, TARGET_INFO_LEN, TargetInfo};

/// Length of msg1.
pub const MSG1_LEN: usize = 576;
/// Length of msg2.
pub const MSG2_LEN: usize = 512;
/// Length of msg3 without additional properties.
pub const MSG3_MIN_LEN: usize = 452;
/// Length of `sgx_dh_session_enclave_identity_t`.
pub const IDENTITY_LEN: usize = 260;
/// LAv1 KDF-ID: AES-CMAC entropy extraction and key derivation.
pub const KDF_ID_AES_CMAC: u16 = 0x0001;

/// LAv2 proto_spec: `"SGX LA"` ‖ ver 2 ‖ rev 0 ‖ target_spec u16[28] = {0x0600 (6 entries),
/// MRENCLAVE 0x0405, ATTRIBUTES 0x0304, CET_ATTRIBUTES 0x0140, CONFIGSVN 0x1041,
/// MISCSELECT 0x0102, CONFIGID 0x0C06, 0…}.
pub const LAV2_PROTO_SPEC: [u8; 64] = [
    b'S', b'G', b'X', b' ', b'L', b'A', 2, 0, // signature, ver, rev
    0x00, 0x06, 0x05, 0x04, 0x04, 0x03, 0x40, 0x01, // count 6, MRENCLAVE, ATTRIBUTES, CET
    0x41, 0x10, 0x02, 0x01, 0x06, 0x0C, 0, 0, // CONFIGSVN, MISCSELECT, CONFIGID
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
];

/// The two EREPORT/verify operations the protocol needs from the CPU.
pub trait LocalEnclave {
    /// EREPORT against `target` with `report_data`.
    fn ereport(&self, target: &TargetInfo, report_data: &[u8; 64]) -> Result<Report, Error>;
    /// `sgx_verify_report`: whether the REPORT's MAC verifies under this enclave's report key.
    fn verify_report(&self, report: &Report) -> Result<bool, Error>;
}

/// The protocol version the initiator speaks (the responder detects it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LaVersion {
    /// report_data = SHA-256(g_a ‖ g_b) ‖ KDF-ID; CMAC over the REPORT (msg2) and msg3 body.
    V1,
    /// report_data = SHA-256(proto_spec ‖ g_b), sent as proto_spec; CMAC over g_b (msg2) and
    /// additional_prop ‖ g_a (msg3).
    V2,
}

impl fmt::Display for LaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::V1 => "LAv1",
            Self::V2 => "LAv2",
        })
    }
}

/// `sgx_dh_session_state_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DhState {
    Error = 0,
    Reset = 1,
    ResponderWaitM2 = 2,
    InitiatorWaitM1 = 3,
    InitiatorWaitM3 = 4,
    Active = 5,
}

/// `sgx_dh_msg1_t`: g_a ‖ the responder's TARGETINFO.
#[derive(Debug, Clone)]
pub struct Msg1 {
    pub g_a: EcPublicKey,
    pub target: TargetInfo,
}

impl Msg1 {
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(bytes);
        let g_a = EcPublicKey(r.array("msg1.g_a")?);
        let target = TargetInfo::read(&mut r, "msg1.target")?;
        r.finish("msg1")?;
        Ok(Self { g_a, target })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MSG1_LEN);
        out.extend_from_slice(&self.g_a.0);
        out.extend_from_slice(self.target.as_bytes());
        out
    }
}

/// `sgx_dh_msg2_t`: g_b ‖ the initiator's REPORT ‖ CMAC.
#[derive(Debug, Clone)]
pub struct Msg2 {
    pub g_b: EcPublicKey,
    pub report: Report,
    pub cmac: [u8; 16],
}

impl Msg2 {
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(bytes);
        let g_b = EcPublicKey(r.array("msg2.g_b")?);
        let report = Report::read(&mut r, "msg2.report")?;
        let cmac = r.array("msg2.cmac")?;
        r.finish("msg2")?;
        Ok(Self { g_b, report, cmac })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MSG2_LEN);
        out.extend_from_slice(&self.g_b.0);
        out.extend_from_slice(self.report.as_bytes());
        out.extend_from_slice(&self.cmac);
        out
    }
}

/// `sgx_dh_msg3_t`: CMAC ‖ msg3_body { the responder's REPORT ‖ additional_prop_length u32 ‖
/// additional_prop }.
#[derive(Debug, Clone)]
pub struct Msg3 {
    pub cmac: [u8; 16],
    pub report: Report,
    pub additional_prop: Vec<u8>,
}

impl Msg3 {
    /// Parses a msg3; additional_prop_length must be exactly the bytes that follow it.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(bytes);
        let cmac = r.array("msg3.cmac")?;
        let report = Report::read(&mut r, "msg3.report")?;
        let at = r.offset();
        let len = r.u32_le("msg3.additional_prop_length")?;
        let remaining = r.remaining();
        let len = match usize::try_from(len) {
            Ok(n) if n <= remaining => n,
            _ => {
                return Err(ParseError::new(
                    "msg3.additional_prop_length",
                    at,
                    ParseErrorKind::LengthTooLarge {
                        length: u64::from(len),
                        max: u64::try_from(remaining).unwrap_or(u64::MAX),
                    },
                ));
            }
        };
        let prop = r.take(len, "msg3.additional_prop")?.to_vec();
        r.finish("msg3")?;
        Ok(Self {
            cmac,
            report,
            additional_prop: prop,
        })
    }

    /// msg3_body: REPORT ‖ additional_prop_length ‖ additional_prop (what LAv1 MACs).
    pub fn body_bytes(&self) -> Result<Vec<u8>, Error> {
        let len = u32::try_from(self.additional_prop.len())
            .map_err(|_| Error::Crypto("additional_prop exceeds 4 GiB"))?;
        let mut out = Vec::with_capacity(MSG3_MIN_LEN.saturating_add(self.additional_prop.len()));
        out.extend_from_slice(self.report.as_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&self.additional_prop);
        Ok(out)
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let body = self.body_bytes()?;
        let mut out = Vec::with_capacity(body.len().saturating_add(16));
        out.extend_from_slice(&self.cmac);
        out.extend_from_slice(&body);
        Ok(out)
    }
}

/// LAv2's `make_target_info`: builds a TARGETINFO from a REPORT as the proto_spec's
/// target_spec says (also the SDK's `sgx_derive_target_from_report`). Each entry `v` copies
/// `1 << (v & 0xF)` bytes from REPORT offset `(int16)v >> 4` (−1: leave zero) to the next
/// TARGETINFO offset aligned to that size.
pub fn make_target_info(proto_spec: &[u8; 64], report: &Report) -> Result<TargetInfo, Rejection> {
    let bad = |why| Rejection::ProtoSpec { why };
    let u16_at = |i: usize| -> u16 {
        let lo = proto_spec.get(8 + 2 * i).copied().unwrap_or(0);
        let hi = proto_spec.get(9 + 2 * i).copied().unwrap_or(0);
        u16::from_le_bytes([lo, hi])
    };
    let ver = proto_spec.get(6).copied();
    let rev = proto_spec.get(7).copied();
    let head = u16_at(0);
    let count = usize::from(head >> 8);
    if ver != Some(2) || rev != Some(0) || head & 0xFF != 0 || count >= 28 {
        return Err(bad("not version 2 revision 0 with fewer than 28 entries"));
    }
    let src = report.as_bytes();
    let mut ti = [0u8; TARGET_INFO_LEN];
    let mut to = 0usize;
    for i in 1..=count {
        let v = u16_at(i);
        let size = 1usize << (v & 0xF);
        to = (to + size - 1) & !(size - 1);
        let end = to
            .checked_add(size)
            .filter(|e| *e <= TARGET_INFO_LEN)
            .ok_or_else(|| bad("an entry writes past the TARGETINFO"))?;
        let from = i16::from_le_bytes(v.to_le_bytes()) >> 4;
        if from >= 0 {
            let from = usize::from(from.unsigned_abs());
            let chunk = from
                .checked_add(size)
                .and_then(|e| src.get(from..e))
                .ok_or_else(|| bad("an entry reads past the REPORT"))?;
            ti.get_mut(to..end)
                .ok_or_else(|| bad("an entry writes past the TARGETINFO"))?
                .copy_from_slice(chunk);
        } else if from != -1 {
            return Err(bad("an entry has a negative source other than -1"));
        }
        to = end;
    }
    Ok(TargetInfo::from_array(ti))
}

/// `sgx_dh_session_enclave_identity_t` (260 B): the first 260 bytes of a REPORT body. The SDK's
/// responder fills only ISVSVN, ISVPRODID, ATTRIBUTES, MRSIGNER and MRENCLAVE (the rest stays
/// zero); its initiator copies all 260 bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EnclaveIdentity(pub [u8; IDENTITY_LEN]);

impl EnclaveIdentity {
    fn full(body: &ReportBody) -> Self {
        let mut out = [0u8; IDENTITY_LEN];
        for (d, s) in out.iter_mut().zip(body.as_bytes()) {
            *d = *s;
        }
        Self(out)
    }

    fn responder_view(body: &ReportBody) -> Self {
        let full = Self::full(body);
        let mut out = [0u8; IDENTITY_LEN];
        // attributes 48..64, mr_enclave 64..96, mr_signer 128..160, isv_prod_id/isv_svn 256..260.
        for range in [48..96, 128..160, 256..260] {
            if let (Some(d), Some(s)) = (out.get_mut(range.clone()), full.0.get(range)) {
                d.copy_from_slice(s);
            }
        }
        Self(out)
    }

    fn field<const N: usize>(&self, at: usize) -> [u8; N] {
        let mut out = [0u8; N];
        if let Some(s) = self.0.get(at..at.saturating_add(N)) {
            out.copy_from_slice(s);
        }
        out
    }

    pub fn cpu_svn(&self) -> [u8; 16] {
        self.field(0)
    }
    pub fn misc_select(&self) -> u32 {
        u32::from_le_bytes(self.field(16))
    }
    pub fn attributes(&self) -> crate::Attributes {
        crate::Attributes::from_bytes(&self.field(48))
    }
    pub fn mr_enclave(&self) -> crate::Measurement {
        crate::Measurement(self.field(64))
    }
    pub fn mr_signer(&self) -> crate::Measurement {
        crate::Measurement(self.field(128))
    }
    pub fn isv_prod_id(&self) -> u16 {
        u16::from_le_bytes(self.field(256))
    }
    pub fn isv_svn(&self) -> u16 {
        u16::from_le_bytes(self.field(258))
    }
}

impl fmt::Debug for EnclaveIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnclaveIdentity")
            .field("mr_enclave", &self.mr_enclave())
            .field("mr_signer", &self.mr_signer())
            .field("isv_prod_id", &self.isv_prod_id())
            .field("isv_svn", &self.isv_svn())
            .finish_non_exhaustive()
    }
}

/// Which protocol role the *peer* played.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerRole {
    Initiator,
    Responder,
}

/// A peer whose REPORT was verified by this enclave's CPU and whose public key the REPORT
/// binds. Only the protocol constructs it; an [`IdentityPolicy`](crate::IdentityPolicy)
/// appraises it.
#[derive(Debug, Clone)]
pub struct VerifiedPeer {
    body: ReportBody,
    identity: EnclaveIdentity,
    version: LaVersion,
    role: PeerRole,
    additional_prop: Vec<u8>,
}

impl VerifiedPeer {
    /// The peer's REPORT body as received (for LAv2 msg2, report_data is the proto_spec).
    /// Unlike the SDK's responder identity, it carries the KSS fields too.
    pub fn report_body(&self) -> &ReportBody {
        &self.body
    }
    /// The SDK's 260-byte identity, filled as the SDK fills it for this role.
    pub fn identity(&self) -> &EnclaveIdentity {
        &self.identity
    }
    pub fn version(&self) -> LaVersion {
        self.version
    }
    pub fn role(&self) -> PeerRole {
        self.role
    }
    /// msg3's additional properties (what the responder sent; empty on the responder side).
    pub fn additional_prop(&self) -> &[u8] {
        &self.additional_prop
    }
}

/// The keys and verdict of a completed handshake.
#[derive(Debug)]
pub struct Established {
    /// The AES-GCM session key (AEK).
    pub aek: Key128,
    /// The verified peer.
    pub peer: VerifiedPeer,
    /// A channel id both ends compute: the first four bytes (LE) of SHA-256(g_a ‖ g_b).
    pub session_id: u32,
}

fn session_id(g_a: &EcPublicKey, g_b: &EcPublicKey) -> u32 {
    let h = sha256(&[&g_a.0, &g_b.0]);
    let mut id = [0u8; 4];
    for (d, s) in id.iter_mut().zip(h.iter()) {
        *d = *s;
    }
    u32::from_le_bytes(id)
}

fn report_data(hash: &[u8; 32], tail: &[u8]) -> [u8; 64] {
    let mut rd = [0u8; 64];
    for (d, s) in rd.iter_mut().zip(hash.iter().chain(tail)) {
        *d = *s;
    }
    rd
}

fn first32(rd: &[u8; 64]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (d, s) in out.iter_mut().zip(rd.iter()) {
        *d = *s;
    }
    out
}

fn mac_rejection(message: &'static str, why: &'static str) -> Error {
    Rejection::ReportMac { message, why }.into()
}

enum ResponderState {
    Reset,
    WaitM2 { eph: Ephemeral },
    Active,
    Error,
}

/// The responder (the verifier in the seed's flow): sends msg1, verifies the initiator's REPORT
/// in msg2 and answers with msg3.
pub struct DhResponder {
    state: ResponderState,
    #[cfg(test)]
    fixed_key: Option<[u8; 32]>,
}

impl Default for DhResponder {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for DhResponder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DhResponder({:?})", self.state())
    }
}

impl DhResponder {
    /// `sgx_dh_init_session(SGX_DH_SESSION_RESPONDER)`: state RESET.
    pub fn new() -> Self {
        Self {
            state: ResponderState::Reset,
            #[cfg(test)]
            fixed_key: None,
        }
    }

    #[cfg(test)]
    pub(crate) fn with_fixed_key(scalar: [u8; 32]) -> Self {
        Self {
            state: ResponderState::Reset,
            fixed_key: Some(scalar),
        }
    }

    fn ephemeral(&self) -> Result<Ephemeral, Error> {
        #[cfg(test)]
        if let Some(k) = &self.fixed_key {
            return Ephemeral::from_scalar(k);
        }
        Ephemeral::generate()
    }

    pub fn state(&self) -> DhState {
        match self.state {
            ResponderState::Reset => DhState::Reset,
            ResponderState::WaitM2 { .. } => DhState::ResponderWaitM2,
            ResponderState::Active => DhState::Active,
            ResponderState::Error => DhState::Error,
        }
    }

    /// `sgx_dh_responder_gen_msg1`: RESET → WAIT_M2. msg1.target is this enclave's TARGETINFO,
    /// derived from a self-REPORT through the LAv2 proto_spec (as the SDK does for v1 and v2).
    pub fn gen_msg1(&mut self, enclave: &impl LocalEnclave) -> Result<Msg1, Error> {
        let found = self.state();
        // Any early return below leaves the session zeroised in ERROR.
        let st = core::mem::replace(&mut self.state, ResponderState::Error);
        if !matches!(st, ResponderState::Reset) {
            return Err(Error::InvalidState {
                operation: "gen_msg1",
                state: found,
            });
        }
        let own = enclave.ereport(&TargetInfo::from_array([0; TARGET_INFO_LEN]), &[0; 64])?;
        let target = make_target_info(&LAV2_PROTO_SPEC, &own)?;
        let eph = self.ephemeral()?;
        let msg1 = Msg1 {
            g_a: eph.public(),
            target,
        };
        self.state = ResponderState::WaitM2 { eph };
        Ok(msg1)
    }

    /// `sgx_dh_responder_proc_msg2`: WAIT_M2 → ACTIVE. Verifies msg2 (LAv1, else LAv2), builds
    /// msg3 carrying `additional_prop`, and returns the AEK and the initiator's identity.
    pub fn proc_msg2(
        &mut self,
        enclave: &impl LocalEnclave,
        msg2: &Msg2,
        additional_prop: &[u8],
    ) -> Result<(Msg3, Established), Error> {
        let found = self.state();
        let st = core::mem::replace(&mut self.state, ResponderState::Error);
        let ResponderState::WaitM2 { eph } = st else {
            return Err(Error::InvalidState {
                operation: "proc_msg2",
                state: found,
            });
        };
        let g_a = eph.public();
        let shared = eph
            .agree(&msg2.g_b)
            .ok_or(Rejection::PeerPublicKey { message: "msg2" })?;
        // The responder's private key is not needed any more (the SDK clears it here).
        drop(eph);
        let smk = derive_key(&shared, b"SMK")?;

        let version = match verify_msg2_v1(enclave, msg2, &g_a, &smk) {
            Ok(()) => LaVersion::V1,
            Err(Error::Rejected(v1)) => match verify_msg2_v2(enclave, msg2, &smk) {
                Ok(()) => LaVersion::V2,
                Err(Error::Rejected(v2)) => {
                    // Report the failure of the version the message claims to be.
                    let claims_v2 =
                        msg2.report.body().report_data().get(..7) == LAV2_PROTO_SPEC.get(..7);
                    return Err(if claims_v2 { v2 } else { v1 }.into());
                }
                Err(e) => return Err(e),
            },
            Err(e) => return Err(e),
        };
        let prop_len = u32::try_from(additional_prop.len())
            .map_err(|_| Error::Crypto("additional_prop exceeds 4 GiB"))?;
        let msg3 = match version {
            LaVersion::V1 => {
                let target = make_target_info(&LAV2_PROTO_SPEC, &msg2.report)?;
                let rd = report_data(&sha256(&[&msg2.g_b.0, &g_a.0]), &[]);
                let report = enclave.ereport(&target, &rd)?;
                let mac = cmac(
                    smk.expose(),
                    &[report.as_bytes(), &prop_len.to_le_bytes(), additional_prop],
                )?;
                Msg3 {
                    cmac: mac,
                    report,
                    additional_prop: additional_prop.to_vec(),
                }
            }
            LaVersion::V2 => {
                let ps = msg2.report.body().report_data();
                let target = make_target_info(&ps, &msg2.report)?;
                let rd = report_data(&sha256(&[&g_a.0, &ps]), &[]);
                let report = enclave.ereport(&target, &rd)?;
                let mac = cmac(smk.expose(), &[additional_prop, &g_a.0])?;
                Msg3 {
                    cmac: mac,
                    report,
                    additional_prop: additional_prop.to_vec(),
                }
            }
        };
        let aek = derive_key(&shared, b"AEK")?;
        let body = msg2.report.body();
        let established = Established {
            aek,
            peer: VerifiedPeer {
                identity: EnclaveIdentity::responder_view(&body),
                body,
                version,
                role: PeerRole::Initiator,
                additional_prop: Vec::new(),
            },
            session_id: session_id(&g_a, &msg2.g_b),
        };
        self.state = ResponderState::Active;
        Ok((msg3, established))
    }
}

/// `dh_verify_message2`: KDF-ID, CMAC over the REPORT, the REPORT MAC, then the key binding.
fn verify_msg2_v1(
    enclave: &impl LocalEnclave,
    msg2: &Msg2,
    g_a: &EcPublicKey,
    smk: &Key128,
) -> Result<(), Error> {
    let rd = msg2.report.body().report_data();
    let kdf = u16::from_le_bytes([
        rd.get(32).copied().unwrap_or(0),
        rd.get(33).copied().unwrap_or(0),
    ]);
    if kdf != KDF_ID_AES_CMAC {
        return Err(Rejection::KdfId { found: kdf }.into());
    }
    if !cmac_verify(smk.expose(), &[msg2.report.as_bytes()], &msg2.cmac)? {
        return Err(Rejection::MessageMac { message: "msg2" }.into());
    }
    if !enclave.verify_report(&msg2.report)? {
        return Err(mac_rejection(
            "msg2",
            "made on another CPU, for another target, or changed",
        ));
    }
    if first32(&rd) != sha256(&[&g_a.0, &msg2.g_b.0]) {
        return Err(Rejection::ReportData {
            message: "msg2",
            expected: "SHA-256(g_a ‖ g_b): a public key was substituted",
        }
        .into());
    }
    Ok(())
}

/// `LAv2_verify_message2`: the REPORT MAC over report_data = SHA-256(sent proto_spec ‖ g_b),
/// the CMAC over g_b, then `"SGX LA"` version 2.
fn verify_msg2_v2(enclave: &impl LocalEnclave, msg2: &Msg2, smk: &Key128) -> Result<(), Error> {
    let sent = msg2.report.body().report_data();
    let mut rebuilt = msg2.report;
    rebuilt.raw_mut().body.report_data = report_data(&sha256(&[&sent, &msg2.g_b.0]), &[]);
    if !enclave.verify_report(&rebuilt)? {
        return Err(mac_rejection(
            "msg2",
            "over SHA-256(proto_spec ‖ g_b): another CPU or target, a changed REPORT, or a substituted g_b",
        ));
    }
    if !cmac_verify(smk.expose(), &[&msg2.g_b.0], &msg2.cmac)? {
        return Err(Rejection::MessageMac { message: "msg2" }.into());
    }
    if sent.get(..7) != LAV2_PROTO_SPEC.get(..7) {
        return Err(Rejection::ProtoSpec {
            why: "report_data does not start with \"SGX LA\" version 2",
        }
        .into());
    }
    Ok(())
}

enum InitiatorState {
    WaitM1,
    WaitM3 {
        g_a: EcPublicKey,
        g_b: EcPublicKey,
        smk: Key128,
        shared: Zeroizing<[u8; 32]>,
    },
    Active,
    Error,
}

/// The initiator (the prover in the seed's flow): answers msg1 with its REPORT for the
/// responder, then verifies the responder's REPORT in msg3.
pub struct DhInitiator {
    version: LaVersion,
    state: InitiatorState,
    #[cfg(test)]
    fixed_key: Option<[u8; 32]>,
}

impl fmt::Debug for DhInitiator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DhInitiator({}, {:?})", self.version, self.state())
    }
}

impl DhInitiator {
    /// `sgx_dh_init_session(SGX_DH_SESSION_INITIATOR)`: state WAIT_M1. `V2` is the SDK's
    /// `SGX_USE_LAv2_INITIATOR`.
    pub fn new(version: LaVersion) -> Self {
        Self {
            version,
            state: InitiatorState::WaitM1,
            #[cfg(test)]
            fixed_key: None,
        }
    }

    #[cfg(test)]
    pub(crate) fn with_fixed_key(version: LaVersion, scalar: [u8; 32]) -> Self {
        Self {
            version,
            state: InitiatorState::WaitM1,
            fixed_key: Some(scalar),
        }
    }

    fn ephemeral(&self) -> Result<Ephemeral, Error> {
        #[cfg(test)]
        if let Some(k) = &self.fixed_key {
            return Ephemeral::from_scalar(k);
        }
        Ephemeral::generate()
    }

    pub fn version(&self) -> LaVersion {
        self.version
    }

    pub fn state(&self) -> DhState {
        match self.state {
            InitiatorState::WaitM1 => DhState::InitiatorWaitM1,
            InitiatorState::WaitM3 { .. } => DhState::InitiatorWaitM3,
            InitiatorState::Active => DhState::Active,
            InitiatorState::Error => DhState::Error,
        }
    }

    /// `sgx_dh_initiator_proc_msg1` (or `sgx_LAv2_initiator_proc_msg1`): WAIT_M1 → WAIT_M3.
    pub fn proc_msg1(&mut self, enclave: &impl LocalEnclave, msg1: &Msg1) -> Result<Msg2, Error> {
        let found = self.state();
        let st = core::mem::replace(&mut self.state, InitiatorState::Error);
        if !matches!(st, InitiatorState::WaitM1) {
            return Err(Error::InvalidState {
                operation: "proc_msg1",
                state: found,
            });
        }
        let eph = self.ephemeral()?;
        let g_b = eph.public();
        let shared = eph
            .agree(&msg1.g_a)
            .ok_or(Rejection::PeerPublicKey { message: "msg1" })?;
        drop(eph);
        let smk = derive_key(&shared, b"SMK")?;
        let msg2 = match self.version {
            LaVersion::V1 => {
                let rd = report_data(
                    &sha256(&[&msg1.g_a.0, &g_b.0]),
                    &KDF_ID_AES_CMAC.to_le_bytes(),
                );
                let report = enclave.ereport(&msg1.target, &rd)?;
                let mac = cmac(smk.expose(), &[report.as_bytes()])?;
                Msg2 {
                    g_b,
                    report,
                    cmac: mac,
                }
            }
            LaVersion::V2 => {
                let rd = report_data(&sha256(&[&LAV2_PROTO_SPEC, &g_b.0]), &[]);
                let mut report = enclave.ereport(&msg1.target, &rd)?;
                report.raw_mut().body.report_data = LAV2_PROTO_SPEC;
                let mac = cmac(smk.expose(), &[&g_b.0])?;
                Msg2 {
                    g_b,
                    report,
                    cmac: mac,
                }
            }
        };
        self.state = InitiatorState::WaitM3 {
            g_a: msg1.g_a,
            g_b,
            smk,
            shared,
        };
        Ok(msg2)
    }

    /// `sgx_dh_initiator_proc_msg3` (or the LAv2 one): WAIT_M3 → ACTIVE.
    pub fn proc_msg3(
        &mut self,
        enclave: &impl LocalEnclave,
        msg3: &Msg3,
    ) -> Result<Established, Error> {
        let found = self.state();
        let st = core::mem::replace(&mut self.state, InitiatorState::Error);
        let InitiatorState::WaitM3 {
            g_a,
            g_b,
            smk,
            shared,
        } = st
        else {
            return Err(Error::InvalidState {
                operation: "proc_msg3",
                state: found,
            });
        };
        let rd = msg3.report.body().report_data();
        match self.version {
            LaVersion::V1 => {
                if !cmac_verify(smk.expose(), &[&msg3.body_bytes()?], &msg3.cmac)? {
                    return Err(Rejection::MessageMac { message: "msg3" }.into());
                }
                if !enclave.verify_report(&msg3.report)? {
                    return Err(mac_rejection(
                        "msg3",
                        "made on another CPU, for another target, or changed",
                    ));
                }
                if first32(&rd) != sha256(&[&g_b.0, &g_a.0]) {
                    return Err(Rejection::ReportData {
                        message: "msg3",
                        expected: "SHA-256(g_b ‖ g_a): a public key was substituted",
                    }
                    .into());
                }
            }
            LaVersion::V2 => {
                if rd != report_data(&sha256(&[&g_a.0, &LAV2_PROTO_SPEC]), &[]) {
                    return Err(Rejection::ReportData {
                        message: "msg3",
                        expected: "SHA-256(g_a ‖ proto_spec): g_a was substituted",
                    }
                    .into());
                }
                if !enclave.verify_report(&msg3.report)? {
                    return Err(mac_rejection(
                        "msg3",
                        "made on another CPU, for another target, or changed",
                    ));
                }
                if !cmac_verify(smk.expose(), &[&msg3.additional_prop, &g_a.0], &msg3.cmac)? {
                    return Err(Rejection::MessageMac { message: "msg3" }.into());
                }
            }
        }
        let aek = derive_key(&shared, b"AEK")?;
        let body = msg3.report.body();
        let established = Established {
            aek,
            peer: VerifiedPeer {
                identity: EnclaveIdentity::full(&body),
                body,
                version: self.version,
                role: PeerRole::Responder,
                additional_prop: msg3.additional_prop.clone(),
            },
            session_id: session_id(&g_a, &g_b),
        };
        self.state = InitiatorState::Active;
        Ok(established)
    }
}
