//! Turns a JSON log record into a `LogEntry` the way Google's logging agents do: well-known keys
//! (`severity`, `httpRequest`, `time`, `timestamp`, `logging.googleapis.com/…`) become entry
//! fields and leave the payload; everything else stays in `jsonPayload`.
//!
//! A key is lifted only when its value has the right shape; a mistyped one (a severity object, a
//! time that is not RFC 3339) stays in the payload untouched, so nothing the application wrote is
//! lost. When more than one timestamp key is present, `timestamp{seconds,nanos}` wins over
//! `timestampSeconds`/`timestampNanos`, which win over `time`; the unused ones stay.

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
pub fn lift_record(mut record: Map<String, Value>, project_id: &str) -> LogEntry {
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
        trace_sampled: take(payload, TRACE_SAMPLED_KEY, Value::as_bool)
            .or_else(|| take(payload, TRACE_SAMPLED_CAMEL_KEY, Value::as_bool)),
        ..LogEntry::default()
    };
    match record.get(MESSAGE_KEY) {
        Some(Value::String(message)) if record.len() == 1 => {
            entry.text_payload = Some(message.clone())
        }
        _ => entry.json_payload = Some(record),
    }
    entry
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

fn operation(value: &Value) -> Option<LogEntryOperation> {
    strict_object(value, &["id", "producer", "first", "last"])
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

fn take_timestamp(payload: &mut Map<String, Value>) -> Option<Timestamp> {
    let from_object = take(payload, TIMESTAMP_KEY, |value| {
        let object = value.as_object()?;
        if !object.keys().all(|k| k == "seconds" || k == "nanos") {
            return None;
        }
        let nanos = object.get("nanos").map_or(Some(0), nanos)?;
        valid_timestamp(integer(object.get("seconds")?)?, nanos)
    });
    if from_object.is_some() {
        return from_object;
    }
    if let Some(seconds) = payload.get(TIMESTAMP_SECONDS_KEY).and_then(integer) {
        let nanos = payload.get(TIMESTAMP_NANOS_KEY).map_or(Some(0), nanos);
        if let Some(ts) = nanos.and_then(|n| valid_timestamp(seconds, n)) {
            payload.remove(TIMESTAMP_SECONDS_KEY);
            payload.remove(TIMESTAMP_NANOS_KEY);
            return Some(ts);
        }
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
            "cacheLookup" => set(&mut r.cache_lookup, value.as_bool()),
            "cacheHit" => set(&mut r.cache_hit, value.as_bool()),
            "cacheValidatedWithOriginServer" => {
                set(&mut r.cache_validated_with_origin_server, value.as_bool())
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
mod tests {
    use super::*;
    use serde_json::json;

    const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    fn lift(value: Value) -> LogEntry {
        let Value::Object(record) = value else {
            panic!("test records are objects")
        };
        lift_record(record, "my-project")
    }

    fn payload(value: Value) -> Option<Map<String, Value>> {
        match value {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }

    #[test]
    fn plain_record_stays_json_payload() {
        let e = lift(json!({"message": "hi", "user": "u1", "n": 3}));
        assert_eq!(
            e.json_payload,
            payload(json!({"message": "hi", "user": "u1", "n": 3}))
        );
        assert_eq!(e.text_payload, None);
        assert_eq!(e.severity, None);
        assert_eq!(e.timestamp, None);
    }

    #[test]
    fn severity_is_lifted_leniently() {
        let e = lift(json!({"severity": "warn", "message": "m", "x": 1}));
        assert_eq!(e.severity, Some(Severity::Warning));
        assert_eq!(e.json_payload, payload(json!({"message": "m", "x": 1})));
        assert_eq!(
            lift(json!({"severity": 450, "x": 1})).severity,
            Some(Severity::Warning)
        );
        assert_eq!(
            lift(json!({"severity": "F", "x": 1})).severity,
            Some(Severity::Critical)
        );
    }

    #[test]
    fn mistyped_severity_stays_in_the_payload() {
        for bad in [
            json!({"level": 3}),
            json!("loud"),
            json!(true),
            json!(null),
            json!(["ERROR"]),
        ] {
            let e = lift(json!({"severity": bad.clone(), "x": 1}));
            assert_eq!(e.severity, None);
            assert_eq!(e.json_payload, payload(json!({"severity": bad, "x": 1})));
        }
    }

    #[test]
    fn lone_string_message_becomes_text_payload() {
        let e =
            lift(json!({"message": "hello", "severity": "ERROR", "time": "2026-11-25T10:00:00Z"}));
        assert_eq!(e.text_payload.as_deref(), Some("hello"));
        assert_eq!(e.json_payload, None);
        assert_eq!(e.severity, Some(Severity::Error));
        // Not a string, or not alone: stays structured.
        assert_eq!(
            lift(json!({"message": {"a": 1}})).json_payload,
            payload(json!({"message": {"a": 1}}))
        );
        assert_eq!(lift(json!({"message": 5})).text_payload, None);
        assert_eq!(lift(json!({"message": "m", "k": "v"})).text_payload, None);
    }

    #[test]
    fn empty_record_is_an_empty_json_payload() {
        assert_eq!(lift(json!({})).json_payload, Some(Map::new()));
        assert_eq!(
            lift(json!({"severity": "INFO"})).json_payload,
            Some(Map::new())
        );
    }

    #[test]
    fn time_rfc3339_is_lifted() {
        let e = lift(json!({"time": "2026-11-25T19:00:00.5+09:00", "x": 1}));
        assert_eq!(e.timestamp.unwrap().to_string(), "2026-11-25T10:00:00.500Z");
        assert_eq!(e.json_payload, payload(json!({"x": 1})));
    }

    #[test]
    fn bad_time_stays_in_the_payload() {
        for bad in [
            json!("yesterday"),
            json!("2026-11-25 10:00"),
            json!(1_795_000_000),
            json!({"seconds": 1}),
        ] {
            let e = lift(json!({"time": bad.clone()}));
            assert_eq!(e.timestamp, None, "{bad}");
            assert_eq!(e.json_payload, payload(json!({"time": bad})));
        }
    }

    #[test]
    fn timestamp_object_is_lifted() {
        let e =
            lift(json!({"timestamp": {"seconds": 1_795_000_000, "nanos": 120_000_000}, "x": 1}));
        assert_eq!(
            e.timestamp,
            Some(Timestamp {
                seconds: 1_795_000_000,
                nanos: 120_000_000
            })
        );
        assert_eq!(e.json_payload, payload(json!({"x": 1})));
        let e = lift(json!({"timestamp": {"seconds": "1795000000"}}));
        assert_eq!(
            e.timestamp,
            Some(Timestamp {
                seconds: 1_795_000_000,
                nanos: 0
            })
        );
    }

    #[test]
    fn mistyped_timestamp_object_stays() {
        for bad in [
            json!({"seconds": 1, "nanos": 1_000_000_000}),
            json!({"seconds": 1, "nanos": -1}),
            json!({"nanos": 5}),
            json!({"seconds": 1.5}),
            json!({"seconds": 1, "extra": true}),
            json!({"seconds": i64::MAX}),
            json!("2026-11-25T10:00:00Z"),
        ] {
            let e = lift(json!({"timestamp": bad.clone()}));
            assert_eq!(e.timestamp, None, "{bad}");
            assert_eq!(e.json_payload, payload(json!({"timestamp": bad})));
        }
    }

    #[test]
    fn timestamp_seconds_and_nanos_are_lifted_together() {
        let e = lift(json!({"timestampSeconds": 1_795_000_000, "timestampNanos": 7, "x": 1}));
        assert_eq!(
            e.timestamp,
            Some(Timestamp {
                seconds: 1_795_000_000,
                nanos: 7
            })
        );
        assert_eq!(e.json_payload, payload(json!({"x": 1})));
        let e = lift(json!({"timestampSeconds": "1795000000"}));
        assert_eq!(
            e.timestamp,
            Some(Timestamp {
                seconds: 1_795_000_000,
                nanos: 0
            })
        );
        let bad = json!({"timestampSeconds": 1_795_000_000, "timestampNanos": "lots"});
        let e = lift(bad.clone());
        assert_eq!(e.timestamp, None);
        assert_eq!(e.json_payload, payload(bad));
        let e = lift(json!({"timestampNanos": 5}));
        assert_eq!(e.timestamp, None);
        assert_eq!(e.json_payload, payload(json!({"timestampNanos": 5})));
    }

    #[test]
    fn timestamp_precedence_leaves_the_unused_keys() {
        let e = lift(json!({
            "timestamp": {"seconds": 100, "nanos": 0},
            "timestampSeconds": 200,
            "time": "2026-11-25T10:00:00Z"
        }));
        assert_eq!(
            e.timestamp,
            Some(Timestamp {
                seconds: 100,
                nanos: 0
            })
        );
        assert_eq!(
            e.json_payload,
            payload(json!({"timestampSeconds": 200, "time": "2026-11-25T10:00:00Z"}))
        );
        let e = lift(json!({"timestampSeconds": 200, "time": "2026-11-25T10:00:00Z"}));
        assert_eq!(
            e.timestamp,
            Some(Timestamp {
                seconds: 200,
                nanos: 0
            })
        );
        assert_eq!(
            e.json_payload,
            payload(json!({"time": "2026-11-25T10:00:00Z"}))
        );
        let e = lift(json!({"timestamp": "bad", "time": "2026-11-25T10:00:00Z"}));
        assert_eq!(e.timestamp.unwrap().to_string(), "2026-11-25T10:00:00Z");
        assert_eq!(e.json_payload, payload(json!({"timestamp": "bad"})));
    }

    #[test]
    fn http_request_is_lifted() {
        let e = lift(json!({"httpRequest": {
            "requestMethod": "GET", "requestUrl": "https://example.com/a?b=c", "requestSize": "123",
            "status": 200, "responseSize": 4567, "userAgent": "curl/8", "remoteIp": "10.0.0.1",
            "serverIp": "10.0.0.2", "referer": "https://r/", "latency": "0.120s", "cacheLookup": true,
            "cacheHit": false, "cacheValidatedWithOriginServer": true, "cacheFillBytes": "9", "protocol": "HTTP/1.1"
        }, "message": "GET /a"}));
        let want = HttpRequest {
            request_method: Some("GET".into()),
            request_url: Some("https://example.com/a?b=c".into()),
            request_size: Some(123),
            status: Some(200),
            response_size: Some(4567),
            user_agent: Some("curl/8".into()),
            remote_ip: Some("10.0.0.1".into()),
            server_ip: Some("10.0.0.2".into()),
            referer: Some("https://r/".into()),
            latency: Some(Duration {
                seconds: 0,
                nanos: 120_000_000,
            }),
            cache_lookup: Some(true),
            cache_hit: Some(false),
            cache_validated_with_origin_server: Some(true),
            cache_fill_bytes: Some(9),
            protocol: Some("HTTP/1.1".into()),
        };
        assert_eq!(e.http_request, Some(want));
        assert_eq!(e.text_payload.as_deref(), Some("GET /a"));
    }

    #[test]
    fn mistyped_http_request_fields_stay_in_the_payload() {
        let e = lift(
            json!({"httpRequest": {"status": "OK", "requestMethod": "GET", "latency": 0.1, "custom": 1}}),
        );
        assert_eq!(
            e.http_request.unwrap().request_method.as_deref(),
            Some("GET")
        );
        assert_eq!(
            e.json_payload,
            payload(json!({"httpRequest": {"status": "OK", "latency": 0.1, "custom": 1}}))
        );
        for bad in [json!("GET /"), json!({"status": "OK"}), json!({})] {
            let e = lift(json!({"httpRequest": bad.clone()}));
            assert_eq!(e.http_request, None, "{bad}");
            assert_eq!(e.json_payload, payload(json!({"httpRequest": bad})));
        }
    }

    #[test]
    fn special_fields_are_lifted() {
        let e = lift(json!({
            "logging.googleapis.com/insertId": "id-1",
            "logging.googleapis.com/labels": {"team": "api", "env": "prod"},
            "logging.googleapis.com/operation": {"id": "op", "producer": "p", "first": true},
            "logging.googleapis.com/sourceLocation": {"file": "main.py", "line": "42", "function": "handle"},
            "logging.googleapis.com/spanId": "000000000000004a",
            "logging.googleapis.com/trace": TRACE_ID,
            "logging.googleapis.com/trace_sampled": true,
            "message": "done"
        }));
        assert_eq!(e.insert_id.as_deref(), Some("id-1"));
        let labels = BTreeMap::from([
            ("team".to_owned(), "api".to_owned()),
            ("env".to_owned(), "prod".to_owned()),
        ]);
        assert_eq!(e.labels, Some(labels));
        let op = e.operation.unwrap();
        assert_eq!(
            (op.id.as_deref(), op.producer.as_deref(), op.first, op.last),
            (Some("op"), Some("p"), Some(true), None)
        );
        let loc = e.source_location.unwrap();
        assert_eq!(
            (loc.file.as_deref(), loc.line, loc.function.as_deref()),
            (Some("main.py"), Some(42), Some("handle"))
        );
        assert_eq!(e.span_id.as_deref(), Some("000000000000004a"));
        assert_eq!(
            e.trace,
            Some(format!("projects/my-project/traces/{TRACE_ID}"))
        );
        assert_eq!(e.trace_sampled, Some(true));
        assert_eq!(e.text_payload.as_deref(), Some("done"));
        assert_eq!(e.json_payload, None);
    }

    #[test]
    fn trace_is_qualified_only_when_bare() {
        let qualified = format!("projects/other/traces/{TRACE_ID}");
        assert_eq!(
            lift(json!({TRACE_KEY: qualified.clone()})).trace,
            Some(qualified)
        );
        assert_eq!(
            lift(json!({TRACE_KEY: "abc"})).trace.as_deref(),
            Some("abc")
        );
        let Value::Object(record) = json!({TRACE_KEY: TRACE_ID}) else {
            unreachable!()
        };
        assert_eq!(lift_record(record, "").trace.as_deref(), Some(TRACE_ID));
        assert_eq!(
            lift(json!({TRACE_SAMPLED_CAMEL_KEY: false})).trace_sampled,
            Some(false)
        );
    }

    #[test]
    fn mistyped_special_fields_stay_in_the_payload() {
        let bad = json!({
            "logging.googleapis.com/insertId": 5,
            "logging.googleapis.com/labels": {"n": 1},
            "logging.googleapis.com/operation": {"id": "op", "unknown": 1},
            "logging.googleapis.com/sourceLocation": {"line": "forty-two"},
            "logging.googleapis.com/spanId": ["x"],
            "logging.googleapis.com/trace": {"id": TRACE_ID},
            "logging.googleapis.com/trace_sampled": "yes"
        });
        let e = lift(bad.clone());
        assert_eq!(e.insert_id, None);
        assert_eq!(e.labels, None);
        assert_eq!(e.operation, None);
        assert_eq!(e.source_location, None);
        assert_eq!(e.span_id, None);
        assert_eq!(e.trace, None);
        assert_eq!(e.trace_sampled, None);
        assert_eq!(e.json_payload, payload(bad));
        let e = lift(json!({OPERATION_KEY: {"id": 7}}));
        assert_eq!(e.operation, None);
        assert_eq!(e.json_payload, payload(json!({OPERATION_KEY: {"id": 7}})));
    }

    #[test]
    fn lifted_entry_serializes_to_the_wire_shape() {
        let e = lift(
            json!({"severity": "error", "message": "boom", "code": 7, "time": "2026-11-25T10:00:00.123Z"}),
        );
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({"severity": "ERROR", "timestamp": "2026-11-25T10:00:00.123Z", "jsonPayload": {"message": "boom", "code": 7}})
        );
    }
}
