//! `POST /v2/entries:write`: merge the request's defaults into each entry, validate it the way
//! Cloud Logging does, fill `timestamp`/`insertId`/`receiveTimestamp`, and store the valid ones
//! (all of them or none, unless `partialSuccess`).

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use gcloud_logging::wire::RpcCode;
use gcloud_logging::{
    LogEntry, MAX_ENTRY_BYTES, MAX_REQUEST_BYTES, Status, Timestamp, WriteLogEntriesPartialErrors,
    WriteLogEntriesRequest, parse_log_name,
};
use serde_json::Value;

use super::{ApiError, AppState, blocking};
use crate::store::StoredEntry;

/// Entries may be stamped at most this far in the future.
const MAX_FUTURE_NANOS: i128 = 24 * 3600 * 1_000_000_000;
/// Longest log id, in characters of its URL-encoded form.
const MAX_LOG_ID_CHARS: usize = 512;

/// Makes server-assigned insertIds unique and ordered within one process.
static INSERT_SEQ: AtomicU64 = AtomicU64::new(0);

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
    if entries.is_empty() {
        return Err(ApiError::invalid(
            "entries: at least one log entry is required",
        ));
    }

    let receive = Timestamp::now();
    let receive_nanos = nanos_of(receive);
    let mut valid = Vec::with_capacity(entries.len());
    let mut errors = WriteLogEntriesPartialErrors::default();
    for (index, raw_entry) in entries.into_iter().enumerate() {
        match prepare(&request, raw_entry, receive, receive_nanos) {
            Ok(entry) => valid.push(entry),
            Err(message) => {
                let index = i32::try_from(index).unwrap_or(i32::MAX);
                errors
                    .log_entry_errors
                    .insert(index, Status::new(RpcCode::InvalidArgument, message));
            }
        }
    }

    let write = request.partial_success || errors.log_entry_errors.is_empty();
    if write && !request.dry_run && !valid.is_empty() {
        let store = state.store.clone();
        let (new, valid) = blocking(move || Ok((store.insert_new(&valid)?, valid))).await?;
        state.tail.announce(new.into_iter().map(|i| &valid[i]));
    }
    if errors.log_entry_errors.is_empty() {
        return Ok(axum::Json(serde_json::json!({})).into_response());
    }
    let first = errors
        .log_entry_errors
        .values()
        .next()
        .map(|s| s.message.clone())
        .unwrap_or_default();
    let message = if request.partial_success {
        format!(
            "Log entry with index {} is invalid: {first} ({} of the entries were rejected; the others were written)",
            errors.log_entry_errors.keys().next().copied().unwrap_or(0),
            errors.log_entry_errors.len()
        )
    } else {
        format!(
            "Log entry with index {} is invalid: {first}",
            errors.log_entry_errors.keys().next().copied().unwrap_or(0)
        )
    };
    Err(ApiError::invalid(message).with_partial_errors(&errors))
}

/// Undoes `Content-Encoding: gzip` and enforces the request size limit (on the decoded body).
fn decode_body(headers: &HeaderMap, body: Bytes) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::invalid(format!(
            "Request payload size exceeds the limit: {MAX_REQUEST_BYTES} bytes."
        ))
    };
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
        return Err(too_large());
    }
    Ok(body)
}

/// Merges defaults, validates and fills one entry; the error is the per-entry message.
fn prepare(
    request: &WriteLogEntriesRequest,
    raw: Value,
    receive: Timestamp,
    receive_nanos: i64,
) -> Result<StoredEntry, String> {
    let mut entry: LogEntry =
        serde_json::from_value(raw).map_err(|e| format!("Invalid LogEntry: {e}"))?;
    if entry.log_name.is_none() {
        entry.log_name = request.log_name.clone();
    }
    if entry.resource.is_none() {
        entry.resource = request.resource.clone();
    }
    if !request.labels.is_empty() {
        let mut labels = request.labels.clone();
        labels.extend(entry.labels.take().unwrap_or_default());
        entry.labels = Some(labels);
    }

    let log_name = entry
        .log_name
        .clone()
        .ok_or("logName: a log name is required (on the entry or the request)")?;
    let (parent, log_id) = check_log_name(&log_name)?;
    let resource = entry
        .resource
        .as_ref()
        .ok_or("resource: a monitored resource is required (on the entry or the request)")?;
    if resource.r#type.is_empty() {
        return Err("resource.type: the monitored resource type is required".into());
    }
    let resource_type = resource.r#type.clone();
    let payloads = [
        entry.text_payload.is_some(),
        entry.json_payload.is_some(),
        entry.proto_payload.is_some(),
    ];
    if payloads.iter().filter(|p| **p).count() > 1 {
        return Err(
            "payload: at most one of textPayload, jsonPayload and protoPayload may be set".into(),
        );
    }

    let timestamp = *entry.timestamp.get_or_insert(receive);
    if !timestamp.is_valid() {
        return Err(format!("timestamp: {timestamp} is out of range"));
    }
    let timestamp_nanos =
        i128::from(timestamp.seconds) * 1_000_000_000 + i128::from(timestamp.nanos);
    if timestamp_nanos > i128::from(receive_nanos) + MAX_FUTURE_NANOS {
        return Err(format!(
            "timestamp: {timestamp} is more than 24 hours in the future"
        ));
    }
    let timestamp_nanos = i64::try_from(timestamp_nanos)
        .map_err(|_| format!("timestamp: {timestamp} is before 1678 and cannot be stored"))?;
    entry.receive_timestamp = Some(receive);
    let insert_id = entry
        .insert_id
        .get_or_insert_with(|| {
            let seq = INSERT_SEQ.fetch_add(1, Ordering::Relaxed);
            format!("{receive_nanos:020}{seq:010}")
        })
        .clone();
    let severity = entry.severity.map(|s| i64::from(s.rank())).unwrap_or(0);

    let json = serde_json::to_string(&entry).map_err(|e| format!("cannot encode entry: {e}"))?;
    if json.len() > MAX_ENTRY_BYTES {
        return Err(format!(
            "Log entry with size {} bytes exceeds maximum size of {MAX_ENTRY_BYTES} bytes",
            json.len()
        ));
    }
    Ok(StoredEntry {
        parent,
        log_name,
        log_id,
        timestamp_nanos,
        insert_id,
        severity,
        resource_type,
        receive_nanos,
        json,
    })
}

/// `projects/P/logs/ID` with ID at most 512 characters of `[A-Za-z0-9/_\-.]` or `%XX`.
/// Returns the parent and the decoded log id.
fn check_log_name(name: &str) -> Result<(String, String), String> {
    let bad = |why: &str| format!("logName: {name:?} is not a valid log name: {why}");
    let parsed = parse_log_name(name)
        .ok_or_else(|| bad("expected projects/PROJECT_ID/logs/LOG_ID with a URL-encoded LOG_ID"))?;
    if parsed.project_id().is_none() {
        return Err(bad(
            "only projects/PROJECT_ID parents are supported by the emulator",
        ));
    }
    let encoded = &name[name.find("/logs/").map(|i| i + 6).unwrap_or(name.len())..];
    if encoded.chars().count() > MAX_LOG_ID_CHARS {
        return Err(bad("LOG_ID is longer than 512 characters"));
    }
    let bytes = encoded.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3).unwrap_or_default();
            if hex.len() != 2 || !hex.iter().all(u8::is_ascii_hexdigit) {
                return Err(bad("a % must be followed by two hex digits"));
            }
            i += 3;
        } else if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'.') {
            i += 1;
        } else {
            return Err(bad(
                "LOG_ID may contain only letters, digits, '/', '_', '-', '.' and %-escapes",
            ));
        }
    }
    Ok((parsed.parent, parsed.log_id))
}

/// Nanoseconds since the epoch (saturating; valid for the years i64 nanoseconds span).
pub(crate) fn nanos_of(t: Timestamp) -> i64 {
    let n = i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos);
    n.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_names_follow_the_api_rules() {
        assert_eq!(
            check_log_name("projects/p/logs/app.log").unwrap(),
            ("projects/p".to_string(), "app.log".to_string())
        );
        assert_eq!(
            check_log_name("projects/p/logs/a%2Fb").unwrap().1,
            "a/b".to_string()
        );
        assert!(check_log_name("projects/p/logs/a/b_c-d.e").is_ok());
        for bad in [
            "",
            "app.log",
            "projects/p/logs/",
            "projects/p/logs/a b",
            "projects/p/logs/a%zz",
            "organizations/o/logs/x",
            "projects/p/logs/ログ",
        ] {
            assert!(check_log_name(bad).is_err(), "{bad}");
        }
        let long = format!("projects/p/logs/{}", "a".repeat(513));
        assert!(check_log_name(&long).is_err());
        let ok = format!("projects/p/logs/{}", "a".repeat(512));
        assert!(check_log_name(&ok).is_ok());
    }
}
