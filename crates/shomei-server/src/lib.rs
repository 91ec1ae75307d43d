//! The shomei service: a verifier and a relying party (secret broker) over HTTP.
//!
//! | route | what |
//! |---|---|
//! | `POST /v1/challenge` | a fresh 32-byte nonce, single use, with its expiry |
//! | `POST /v1/attest` | `{nonce, tee_pubkey?, evidence: [...]}` → an EAR JWT (200 affirming; 403 with the EAR and the reasons otherwise) |
//! | `POST /v1/resource/{id}` | `{ear}` (passport) or `{nonce, tee_pubkey, evidence}` (background check) → the secret as a JWE to `tee_pubkey` |
//! | `GET /.well-known/jwks.json`, `GET /v1/jwks` | the result-signing key |
//! | `GET /healthz`, `GET /metrics` | health (store reachable) and Prometheus text |
//! | `/v1/admin/...` | reference values, policies, secrets, trust anchors, audit log, dry run — bearer tokens with scopes |
//!
//! Status codes: 400 malformed (problem document naming the field), 401 not fresh or not
//! authenticated (unknown/expired nonce, expired or invalid result, no token), 403 rejected
//! (non-affirming appraisal, token without the scope), 404 unknown resource, 409 replayed
//! nonce, 413 body over `max_body_bytes`, 503 store or collateral unavailable (Retry-After).
//!
//! The service reads the clock and passes the time to the verifier as an input; the verifier
//! itself reads neither clock nor network. Policies, reference values and anchors are read
//! from the store and cached for `policy_refresh_ms` (a local admin write refreshes at once;
//! other replicas see it within that delay). Nonces, secrets and the signing key live only in
//! the store, so replicas sharing a PostgreSQL database share them.

pub mod config;
pub mod metrics;

mod admin;
mod evidence;
mod problem;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64ct::{Base64UrlUnpadded, Encoding};
use serde::Deserialize;
use serde_json::{Value, json};
use shomei_core::UnixTime;
use shomei_store::{AuditEntry, Kek, Store};
use shomei_verifier::appraise::{
    Anchors, Appraisal, AppraisalContext, CustomPolicy, Evidence, Family, NamedPolicy,
    NonceBinding, Policies, appraise,
};
use shomei_verifier::ear::{Alg, Ear, EarSigner, EarVerifier, Jwks};
use shomei_verifier::jwe::{self, EcJwk};
use shomei_verifier::rego::RegoPolicy;

pub use config::Config;
use evidence::EvidenceJson;
use metrics::{Metrics, label};
pub use problem::Problem;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("store: {0}")]
    Store(#[from] shomei_store::Error),
    #[error("result-signing key: {0}")]
    Key(#[from] shomei_verifier::Error),
    #[error("listening on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("kds: {0}")]
    Kds(String),
    #[error("the service thread ended before it started")]
    Stopped,
}

/// What every request shares.
pub struct AppState {
    store: Store,
    signer: EarSigner,
    verifier: EarVerifier,
    jwks: Jwks,
    config: Config,
    tokens: Vec<(String, [u8; 32], Vec<String>)>,
    metrics: Metrics,
    kds: Option<shomei_kds::KdsClient>,
    /// `[zk] verifier`: the key SNP proofs are checked with (read once at start).
    zk: Option<Arc<shomei_zk::prove::VerifyingKeys>>,
    loaded: RwLock<Option<(Instant, Arc<Loaded>)>>,
    rng: SystemRandom,
}

/// Policies and anchors as read from the store.
pub(crate) struct Loaded {
    pub(crate) policies: Policies,
    pub(crate) anchors: Anchors,
}

fn sha256(b: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, b).as_ref());
    out
}

impl AppState {
    /// Opens the store (migrating it), loads or creates the result-signing key.
    pub async fn new(config: Config) -> Result<Arc<Self>, StartError> {
        config.check()?;
        let kek = Kek::from_hex(&config.kek_hex()?)?;
        let store = Store::open(&config.store, kek).await?;
        let alg = if config.ear_alg == "ES384" {
            Alg::Es384
        } else {
            Alg::Es256
        };
        let key_id = format!("ear-signing-{}", alg.name().to_ascii_lowercase());
        // A candidate for the first start; replicas that race keep whichever was stored first.
        let candidate = EarSigner::generate_pkcs8(alg)?;
        let pkcs8 = store.signing_key_or_insert(&key_id, || candidate).await?;
        let signer = EarSigner::from_pkcs8(alg, &pkcs8)?;
        let verifier = signer.verifier()?;
        let jwks = signer.jwks();
        let mut tokens = Vec::new();
        for t in &config.tokens {
            let hash = match (&t.sha256, &t.token) {
                (Some(h), _) => {
                    let v = hex::decode(h.trim()).map_err(|_| {
                        config::ConfigError(format!("token {:?}: sha256 is not hex", t.name))
                    })?;
                    <[u8; 32]>::try_from(v.as_slice()).map_err(|_| {
                        config::ConfigError(format!("token {:?}: sha256 is not 32 bytes", t.name))
                    })?
                }
                (None, Some(tok)) => sha256(tok.as_bytes()),
                (None, None) => continue,
            };
            tokens.push((t.name.clone(), hash, t.scopes.clone()));
        }
        let kds = match &config.kds {
            None => None,
            Some(k) => {
                let mut c = shomei_kds::KdsConfig::default()
                    .with_cache_dir(k.cache_dir.clone())
                    .with_mode(if k.mode == "online" {
                        shomei_kds::Mode::Online
                    } else {
                        shomei_kds::Mode::Offline
                    });
                if let Some(u) = &k.base_url {
                    c = c.with_base_url(u.clone());
                }
                Some(shomei_kds::KdsClient::new(c).map_err(|e| StartError::Kds(e.to_string()))?)
            }
        };
        let zk = config.zk.as_ref().map(load_zk_verifier).transpose()?;
        Ok(Arc::new(Self {
            store,
            signer,
            verifier,
            jwks,
            config,
            tokens,
            metrics: Metrics::default(),
            kds,
            zk,
            loaded: RwLock::new(None),
            rng: SystemRandom::new(),
        }))
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Policies and anchors from the store (with `overrides` for a dry run), and the
    /// configured SNP-proof verifier.
    pub(crate) async fn load(
        &self,
        overrides: Option<&[shomei_store::Policy]>,
    ) -> Result<Loaded, Problem> {
        let mut l = load(&self.store, overrides).await?;
        l.anchors.zk = self.zk.clone();
        Ok(l)
    }

    /// Forgets the cached policies (after a local admin write).
    pub(crate) fn invalidate(&self) {
        if let Ok(mut l) = self.loaded.write() {
            *l = None;
        }
    }

    /// The policies and anchors, from the cache or the store.
    pub(crate) async fn loaded(&self) -> Result<Arc<Loaded>, Problem> {
        let fresh = Duration::from_millis(self.config.policy_refresh_ms);
        if let Ok(l) = self.loaded.read()
            && let Some((at, v)) = l.as_ref()
            && at.elapsed() < fresh
        {
            return Ok(Arc::clone(v));
        }
        let v = Arc::new(self.load(None).await?);
        if let Ok(mut l) = self.loaded.write() {
            *l = Some((Instant::now(), Arc::clone(&v)));
        }
        Ok(v)
    }

    async fn audit(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        outcome: &str,
        detail: &Value,
    ) -> Result<(), Problem> {
        let detail = detail.to_string();
        self.store
            .audit(&AuditEntry {
                at: UnixTime::now().secs(),
                actor,
                action,
                subject,
                outcome,
                detail: &detail,
            })
            .await
            .map(|_| ())
            .map_err(|e| Problem::store(&e))
    }
}

fn family_of(name: &str) -> Option<Family> {
    match name {
        "snp" => Some(Family::Snp),
        "dcap" => Some(Family::Dcap),
        "cvm" => Some(Family::Cvm),
        "snp_proof" => Some(Family::SnpProof),
        _ => None,
    }
}

/// Reads `[zk] verifier` (`VerifyingKeys::from_bytes`); the file is small, so it is bounded.
fn load_zk_verifier(
    z: &config::ZkSection,
) -> Result<Arc<shomei_zk::prove::VerifyingKeys>, StartError> {
    let bad = |e: String| {
        StartError::Config(config::ConfigError(format!(
            "zk.verifier {}: {e}",
            z.verifier.display()
        )))
    };
    let len = std::fs::metadata(&z.verifier)
        .map_err(|e| bad(e.to_string()))?
        .len();
    if len > 1 << 20 {
        return Err(bad(format!(
            "{len} bytes: not a verifier file (write one with `shomei zk setup --verifier-out F`)"
        )));
    }
    let bytes = std::fs::read(&z.verifier).map_err(|e| bad(e.to_string()))?;
    shomei_zk::prove::VerifyingKeys::from_bytes(&bytes)
        .map(Arc::new)
        .map_err(|e| bad(e.to_string()))
}

/// A policy body that will not load.
fn policy_problem(id: &str, e: impl std::fmt::Display) -> Problem {
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "policy_invalid",
        format!("stored policy {id:?}: {e}"),
    )
}

/// Builds the verifier's policies and anchors from the store's rows. `override_policies`
/// (dry run) replaces the stored policies of the same family and kind.
pub(crate) async fn load(
    store: &Store,
    override_policies: Option<&[shomei_store::Policy]>,
) -> Result<Loaded, Problem> {
    let mut rows = store
        .list_policies(None)
        .await
        .map_err(|e| Problem::store(&e))?;
    if let Some(o) = override_policies {
        rows.retain(|r| !o.iter().any(|p| p.family == r.family && p.kind == r.kind));
        rows.extend(o.iter().cloned());
    }
    let rvs = store
        .list_reference_values(None)
        .await
        .map_err(|e| Problem::store(&e))?;
    let anchors = store
        .list_trust_anchors(None)
        .await
        .map_err(|e| Problem::store(&e))?;

    // Reference values by family, then name.
    let mut by_family: BTreeMap<String, BTreeMap<String, Vec<Value>>> = BTreeMap::new();
    for rv in &rvs {
        let v: Value = serde_json::from_str(&rv.value).unwrap_or(Value::String(rv.value.clone()));
        by_family
            .entry(rv.family.clone())
            .or_default()
            .entry(rv.name.clone())
            .or_default()
            .push(v);
    }
    let hex_values = |family: &str, name: &str| -> Vec<shomei_core::policy::HexBytes> {
        by_family
            .get(family)
            .and_then(|m| m.get(name))
            .map(|vs| {
                vs.iter()
                    .filter_map(|v| v.as_str())
                    .filter_map(|s| shomei_core::policy::HexBytes::try_from(s.to_owned()).ok())
                    .collect()
            })
            .unwrap_or_default()
    };

    let mut policies = Policies::default();
    // The newest native policy of each family is the active one.
    let mut natives: Vec<&shomei_store::Policy> = rows
        .iter()
        .filter(|p| p.kind == shomei_store::PolicyKind::Native)
        .collect();
    natives.sort_by_key(|p| p.updated_at);
    for p in natives {
        match p.family.as_str() {
            "snp" => {
                policies.snp = NamedPolicy {
                    id: format!("policy:{}", p.id),
                    policy: shomei_snp::Policy::from_toml(&p.body)
                        .map_err(|e| policy_problem(&p.id, e))?,
                }
            }
            "dcap" => {
                policies.dcap = NamedPolicy {
                    id: format!("policy:{}", p.id),
                    policy: shomei_dcap::Policy::from_toml(&p.body)
                        .map_err(|e| policy_problem(&p.id, e))?,
                }
            }
            "cvm" => {
                policies.cvm.id = format!("policy:{}", p.id);
                policies.cvm.policy.snp =
                    shomei_snp::Policy::from_toml(&p.body).map_err(|e| policy_problem(&p.id, e))?;
            }
            _ => {}
        }
    }
    policies
        .snp
        .policy
        .measurements
        .extend(hex_values("snp", "measurement"));
    policies
        .dcap
        .policy
        .mr_td
        .extend(hex_values("dcap", "mr_td"));
    policies
        .dcap
        .policy
        .mr_enclave
        .extend(hex_values("dcap", "mr_enclave"));
    policies
        .dcap
        .policy
        .mr_signer
        .extend(hex_values("dcap", "mr_signer"));
    // CVM reference values: launch digests, PCR values and PCRs the quote must cover.
    let cvm = &mut policies.cvm.policy.reference;
    cvm.measurements.extend(hex_values("cvm", "measurement"));
    if let Some(m) = by_family.get("cvm") {
        for v in m.get("pcr").into_iter().flatten() {
            let pcr: CvmPcr = serde_json::from_value(v.clone())
                .map_err(|e| policy_problem("cvm pcr reference value", e))?;
            cvm.pcrs
                .entry(pcr.bank)
                .or_default()
                .entry(pcr.index)
                .or_default()
                .push(
                    shomei_core::policy::HexBytes::try_from(pcr.value)
                        .map_err(|e| policy_problem("cvm pcr reference value", e))?,
                );
        }
        for v in m.get("required_pcrs").into_iter().flatten() {
            let r: CvmRequired = serde_json::from_value(v.clone())
                .map_err(|e| policy_problem("cvm required_pcrs", e))?;
            cvm.required_pcrs
                .entry(r.bank)
                .or_default()
                .extend(r.indices);
        }
    }
    for p in rows
        .iter()
        .filter(|p| p.kind == shomei_store::PolicyKind::Rego)
    {
        let family = if p.family == "*" {
            None
        } else {
            Some(family_of(&p.family).ok_or_else(|| policy_problem(&p.id, "unknown family"))?)
        };
        policies.custom.push(CustomPolicy {
            id: format!("policy:{}", p.id),
            family,
            rego: RegoPolicy::compile(&p.body).map_err(|e| policy_problem(&p.id, e))?,
            reference_values: family
                .and_then(|f| by_family.get(f.name()))
                .cloned()
                .unwrap_or_default(),
        });
    }

    let mut out = Anchors::default();
    let mut snp: Option<shomei_snp::TrustAnchors> = None;
    for a in anchors.iter().filter(|a| a.family == "snp") {
        let root = shomei_snp::AmdRoot::from_bundle(a.pem.as_bytes())
            .map_err(|e| policy_problem(&a.id, e))?;
        snp = Some(
            snp.unwrap_or_else(|| shomei_snp::TrustAnchors::amd().clone())
                .with_root(root),
        );
    }
    out.snp = snp;
    Ok(Loaded {
        policies,
        anchors: out,
    })
}

/// A `cvm`/`pcr` reference value: `{"bank": "sha256", "index": 7, "value": "<hex>"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CvmPcr {
    pub(crate) bank: String,
    pub(crate) index: u32,
    pub(crate) value: String,
}

/// A `cvm`/`required_pcrs` reference value: `{"bank": "sha256", "indices": [0, 4, 7]}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CvmRequired {
    pub(crate) bank: String,
    pub(crate) indices: Vec<u32>,
}

/// JSON bodies whose rejection is a problem document (400, or 413 when too large).
pub(crate) struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(e) => Err(json_rejection(e)),
        }
    }
}

fn json_rejection(e: JsonRejection) -> Problem {
    let status = e.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        Problem::new(status, "too_large", e.body_text())
    } else if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
        Problem::new(status, "content_type", e.body_text())
    } else {
        Problem::bad_request("malformed", e.body_text())
    }
}

/// The router over a started state.
pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .route("/v1/challenge", post(challenge))
        .route("/v1/attest", post(attest))
        .route("/v1/resource/{id}", post(resource))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/v1/jwks", get(jwks))
        .route("/healthz", get(health))
        .route("/metrics", get(metrics_text))
        .merge(admin::routes())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            count_requests,
        ))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

async fn count_requests(
    State(s): State<Arc<AppState>>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let r = next.run(req).await;
    s.metrics.inc(
        "shomei_http_requests_total",
        format!(
            "method=\"{}\",route=\"{}\",status=\"{}\"",
            label(&method),
            label(&route),
            r.status().as_u16()
        ),
    );
    r
}

async fn not_found() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

async fn health(State(s): State<Arc<AppState>>) -> Response {
    match s.store.ping().await {
        Ok(()) => Json(json!({
            "status": "ok",
            "store": format!("{:?}", s.store.backend()).to_lowercase(),
        }))
        .into_response(),
        Err(e) => Problem::store(&e).into_response(),
    }
}

async fn metrics_text(State(s): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
        .into_response()
}

async fn jwks(State(s): State<Arc<AppState>>) -> Json<Jwks> {
    Json(s.jwks.clone())
}

/// The body (if any, e.g. `{}`) is read to its end: a handler that leaves request bytes unread
/// makes hyper close the keep-alive connection under the client's next request.
async fn challenge(
    State(s): State<Arc<AppState>>,
    _body: axum::body::Bytes,
) -> Result<Json<Value>, Problem> {
    let mut nonce = [0u8; 32];
    s.rng
        .fill(&mut nonce)
        .map_err(|_| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "rng", "no randomness"))?;
    let expires_at = UnixTime::now()
        .secs()
        .saturating_add(i64::from(s.config.nonce_ttl_secs));
    s.store
        .issue_nonce(&nonce, expires_at)
        .await
        .map_err(|e| Problem::store(&e))?;
    Ok(Json(json!({
        "nonce": Base64UrlUnpadded::encode_string(&nonce),
        "expires_at": expires_at,
    })))
}

/// `POST /v1/attest` and the evidence form of `POST /v1/resource/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AttestRequest {
    nonce: String,
    #[serde(default)]
    tee_pubkey: Option<EcJwk>,
    evidence: Vec<EvidenceJson>,
}

/// The signed result and what the caller needs to answer.
struct Attested {
    token: String,
    ear: Ear,
    reasons: Vec<Value>,
}

pub(crate) fn decode_all(
    evidence: &[EvidenceJson],
) -> Result<Vec<(&'static str, Evidence)>, Problem> {
    if evidence.is_empty() {
        return Err(Problem::bad_request("malformed", "evidence: empty"));
    }
    if evidence.len() > evidence::MAX_PIECES {
        return Err(Problem::bad_request(
            "malformed",
            format!("evidence: at most {} pieces", evidence::MAX_PIECES),
        ));
    }
    evidence
        .iter()
        .enumerate()
        .map(|(i, e)| Ok((e.family(), e.decode(i)?)))
        .collect()
}

/// Appraises every piece; missing collateral is looked up in the KDS cache when configured.
pub(crate) async fn appraise_all(
    s: &AppState,
    pieces: Vec<(&'static str, Evidence)>,
    binding: Option<&NonceBinding>,
    loaded: &Loaded,
    at: UnixTime,
    count: bool,
) -> Result<Vec<(String, Appraisal)>, Problem> {
    let ctx = AppraisalContext {
        at,
        nonce: binding,
        policies: &loaded.policies,
        anchors: &loaded.anchors,
    };
    let mut out = Vec::new();
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    for (family, mut e) in pieces {
        let mut result = appraise(&e, &ctx);
        if let (Err(err), Some(kds), Evidence::Snp(snp)) = (&result, &s.kds, &mut e)
            && err.is_retryable()
        {
            match kds.collateral_for_report(&snp.report, snp.product, false, at) {
                Ok(c) => {
                    snp.collateral.certificates.extend(c.certificates);
                    result = appraise(&e, &ctx);
                }
                Err(k) => {
                    return Err(Problem::unavailable(
                        "collateral_unavailable",
                        format!("{err}; KDS: {k}"),
                    ));
                }
            }
        }
        let a = match result {
            Ok(a) => a,
            Err(err) if err.is_retryable() => {
                return Err(Problem::unavailable(
                    "collateral_unavailable",
                    err.to_string(),
                ));
            }
            Err(err) => return Err(Problem::bad_request("malformed", err.to_string())),
        };
        if count {
            s.metrics.inc(
                "shomei_appraisals_total",
                format!("family=\"{family}\",status=\"{}\"", a.status().name()),
            );
        }
        let n = names.entry(family).or_insert(0);
        let name = if *n == 0 {
            family.to_owned()
        } else {
            format!("{family}-{n}")
        };
        *n += 1;
        out.push((name, a));
    }
    Ok(out)
}

fn nonce_problem(e: shomei_store::NonceError, s: &AppState) -> Problem {
    let (status, check) = match &e {
        shomei_store::NonceError::AlreadyUsed => (StatusCode::CONFLICT, "nonce_replayed"),
        shomei_store::NonceError::Expired => (StatusCode::UNAUTHORIZED, "nonce_expired"),
        shomei_store::NonceError::Unknown => (StatusCode::UNAUTHORIZED, "nonce_unknown"),
        shomei_store::NonceError::Store(st) => return Problem::store(st),
        _ => (StatusCode::UNAUTHORIZED, "nonce"),
    };
    s.metrics.inc(
        "shomei_nonce_rejections_total",
        format!("reason=\"{check}\""),
    );
    Problem::new(status, check, e.to_string())
}

/// Consumes the nonce, appraises, signs the EAR and records the appraisal in the audit log.
async fn run_attestation(
    s: &AppState,
    req: &AttestRequest,
    actor: &str,
) -> Result<Attested, Problem> {
    let started = Instant::now();
    let nonce = evidence::b64("nonce", &req.nonce)?;
    let point = req
        .tee_pubkey
        .as_ref()
        .map(EcJwk::to_point)
        .transpose()
        .map_err(|e| Problem::bad_request("malformed", format!("tee_pubkey: {e}")))?;
    let pieces = decode_all(&req.evidence)?;
    let now = UnixTime::now();
    s.store
        .consume_nonce(&nonce, now.secs())
        .await
        .map_err(|e| nonce_problem(e, s))?;
    let loaded = s.loaded().await?;
    let binding = NonceBinding::Key {
        nonce: nonce.clone(),
        public_key: point.clone().unwrap_or_default(),
    };
    let appraisals = appraise_all(s, pieces, Some(&binding), &loaded, now, true).await?;
    let mut ear = Ear::new(
        now,
        s.config.result_ttl_secs,
        Some(&nonce),
        appraisals.iter().map(|(n, a)| (n.as_str(), a)),
    )
    .map_err(|e| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "ear", e.to_string()))?;
    if let Some(jwk) = &req.tee_pubkey {
        ear.tee_pubkey = Some(jwk.clone());
    }
    let token = s
        .signer
        .sign(&ear)
        .map_err(|e| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "ear", e.to_string()))?;
    let reasons: Vec<Value> = appraisals
        .iter()
        .flat_map(|(n, a)| {
            a.reasons().iter().map(move |r| {
                json!({"submod": n, "claim": r.claim.name(), "value": r.value,
                       "check": r.check, "detail": r.detail})
            })
        })
        .collect();
    let status = ear.status();
    s.audit(
        actor,
        "appraise",
        &hex::encode(sha256(&nonce)),
        status.name(),
        &json!({
            "families": appraisals.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            "policy_ids": appraisals.iter().map(|(_, a)| a.policy_id()).collect::<Vec<_>>(),
            "reasons": reasons,
        }),
    )
    .await?;
    s.metrics.observe_attest(started.elapsed());
    Ok(Attested {
        token,
        ear,
        reasons,
    })
}

fn rejected_problem(a: &Attested) -> Problem {
    let first = a
        .reasons
        .first()
        .and_then(|r| r.get("check"))
        .and_then(Value::as_str)
        .unwrap_or("not_affirming")
        .to_owned();
    let detail = a
        .reasons
        .first()
        .and_then(|r| r.get("detail"))
        .and_then(Value::as_str)
        .unwrap_or("the attestation result is not affirming")
        .to_owned();
    Problem::new(StatusCode::FORBIDDEN, first, detail)
        .with("status", json!(a.ear.status().name()))
        .with("reasons", json!(a.reasons))
        .with("ear", json!(a.token))
}

async fn attest(
    State(s): State<Arc<AppState>>,
    Body(req): Body<AttestRequest>,
) -> Result<Json<Value>, Problem> {
    let a = run_attestation(&s, &req, "attester").await?;
    if !a.ear.status().eq(&shomei_verifier::ar4si::Tier::Affirming) {
        return Err(rejected_problem(&a));
    }
    Ok(Json(json!({
        "status": a.ear.status().name(),
        "ear": a.token,
        "result": a.ear,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ResourceRequest {
    Passport { ear: String },
    Evidence(AttestRequest),
}

async fn resource(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    Body(req): Body<ResourceRequest>,
) -> Result<Json<Value>, Problem> {
    let now = UnixTime::now();
    let (ear, token, actor) = match &req {
        ResourceRequest::Passport { ear } => {
            let v = s.verifier.verify(ear, now).map_err(|e| {
                let check = match &e {
                    shomei_verifier::Error::Ear(r) => r.check(),
                    _ => "ear",
                };
                s.metrics
                    .inc("shomei_releases_total", format!("outcome=\"{check}\""));
                Problem::new(StatusCode::UNAUTHORIZED, check, e.to_string())
            })?;
            (v.ear().clone(), ear.clone(), "passport")
        }
        ResourceRequest::Evidence(r) => {
            let a = run_attestation(&s, r, "background-check").await?;
            if a.ear.status() != shomei_verifier::ar4si::Tier::Affirming {
                s.metrics
                    .inc("shomei_releases_total", "outcome=\"not_affirming\"".into());
                s.audit(
                    "background-check",
                    "release_secret",
                    &id,
                    "denied",
                    &json!({"reason": "not_affirming", "reasons": a.reasons}),
                )
                .await?;
                return Err(rejected_problem(&a));
            }
            (a.ear, a.token, "background-check")
        }
    };
    if ear.status() != shomei_verifier::ar4si::Tier::Affirming {
        return Err(deny(
            &s,
            actor,
            &id,
            "not_affirming",
            format!("the attestation result is {}", ear.status().name()),
        )
        .await);
    }
    let Some(jwk) = &ear.tee_pubkey else {
        return Err(deny(
            &s,
            actor,
            &id,
            "no_bound_key",
            "the attestation result binds no TEE public key to encrypt the secret to".into(),
        )
        .await);
    };
    let point = match jwk.to_point() {
        Ok(p) => p,
        Err(e) => return Err(deny(&s, actor, &id, "no_bound_key", e.to_string()).await),
    };
    let secret = s
        .store
        .get_secret(&id)
        .await
        .map_err(|e| Problem::store(&e))?;
    let Some(secret) = secret else {
        s.metrics
            .inc("shomei_releases_total", "outcome=\"not_found\"".into());
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no secret {id:?}"),
        ));
    };
    let sealed = jwe::encrypt(&point, &secret, Some(&id))
        .map_err(|e| Problem::bad_request("malformed", format!("tee_pubkey: {e}")))?;
    s.audit(
        actor,
        "release_secret",
        &id,
        "released",
        &json!({"ear_iat": ear.iat, "nonce": ear.nonce}),
    )
    .await?;
    s.metrics
        .inc("shomei_releases_total", "outcome=\"released\"".into());
    Ok(Json(json!({ "id": id, "jwe": sealed, "ear": token })))
}

/// Refuses a release: counts it, audits it, and returns the 403 (or the audit's failure).
async fn deny(s: &AppState, actor: &str, id: &str, check: &'static str, detail: String) -> Problem {
    s.metrics
        .inc("shomei_releases_total", format!("outcome=\"{check}\""));
    if let Err(p) = s
        .audit(
            actor,
            "release_secret",
            id,
            "denied",
            &json!({"reason": check, "detail": detail}),
        )
        .await
    {
        return p;
    }
    Problem::new(StatusCode::FORBIDDEN, check, detail)
}

/// A service running on its own thread and runtime (for the demo and tests).
pub struct Running {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    https: bool,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    pub fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The rustls acceptor for `[tls]`: certificate chain and key from PEM files.
fn tls_acceptor(t: &config::TlsSection) -> Result<tokio_rustls::TlsAcceptor, StartError> {
    use rustls::pki_types::{
        CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
    };
    let bad = |what: String| StartError::Config(config::ConfigError(what));
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|e| bad(format!("tls: {}: {e}", p.display())))
    };
    let cert_pem = read(&t.cert)?;
    let certs: Vec<CertificateDer<'static>> =
        shomei_core::x509::pem_blocks(&cert_pem, "CERTIFICATE")
            .map_err(|e| bad(format!("tls.cert {}: {e}", t.cert.display())))?
            .into_iter()
            .map(CertificateDer::from)
            .collect();
    if certs.is_empty() {
        return Err(bad(format!(
            "tls.cert {}: no CERTIFICATE",
            t.cert.display()
        )));
    }
    let key_pem = read(&t.key)?;
    let first = |label: &str| {
        shomei_core::x509::pem_blocks(&key_pem, label)
            .ok()
            .and_then(|v| v.into_iter().next())
    };
    let key: PrivateKeyDer<'static> = if let Some(k) = first("PRIVATE KEY") {
        PrivatePkcs8KeyDer::from(k).into()
    } else if let Some(k) = first("EC PRIVATE KEY") {
        PrivateSec1KeyDer::from(k).into()
    } else if let Some(k) = first("RSA PRIVATE KEY") {
        PrivatePkcs1KeyDer::from(k).into()
    } else {
        return Err(bad(format!("tls.key {}: no private key", t.key.display())));
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(format!("tls: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad(format!("tls: {e}")))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))
}

/// Deletes expired nonces once a minute (any replica may; the statement is idempotent).
fn spawn_nonce_purge(state: &Arc<AppState>) {
    let state = Arc::clone(state);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            let _ = state
                .store
                .purge_expired_nonces(UnixTime::now().secs())
                .await;
        }
    });
}

/// Serves `app` on `listener` until `shutdown` resolves: plain HTTP through axum, or HTTPS
/// (rustls handshake, then hyper's HTTP/1 connection) when an acceptor is given.
async fn run_listener(
    listener: tokio::net::TcpListener,
    app: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let Some(acceptor) = tls else {
        return axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
    };
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            accepted = listener.accept() => {
                let Ok((tcp, _)) = accepted else { continue };
                let (acceptor, app) = (acceptor.clone(), app.clone());
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(tcp).await else { return };
                    let service = hyper_util::service::TowerToHyperService::new(app);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

/// A service whose store is open and whose socket is bound, not yet accepting.
struct Bound {
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

async fn bind(config: Config) -> Result<Bound, StartError> {
    let tls = config.tls.as_ref().map(tls_acceptor).transpose()?;
    let listen = config.listen;
    let state = AppState::new(config).await?;
    let listen_err = |source| StartError::Listen {
        addr: listen,
        source,
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(listen_err)?;
    let addr = listener.local_addr().map_err(listen_err)?;
    Ok(Bound {
        state,
        listener,
        addr,
        tls,
    })
}

/// Accepts connections until `shutdown` resolves, then closes the store.
async fn run(
    b: Bound,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    spawn_nonce_purge(&b.state);
    let app = router(Arc::clone(&b.state));
    let r = run_listener(b.listener, app, b.tls, shutdown).await;
    b.state.store.close().await;
    r
}

fn runtime() -> Result<tokio::runtime::Runtime, StartError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| StartError::Listen {
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            source,
        })
}

/// Starts the service in the background (its own thread and runtime); it stops on drop.
pub fn spawn(config: Config) -> Result<Running, StartError> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = match runtime() {
            Ok(rt) => rt,
            Err(e) => {
                let _ = ready_tx.send(Err(e));
                return;
            }
        };
        rt.block_on(async move {
            match bind(config).await {
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
                Ok(b) => {
                    let _ = ready_tx.send(Ok((b.addr, Arc::clone(&b.state), b.tls.is_some())));
                    let _ = run(b, async {
                        let _ = stop_rx.await;
                    })
                    .await;
                }
            }
        });
    });
    match ready_rx.recv() {
        Ok(Ok((addr, state, https))) => Ok(Running {
            addr,
            state,
            https,
            shutdown: Some(stop_tx),
            thread: Some(thread),
        }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => Err(StartError::Stopped),
    }
}

/// Runs the service in the foreground until SIGINT/SIGTERM; `ready` is called with the bound
/// address once it accepts connections.
pub fn serve(config: Config, ready: impl FnOnce(SocketAddr)) -> Result<(), StartError> {
    runtime()?.block_on(async move {
        let b = bind(config).await?;
        let addr = b.addr;
        ready(addr);
        let shutdown = async {
            let ctrl_c = tokio::signal::ctrl_c();
            #[cfg(unix)]
            {
                let mut term =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {},
                }
            }
            #[cfg(not(unix))]
            {
                let _ = ctrl_c.await;
            }
        };
        run(b, shutdown)
            .await
            .map_err(|source| StartError::Listen { addr, source })
    })
}
