//! Encryption at rest: AES-256-GCM under the key-encryption key (KEK).
//!
//! A sealed value is `version (1) ‖ nonce (12) ‖ ciphertext ‖ tag (16)`. The nonce is random per
//! write (96 bits from the system RNG; at the write rates of a verifier the birthday bound is far
//! away). The associated data binds the purpose (`secret`, `service_key`, `kek_check`) and the
//! row id, so a ciphertext copied to another row or another table fails to open.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use zeroize::{Zeroize, Zeroizing};

use crate::Error;

/// The format byte of sealed values.
const VERSION: u8 = 1;
/// The domain-separation prefix of the associated data.
const AAD_PREFIX: &[u8] = b"shomei-store/v1\0";
/// What the open-time check seals: the KEK is right when this opens.
const KEK_CHECK_PLAINTEXT: &[u8] = b"shomei-store key-encryption key check";

/// What a sealed value is, bound into its associated data.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Purpose {
    Secret,
    ServiceKey,
    KekCheck,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::Secret => b"secret",
            Purpose::ServiceKey => b"service_key",
            Purpose::KekCheck => b"kek_check",
        }
    }

    pub(crate) fn what(self) -> &'static str {
        match self {
            Purpose::Secret => "secret",
            Purpose::ServiceKey => "service key",
            Purpose::KekCheck => "key-encryption key check",
        }
    }
}

/// The 32-byte key-encryption key under which secrets and service keys are stored.
///
/// The key bytes live only inside aws-lc (which cleanses them when the key is dropped); the
/// constructors zeroize the copies they were given where they own them.
pub struct Kek {
    key: LessSafeKey,
}

impl Kek {
    /// A KEK from its 32 bytes.
    pub fn new(bytes: &[u8; 32]) -> Result<Self, Error> {
        let key = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| Error::Crypto {
            op: "kek",
            detail: "AES-256-GCM key setup failed",
        })?;
        Ok(Kek {
            key: LessSafeKey::new(key),
        })
    }

    /// A KEK from a slice, which must be exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, Error> {
        let array: &[u8; 32] = bytes.try_into().map_err(|_| Error::InvalidInput {
            op: "kek",
            field: "key-encryption key",
            reason: format!("{} bytes, expected 32", bytes.len()),
        })?;
        Kek::new(array)
    }

    /// A KEK from 64 hexadecimal digits (the configuration form).
    pub fn from_hex(hex_digits: &str) -> Result<Self, Error> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(hex_digits.trim(), bytes.as_mut_slice()).map_err(|e| {
            Error::InvalidInput {
                op: "kek",
                field: "key-encryption key",
                reason: format!("expected 64 hexadecimal digits: {e}"),
            }
        })?;
        Kek::new(&bytes)
    }

    /// A fresh random KEK and its bytes (for `shomei demo` and tests; a real deployment keeps the
    /// KEK in its configuration or a KMS).
    pub fn generate() -> Result<(Self, Zeroizing<[u8; 32]>), Error> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        SystemRandom::new()
            .fill(bytes.as_mut_slice())
            .map_err(|_| Error::Crypto {
                op: "kek",
                detail: "the system random number generator failed",
            })?;
        Ok((Kek::new(&bytes)?, bytes))
    }

    /// Encrypts `plaintext` for row `id`.
    pub(crate) fn seal(
        &self,
        op: &'static str,
        purpose: Purpose,
        id: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| Error::Crypto {
                op,
                detail: "the system random number generator failed",
            })?;
        let tag_len = AES_256_GCM.tag_len();
        // Reserved up front so that the buffer holding plaintext is never reallocated (which
        // would leave a copy behind in freed memory); encrypted in place.
        let mut out = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + tag_len);
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        let mut body = Zeroizing::new(Vec::with_capacity(plaintext.len() + tag_len));
        body.extend_from_slice(plaintext);
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(purpose, id)),
                &mut *body,
            )
            .map_err(|_| Error::Crypto {
                op,
                detail: "AES-256-GCM encryption failed",
            })?;
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Decrypts a sealed value of row `id`.
    pub(crate) fn open(
        &self,
        op: &'static str,
        purpose: Purpose,
        id: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let corrupt = |detail: &str| Error::Corrupt {
            op,
            what: purpose.what(),
            detail: format!("{id:?}: {detail}"),
        };
        let (version, rest) = sealed.split_first().ok_or_else(|| corrupt("empty value"))?;
        if *version != VERSION {
            return Err(corrupt(&format!("unknown format version {version}")));
        }
        let (nonce, ciphertext) = rest
            .split_first_chunk::<NONCE_LEN>()
            .ok_or_else(|| corrupt("shorter than a nonce"))?;
        if ciphertext.len() < AES_256_GCM.tag_len() {
            return Err(corrupt("shorter than a tag"));
        }
        let mut buf = Zeroizing::new(ciphertext.to_vec());
        let plaintext_len = match self.key.open_in_place(
            Nonce::assume_unique_for_key(*nonce),
            Aad::from(aad(purpose, id)),
            &mut buf,
        ) {
            Ok(plaintext) => plaintext.len(),
            Err(_) => {
                buf.zeroize();
                return Err(Error::Decrypt {
                    op,
                    what: purpose.what(),
                    id: id.to_owned(),
                });
            }
        };
        // The tag left beyond the plaintext is cleared with the rest of the capacity on drop.
        buf.truncate(plaintext_len);
        Ok(buf)
    }

    /// The value stored at creation and opened at every open: it tells a wrong KEK apart from
    /// an altered row, at open rather than at the first secret read.
    pub(crate) fn seal_check(&self) -> Result<Vec<u8>, Error> {
        self.seal("open", Purpose::KekCheck, "", KEK_CHECK_PLAINTEXT)
    }

    /// Whether the check value opens under this KEK.
    pub(crate) fn verify_check(&self, sealed: &[u8]) -> Result<(), Error> {
        match self.open("open", Purpose::KekCheck, "", sealed) {
            Ok(plaintext) if plaintext.as_slice() == KEK_CHECK_PLAINTEXT => Ok(()),
            Ok(_) | Err(Error::Decrypt { .. }) => Err(Error::WrongKek),
            Err(e) => Err(e),
        }
    }
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Kek(..)")
    }
}

fn aad(purpose: Purpose, id: &str) -> Vec<u8> {
    let label = purpose.label();
    let mut aad = Vec::with_capacity(AAD_PREFIX.len() + label.len() + 1 + id.len());
    aad.extend_from_slice(AAD_PREFIX);
    aad.extend_from_slice(label);
    aad.push(0);
    aad.extend_from_slice(id.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn sealed_value_opens_only_for_its_row_and_purpose() {
        let kek = Kek::new(&[7; 32]).unwrap();
        let sealed = kek.seal("t", Purpose::Secret, "a", b"hello").unwrap();
        assert_eq!(
            kek.open("t", Purpose::Secret, "a", &sealed)
                .unwrap()
                .as_slice(),
            b"hello"
        );
        assert!(matches!(
            kek.open("t", Purpose::Secret, "b", &sealed),
            Err(Error::Decrypt { .. })
        ));
        assert!(matches!(
            kek.open("t", Purpose::ServiceKey, "a", &sealed),
            Err(Error::Decrypt { .. })
        ));
    }

    #[test]
    fn two_seals_of_one_value_differ() {
        let kek = Kek::new(&[7; 32]).unwrap();
        let a = kek.seal("t", Purpose::Secret, "a", b"hello").unwrap();
        let b = kek.seal("t", Purpose::Secret, "a", b"hello").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn wrong_kek_fails_the_check() {
        let check = Kek::new(&[1; 32]).unwrap().seal_check().unwrap();
        assert!(Kek::new(&[1; 32]).unwrap().verify_check(&check).is_ok());
        assert!(matches!(
            Kek::new(&[2; 32]).unwrap().verify_check(&check),
            Err(Error::WrongKek)
        ));
    }

    #[test]
    fn truncated_and_unknown_version_are_corrupt() {
        let kek = Kek::new(&[7; 32]).unwrap();
        let sealed = kek.seal("t", Purpose::Secret, "a", b"hello").unwrap();
        for len in [0, 1, 12, 13, 20] {
            assert!(matches!(
                kek.open("t", Purpose::Secret, "a", sealed.get(..len).unwrap()),
                Err(Error::Corrupt { .. })
            ));
        }
        let mut other = sealed.clone();
        other[0] = 2;
        assert!(matches!(
            kek.open("t", Purpose::Secret, "a", &other),
            Err(Error::Corrupt { .. })
        ));
    }

    #[test]
    fn kek_from_hex_and_slice_check_length() {
        assert!(Kek::from_hex(&"ab".repeat(32)).is_ok());
        assert!(Kek::from_hex(&"ab".repeat(31)).is_err());
        assert!(Kek::from_slice(&[0; 31]).is_err());
    }
}
