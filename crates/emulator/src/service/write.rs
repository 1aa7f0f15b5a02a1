//! `WriteLogEntries`: merge the request's defaults into each entry, validate it the way Cloud
//! Logging does, fill `timestamp`/`insertId`/`receiveTimestamp`, and store the valid ones (all of
//! them or none, unless `partialSuccess`). Both protocols hand their entries in already decoded;
//! an entry that failed to decode arrives as its error message and is rejected by index.

use std::sync::atomic::{AtomicU64, Ordering};

use gcloud_logging::wire::RpcCode;
use gcloud_logging::{
    MAX_ENTRY_BYTES, MAX_REQUEST_BYTES, Status, Timestamp, WriteLogEntriesPartialErrors,
    WriteLogEntriesRequest, parse_log_name,
};
use googleapis_tonic_google_logging_v2::google::logging::v2;

use super::{AppState, Error, blocking};
use crate::store::StoredEntry;

/// Entries may be stamped at most this far in the future.
const MAX_FUTURE_NANOS: i128 = 24 * 3600 * 1_000_000_000;
/// Longest log id, in characters of its URL-encoded form.
const MAX_LOG_ID_CHARS: usize = 512;

/// Makes server-assigned insertIds unique and ordered within one process.
static INSERT_SEQ: AtomicU64 = AtomicU64::new(0);

/// The error for a request over [`MAX_REQUEST_BYTES`], whichever protocol measured it.
pub(crate) fn request_too_large() -> Error {
    Error::invalid(format!(
        "Request payload size exceeds the limit: {MAX_REQUEST_BYTES} bytes."
    ))
}

/// Writes `entries` with `request`'s defaults (its own `entries` are ignored). Entries come in
/// their protobuf form, which REST's JSON is converted to first, so every entry is stored in
/// the one canonical form whatever protocol brought it.
pub(crate) async fn write_entries(
    state: &AppState,
    request: WriteLogEntriesRequest,
    entries: Vec<Result<v2::LogEntry, String>>,
) -> Result<(), Error> {
    if entries.is_empty() {
        return Err(Error::invalid(
            "entries: at least one log entry is required",
        ));
    }
    let receive = Timestamp::now();
    let receive_nanos = nanos_of(receive);
    let mut valid = Vec::with_capacity(entries.len());
    let mut errors = WriteLogEntriesPartialErrors::default();
    for (index, entry) in entries.into_iter().enumerate() {
        match entry.and_then(|e| prepare(&request, e, receive, receive_nanos)) {
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
        let written = blocking(move || store.insert_new(valid)).await?;
        let entries = &written.entries;
        state
            .tail
            .announce(written.new.iter().map(|&i| &entries[i]));
    }
    let Some((first_index, first)) = errors.log_entry_errors.iter().next() else {
        return Ok(());
    };
    let message = if request.partial_success {
        format!(
            "Log entry with index {first_index} is invalid: {} ({} of the entries were rejected; the others were written)",
            first.message,
            errors.log_entry_errors.len()
        )
    } else {
        format!(
            "Log entry with index {first_index} is invalid: {}",
            first.message
        )
    };
    Err(Error {
        partial_errors: Some(errors),
        ..Error::invalid(message)
    })
}

/// Merges defaults, validates and fills one entry; the error is the per-entry message.
fn prepare(
    request: &WriteLogEntriesRequest,
    entry: v2::LogEntry,
    receive: Timestamp,
    receive_nanos: i64,
) -> Result<StoredEntry, String> {
    let mut entry = crate::convert::entry_from_proto(entry)?;
    if entry.log_name.is_none() {
        entry.log_name = request.log_name.clone().filter(|n| !n.is_empty());
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

    let value = serde_json::to_value(&entry).map_err(|e| format!("cannot encode entry: {e}"))?;
    let json = value.to_string();
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
        text_keys: crate::store::entry_keys(&value),
    })
}

/// `PARENT/logs/ID` (PARENT one of the four kinds entries live under) with ID at most 512
/// characters of `[A-Za-z0-9/_\-.]` or `%XX`. Returns the parent and the decoded log id.
pub(crate) fn check_log_name(name: &str) -> Result<(String, String), String> {
    let bad = |why: &str| format!("logName: {name:?} is not a valid log name: {why}");
    let parsed = parse_log_name(name).ok_or_else(|| {
        bad(
            "expected projects/PROJECT_ID/logs/LOG_ID (or an organizations/, folders/ or \
             billingAccounts/ parent) with a URL-encoded LOG_ID",
        )
    })?;
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
        assert_eq!(
            check_log_name("organizations/1/logs/x").unwrap().0,
            "organizations/1".to_string()
        );
        assert!(check_log_name("projects/p/logs/a/b_c-d.e").is_ok());
        for bad in [
            "",
            "app.log",
            "projects/p/logs/",
            "projects/p/logs/a b",
            "projects/p/logs/a%zz",
            "users/o/logs/x",
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
