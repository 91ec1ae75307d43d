//! "Attest the peer enclave and give me a channel", in the spirit of Humane-LAFW — two calls per
//! side, bytes in and bytes out, with the identity policy applied before any key is released and
//! a channel with replay protection at the end.
//!
//! ```text
//! verifier (responder)                         prover (initiator)
//! let (v, msg1) = Responder::start(&a, pol)?;
//!                                   ── msg1 ─▶ let (p, msg2) = Initiator::start(&b, pol, V2, &msg1)?;
//! let (att, msg3) = v.finish(&msg2)?; ◀ msg2 ──
//!                                   ── msg3 ─▶ let att = p.finish(&msg3)?;
//! att.channel.seal(b"secret")       ⇄          att.channel.open(..)
//! ```
//!
//! Each step consumes its state, so calls cannot be made out of order; the SDK-shaped state
//! machines underneath ([`DhResponder`], [`DhInitiator`]) refuse misuse at run time.

use crate::channel::{SecureChannel, Side};
use crate::dh::{
    DhInitiator, DhResponder, LaVersion, LocalEnclave, Msg1, Msg2, Msg3, VerifiedPeer,
};
use crate::error::{Error, Rejection};
use crate::policy::IdentityPolicy;

/// An attested peer and the channel to it.
#[derive(Debug)]
pub struct Attested {
    pub peer: VerifiedPeer,
    pub channel: SecureChannel,
}

fn attested(
    policy: &IdentityPolicy,
    established: crate::dh::Established,
    side: Side,
) -> Result<Attested, Error> {
    let violations = policy.appraise(&established.peer);
    if !violations.is_empty() {
        // The AEK is dropped (and zeroised) here: nothing is released to a refused peer.
        return Err(Rejection::Identity { violations }.into());
    }
    let channel = SecureChannel::new(&established.aek, established.session_id, side)
        .map_err(|_| Error::Crypto("AES-128-GCM key"))?;
    Ok(Attested {
        peer: established.peer,
        channel,
    })
}

/// The verifying side (the SDK's responder).
pub struct Responder<'e, E: LocalEnclave> {
    enclave: &'e E,
    policy: IdentityPolicy,
    dh: DhResponder,
}

impl<'e, E: LocalEnclave> Responder<'e, E> {
    /// Starts a session: returns msg1 to send.
    pub fn start(enclave: &'e E, policy: IdentityPolicy) -> Result<(Self, Vec<u8>), Error> {
        let mut dh = DhResponder::new();
        let msg1 = dh.gen_msg1(enclave)?;
        Ok((
            Self {
                enclave,
                policy,
                dh,
            },
            msg1.to_bytes(),
        ))
    }

    /// Verifies msg2 and the initiator's identity; returns the channel and msg3 to send.
    pub fn finish(self, msg2: &[u8]) -> Result<(Attested, Vec<u8>), Error> {
        self.finish_with(msg2, &[])
    }

    /// [`Responder::finish`] with additional properties in msg3.
    pub fn finish_with(
        mut self,
        msg2: &[u8],
        additional_prop: &[u8],
    ) -> Result<(Attested, Vec<u8>), Error> {
        let msg2 = Msg2::parse(msg2)?;
        let (msg3, established) = self.dh.proc_msg2(self.enclave, &msg2, additional_prop)?;
        let att = attested(&self.policy, established, Side::Responder)?;
        Ok((att, msg3.to_bytes()?))
    }
}

impl<E: LocalEnclave> core::fmt::Debug for Responder<'_, E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Responder")
            .field("dh", &self.dh)
            .finish_non_exhaustive()
    }
}

/// The proving side (the SDK's initiator).
pub struct Initiator<'e, E: LocalEnclave> {
    enclave: &'e E,
    policy: IdentityPolicy,
    dh: DhInitiator,
}

impl<'e, E: LocalEnclave> Initiator<'e, E> {
    /// Answers msg1: returns msg2 to send.
    pub fn start(
        enclave: &'e E,
        policy: IdentityPolicy,
        version: LaVersion,
        msg1: &[u8],
    ) -> Result<(Self, Vec<u8>), Error> {
        let msg1 = Msg1::parse(msg1)?;
        let mut dh = DhInitiator::new(version);
        let msg2 = dh.proc_msg1(enclave, &msg1)?;
        Ok((
            Self {
                enclave,
                policy,
                dh,
            },
            msg2.to_bytes(),
        ))
    }

    /// Verifies msg3 and the responder's identity; returns the channel.
    pub fn finish(mut self, msg3: &[u8]) -> Result<Attested, Error> {
        let msg3 = Msg3::parse(msg3)?;
        let established = self.dh.proc_msg3(self.enclave, &msg3)?;
        attested(&self.policy, established, Side::Initiator)
    }
}

impl<E: LocalEnclave> core::fmt::Debug for Initiator<'_, E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Initiator")
            .field("dh", &self.dh)
            .finish_non_exhaustive()
    }
}

/// Both enclaves in one process (Humane-LAFW's shape): runs the whole handshake and returns
/// (the responder's view of the initiator, the initiator's view of the responder).
pub fn attest_in_process<R: LocalEnclave, I: LocalEnclave>(
    responder: &R,
    responder_policy: IdentityPolicy,
    initiator: &I,
    initiator_policy: IdentityPolicy,
    version: LaVersion,
) -> Result<(Attested, Attested), Error> {
    let (r, msg1) = Responder::start(responder, responder_policy)?;
    let (i, msg2) = Initiator::start(initiator, initiator_policy, version, &msg1)?;
    let (at_responder, msg3) = r.finish(&msg2)?;
    let at_initiator = i.finish(&msg3)?;
    Ok((at_responder, at_initiator))
}
