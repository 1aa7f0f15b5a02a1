//! The logs explorer: a single page at `/` (HTML, CSS and JS embedded in the binary, nothing
//! fetched from elsewhere) plus the small JSON/SSE API it needs beside `entries:list`: which
//! projects exist, where a filter fails to parse, a histogram of matches, and live tail.
//!
//! Log content is attacker-controlled, so the page is served with a strict Content-Security-Policy
//! (scripts only from this origin, no inline script) and its JS renders data only as text.

mod histogram;
mod tail;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use crate::api::AppState;

/// Scripts, styles and connections only from this origin; no inline script or style sheets,
/// no plugins, no framing, no forms posting elsewhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");
const FAVICON_SVG: &str = include_str!("assets/favicon.svg");

/// The explorer's routes, merged into the emulator's router.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/",
            get(|| async { asset(INDEX_HTML, "text/html; charset=utf-8") }),
        )
        .route(
            "/ui/app.js",
            get(|| async { asset(APP_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/ui/app.css",
            get(|| async { asset(APP_CSS, "text/css; charset=utf-8") }),
        )
        .route(
            "/ui/favicon.svg",
            get(|| async { asset(FAVICON_SVG, "image/svg+xml") }),
        )
        .route("/ui/api/projects", get(projects))
        .route("/ui/api/validate", post(validate))
        .route("/ui/api/histogram", post(histogram::histogram))
        .route("/ui/api/tail", get(tail::tail))
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    secure(response)
}

/// Adds the security headers every explorer response carries.
fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// `GET /ui/api/projects`: every project with entries, for the project picker.
async fn projects(State(state): State<AppState>) -> Response {
    let store = state.store.clone();
    match tokio::task::spawn_blocking(move || store.parents()).await {
        Ok(Ok(parents)) => secure(axum::Json(json!({ "projects": parents })).into_response()),
        Ok(Err(e)) => UiError::internal(e.to_string()).into_response(),
        Err(e) => UiError::internal(e.to_string()).into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct ValidateRequest {
    #[serde(default)]
    filter: String,
}

/// `POST /ui/api/validate {"filter"}`: `{"empty"}` when the filter parses (`empty` when it is
/// only whitespace and comments, so the page leaves it out), else a 400 whose
/// `error.queryError` says where (so the page can point at it).
async fn validate(axum::Json(request): axum::Json<ValidateRequest>) -> Response {
    match parse_filter(&request.filter) {
        Ok(query) => secure(axum::Json(json!({ "empty": query.is_empty() })).into_response()),
        Err(e) => e.into_response(),
    }
}

/// Parses a filter typed in the page, keeping the error's position.
fn parse_filter(filter: &str) -> Result<logquery::Query, UiError> {
    logquery::parse(filter).map_err(UiError::Query)
}

/// Parses the severity picker's value: a name such as `WARNING`, or empty for every severity.
fn min_severity(name: &str) -> Result<i64, UiError> {
    if name.is_empty() {
        return Ok(0);
    }
    gcloud_logging::Severity::from_name(name)
        .map(|s| i64::from(s.rank()))
        .ok_or_else(|| UiError::invalid(format!("minSeverity: {name:?} is not a severity")))
}

/// Checks the parent names the page sends, as the API checks `resourceNames`.
fn check_parents(names: &[String]) -> Result<(), UiError> {
    for name in names {
        crate::service::check_parent("resourceNames", name)
            .map_err(|e| UiError::Invalid(e.message))?;
    }
    Ok(())
}

/// An explorer API error, in the same JSON shape as the v2 API's errors; a filter that does not
/// parse also carries where.
#[derive(Debug)]
enum UiError {
    Query(logquery::ParseError),
    Invalid(String),
    Internal(String),
}

impl UiError {
    fn invalid(message: impl Into<String>) -> UiError {
        UiError::Invalid(message.into())
    }

    fn internal(message: impl Into<String>) -> UiError {
        UiError::Internal(message.into())
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            UiError::Query(e) => (
                StatusCode::BAD_REQUEST,
                json!({"error": {
                    "code": 400,
                    "status": "INVALID_ARGUMENT",
                    "message": format!("filter: {e}"),
                    "queryError": {
                        "position": e.position,
                        "line": e.line,
                        "column": e.column,
                        "expected": e.expected,
                        "found": e.found,
                    },
                }}),
            ),
            UiError::Invalid(message) => (
                StatusCode::BAD_REQUEST,
                json!({"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": message}}),
            ),
            UiError::Internal(message) => {
                tracing::error!(error = %message, "explorer request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"error": {"code": 500, "status": "INTERNAL", "message": message}}),
                )
            }
        };
        secure((status, axum::Json(body)).into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_names_are_exact() {
        assert_eq!(min_severity("").unwrap(), 0);
        assert_eq!(min_severity("WARNING").unwrap(), 400);
        assert!(min_severity("warn").is_err());
    }

    #[test]
    fn parents_are_checked_as_the_api_does() {
        assert!(check_parents(&["projects/a".into(), "folders/1".into()]).is_ok());
        assert!(check_parents(&["projects/".into()]).is_err());
        assert!(check_parents(&["users/1".into()]).is_err());
    }
}
