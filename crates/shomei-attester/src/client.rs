//! The attester's side of the shomei service protocol: challenge → evidence bound to the nonce
//! and a fresh P-256 key → attestation result (EAR) → secret, decrypted with that key.
//!
//! The key never leaves the attester: REPORT_DATA = SHA-512(nonce ‖ 04‖x‖y) binds it, the
//! service encrypts the secret to it (JWE ECDH-ES+A256KW / A256GCM), and only this process can
//! open it.

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::agreement::{ECDH_P256, PrivateKey};
use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{Value, json};
use shomei_verifier::jwe::{self, EcJwk};
use ureq::Agent;
use ureq::tls::{RootCerts, TlsConfig, TlsProvider};
use zeroize::Zeroizing;

/// A failure of one protocol step.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    #[error("{step}: {url}: {source}")]
    Transport {
        step: &'static str,
        url: String,
        source: Box<ureq::Error>,
    },
    /// The service answered with a problem document.
    #[error("{step}: HTTP {status}: {check}: {detail}")]
    Refused {
        step: &'static str,
        status: u16,
        check: String,
        detail: String,
        body: Value,
    },
    #[error("{step}: unexpected answer: {detail}")]
    Protocol { step: &'static str, detail: String },
    #[error("key: {0}")]
    Key(String),
}

impl ClientError {
    /// The check the service named, for refusals.
    pub fn check(&self) -> Option<&str> {
        match self {
            Self::Refused { check, .. } => Some(check),
            _ => None,
        }
    }
}

/// A session key: a fresh P-256 key pair whose public point the evidence binds.
pub struct SessionKey {
    key: PrivateKey,
    point: Vec<u8>,
}

impl SessionKey {
    pub fn generate() -> Result<Self, ClientError> {
        let key =
            PrivateKey::generate(&ECDH_P256).map_err(|_| ClientError::Key("generate".into()))?;
        let point = key
            .compute_public_key()
            .map_err(|_| ClientError::Key("public key".into()))?
            .as_ref()
            .to_vec();
        Ok(Self { key, point })
    }
    /// The uncompressed point `04 ‖ x ‖ y` that REPORT_DATA binds.
    pub fn point(&self) -> &[u8] {
        &self.point
    }
    pub fn jwk(&self) -> Result<EcJwk, ClientError> {
        EcJwk::from_point(&self.point).map_err(|e| ClientError::Key(e.to_string()))
    }
    /// REPORT_DATA for a nonce: SHA-512(nonce ‖ point).
    pub fn report_data(&self, nonce: &[u8]) -> [u8; 64] {
        shomei_verifier::appraise::report_data(nonce, &self.point)
    }
    /// The challenge CVM evidence carries for a nonce: SHA-256(nonce ‖ point).
    pub fn cvm_challenge(&self, nonce: &[u8]) -> Vec<u8> {
        shomei_verifier::appraise::cvm_challenge(&shomei_verifier::appraise::NonceBinding::Key {
            nonce: nonce.to_vec(),
            public_key: self.point.clone(),
        })
    }
    /// Opens a JWE the service encrypted to this key.
    pub fn decrypt(&self, token: &str) -> Result<Zeroizing<Vec<u8>>, ClientError> {
        jwe::decrypt(&self.key, token).map_err(|e| ClientError::Key(e.to_string()))
    }
}

/// A 2xx answer's JSON, or the service's problem document as [`ClientError::Refused`].
fn answer(step: &'static str, status: u16, v: Value) -> Result<Value, ClientError> {
    if (200..300).contains(&status) {
        return Ok(v);
    }
    let member = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    Err(ClientError::Refused {
        step,
        status,
        check: member("check"),
        detail: member("detail"),
        body: v,
    })
}

/// The secret in a `POST /v1/resource/{id}` answer, decrypted with the session key.
fn open_secret(v: &Value, key: &SessionKey) -> Result<Zeroizing<Vec<u8>>, ClientError> {
    let token = v
        .get("jwe")
        .and_then(Value::as_str)
        .ok_or(ClientError::Protocol {
            step: "resource",
            detail: "no jwe".into(),
        })?;
    key.decrypt(token)
}

/// A client of one shomei service.
pub struct Client {
    base: String,
    agent: Agent,
}

/// A challenge from the service.
#[derive(Debug, Clone)]
pub struct Challenge {
    pub nonce: Vec<u8>,
    pub expires_at: i64,
}

impl Client {
    pub fn new(base_url: &str) -> Self {
        let crypto = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(crypto)
            .root_certs(RootCerts::WebPki)
            .build();
        let agent = Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .user_agent(concat!("shomei-attester/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Self {
            base: base_url.trim_end_matches('/').to_owned(),
            agent,
        }
    }

    fn post(&self, step: &'static str, path: &str, body: &Value) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.base);
        let mut resp =
            self.agent
                .post(&url)
                .send_json(body)
                .map_err(|e| ClientError::Transport {
                    step,
                    url: url.clone(),
                    source: Box::new(e),
                })?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(16 << 20)
            .read_to_string()
            .map_err(|e| ClientError::Transport {
                step,
                url: url.clone(),
                source: Box::new(e),
            })?;
        let v: Value = serde_json::from_str(&text).map_err(|_| ClientError::Protocol {
            step,
            detail: format!(
                "HTTP {status}, not JSON: {}",
                text.chars().take(200).collect::<String>()
            ),
        })?;
        answer(step, status, v)
    }

    /// An admin-API call (`PUT`, `GET`, `DELETE`, `POST`) with a bearer token; 204 gives `null`.
    pub fn admin(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        let step = "admin";
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {token}");
        let transport = |e| ClientError::Transport {
            step,
            url: url.clone(),
            source: Box::new(e),
        };
        let mut resp = match (method, body) {
            ("GET", _) => self.agent.get(&url).header("authorization", &auth).call(),
            ("DELETE", _) => self
                .agent
                .delete(&url)
                .header("authorization", &auth)
                .call(),
            ("PUT", Some(b)) => self
                .agent
                .put(&url)
                .header("authorization", &auth)
                .send_json(b),
            ("POST", Some(b)) => self
                .agent
                .post(&url)
                .header("authorization", &auth)
                .send_json(b),
            _ => {
                return Err(ClientError::Protocol {
                    step,
                    detail: format!("{method} needs a body or is not supported"),
                });
            }
        }
        .map_err(transport)?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().map_err(transport)?;
        if status == 204 {
            return Ok(Value::Null);
        }
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        answer(step, status, v)
    }

    /// `POST /v1/challenge`.
    pub fn challenge(&self) -> Result<Challenge, ClientError> {
        let v = self.post("challenge", "/v1/challenge", &json!({}))?;
        let nonce = v
            .get("nonce")
            .and_then(Value::as_str)
            .and_then(|n| Base64UrlUnpadded::decode_vec(n).ok())
            .ok_or(ClientError::Protocol {
                step: "challenge",
                detail: "no base64url nonce".into(),
            })?;
        Ok(Challenge {
            nonce,
            expires_at: v.get("expires_at").and_then(Value::as_i64).unwrap_or(0),
        })
    }

    /// `POST /v1/attest`: the affirming result (`{status, ear, result}`), or the refusal.
    pub fn attest(
        &self,
        nonce: &[u8],
        key: &SessionKey,
        evidence: Vec<Value>,
    ) -> Result<Value, ClientError> {
        let body = json!({
            "nonce": Base64UrlUnpadded::encode_string(nonce),
            "tee_pubkey": key.jwk()?,
            "evidence": evidence,
        });
        self.post("attest", "/v1/attest", &body)
    }

    /// `POST /v1/resource/{id}` with an attestation result (the passport model); returns the
    /// secret, decrypted.
    pub fn resource_with_ear(
        &self,
        id: &str,
        ear: &str,
        key: &SessionKey,
    ) -> Result<Zeroizing<Vec<u8>>, ClientError> {
        let v = self.post(
            "resource",
            &format!("/v1/resource/{id}"),
            &json!({"ear": ear}),
        )?;
        open_secret(&v, key)
    }

    /// `POST /v1/resource/{id}` with evidence (the background-check model).
    pub fn resource_with_evidence(
        &self,
        id: &str,
        nonce: &[u8],
        key: &SessionKey,
        evidence: Vec<Value>,
    ) -> Result<Zeroizing<Vec<u8>>, ClientError> {
        let body = json!({
            "nonce": Base64UrlUnpadded::encode_string(nonce),
            "tee_pubkey": key.jwk()?,
            "evidence": evidence,
        });
        let v = self.post("resource", &format!("/v1/resource/{id}"), &body)?;
        open_secret(&v, key)
    }
}
