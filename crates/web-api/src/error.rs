//! HTTP error answers in FastAPI's shapes, so clients of the Python app see the same bodies:
//! `{"detail":"Item not found"}` for plain errors and pydantic's list of issues for 422s.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

/// One pydantic-style validation issue: `{"type","loc","msg","input","ctx"?}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidationIssue {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub loc: Vec<Value>,
    pub msg: String,
    pub input: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ctx: Option<Box<Value>>,
}

impl ValidationIssue {
    pub fn new(kind: &'static str, loc: &[&str], msg: impl Into<String>, input: Value) -> Self {
        ValidationIssue {
            kind,
            loc: loc.iter().map(|s| Value::from(*s)).collect(),
            msg: msg.into(),
            input,
            ctx: None,
        }
    }

    pub fn with_ctx(mut self, ctx: Value) -> Self {
        self.ctx = Some(Box::new(ctx));
        self
    }

    /// `Field required` for a missing key of `input`.
    pub fn missing(loc: &[&str], input: &Value) -> Self {
        Self::new("missing", loc, "Field required", input.clone())
    }
}

/// Everything a handler can answer instead of success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("request validation failed ({} issues)", .0.len())]
    Validation(Vec<ValidationIssue>),
    #[error("{0}")]
    NotFound(&'static str),
    #[error("Method Not Allowed")]
    MethodNotAllowed,
    /// The cause was already logged with its chain; the client only learns that it failed.
    #[error("Internal Server Error")]
    Internal,
}

#[derive(Serialize)]
struct Detail<T> {
    detail: T,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Validation(issues) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(Detail { detail: issues }),
            )
                .into_response(),
            ApiError::NotFound(what) => {
                (StatusCode::NOT_FOUND, Json(Detail { detail: what })).into_response()
            }
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                Json(Detail {
                    detail: "Method Not Allowed",
                }),
            )
                .into_response(),
            ApiError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(Detail {
                    detail: "Internal Server Error",
                }),
            )
                .into_response(),
        }
    }
}
