//! EAR (draft-ietf-rats-ear): an attestation result as a signed JWT, its verification by a
//! relying party (the passport model), and the JWKS of the result-signing key.
//!
//! ```json
//! { "eat_profile": "tag:github.com,2023:veraison/ear", "iat": 1750000000, "exp": 1750000300,
//!   "ear.verifier-id": { "build": "shomei 0.1.0", "developer": "https://github.com/shomei/shomei" },
//!   "eat_nonce": "<base64url>",
//!   "submods": { "snp": {
//!     "ear.status": "affirming",
//!     "ear.trustworthiness-vector": { "instance-identity": 2, "configuration": 2, ... },
//!     "ear.appraisal-policy-id": "policy:shomei/default",
//!     "ear.veraison.annotated-evidence": { ...the family's claims... },
//!     "shomei": { "family": "snp", "appraised_at": 1750000000, "reasons": [ ... ] } } } }
//! ```
//!
//! JWS compact serialisation (RFC 7515) with ES256 (P-256) or ES384 (P-384) over aws-lc-rs;
//! the signature is checked over the received `header.payload` characters, the algorithm must
//! be the verifying key's (no `none`, no algorithm taken from the token), `crit` is refused,
//! and the time of use is an input.

use std::collections::BTreeMap;

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, UnparsedPublicKey};
use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};
use shomei_core::UnixTime;

use crate::appraise::{Appraisal, Family};
use crate::ar4si::{Reason, Tier, TrustVector};
use crate::error::{EarRejection, Error};

/// The EAT profile of an EAR.
pub const EAR_PROFILE: &str = "tag:github.com,2023:veraison/ear";

/// The longest token [`EarVerifier::verify`] reads.
pub const MAX_TOKEN_LEN: usize = 1 << 20;

/// `ear.verifier-id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifierId {
    pub build: String,
    pub developer: String,
}

impl Default for VerifierId {
    fn default() -> Self {
        Self {
            build: concat!("shomei ", env!("CARGO_PKG_VERSION")).to_owned(),
            developer: "https://github.com/shomei/shomei".to_owned(),
        }
    }
}

/// The claims-set of an EAR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ear {
    #[serde(rename = "eat_profile")]
    pub profile: String,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(rename = "ear.verifier-id")]
    pub verifier_id: VerifierId,
    /// The challenge nonce, base64url.
    #[serde(rename = "eat_nonce", default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub submods: BTreeMap<String, Submod>,
    /// The TEE's public key that the evidence binds (REPORT_DATA = SHA-512(nonce ‖ key)):
    /// a relying party encrypts secrets to it ([`crate::jwe`]). Set only when every piece of
    /// evidence was appraised with that binding.
    #[serde(
        rename = "shomei.tee-pubkey",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub tee_pubkey: Option<crate::jwe::EcJwk>,
}

/// The appraisal of one piece of evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submod {
    #[serde(rename = "ear.status")]
    pub status: Tier,
    #[serde(rename = "ear.trustworthiness-vector")]
    pub trust_vector: TrustVector,
    #[serde(rename = "ear.appraisal-policy-id")]
    pub policy_id: String,
    /// The appraised claims in the family's JSON shape (absent when verification rejected the
    /// evidence).
    #[serde(
        rename = "ear.veraison.annotated-evidence",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub claims: Option<serde_json::Value>,
    pub shomei: ShomeiExtension,
}

/// shomei's extension: the family and a machine-readable reason for every non-affirming claim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShomeiExtension {
    pub family: Family,
    pub appraised_at: i64,
    pub reasons: Vec<Reason>,
}

impl Ear {
    /// An EAR issued at `iat`, valid for `validity_secs`, over the named appraisals.
    pub fn new<'a>(
        iat: UnixTime,
        validity_secs: u32,
        nonce: Option<&[u8]>,
        appraisals: impl IntoIterator<Item = (&'a str, &'a Appraisal)>,
    ) -> Result<Self, Error> {
        let mut submods = BTreeMap::new();
        for (name, a) in appraisals {
            let claims = a
                .claims()
                .map(serde_json::to_value)
                .transpose()
                .map_err(|e| Error::Encode(e.to_string()))?;
            submods.insert(
                name.to_owned(),
                Submod {
                    status: a.status(),
                    trust_vector: a.trust_vector().clone(),
                    policy_id: a.policy_id().to_owned(),
                    claims,
                    shomei: ShomeiExtension {
                        family: a.family(),
                        appraised_at: a.appraised_at().secs(),
                        reasons: a.reasons().to_vec(),
                    },
                },
            );
        }
        Ok(Self {
            profile: EAR_PROFILE.to_owned(),
            iat: iat.secs(),
            exp: Some(iat.secs().saturating_add(i64::from(validity_secs))),
            verifier_id: VerifierId::default(),
            nonce: nonce.map(Base64UrlUnpadded::encode_string),
            submods,
            tee_pubkey: None,
        })
    }

    /// The worst status of the submods (`none` when there are none): a relying party releases
    /// a secret only when this is affirming.
    pub fn status(&self) -> Tier {
        let mut worst = None;
        for s in self.submods.values() {
            worst = Some(worst.map_or(s.status, |w: Tier| w.max(s.status)));
        }
        worst.unwrap_or(Tier::None)
    }
}

/// The signature algorithm of a result-signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    Es256,
    Es384,
}

impl Alg {
    pub fn name(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
        }
    }

    fn crv(self) -> &'static str {
        match self {
            Self::Es256 => "P-256",
            Self::Es384 => "P-384",
        }
    }

    fn coordinate_len(self) -> usize {
        match self {
            Self::Es256 => 32,
            Self::Es384 => 48,
        }
    }

    fn signing(self) -> &'static signature::EcdsaSigningAlgorithm {
        match self {
            Self::Es256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            Self::Es384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        }
    }

    fn verifying(self) -> &'static signature::EcdsaVerificationAlgorithm {
        match self {
            Self::Es256 => &signature::ECDSA_P256_SHA256_FIXED,
            Self::Es384 => &signature::ECDSA_P384_SHA384_FIXED,
        }
    }
}

/// A public key as a JWK (RFC 7517), EC only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub y: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
}

/// A JWK set (what the service publishes for its result-signing key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

impl Jwks {
    /// Verifies a token with the key its header names (`kid`, compared with each key's
    /// recomputed thumbprint), or, without a `kid`, with each key of the token's algorithm in
    /// turn: a relying party holding a verifier's published set across a key rotation.
    pub fn verify(&self, token: &str, at: UnixTime) -> Result<VerifiedEar, Error> {
        let verifiers: Vec<EarVerifier> = self
            .keys
            .iter()
            .filter_map(|k| EarVerifier::from_jwk(k).ok())
            .collect();
        let header = token_header(token)?;
        let mut last = EarRejection::KeyId {
            found: header.kid.clone().unwrap_or_default(),
            expected: "a key of the set".to_owned(),
        };
        for v in verifiers
            .iter()
            .filter(|v| v.alg.name() == header.alg)
            .filter(|v| header.kid.as_deref().is_none_or(|k| k == v.kid))
        {
            match v.verify_inner(token, at) {
                Ok(ok) => return Ok(ok),
                Err(e) => last = e,
            }
        }
        Err(last.into())
    }
}

/// The decoded protected header of a compact JWS (no signature check).
fn token_header(token: &str) -> Result<Header, EarRejection> {
    let h = token.split('.').next().unwrap_or_default();
    json("header", &b64("header", h)?)
}

/// The uncompressed point `04 ‖ x ‖ y` as a JWK, with its RFC 7638 thumbprint as `kid`.
fn jwk_of(alg: Alg, point: &[u8]) -> Result<Jwk, Error> {
    let n = alg.coordinate_len();
    let (x, y) = match point.split_first() {
        Some((4, xy)) if xy.len() == 2 * n => xy.split_at(n),
        _ => {
            return Err(Error::Key(
                "not an uncompressed EC point of the key's curve",
            ));
        }
    };
    let (x, y) = (
        Base64UrlUnpadded::encode_string(x),
        Base64UrlUnpadded::encode_string(y),
    );
    // RFC 7638: the required members in lexicographic order, no whitespace.
    let canonical = format!(
        r#"{{"crv":"{}","kty":"EC","x":"{x}","y":"{y}"}}"#,
        alg.crv()
    );
    let kid = Base64UrlUnpadded::encode_string(
        digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref(),
    );
    Ok(Jwk {
        kty: "EC".to_owned(),
        crv: alg.crv().to_owned(),
        x,
        y,
        alg: Some(alg.name().to_owned()),
        use_: Some("sig".to_owned()),
        kid: Some(kid),
    })
}

/// The verifier's result-signing key.
pub struct EarSigner {
    alg: Alg,
    key: EcdsaKeyPair,
    jwk: Jwk,
    rng: SystemRandom,
}

impl core::fmt::Debug for EarSigner {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EarSigner")
            .field("alg", &self.alg)
            .field("kid", &self.jwk.kid)
            .finish_non_exhaustive()
    }
}

/// The JWS protected header shomei writes and reads.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
    /// Critical extensions: none are understood, so a token that names any is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    crit: Option<serde_json::Value>,
}

impl EarSigner {
    /// A new PKCS#8 private key (for the service to store; load it with [`EarSigner::from_pkcs8`]).
    pub fn generate_pkcs8(alg: Alg) -> Result<Vec<u8>, Error> {
        EcdsaKeyPair::generate_pkcs8(alg.signing(), &SystemRandom::new())
            .map(|d| d.as_ref().to_vec())
            .map_err(|_| Error::Key("key generation failed"))
    }

    pub fn from_pkcs8(alg: Alg, pkcs8: &[u8]) -> Result<Self, Error> {
        let key = EcdsaKeyPair::from_pkcs8(alg.signing(), pkcs8)
            .map_err(|_| Error::Key("not a PKCS#8 EC private key of the algorithm's curve"))?;
        let jwk = jwk_of(alg, key.public_key().as_ref())?;
        Ok(Self {
            alg,
            key,
            jwk,
            rng: SystemRandom::new(),
        })
    }

    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The public key, with `kid` (its RFC 7638 thumbprint), `alg` and `use`.
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: vec![self.jwk.clone()],
        }
    }

    /// The verifier of this signer's results.
    pub fn verifier(&self) -> Result<EarVerifier, Error> {
        EarVerifier::from_jwk(&self.jwk)
    }

    /// The EAR as a JWS compact serialisation.
    pub fn sign(&self, ear: &Ear) -> Result<String, Error> {
        let header = Header {
            alg: self.alg.name().to_owned(),
            typ: Some("JWT".to_owned()),
            kid: self.jwk.kid.clone(),
            crit: None,
        };
        let mut token = b64_json(&header)?;
        token.push('.');
        token.push_str(&b64_json(ear)?);
        let sig = self
            .key
            .sign(&self.rng, token.as_bytes())
            .map_err(|_| Error::Key("signing failed"))?;
        token.push('.');
        token.push_str(&Base64UrlUnpadded::encode_string(sig.as_ref()));
        Ok(token)
    }
}

fn b64_json<T: Serialize>(v: &T) -> Result<String, Error> {
    serde_json::to_vec(v)
        .map(|b| Base64UrlUnpadded::encode_string(&b))
        .map_err(|e| Error::Encode(e.to_string()))
}

/// A relying party's verifier of results signed by one key.
#[derive(Debug, Clone)]
pub struct EarVerifier {
    alg: Alg,
    point: Vec<u8>,
    kid: String,
}

/// An EAR whose signature, profile and validity were checked. Only [`EarVerifier::verify`]
/// constructs one.
#[derive(Debug, Clone)]
pub struct VerifiedEar {
    ear: Ear,
}

impl VerifiedEar {
    pub fn ear(&self) -> &Ear {
        &self.ear
    }

    pub fn status(&self) -> Tier {
        self.ear.status()
    }

    pub fn is_affirming(&self) -> bool {
        self.status() == Tier::Affirming
    }
}

fn b64(part: &'static str, s: &str) -> Result<Vec<u8>, EarRejection> {
    Base64UrlUnpadded::decode_vec(s).map_err(|e| EarRejection::Encoding {
        part,
        detail: e.to_string(),
    })
}

fn json<T: serde::de::DeserializeOwned>(part: &'static str, b: &[u8]) -> Result<T, EarRejection> {
    serde_json::from_slice(b).map_err(|e| EarRejection::Encoding {
        part,
        detail: e.to_string(),
    })
}

impl EarVerifier {
    /// From a published JWK (EC P-256 or P-384).
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, Error> {
        let alg = match (jwk.kty.as_str(), jwk.crv.as_str()) {
            ("EC", "P-256") => Alg::Es256,
            ("EC", "P-384") => Alg::Es384,
            _ => return Err(Error::Key("only EC P-256 and P-384 keys are supported")),
        };
        if jwk.alg.as_deref().is_some_and(|a| a != alg.name()) {
            return Err(Error::Key("the JWK's alg does not match its curve"));
        }
        let bad = |_| Error::Key("the JWK's coordinates are not base64url");
        let (x, y) = (
            Base64UrlUnpadded::decode_vec(&jwk.x).map_err(bad)?,
            Base64UrlUnpadded::decode_vec(&jwk.y).map_err(bad)?,
        );
        let n = alg.coordinate_len();
        if x.len() != n || y.len() != n {
            return Err(Error::Key("the JWK's coordinates have the wrong length"));
        }
        let mut point = Vec::with_capacity(1 + 2 * n);
        point.push(4);
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        // The kid is recomputed, never taken from the JWK.
        let kid = jwk_of(alg, &point)?.kid.unwrap_or_default();
        Ok(Self { alg, point, kid })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Verifies a token for use at `at`: its signature under this key, the EAR profile, and
    /// `iat ≤ at < exp` (a result without `exp` is refused).
    pub fn verify(&self, token: &str, at: UnixTime) -> Result<VerifiedEar, Error> {
        Ok(self.verify_inner(token, at)?)
    }

    fn verify_inner(&self, token: &str, at: UnixTime) -> Result<VerifiedEar, EarRejection> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(EarRejection::Malformed {
                detail: "longer than the limit",
            });
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(EarRejection::Malformed {
                detail: "not three dot-separated parts",
            });
        };
        let header: Header = json("header", &b64("header", h)?)?;
        if header.alg != self.alg.name() {
            return Err(EarRejection::Algorithm {
                found: header.alg,
                expected: self.alg.name(),
            });
        }
        if header.crit.is_some() {
            return Err(EarRejection::Malformed {
                detail: "critical header parameters are not understood",
            });
        }
        if let Some(kid) = header.kid
            && kid != self.kid
        {
            return Err(EarRejection::KeyId {
                found: kid,
                expected: self.kid.clone(),
            });
        }
        let sig = b64("signature", s)?;
        let signed_len = h.len().saturating_add(1).saturating_add(p.len());
        let signed = token
            .as_bytes()
            .get(..signed_len)
            .ok_or(EarRejection::Malformed {
                detail: "truncated",
            })?;
        UnparsedPublicKey::new(self.alg.verifying(), &self.point)
            .verify(signed, &sig)
            .map_err(|_| EarRejection::Signature)?;
        let ear: Ear = json("payload", &b64("payload", p)?)?;
        if ear.profile != EAR_PROFILE {
            return Err(EarRejection::Profile { found: ear.profile });
        }
        let exp = UnixTime::from_secs(ear.exp.ok_or(EarRejection::NoExpiry)?);
        if at >= exp {
            return Err(EarRejection::Expired { exp, at });
        }
        let iat = UnixTime::from_secs(ear.iat);
        if iat > at {
            return Err(EarRejection::NotYetValid { iat, at });
        }
        Ok(VerifiedEar { ear })
    }
}
