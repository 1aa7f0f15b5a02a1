//! The demo endpoints: hello, health probe, `POST /log`, the deliberate `GET /error`, and
//! `GET /slow?ms=N` (useful for shutdown-drain tests and latency demos).

use axum::Json;
use axum::body::Bytes;
use axum::extract::RawQuery;
use serde_json::{Value, json};

use super::items::{non_empty_string, not_an_object, parse_int, parse_json_body};
use crate::error::{ApiError, ValidationIssue};
use crate::logging::error_chain;

/// Longest `/slow` sleep; FastAPI's `Query(le=30000)`.
pub const MAX_SLOW_MS: i64 = 30_000;

/// Severities `POST /log` accepts: Cloud Logging's names (Python's are a subset).
pub const SEVERITIES: [&str; 9] = [
    "DEFAULT",
    "DEBUG",
    "INFO",
    "NOTICE",
    "WARNING",
    "ERROR",
    "CRITICAL",
    "ALERT",
    "EMERGENCY",
];

pub async fn hello() -> Json<Value> {
    Json(json!({ "message": "Hello World" }))
}

pub async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `{"severity": "WARNING", "message": "..."}` → one app log line at that severity.
pub async fn write_log(body: Bytes) -> Result<Json<Value>, ApiError> {
    let value = parse_json_body(&body)?;
    let Some(obj) = value.as_object() else {
        return Err(ApiError::Validation(vec![not_an_object(&value)]));
    };
    let mut issues = Vec::new();
    let severity = match obj.get("severity") {
        None => Some("INFO"),
        Some(v) => {
            let found = v.as_str().and_then(|s| {
                SEVERITIES
                    .iter()
                    .copied()
                    .find(|known| known.eq_ignore_ascii_case(s))
            });
            if found.is_none() {
                let expected = SEVERITIES.map(|s| format!("'{s}'")).join(", ");
                issues.push(
                    ValidationIssue::new(
                        "literal_error",
                        &["body", "severity"],
                        format!("Input should be {expected}"),
                        v.clone(),
                    )
                    .with_ctx(json!({ "expected": expected })),
                );
            }
            found
        }
    };
    let message = match obj.get("message") {
        None => {
            issues.push(ValidationIssue::missing(&["body", "message"], &value));
            None
        }
        Some(v) => non_empty_string(v, &["body", "message"])
            .map_err(|issue| issues.push(issue))
            .ok(),
    };
    let (Some(severity), Some(message), true) = (severity, message, issues.is_empty()) else {
        return Err(ApiError::Validation(issues));
    };
    match severity {
        "DEBUG" => tracing::debug!(severity, "{message}"),
        "WARNING" => tracing::warn!(severity, "{message}"),
        "ERROR" | "CRITICAL" | "ALERT" | "EMERGENCY" => tracing::error!(severity, "{message}"),
        _ => tracing::info!(severity, "{message}"),
    }
    Ok(Json(
        json!({ "logged": true, "severity": severity, "message": message }),
    ))
}

/// Why `GET /error` fails: a two-level chain so the log shows more than one cause.
#[derive(Debug, thiserror::Error)]
#[error("could not build the demo report")]
pub struct ReportError {
    #[source]
    source: StorageError,
}

#[derive(Debug, thiserror::Error)]
#[error("storage backend unavailable")]
pub struct StorageError {
    #[source]
    source: std::io::Error,
}

fn build_report() -> Result<(), ReportError> {
    let io = std::io::Error::new(
        std::io::ErrorKind::ConnectionRefused,
        "connection refused (simulated failure)",
    );
    Err(ReportError {
        source: StorageError { source: io },
    })
}

/// Logs the error with its chain at ERROR and answers 500.
pub async fn fail() -> Result<Json<Value>, ApiError> {
    if let Err(e) = build_report() {
        tracing::error!(
            error = &e as &(dyn std::error::Error + 'static),
            "unhandled error in GET /error: {}",
            error_chain(&e)
        );
        return Err(ApiError::Internal);
    }
    Ok(Json(json!({ "ok": true })))
}

/// Sleeps `ms` (default 100, 0..=30000) on tokio's clock, then answers.
pub async fn slow(RawQuery(query): RawQuery) -> Result<Json<Value>, ApiError> {
    let raw = query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(k, _)| *k == "ms")
        .map(|(_, v)| v);
    let ms = match raw {
        Some(raw) => parse_int(raw, &["query", "ms"])?,
        None => 100,
    };
    if !(0..=MAX_SLOW_MS).contains(&ms) {
        let (kind, msg, ctx) = if ms < 0 {
            (
                "greater_than_equal",
                "Input should be greater than or equal to 0".to_owned(),
                json!({ "ge": 0 }),
            )
        } else {
            (
                "less_than_equal",
                format!("Input should be less than or equal to {MAX_SLOW_MS}"),
                json!({ "le": MAX_SLOW_MS }),
            )
        };
        return Err(ApiError::Validation(vec![
            ValidationIssue::new(kind, &["query", "ms"], msg, Value::from(raw.unwrap_or("")))
                .with_ctx(ctx),
        ]));
    }
    tracing::info!(ms, "slow request: sleeping {ms} ms");
    tokio::time::sleep(std::time::Duration::from_millis(ms as u64)).await;
    Ok(Json(json!({ "slept_ms": ms })))
}
