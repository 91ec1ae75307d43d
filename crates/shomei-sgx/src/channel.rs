//! The encrypted channel after attestation: AES-128-GCM under the AEK, in the framing of the
//! SDK sample's `secure_message_t` (`SampleCode/LocalAttestation/Include/dh_session_protocol.h`):
//!
//! ```text
//! session_id u32 ‖ payload_size u32 ‖ IV[12] ‖ tag[16] ‖ ciphertext[payload_size]
//! IV = counter u32 LE ‖ direction u32 LE ‖ 0u32   (direction 0: initiator → responder)
//! ```
//!
//! Differences from the sample, each deliberate: every direction has its own counter, and the
//! direction is part of the IV, so the two ends never reuse a (key, IV) pair and a reflected
//! message is refused; the receiver accepts only the next counter (a replay or a reordered
//! message is refused, naming which); the AAD is session_id ‖ payload_size (the sample's is
//! empty); and the channel closes before a counter wraps (the last counter is 2³² − 2, the
//! sample's limit). Humane-LAFW's channel (random IVs, no counters) has no replay protection.

use aws_lc_rs::aead::{AES_128_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use shomei_core::{ParseError, ParseErrorKind, Reader};

use crate::crypto::Key128;
use crate::error::ChannelError;

/// Bytes before the ciphertext.
pub const HEADER_LEN: usize = 36;
/// The largest payload the channel carries.
pub const MAX_PAYLOAD: usize = 1 << 24;
/// The last counter value a direction may use.
pub const LAST_COUNTER: u32 = u32::MAX - 1;

/// Which end of the channel this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Initiator,
    Responder,
}

impl Side {
    /// The direction code of messages this side sends.
    fn outbound(self) -> u32 {
        match self {
            Self::Initiator => 0,
            Self::Responder => 1,
        }
    }

    fn inbound(self) -> u32 {
        match self {
            Self::Initiator => 1,
            Self::Responder => 0,
        }
    }
}

fn direction_name(code: u32) -> &'static str {
    if code == 0 {
        "initiator → responder"
    } else {
        "responder → initiator"
    }
}

/// One end of an attested channel.
pub struct SecureChannel {
    key: LessSafeKey,
    session_id: u32,
    side: Side,
    send_next: u64,
    recv_next: u64,
}

impl core::fmt::Debug for SecureChannel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SecureChannel")
            .field("session_id", &self.session_id)
            .field("side", &self.side)
            .field("send_next", &self.send_next)
            .field("recv_next", &self.recv_next)
            .finish_non_exhaustive()
    }
}

fn iv(counter: u32, direction: u32) -> [u8; 12] {
    let mut iv = [0u8; 12];
    for (d, s) in iv.iter_mut().zip(
        counter
            .to_le_bytes()
            .iter()
            .chain(direction.to_le_bytes().iter()),
    ) {
        *d = *s;
    }
    iv
}

impl SecureChannel {
    /// A channel under `aek` for the session `session_id`, seen from `side`.
    pub fn new(aek: &Key128, session_id: u32, side: Side) -> Result<Self, ChannelError> {
        let key = UnboundKey::new(&AES_128_GCM, aek.expose())
            .map_err(|_| ChannelError::Crypto("AES-128-GCM key"))?;
        Ok(Self {
            key: LessSafeKey::new(key),
            session_id,
            side,
            send_next: 0,
            recv_next: 0,
        })
    }

    pub fn session_id(&self) -> u32 {
        self.session_id
    }

    pub fn side(&self) -> Side {
        self.side
    }

    /// Messages sent so far.
    pub fn sent(&self) -> u64 {
        self.send_next
    }

    /// Messages received so far.
    pub fn received(&self) -> u64 {
        self.recv_next
    }

    /// Encrypts `plaintext` as the next outbound message.
    pub fn seal(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, ChannelError> {
        let counter = u32::try_from(self.send_next)
            .ok()
            .filter(|c| *c <= LAST_COUNTER)
            .ok_or(ChannelError::Closed {
                direction: direction_name(self.side.outbound()),
            })?;
        let len = u32::try_from(plaintext.len())
            .ok()
            .filter(|_| plaintext.len() <= MAX_PAYLOAD)
            .ok_or(ChannelError::TooLarge {
                len: plaintext.len(),
                max: MAX_PAYLOAD,
            })?;
        let iv = iv(counter, self.side.outbound());
        let mut aad = [0u8; 8];
        for (d, s) in aad.iter_mut().zip(
            self.session_id
                .to_le_bytes()
                .iter()
                .chain(len.to_le_bytes().iter()),
        ) {
            *d = *s;
        }
        let mut ct = plaintext.to_vec();
        let tag = self
            .key
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(iv), Aad::from(aad), &mut ct)
            .map_err(|_| ChannelError::Crypto("AES-128-GCM seal"))?;
        let mut out = Vec::with_capacity(HEADER_LEN.saturating_add(ct.len()));
        out.extend_from_slice(&aad);
        out.extend_from_slice(&iv);
        out.extend_from_slice(tag.as_ref());
        out.extend_from_slice(&ct);
        self.send_next = self.send_next.saturating_add(1);
        Ok(out)
    }

    /// Decrypts the next inbound message. A refused message changes nothing: the expected
    /// counter stays where it was.
    pub fn open(&mut self, message: &[u8]) -> Result<Vec<u8>, ChannelError> {
        let mut r = Reader::new(message);
        let session_id = r.u32_le("secure_message.session_id")?;
        let len_at = r.offset();
        let len = r.u32_le("secure_message.payload_size")?;
        let counter = r.u32_le("secure_message.iv.counter")?;
        let dir_at = r.offset();
        let direction = r.u32_le("secure_message.iv.direction")?;
        r.reserved_zero(4, "secure_message.iv.reserved")?;
        let tag: [u8; 16] = r.array("secure_message.tag")?;
        let n = usize::try_from(len)
            .ok()
            .filter(|n| *n <= MAX_PAYLOAD)
            .ok_or_else(|| {
                ParseError::new(
                    "secure_message.payload_size",
                    len_at,
                    ParseErrorKind::LengthTooLarge {
                        length: u64::from(len),
                        max: 1 << 24,
                    },
                )
            })?;
        let ct = r.take(n, "secure_message.payload")?;
        r.finish("secure_message")?;
        if direction > 1 {
            return Err(ParseError::new(
                "secure_message.iv.direction",
                dir_at,
                ParseErrorKind::InvalidValue {
                    value: u64::from(direction),
                },
            )
            .into());
        }

        if session_id != self.session_id {
            return Err(ChannelError::Session {
                expected: self.session_id,
                found: session_id,
            });
        }
        if direction != self.side.inbound() {
            return Err(ChannelError::Direction {
                expected: direction_name(self.side.inbound()),
                found: direction_name(direction),
            });
        }
        if self.recv_next > u64::from(LAST_COUNTER) {
            return Err(ChannelError::Closed {
                direction: direction_name(self.side.inbound()),
            });
        }
        let got = u64::from(counter);
        if got < self.recv_next {
            return Err(ChannelError::Replay {
                expected: self.recv_next,
                found: counter,
            });
        }
        if got > self.recv_next {
            return Err(ChannelError::OutOfOrder {
                expected: self.recv_next,
                found: counter,
            });
        }
        let mut aad = [0u8; 8];
        for (d, s) in aad.iter_mut().zip(
            session_id
                .to_le_bytes()
                .iter()
                .chain(len.to_le_bytes().iter()),
        ) {
            *d = *s;
        }
        let mut buf = ct.to_vec();
        self.key
            .open_in_place_separate_tag(
                Nonce::assume_unique_for_key(iv(counter, direction)),
                Aad::from(aad),
                &tag,
                &mut buf,
            )
            .map_err(|_| ChannelError::Authentication)?;
        self.recv_next = self.recv_next.saturating_add(1);
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (SecureChannel, SecureChannel) {
        let k = Key128::new([7; 16]);
        (
            SecureChannel::new(&k, 0x1234_5678, Side::Initiator).unwrap(),
            SecureChannel::new(&k, 0x1234_5678, Side::Responder).unwrap(),
        )
    }

    #[test]
    fn wire_format_is_the_sdk_sample_framing_with_direction_in_the_iv() {
        let (mut i, mut r) = pair();
        let m = i.seal(b"hello").unwrap();
        assert_eq!(m.len(), HEADER_LEN + 5);
        assert_eq!(&m[0..4], &0x1234_5678u32.to_le_bytes());
        assert_eq!(&m[4..8], &5u32.to_le_bytes());
        assert_eq!(&m[8..20], &[0u8; 12]); // counter 0, direction 0: the sample's IV
        // Decrypt with aws-lc-rs directly: AES-128-GCM, IV from the header, AAD = bytes 0..8.
        let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &[7; 16]).unwrap());
        let mut buf = m[36..].to_vec();
        buf.extend_from_slice(&m[20..36]);
        let iv: [u8; 12] = m[8..20].try_into().unwrap();
        let aad: [u8; 8] = m[0..8].try_into().unwrap();
        let p = key
            .open_in_place(Nonce::assume_unique_for_key(iv), Aad::from(aad), &mut buf)
            .unwrap();
        assert_eq!(p, b"hello");
        assert_eq!(r.open(&m).unwrap(), b"hello");
        let reply = r.seal(b"world").unwrap();
        assert_eq!(&reply[8..20], &[0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(i.open(&reply).unwrap(), b"world");
    }

    #[test]
    fn replayed_message_is_refused() {
        let (mut i, mut r) = pair();
        let m0 = i.seal(b"pay 10").unwrap();
        assert_eq!(r.open(&m0).unwrap(), b"pay 10");
        let e = r.open(&m0).unwrap_err();
        assert_eq!(
            e,
            ChannelError::Replay {
                expected: 1,
                found: 0
            }
        );
        assert_eq!(e.check(), "channel_replay");
        let m1 = i.seal(b"pay 20").unwrap();
        assert_eq!(r.open(&m1).unwrap(), b"pay 20");
    }

    #[test]
    fn reordered_message_is_refused_and_the_right_one_still_opens() {
        let (mut i, mut r) = pair();
        let m0 = i.seal(b"first").unwrap();
        let m1 = i.seal(b"second").unwrap();
        let e = r.open(&m1).unwrap_err();
        assert_eq!(
            e,
            ChannelError::OutOfOrder {
                expected: 0,
                found: 1
            }
        );
        assert_eq!(e.check(), "channel_order");
        assert_eq!(r.open(&m0).unwrap(), b"first");
        assert_eq!(r.open(&m1).unwrap(), b"second");
    }

    #[test]
    fn reflected_message_is_refused() {
        let (mut i, _r) = pair();
        let m = i.seal(b"to the responder").unwrap();
        assert_eq!(i.open(&m).unwrap_err().check(), "channel_direction");
    }

    #[test]
    fn tampered_ciphertext_tag_or_header_is_refused() {
        let (mut i, mut r) = pair();
        let m = i.seal(b"secret").unwrap();
        for (at, check) in [
            (40usize, "channel_auth"), // ciphertext
            (25, "channel_auth"),      // tag
            (0, "channel_session"),    // session id
            (8, "channel_order"),      // counter
            (12, "channel_format"),    // direction 1 -> 0x..01 ^ 0x80 is out of range
            (16, "channel_format"),    // IV reserved
        ] {
            let mut t = m.clone();
            t[at] ^= 0x80;
            let e = r.open(&t).unwrap_err();
            assert_eq!(e.check(), check, "byte {at}: {e}");
        }
        // The payload size is authenticated too: a shorter message is a format error, a
        // consistent shorter one fails authentication.
        let mut t = m.clone();
        t.pop();
        assert_eq!(r.open(&t).unwrap_err().check(), "channel_format");
        t[4] = 5;
        assert_eq!(r.open(&t).unwrap_err().check(), "channel_auth");
        assert_eq!(r.open(&m).unwrap(), b"secret");
    }

    #[test]
    fn other_session_key_cannot_open() {
        let (mut i, _) = pair();
        let mut other =
            SecureChannel::new(&Key128::new([8; 16]), 0x1234_5678, Side::Responder).unwrap();
        let m = i.seal(b"x").unwrap();
        assert_eq!(other.open(&m).unwrap_err(), ChannelError::Authentication);
    }

    #[test]
    fn channel_closes_before_the_counter_wraps() {
        let (mut i, mut r) = pair();
        i.send_next = u64::from(LAST_COUNTER);
        r.recv_next = u64::from(LAST_COUNTER);
        let last = i.seal(b"last").unwrap();
        assert_eq!(&last[8..12], &LAST_COUNTER.to_le_bytes());
        assert_eq!(r.open(&last).unwrap(), b"last");
        assert_eq!(i.seal(b"one more").unwrap_err().check(), "channel_closed");
        // A forged message with counter 2^32 - 1 is refused as closed, never as the next one.
        let mut forged = last.clone();
        forged[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(r.open(&forged).unwrap_err().check(), "channel_closed");
    }
}
