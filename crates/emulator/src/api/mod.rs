//! The Cloud Logging v2 REST surface: routes, and errors in Google's JSON shape
//! (`{"error":{"code","message","status","details"}}`), so clients written for the real API read
//! them unchanged. Each handler turns JSON into a `service` call and the answer back into JSON;
//! a request whose `content-type` is `application/grpc` is handed to the gRPC service instead.

mod list;
mod write;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gcloud_logging::ErrorBody;
use gcloud_logging::wire::RpcCode;
use serde_json::Value;

pub use crate::service::AppState;
use crate::service::Error;

/// The emulator's routes over `state`: REST, the explorer, and gRPC on the same address.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v2/entries:write", post(write::write_entries))
        .route("/v2/entries:list", post(list::list_entries))
        .route(
            "/v2/monitoredResourceDescriptors",
            get(list::list_descriptors),
        )
        .route("/v2/{kind}/{id}/logs", get(list::list_logs))
        .route(
            "/v2/{kind}/{id}/logs/{log}",
            axum::routing::delete(list::delete_log),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .merge(crate::ui::router())
        .fallback(|| async { ApiError::new(RpcCode::NotFound, "the emulator has no such method") })
        // Bodies are checked against the 10 MB limit after gzip decoding, in the handler.
        .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            grpc_or_rest,
        ))
        .with_state(state)
}

/// Sends gRPC calls (`content-type: application/grpc…`, any HTTP/2 path) to the gRPC service,
/// everything else on to the REST routes.
async fn grpc_or_rest(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let grpc = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    if grpc {
        crate::grpc::call(state, request).await
    } else {
        next.run(request).await
    }
}

/// An error answered as Google's error JSON.
#[derive(Debug)]
pub(crate) struct ApiError(ErrorBody, RpcCode);

impl ApiError {
    fn new(code: RpcCode, message: impl Into<String>) -> ApiError {
        ApiError(ErrorBody::new(code, message), code)
    }

    fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(RpcCode::InvalidArgument, message)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        let body = ErrorBody::new(e.code, e.message);
        match &e.partial_errors {
            Some(errors) => ApiError(body.with_partial_errors(errors), e.code),
            None => ApiError(body, e.code),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.1.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(self.0)).into_response()
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
