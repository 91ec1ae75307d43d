//! The admin API: reference values, policies, secrets, trust anchors, the audit log, and a dry
//! run of policies against evidence. Every route needs `Authorization: Bearer <token>` with a
//! scope: `admin:read` (reads, dry run), `admin:write` (reference values, policies, anchors),
//! `secrets:write` (secrets), `audit:read` (the audit log). No token: 401; a token without the
//! scope: 403. Tokens are compared by their SHA-256 in constant time. Every write is audited.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use base64ct::{Base64, Encoding};
use serde::Deserialize;
use serde_json::{Value, json};
use shomei_core::UnixTime;
use shomei_verifier::appraise::NonceBinding;
use shomei_verifier::jwe::EcJwk;

use crate::evidence::EvidenceJson;
use crate::problem::Problem;
use crate::{AppState, Body, appraise_all, decode_all, family_of, sha256};

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/admin/reference-values", get(list_rvs))
        .route(
            "/v1/admin/reference-values/{id}",
            get(get_rv).put(put_rv).delete(delete_rv),
        )
        .route("/v1/admin/policies", get(list_policies))
        .route(
            "/v1/admin/policies/{id}",
            get(get_policy).put(put_policy).delete(delete_policy),
        )
        .route("/v1/admin/secrets", get(list_secrets))
        .route(
            "/v1/admin/secrets/{id}",
            axum::routing::put(put_secret).delete(delete_secret),
        )
        .route("/v1/admin/anchors", get(list_anchors))
        .route(
            "/v1/admin/anchors/{id}",
            get(get_anchor).put(put_anchor).delete(delete_anchor),
        )
        .route("/v1/admin/audit", get(audit_log))
        .route("/v1/admin/dry-run", post(dry_run))
}

/// Checks the bearer token and its scope; returns the token's name (the audit actor).
fn authorize(s: &AppState, headers: &HeaderMap, scope: &str) -> Result<String, Problem> {
    let unauth = |d: &str| Problem::new(StatusCode::UNAUTHORIZED, "unauthenticated", d);
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauth("the admin API needs Authorization: Bearer <token>"))?
        .to_str()
        .map_err(|_| unauth("the Authorization header is not text"))?;
    let token = value
        .strip_prefix("Bearer ")
        .ok_or_else(|| unauth("the Authorization scheme must be Bearer"))?
        .trim();
    let presented = sha256(token.as_bytes());
    let mut found: Option<&(String, [u8; 32], Vec<String>)> = None;
    for t in &s.tokens {
        // Constant time in the token: every configured hash is compared in full.
        let diff =
            t.1.iter()
                .zip(presented.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff == 0 {
            found = Some(t);
        }
    }
    let (name, _, scopes) = found.ok_or_else(|| unauth("unknown token"))?;
    if !scopes.iter().any(|x| x == scope) {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("token {name:?} lacks the scope {scope:?}"),
        ));
    }
    Ok(name.clone())
}

fn known_family(f: &str, allow_any: bool) -> Result<(), Problem> {
    if f == "snp_proof" && !allow_any {
        return Err(Problem::bad_request(
            "malformed",
            "family \"snp_proof\": proofs are appraised with the snp policy and reference \
             values (only a rego policy can name snp_proof)",
        ));
    }
    if family_of(f).is_some() || (allow_any && f == "*") {
        Ok(())
    } else {
        Err(Problem::bad_request(
            "malformed",
            format!(
                "family {f:?}: {}",
                if allow_any {
                    "snp, dcap, cvm, snp_proof or *"
                } else {
                    "snp, dcap or cvm"
                }
            ),
        ))
    }
}

async fn audit_write(
    s: &AppState,
    actor: &str,
    action: &str,
    subject: &str,
    detail: Value,
) -> Result<(), Problem> {
    s.audit(actor, action, subject, "ok", &detail).await
}

fn not_found(what: &str, id: &str) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no {what} {id:?}"),
    )
}

fn store_err(e: shomei_store::Error) -> Problem {
    match &e {
        shomei_store::Error::InvalidInput { .. } => {
            Problem::bad_request("malformed", e.to_string())
        }
        _ => Problem::store(&e),
    }
}

// ---------------------------------------------------------------- reference values

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RvBody {
    family: String,
    name: String,
    value: Value,
}

fn rv_json(r: &shomei_store::ReferenceValue) -> Value {
    json!({"id": r.id, "family": r.family, "name": r.name,
           "value": serde_json::from_str::<Value>(&r.value).unwrap_or(Value::Null),
           "created_at": r.created_at})
}

async fn list_rvs(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, Problem> {
    authorize(&s, &headers, "admin:read")?;
    let rows = s
        .store
        .list_reference_values(q.get("family").map(String::as_str))
        .await
        .map_err(store_err)?;
    Ok(Json(
        json!({"reference_values": rows.iter().map(rv_json).collect::<Vec<_>>()}),
    ))
}

async fn get_rv(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    authorize(&s, &headers, "admin:read")?;
    match s.store.get_reference_value(&id).await.map_err(store_err)? {
        Some(r) => Ok(Json(rv_json(&r))),
        None => Err(not_found("reference value", &id)),
    }
}

async fn put_rv(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(b): Body<RvBody>,
) -> Result<Json<Value>, Problem> {
    let actor = authorize(&s, &headers, "admin:write")?;
    known_family(&b.family, false)?;
    let hex_names = ["measurement", "mr_td", "mr_enclave", "mr_signer"];
    let shape_ok = match (b.family.as_str(), b.name.as_str()) {
        ("cvm", "pcr") => serde_json::from_value::<crate::CvmPcr>(b.value.clone())
            .is_ok_and(|p| shomei_core::policy::HexBytes::try_from(p.value).is_ok()),
        ("cvm", "required_pcrs") => {
            serde_json::from_value::<crate::CvmRequired>(b.value.clone()).is_ok()
        }
        _ => true,
    };
    if !shape_ok {
        return Err(Problem::bad_request(
            "malformed",
            format!(
                "value: cvm {} must be {}",
                b.name,
                if b.name == "pcr" {
                    "{\"bank\", \"index\", \"value\": hex}"
                } else {
                    "{\"bank\", \"indices\": [...]}"
                }
            ),
        ));
    }
    if hex_names.contains(&b.name.as_str()) {
        let ok = b
            .value
            .as_str()
            .is_some_and(|v| shomei_core::policy::HexBytes::try_from(v.to_owned()).is_ok());
        if !ok {
            return Err(Problem::bad_request(
                "malformed",
                format!("value: {} must be a hex string", b.name),
            ));
        }
    }
    let rv = shomei_store::ReferenceValue {
        id: id.clone(),
        family: b.family.clone(),
        name: b.name.clone(),
        value: b.value.to_string(),
        created_at: UnixTime::now().secs(),
    };
    s.store.put_reference_value(&rv).await.map_err(store_err)?;
    s.invalidate();
    audit_write(
        &s,
        &actor,
        "put_reference_value",
        &id,
        json!({"family": b.family, "name": b.name, "value": b.value}),
    )
    .await?;
    Ok(Json(rv_json(&rv)))
}

async fn delete_rv(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let actor = authorize(&s, &headers, "admin:write")?;
    if !s
        .store
        .delete_reference_value(&id)
        .await
        .map_err(store_err)?
    {
        return Err(not_found("reference value", &id));
    }
    s.invalidate();
    audit_write(&s, &actor, "delete_reference_value", &id, json!({})).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- policies

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct PolicyBody {
    family: String,
    kind: String,
    body: String,
}

/// Parses a policy body with the engine that will run it.
fn check_policy(p: &PolicyBody) -> Result<shomei_store::PolicyKind, Problem> {
    let kind: shomei_store::PolicyKind = p
        .kind
        .parse()
        .map_err(|_| Problem::bad_request("malformed", "kind: native or rego"))?;
    match (kind, p.family.as_str()) {
        (shomei_store::PolicyKind::Native, "snp") => {
            shomei_snp::Policy::from_toml(&p.body)
                .map_err(|e| Problem::bad_request("policy_invalid", e))?;
        }
        (shomei_store::PolicyKind::Native, "cvm") => {
            shomei_snp::Policy::from_toml(&p.body)
                .map_err(|e| Problem::bad_request("policy_invalid", e))?;
        }
        (shomei_store::PolicyKind::Native, "dcap") => {
            shomei_dcap::Policy::from_toml(&p.body)
                .map_err(|e| Problem::bad_request("policy_invalid", e))?;
        }
        (shomei_store::PolicyKind::Native, f) => known_family(f, false)?,
        (shomei_store::PolicyKind::Rego, f) => {
            known_family(f, true)?;
            shomei_verifier::rego::RegoPolicy::compile(&p.body)
                .map_err(|e| Problem::bad_request("policy_invalid", e.to_string()))?;
        }
    }
    Ok(kind)
}

fn policy_json(p: &shomei_store::Policy) -> Value {
    json!({"id": p.id, "family": p.family, "kind": p.kind.as_str(), "body": p.body, "updated_at": p.updated_at})
}

async fn list_policies(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, Problem> {
    authorize(&s, &headers, "admin:read")?;
    let rows = s
        .store
        .list_policies(q.get("family").map(String::as_str))
        .await
        .map_err(store_err)?;
    Ok(Json(
        json!({"policies": rows.iter().map(policy_json).collect::<Vec<_>>()}),
    ))
}

async fn get_policy(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    authorize(&s, &headers, "admin:read")?;
    match s.store.get_policy(&id).await.map_err(store_err)? {
        Some(p) => Ok(Json(policy_json(&p))),
        None => Err(not_found("policy", &id)),
    }
}

async fn put_policy(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(b): Body<PolicyBody>,
) -> Result<Json<Value>, Problem> {
    let actor = authorize(&s, &headers, "admin:write")?;
    let kind = check_policy(&b)?;
    let p = shomei_store::Policy {
        id: id.clone(),
        family: b.family.clone(),
        kind,
        body: b.body.clone(),
        updated_at: UnixTime::now().secs(),
    };
    s.store.put_policy(&p).await.map_err(store_err)?;
    s.invalidate();
    audit_write(&s, &actor, "put_policy", &id, json!({"family": b.family, "kind": b.kind, "sha256": hex::encode(sha256(b.body.as_bytes()))})).await?;
    Ok(Json(policy_json(&p)))
}

async fn delete_policy(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let actor = authorize(&s, &headers, "admin:write")?;
    if !s.store.delete_policy(&id).await.map_err(store_err)? {
        return Err(not_found("policy", &id));
    }
    s.invalidate();
    audit_write(&s, &actor, "delete_policy", &id, json!({})).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- secrets

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretBody {
    /// UTF-8 text, or…
    #[serde(default)]
    value: Option<String>,
    /// …bytes in base64.
    #[serde(default)]
    value_base64: Option<String>,
}

async fn list_secrets(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, Problem> {
    authorize(&s, &headers, "admin:read")?;
    let ids = s.store.list_secret_ids().await.map_err(store_err)?;
    Ok(Json(json!({"secrets": ids})))
}

async fn put_secret(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(b): Body<SecretBody>,
) -> Result<StatusCode, Problem> {
    let actor = authorize(&s, &headers, "secrets:write")?;
    let bytes = match (b.value, b.value_base64) {
        (Some(v), None) => zeroize::Zeroizing::new(v.into_bytes()),
        (None, Some(v)) => zeroize::Zeroizing::new(
            Base64::decode_vec(v.trim())
                .map_err(|_| Problem::bad_request("malformed", "value_base64: not base64"))?,
        ),
        _ => {
            return Err(Problem::bad_request(
                "malformed",
                "give exactly one of value and value_base64",
            ));
        }
    };
    s.store.put_secret(&id, &bytes).await.map_err(store_err)?;
    audit_write(&s, &actor, "put_secret", &id, json!({"len": bytes.len()})).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_secret(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let actor = authorize(&s, &headers, "secrets:write")?;
    if !s.store.delete_secret(&id).await.map_err(store_err)? {
        return Err(not_found("secret", &id));
    }
    audit_write(&s, &actor, "delete_secret", &id, json!({})).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- trust anchors

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnchorBody {
    family: String,
    pem: String,
}

async fn list_anchors(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, Problem> {
    authorize(&s, &headers, "admin:read")?;
    let rows = s.store.list_trust_anchors(None).await.map_err(store_err)?;
    Ok(Json(
        json!({"anchors": rows.iter().map(|a| json!({"id": a.id, "family": a.family, "pem": a.pem})).collect::<Vec<_>>()}),
    ))
}

async fn get_anchor(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    authorize(&s, &headers, "admin:read")?;
    match s.store.get_trust_anchor(&id).await.map_err(store_err)? {
        Some(a) => Ok(Json(json!({"id": a.id, "family": a.family, "pem": a.pem}))),
        None => Err(not_found("trust anchor", &id)),
    }
}

async fn put_anchor(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(b): Body<AnchorBody>,
) -> Result<StatusCode, Problem> {
    let actor = authorize(&s, &headers, "admin:write")?;
    match b.family.as_str() {
        "snp" => {
            let root = shomei_snp::AmdRoot::from_bundle(b.pem.as_bytes())
                .map_err(|e| Problem::bad_request("anchor_invalid", e))?;
            audit_write(
                &s,
                &actor,
                "put_trust_anchor",
                &id,
                json!({"family": "snp", "product": root.product.kds_name(),
                       "ark_sha256": hex::encode(root.ark.sha256())}),
            )
            .await?;
        }
        f => {
            return Err(Problem::bad_request(
                "malformed",
                format!("family {f:?}: trust anchors are registered for snp"),
            ));
        }
    }
    s.store
        .put_trust_anchor(&shomei_store::TrustAnchor {
            id,
            family: b.family,
            pem: b.pem,
        })
        .await
        .map_err(store_err)?;
    s.invalidate();
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_anchor(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let actor = authorize(&s, &headers, "admin:write")?;
    if !s.store.delete_trust_anchor(&id).await.map_err(store_err)? {
        return Err(not_found("trust anchor", &id));
    }
    s.invalidate();
    audit_write(&s, &actor, "delete_trust_anchor", &id, json!({})).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- audit, dry run

async fn audit_log(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, Problem> {
    authorize(&s, &headers, "audit:read")?;
    let limit = q
        .get("limit")
        .map(|v| v.parse::<u32>())
        .transpose()
        .map_err(|_| Problem::bad_request("malformed", "limit: a number"))?
        .unwrap_or(100)
        .min(1000);
    let since = q
        .get("since")
        .map(|v| v.parse::<i64>())
        .transpose()
        .map_err(|_| Problem::bad_request("malformed", "since: a number"))?
        .unwrap_or(0);
    let rows = s.store.list_audit(limit, since).await.map_err(store_err)?;
    Ok(Json(json!({"entries": rows.iter().map(|r| json!({
        "id": r.id, "at": r.at, "actor": r.actor, "action": r.action, "subject": r.subject,
        "outcome": r.outcome,
        "detail": serde_json::from_str::<Value>(&r.detail).unwrap_or(Value::Null),
    })).collect::<Vec<_>>()})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DryRunBody {
    evidence: Vec<EvidenceJson>,
    /// Policies to try instead of the stored ones of the same family and kind.
    #[serde(default)]
    policies: Vec<PolicyBody>,
    /// When given, the nonce binding is checked (the nonce is not consumed).
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    tee_pubkey: Option<EcJwk>,
    /// The appraisal time (RFC 3339 or unix seconds); default now.
    #[serde(default)]
    at: Option<String>,
}

/// Appraises evidence under stored or submitted policies with no side effect: no nonce is
/// consumed, nothing is stored or audited, no result is signed.
async fn dry_run(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Body(b): Body<DryRunBody>,
) -> Result<Json<Value>, Problem> {
    authorize(&s, &headers, "admin:read")?;
    let mut overrides = Vec::new();
    for (i, p) in b.policies.iter().enumerate() {
        let kind = check_policy(p)?;
        overrides.push(shomei_store::Policy {
            id: format!("dry-run-{i}"),
            family: p.family.clone(),
            kind,
            body: p.body.clone(),
            updated_at: i64::MAX,
        });
    }
    let loaded = s.load(Some(&overrides)).await?;
    let at = match &b.at {
        Some(t) => t
            .parse::<UnixTime>()
            .map_err(|e| Problem::bad_request("malformed", format!("at: {e}")))?,
        None => UnixTime::now(),
    };
    let binding = match &b.nonce {
        None => None,
        Some(n) => Some(NonceBinding::Key {
            nonce: crate::evidence::b64("nonce", n)?,
            public_key: b
                .tee_pubkey
                .as_ref()
                .map(EcJwk::to_point)
                .transpose()
                .map_err(|e| Problem::bad_request("malformed", format!("tee_pubkey: {e}")))?
                .unwrap_or_default(),
        }),
    };
    let pieces = decode_all(&b.evidence)?;
    let appraisals = appraise_all(&s, pieces, binding.as_ref(), &loaded, at, false).await?;
    let mut out = serde_json::Map::new();
    for (name, a) in &appraisals {
        out.insert(
            name.clone(),
            serde_json::to_value(a)
                .map_err(|e| Problem::bad_request("malformed", e.to_string()))?,
        );
    }
    let affirming = appraisals.iter().all(|(_, a)| a.is_affirming());
    Ok(Json(json!({"affirming": affirming, "appraisals": out})))
}
