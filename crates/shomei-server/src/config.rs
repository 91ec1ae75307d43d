//! The service's configuration file (TOML). Every field has a default except the key-encryption
//! key, which must be given (inline, or in a file) unless the store is in memory.
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! store = "sqlite:///var/lib/shomei/shomei.db"   # or postgres://user@host/db
//! kek_file = "/etc/shomei/kek.hex"                # 64 hex digits; or kek = "…"
//! nonce_ttl_secs = 120
//! result_ttl_secs = 300
//! max_body_bytes = 1048576
//! policy_refresh_ms = 1000                        # how soon other replicas' admin writes apply
//! ear_alg = "ES256"                               # or ES384
//!
//! [[tokens]]                                      # admin API bearer tokens
//! name = "ops"
//! sha256 = "…"                                    # SHA-256 of the token, hex (or token = "…")
//! scopes = ["admin:read", "admin:write", "secrets:write", "audit:read"]
//!
//! [tls]                                           # HTTPS (rustls); without it, plain HTTP
//! cert = "/etc/shomei/cert.pem"
//! key = "/etc/shomei/key.pem"
//!
//! [kds]                                           # where a missing VCEK is looked up
//! mode = "offline"                                # offline (cache only) | online
//! cache_dir = "/var/cache/shomei/kds"
//!
//! [zk]                                            # accept SNP proofs (family "snp_proof");
//! verifier = "/etc/shomei/zk-verifier.bin"        # `shomei zk setup --verifier-out F`
//!                                                 # proving takes minutes: raise nonce_ttl_secs
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// The scopes an admin token can hold.
pub const SCOPES: [&str; 4] = ["admin:read", "admin:write", "secrets:write", "audit:read"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    #[serde(default = "default_store")]
    pub store: String,
    /// The key-encryption key for secrets at rest: 64 hex digits.
    #[serde(default)]
    pub kek: Option<String>,
    #[serde(default)]
    pub kek_file: Option<PathBuf>,
    #[serde(default = "default_nonce_ttl")]
    pub nonce_ttl_secs: u32,
    #[serde(default = "default_result_ttl")]
    pub result_ttl_secs: u32,
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    #[serde(default = "default_refresh")]
    pub policy_refresh_ms: u64,
    #[serde(default = "default_alg")]
    pub ear_alg: String,
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
    #[serde(default)]
    pub kds: Option<KdsSection>,
    /// Serve HTTPS (rustls) with this certificate chain and key.
    #[serde(default)]
    pub tls: Option<TlsSection>,
    /// Accept zero-knowledge proofs about SEV-SNP reports as evidence.
    #[serde(default)]
    pub zk: Option<ZkSection>,
}

/// `[zk]`: the verifier's file for SNP proofs (shomei-zk's verifying key and the three SRS
/// points it needs, about 1.4 KB; `VerifyingKeys::to_bytes`). A proof is only as sound as the
/// SRS this file was derived from: production uses a public ceremony's SRS. Proving takes
/// minutes (the attester proves after the challenge, since REPORT_DATA binds the nonce), so
/// `nonce_ttl_secs` must exceed the prover's time.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZkSection {
    pub verifier: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// PEM: the server certificate, then its chain.
    pub cert: PathBuf,
    /// PEM: the private key (PKCS#8, SEC1 or PKCS#1).
    pub key: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    pub name: String,
    /// SHA-256 of the token (hex): the configuration need not hold the token itself.
    #[serde(default)]
    pub sha256: Option<String>,
    #[serde(default)]
    pub token: Option<String>,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KdsSection {
    #[serde(default = "default_kds_mode")]
    pub mode: String,
    #[serde(default)]
    pub cache_dir: Option<PathBuf>,
    #[serde(default)]
    pub base_url: Option<String>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_store() -> String {
    "sqlite://shomei.db".into()
}
fn default_nonce_ttl() -> u32 {
    120
}
fn default_result_ttl() -> u32 {
    300
}
fn default_max_body() -> usize {
    1 << 20
}
fn default_refresh() -> u64 {
    1000
}
fn default_alg() -> String {
    "ES256".into()
}
fn default_kds_mode() -> String {
    "offline".into()
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Parses and checks a configuration file's text.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let c: Config = toml::from_str(text).map_err(|e| ConfigError(e.to_string()))?;
        c.check()?;
        Ok(c)
    }

    /// A configuration with every default, the given store and key.
    pub fn new(store: impl Into<String>, kek_hex: impl Into<String>) -> Self {
        Self {
            listen: default_listen(),
            store: store.into(),
            kek: Some(kek_hex.into()),
            kek_file: None,
            nonce_ttl_secs: default_nonce_ttl(),
            result_ttl_secs: default_result_ttl(),
            max_body_bytes: default_max_body(),
            policy_refresh_ms: default_refresh(),
            ear_alg: default_alg(),
            tokens: Vec::new(),
            kds: None,
            tls: None,
            zk: None,
        }
    }

    pub fn check(&self) -> Result<(), ConfigError> {
        for t in &self.tokens {
            if t.sha256.is_some() == t.token.is_some() {
                return Err(ConfigError(format!(
                    "token {:?}: give exactly one of `sha256` and `token`",
                    t.name
                )));
            }
            for s in &t.scopes {
                if !SCOPES.contains(&s.as_str()) {
                    return Err(ConfigError(format!(
                        "token {:?}: unknown scope {s:?} (known: {})",
                        t.name,
                        SCOPES.join(", ")
                    )));
                }
            }
        }
        if !matches!(self.ear_alg.as_str(), "ES256" | "ES384") {
            return Err(ConfigError(format!(
                "ear_alg {:?}: ES256 or ES384",
                self.ear_alg
            )));
        }
        if let Some(k) = &self.kds
            && !matches!(k.mode.as_str(), "offline" | "online")
        {
            return Err(ConfigError(format!(
                "kds.mode {:?}: offline or online",
                k.mode
            )));
        }
        Ok(())
    }

    /// The key-encryption key's hex digits, from `kek` or `kek_file`.
    pub fn kek_hex(&self) -> Result<String, ConfigError> {
        match (&self.kek, &self.kek_file) {
            (Some(k), None) => Ok(k.trim().to_owned()),
            (None, Some(f)) => std::fs::read_to_string(f)
                .map(|s| s.trim().to_owned())
                .map_err(|e| ConfigError(format!("kek_file {}: {e}", f.display()))),
            (Some(_), Some(_)) => Err(ConfigError("give `kek` or `kek_file`, not both".into())),
            (None, None) => Err(ConfigError(
                "no key-encryption key: set `kek` (64 hex digits) or `kek_file`".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_and_checks() {
        let c = Config::from_toml(
            "store = \"sqlite::memory:\"\nkek = \"00\"\n[[tokens]]\nname = \"a\"\ntoken = \"t\"\nscopes = [\"admin:read\"]\n",
        )
        .unwrap();
        assert_eq!(c.tokens.len(), 1);
        assert!(
            Config::from_toml("[[tokens]]\nname = \"a\"\ntoken = \"t\"\nscopes = [\"root\"]\n")
                .is_err()
        );
        assert!(Config::from_toml("ear_alg = \"none\"").is_err());
        assert!(Config::from_toml("unknown = 1").is_err());
        assert!(Config::from_toml("").unwrap().kek_hex().is_err());
        let c = Config::from_toml("[zk]\nverifier = \"/etc/v.bin\"\n").unwrap();
        assert_eq!(c.zk.map(|z| z.verifier), Some(PathBuf::from("/etc/v.bin")));
        assert!(Config::from_toml("[zk]\nsrs = \"x\"\n").is_err());
    }
}
