//! Turns a JSON log record into a `LogEntry` the way Google's logging agents do: well-known keys
//! (`severity`, `httpRequest`, `time`, `timestamp`, `logging.googleapis.com/…`) become entry
//! fields and leave the payload; everything else stays in `jsonPayload`.
//!
//! The rules follow Google's structured-logging documentation where it speaks, and
//! fluent-plugin-google-cloud (`out_google_cloud.rb`, the plugin the original system ran) where
//! it is silent; the README's `google_cloud` section lists each rule with its source:
//!
//! - `severity`: a string or number is always lifted, read as the plugin reads it (names and its
//!   aliases such as `CONFIG`, digit strings floored to the enum, anything else `DEFAULT`); an
//!   object, array, bool or null is no severity and stays.
//! - Time: `timestamp{seconds,nanos}` wins over `timestampSeconds`/`timestampNanos`, which win
//!   over an RFC 3339 `time`; an object or pair needs both parts, as in the plugin. Unused time
//!   keys stay in the payload.
//! - A boolean (`operation.first`/`last`, `traceSampled`, the `httpRequest` cache flags) may
//!   also be written `"true"`/`"false"`, as in Google's own `operation` example.
//! - A record left with only a string `message` becomes `textPayload`, except one read with
//!   `detect_json`, which is always `jsonPayload` ([`lift_detected_json`]).
//!
//! Otherwise a key is lifted only when its value has the right shape; a mistyped one (an
//! operation with an unknown key, a time that is not RFC 3339) stays in the payload untouched, so
//! nothing the application wrote is lost.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::duration::Duration;
use crate::severity::Severity;
use crate::time::Timestamp;
use crate::wire::{HttpRequest, LogEntry, LogEntryOperation, LogEntrySourceLocation};

/// The record key read as the entry's severity.
pub const SEVERITY_KEY: &str = "severity";
/// The record key that, alone in a record, becomes `textPayload`.
pub const MESSAGE_KEY: &str = "message";
/// The record key read as the entry's `httpRequest`.
pub const HTTP_REQUEST_KEY: &str = "httpRequest";
/// An RFC 3339 event time.
pub const TIME_KEY: &str = "time";
/// An event time as `{"seconds": …, "nanos": …}`.
pub const TIMESTAMP_KEY: &str = "timestamp";
/// An event time's seconds since the epoch.
pub const TIMESTAMP_SECONDS_KEY: &str = "timestampSeconds";
/// An event time's nanoseconds, with [`TIMESTAMP_SECONDS_KEY`].
pub const TIMESTAMP_NANOS_KEY: &str = "timestampNanos";
/// → `insertId`.
pub const INSERT_ID_KEY: &str = "logging.googleapis.com/insertId";
/// → merged into `labels` (an object of strings).
pub const LABELS_KEY: &str = "logging.googleapis.com/labels";
/// → `operation`.
pub const OPERATION_KEY: &str = "logging.googleapis.com/operation";
/// → `sourceLocation`.
pub const SOURCE_LOCATION_KEY: &str = "logging.googleapis.com/sourceLocation";
/// → `spanId`.
pub const SPAN_ID_KEY: &str = "logging.googleapis.com/spanId";
/// → `trace`; a bare 32-hex trace id becomes `projects/P/traces/ID`.
pub const TRACE_KEY: &str = "logging.googleapis.com/trace";
/// → `traceSampled` (the spelling of Google's Ruby agent).
pub const TRACE_SAMPLED_KEY: &str = "logging.googleapis.com/trace_sampled";
/// → `traceSampled` (the spelling of Google's Ops Agent and client libraries).
pub const TRACE_SAMPLED_CAMEL_KEY: &str = "logging.googleapis.com/traceSampled";

/// Every key [`lift_record`] may take out of a record (besides a lone [`MESSAGE_KEY`]); the
/// transcoder copies all other keys as they are, so a key lifted here must be listed here.
pub const LIFTED_KEYS: [&str; 14] = [
    SEVERITY_KEY,
    HTTP_REQUEST_KEY,
    TIME_KEY,
    TIMESTAMP_KEY,
    TIMESTAMP_SECONDS_KEY,
    TIMESTAMP_NANOS_KEY,
    INSERT_ID_KEY,
    LABELS_KEY,
    OPERATION_KEY,
    SOURCE_LOCATION_KEY,
    SPAN_ID_KEY,
    TRACE_KEY,
    TRACE_SAMPLED_KEY,
    TRACE_SAMPLED_CAMEL_KEY,
];

/// Maps a parsed JSON record to a `LogEntry`, lifting the special keys (see the module docs).
/// `project_id` qualifies bare trace ids; when it is empty they are left bare.
///
/// `logName`, `resource` and the request-wide labels are not set here: they come from the
/// configuration, and the caller fills them in.
pub fn lift_record(record: Map<String, Value>, project_id: &str) -> LogEntry {
    lift(record, project_id, LoneMessage::TextPayload)
}

/// [`lift_record`] for a record that `detect_json` found in a text line: its payload is always
/// `jsonPayload`, even when only a `message` is left (Google's agent documentation:
/// fluent-plugin-google-cloud's `set_payload` takes `jsonPayload` for every record it parsed).
pub fn lift_detected_json(record: Map<String, Value>, project_id: &str) -> LogEntry {
    lift(record, project_id, LoneMessage::JsonPayload)
}

/// What a record whose only remaining key is a string `message` becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoneMessage {
    TextPayload,
    JsonPayload,
}

fn lift(mut record: Map<String, Value>, project_id: &str, lone: LoneMessage) -> LogEntry {
    let payload = &mut record;
    let mut entry = LogEntry {
        severity: take(payload, SEVERITY_KEY, Severity::from_json_lenient),
        http_request: take_http_request(payload),
        timestamp: take_timestamp(payload),
        insert_id: take(payload, INSERT_ID_KEY, non_empty_string),
        labels: take(payload, LABELS_KEY, string_map),
        operation: take(payload, OPERATION_KEY, operation),
        source_location: take(payload, SOURCE_LOCATION_KEY, source_location),
        span_id: take(payload, SPAN_ID_KEY, non_empty_string),
        trace: take(payload, TRACE_KEY, non_empty_string).map(|t| qualify_trace(t, project_id)),
        trace_sampled: take(payload, TRACE_SAMPLED_KEY, boolean)
            .or_else(|| take(payload, TRACE_SAMPLED_CAMEL_KEY, boolean)),
        ..LogEntry::default()
    };
    match record.get(MESSAGE_KEY) {
        Some(Value::String(message)) if record.len() == 1 && lone == LoneMessage::TextPayload => {
            entry.text_payload = Some(message.clone())
        }
        _ => entry.json_payload = Some(record),
    }
    entry
}

/// The time the record's own `timestamp` object or `timestampSeconds`/`timestampNanos` pair
/// gives the entry, if one lifts: then the entry's time does not come from `time` (or from a
/// parser's `time_key`), and such a key stays in the payload.
pub fn own_timestamp(record: &Map<String, Value>) -> Option<Timestamp> {
    record
        .get(TIMESTAMP_KEY)
        .and_then(timestamp_object)
        .or_else(|| timestamp_pair(record))
}

/// Removes `key` and returns its value read by `parse`, if it reads; otherwise leaves it.
fn take<T>(
    payload: &mut Map<String, Value>,
    key: &str,
    parse: impl FnOnce(&Value) -> Option<T>,
) -> Option<T> {
    let lifted = parse(payload.get(key)?)?;
    payload.remove(key);
    Some(lifted)
}

fn non_empty_string(value: &Value) -> Option<String> {
    value.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
}

/// `projects/P/traces/ID` for a bare 32-hex trace id; anything else as given.
pub(crate) fn qualify_trace(trace: String, project_id: &str) -> String {
    let bare = trace.len() == 32 && trace.bytes().all(|b| b.is_ascii_hexdigit());
    if bare && !project_id.is_empty() {
        format!("projects/{project_id}/traces/{trace}")
    } else {
        trace
    }
}

/// An object whose values are all strings.
fn string_map(value: &Value) -> Option<BTreeMap<String, String>> {
    value
        .as_object()?
        .iter()
        .map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .collect()
}

/// An object with only the given keys, read into `T`.
fn strict_object<'a, T: Deserialize<'a>>(value: &'a Value, keys: &[&str]) -> Option<T> {
    let object = value.as_object()?;
    if !object.keys().all(|k| keys.contains(&k.as_str())) {
        return None;
    }
    T::deserialize(value).ok()
}

/// `true`/`false`, or the same written as a string (`"first": "true"` in Google's structured
/// logging example; fluent-plugin-google-cloud's `parse_bool` reads the string too).
pub(crate) fn boolean(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "true" => Some(true),
        Value::String(s) if s == "false" => Some(false),
        _ => None,
    }
}

/// An object of `id`, `producer` (strings) and `first`, `last` ([`boolean`]s); a null member
/// counts as absent.
fn operation(value: &Value) -> Option<LogEntryOperation> {
    let mut op = LogEntryOperation::default();
    for (key, value) in value.as_object()? {
        match (key.as_str(), value) {
            ("id" | "producer" | "first" | "last", Value::Null) => {}
            ("id", _) => op.id = Some(value.as_str()?.to_owned()),
            ("producer", _) => op.producer = Some(value.as_str()?.to_owned()),
            ("first", _) => op.first = Some(boolean(value)?),
            ("last", _) => op.last = Some(boolean(value)?),
            _ => return None,
        }
    }
    Some(op)
}

fn source_location(value: &Value) -> Option<LogEntrySourceLocation> {
    strict_object(value, &["file", "line", "function"])
}

/// An integer given as a JSON integer or a decimal string (proto3 JSON's int64).
fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn nanos(value: &Value) -> Option<u32> {
    integer(value)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|&n| n < 1_000_000_000)
}

fn valid_timestamp(seconds: i64, nanos: u32) -> Option<Timestamp> {
    Timestamp::new(seconds, nanos).filter(|t| t.is_valid())
}

/// `{"seconds": …, "nanos": …}`, both present (fluent-plugin-google-cloud's
/// `compute_timestamp` requires both) and nothing else.
fn timestamp_object(value: &Value) -> Option<Timestamp> {
    let object = value.as_object()?;
    if object.len() != 2 {
        return None;
    }
    valid_timestamp(
        integer(object.get("seconds")?)?,
        nanos(object.get("nanos")?)?,
    )
}

/// `timestampSeconds` with `timestampNanos` (both, as in the plugin).
fn timestamp_pair(payload: &Map<String, Value>) -> Option<Timestamp> {
    let seconds = integer(payload.get(TIMESTAMP_SECONDS_KEY)?)?;
    valid_timestamp(seconds, nanos(payload.get(TIMESTAMP_NANOS_KEY)?)?)
}

fn take_timestamp(payload: &mut Map<String, Value>) -> Option<Timestamp> {
    if let Some(ts) = take(payload, TIMESTAMP_KEY, timestamp_object) {
        return Some(ts);
    }
    if let Some(ts) = timestamp_pair(payload) {
        payload.remove(TIMESTAMP_SECONDS_KEY);
        payload.remove(TIMESTAMP_NANOS_KEY);
        return Some(ts);
    }
    take(payload, TIME_KEY, |value| {
        Timestamp::parse_rfc3339(value.as_str()?.trim())
            .ok()
            .filter(|t| t.is_valid())
    })
}

/// Lifts the `httpRequest` fields that have the right type, one by one. Fields that do not (or
/// that `HttpRequest` does not have) stay in the payload under `httpRequest`, which is removed
/// only once empty.
fn take_http_request(payload: &mut Map<String, Value>) -> Option<HttpRequest> {
    let Some(Value::Object(object)) = payload.get_mut(HTTP_REQUEST_KEY) else {
        return None;
    };
    let mut request = HttpRequest::default();
    let mut lifted_any = false;
    object.retain(|key, value| {
        let r = &mut request;
        let lifted = match key.as_str() {
            "requestMethod" => set(&mut r.request_method, value.as_str().map(str::to_owned)),
            "requestUrl" => set(&mut r.request_url, value.as_str().map(str::to_owned)),
            "requestSize" => set(&mut r.request_size, integer(value)),
            "status" => set(
                &mut r.status,
                integer(value).and_then(|n| i32::try_from(n).ok()),
            ),
            "responseSize" => set(&mut r.response_size, integer(value)),
            "userAgent" => set(&mut r.user_agent, value.as_str().map(str::to_owned)),
            "remoteIp" => set(&mut r.remote_ip, value.as_str().map(str::to_owned)),
            "serverIp" => set(&mut r.server_ip, value.as_str().map(str::to_owned)),
            "referer" => set(&mut r.referer, value.as_str().map(str::to_owned)),
            "latency" => set(
                &mut r.latency,
                value.as_str().and_then(|s| Duration::parse(s.trim()).ok()),
            ),
            "cacheLookup" => set(&mut r.cache_lookup, boolean(value)),
            "cacheHit" => set(&mut r.cache_hit, boolean(value)),
            "cacheValidatedWithOriginServer" => {
                set(&mut r.cache_validated_with_origin_server, boolean(value))
            }
            "cacheFillBytes" => set(&mut r.cache_fill_bytes, integer(value)),
            "protocol" => set(&mut r.protocol, value.as_str().map(str::to_owned)),
            _ => false,
        };
        lifted_any |= lifted;
        !lifted
    });
    if object.is_empty() && lifted_any {
        payload.remove(HTTP_REQUEST_KEY);
    }
    lifted_any.then_some(request)
}

/// Stores `value` in `slot` if there is one; says whether there was.
fn set<T>(slot: &mut Option<T>, value: Option<T>) -> bool {
    let lifted = value.is_some();
    if lifted {
        *slot = value;
    }
    lifted
}

#[cfg(test)]
mod tests;
