//! Errors as HTTP problem documents (RFC 9457, `application/problem+json`), each with the
//! stable name of the check that failed.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// A problem: the status, the check's stable name, a human detail, and extra members.
#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub check: String,
    pub detail: String,
    pub extra: Map<String, Value>,
    pub retry_after: Option<u32>,
}

impl Problem {
    pub fn new(status: StatusCode, check: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            status,
            check: check.into(),
            detail: detail.into(),
            extra: Map::new(),
            retry_after: None,
        }
    }
    pub fn bad_request(check: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, check, detail)
    }
    pub fn with(mut self, key: &str, v: Value) -> Self {
        self.extra.insert(key.to_owned(), v);
        self
    }
    /// 503: the store or collateral is unavailable; retry later.
    pub fn unavailable(check: impl Into<String>, detail: impl Into<String>) -> Self {
        let mut p = Self::new(StatusCode::SERVICE_UNAVAILABLE, check, detail);
        p.retry_after = Some(5);
        p
    }
    pub fn store(e: &shomei_store::Error) -> Self {
        if e.is_unavailable() {
            Self::unavailable("store_unavailable", e.to_string())
        } else {
            Self::new(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string())
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert(
            "type".into(),
            json!(format!("https://shomei.dev/problems/{}", self.check)),
        );
        body.insert(
            "title".into(),
            json!(self.status.canonical_reason().unwrap_or("error")),
        );
        body.insert("status".into(), json!(self.status.as_u16()));
        body.insert("check".into(), json!(self.check));
        body.insert("detail".into(), json!(self.detail));
        body.extend(self.extra);
        let mut r = (self.status, Json(Value::Object(body))).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"shomei\""),
            );
        }
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    }
}
