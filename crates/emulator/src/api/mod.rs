//! The Cloud Logging v2 REST surface: routes, shared state, and errors in Google's JSON shape
//! (`{"error":{"code","message","status","details"}}`), so clients written for the real API read
//! them unchanged.

mod list;
mod write;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use gcloud_logging::wire::RpcCode;
use gcloud_logging::{ErrorBody, WriteLogEntriesPartialErrors};
use serde_json::Value;

use tokio_util::sync::CancellationToken;

use crate::store::{Store, StoreError};
use crate::ui::TailHub;

pub(crate) use write::nanos_of;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The durable store.
    pub store: Arc<Store>,
    /// Announces newly written entries to live-tail subscribers.
    pub tail: TailHub,
    /// Cancelled when the server starts shutting down, so endless streams (live tail) end.
    pub closing: CancellationToken,
}

impl AppState {
    /// State over an opened store.
    pub fn new(store: Store) -> AppState {
        AppState {
            store: Arc::new(store),
            tail: TailHub::new(),
            closing: CancellationToken::new(),
        }
    }
}

/// The emulator's routes over `state`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v2/entries:write", post(write::write_entries))
        .route("/v2/entries:list", post(list::list_entries))
        .route("/v2/projects/{project}/logs", get(list::list_logs))
        .route(
            "/v2/projects/{project}/logs/{log}",
            delete(list::delete_log),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .merge(crate::ui::router())
        .fallback(|| async { ApiError::new(RpcCode::NotFound, "the emulator has no such method") })
        // Bodies are checked against the 10 MB limit after gzip decoding, in the handler.
        .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(state)
}

/// An error answered as Google's error JSON.
#[derive(Debug)]
pub struct ApiError(ErrorBody, RpcCode);

impl ApiError {
    fn new(code: RpcCode, message: impl Into<String>) -> ApiError {
        ApiError(ErrorBody::new(code, message), code)
    }

    fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(RpcCode::InvalidArgument, message)
    }

    fn with_partial_errors(self, errors: &WriteLogEntriesPartialErrors) -> ApiError {
        ApiError(self.0.with_partial_errors(errors), self.1)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        tracing::error!(error = %e, "store failed");
        ApiError::new(RpcCode::Internal, format!("storage error: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.1.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(self.0)).into_response()
    }
}

/// Runs store work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => Ok(result?),
        Err(e) => Err(ApiError::new(
            RpcCode::Internal,
            format!("store task failed: {e}"),
        )),
    }
}

/// Whether the query string asks for `$alt=json;enum-encoding=int` (numeric enums).
fn wants_int_enums(raw_query: Option<&str>) -> bool {
    raw_query.is_some_and(|q| {
        let q = q
            .replace("%3B", ";")
            .replace("%3b", ";")
            .replace("%3D", "=")
            .replace("%3d", "=");
        q.split('&').any(|pair| {
            pair.strip_prefix("$alt=")
                .or_else(|| pair.strip_prefix("%24alt="))
                .is_some_and(|v| v.split(';').any(|p| p == "enum-encoding=int"))
        })
    })
}

/// Rewrites `severity` names as their numbers, for `enum-encoding=int`.
fn severity_as_number(entry: &mut Value) {
    if let Some(sev) = entry.get_mut("severity")
        && let Some(name) = sev.as_str()
        && let Some(s) = gcloud_logging::Severity::from_name(name)
    {
        *sev = Value::from(s.rank());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alt_param_is_recognized() {
        assert!(wants_int_enums(Some("$alt=json;enum-encoding=int")));
        assert!(wants_int_enums(Some("%24alt=json%3Benum-encoding%3Dint")));
        assert!(wants_int_enums(Some("a=b&$alt=json;enum-encoding=int")));
        assert!(!wants_int_enums(Some("$alt=json")));
        assert!(!wants_int_enums(None));
    }
}
