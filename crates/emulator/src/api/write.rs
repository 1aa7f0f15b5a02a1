//! `POST /v2/entries:write`: decode the JSON body (gzip too) and hand its entries to the
//! service. An entry that is not a valid LogEntry is rejected by index, like any other invalid
//! entry, so `partialSuccess` still writes the others.

use std::io::Read;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use gcloud_logging::{LogEntry, MAX_REQUEST_BYTES, WriteLogEntriesRequest};
use serde_json::Value;

use super::{ApiError, AppState};
use crate::service;

pub(super) async fn write_entries(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = decode_body(&headers, body)?;
    let mut raw: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid(format!("Invalid JSON payload received. {e}")))?;
    let entries = match raw.as_object_mut().map(|o| o.remove("entries")) {
        Some(Some(Value::Array(entries))) => entries,
        Some(None | Some(Value::Null)) => Vec::new(),
        Some(Some(_)) => return Err(ApiError::invalid("entries: must be a list of LogEntry")),
        None => return Err(ApiError::invalid("the request body must be a JSON object")),
    };
    let request: WriteLogEntriesRequest = serde_json::from_value(raw)
        .map_err(|e| ApiError::invalid(format!("Invalid JSON payload received. {e}")))?;
    let entries = entries
        .into_iter()
        .map(|raw| {
            serde_json::from_value::<LogEntry>(raw)
                .map_err(|e| format!("Invalid LogEntry: {e}"))
                .and_then(crate::convert::entry_to_proto)
        })
        .collect();
    service::write_entries(&state, request, entries).await?;
    Ok(axum::Json(serde_json::json!({})).into_response())
}

/// Undoes `Content-Encoding: gzip` and enforces the request size limit (on the decoded body).
fn decode_body(headers: &HeaderMap, body: Bytes) -> Result<Bytes, ApiError> {
    let gzip = headers
        .get(axum::http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"));
    let body = if gzip {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .take(MAX_REQUEST_BYTES as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| ApiError::invalid(format!("cannot decode the gzip request body: {e}")))?;
        Bytes::from(out)
    } else {
        body
    };
    if body.len() > MAX_REQUEST_BYTES {
        return Err(service::request_too_large().into());
    }
    Ok(body)
}
