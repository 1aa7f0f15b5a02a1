//! `LogEntry` between its two wire forms: the JSON model shared with the sink and the CLI
//! (`gcloud_logging::LogEntry`) and the protobuf message gRPC carries. The conversion follows
//! proto3's rules (a field at its default value is absent), so REST entries are also stored in
//! this canonical form: whatever protocol wrote an entry, it reads back the same on both.

use std::collections::BTreeMap;

use gcloud_logging::wire::{LogEntryOperation, LogEntrySourceLocation, LogSplit};
use gcloud_logging::{Duration, HttpRequest, LogEntry, MonitoredResource, Severity, Timestamp};
use googleapis_tonic_google_logging_v2::google::{api, logging::r#type as ltype, logging::v2};
use prost_types::value::Kind;
use serde_json::{Map, Number, Value};

use crate::payload;

/// Integers up to this size survive the trip through a protobuf `double` exactly.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

#[cfg(test)]
/// The form every entry is stored in: what a gRPC client would have sent for it.
pub(crate) fn canonical(entry: LogEntry) -> Result<LogEntry, String> {
    entry_from_proto(entry_to_proto(entry)?)
}

/// A protobuf entry as the JSON model; the error names the offending field.
pub fn entry_from_proto(e: v2::LogEntry) -> Result<LogEntry, String> {
    let severity =
        match e.severity {
            0 => None,
            n => Some(Severity::from_rank(i64::from(n)).ok_or_else(|| {
                format!("severity: {n} is not a LogSeverity (0, 100, 200, ... 800)")
            })?),
        };
    let (text_payload, json_payload, proto_payload) = match e.payload {
        None => (None, None, None),
        Some(v2::log_entry::Payload::TextPayload(t)) => (Some(t), None, None),
        Some(v2::log_entry::Payload::JsonPayload(s)) => (None, Some(struct_to_json(s)), None),
        Some(v2::log_entry::Payload::ProtoPayload(any)) => {
            (None, None, Some(payload::any_to_json(&any)?))
        }
    };
    Ok(LogEntry {
        log_name: some(e.log_name),
        resource: e.resource.map(|r| MonitoredResource {
            r#type: r.r#type,
            labels: r.labels.into_iter().collect(),
        }),
        insert_id: some(e.insert_id),
        timestamp: e
            .timestamp
            .map(|t| timestamp_from_proto("timestamp", t))
            .transpose()?,
        receive_timestamp: e
            .receive_timestamp
            .map(|t| timestamp_from_proto("receiveTimestamp", t))
            .transpose()?,
        severity,
        labels: (!e.labels.is_empty()).then(|| e.labels.into_iter().collect::<BTreeMap<_, _>>()),
        http_request: e.http_request.map(|h| HttpRequest {
            request_method: some(h.request_method),
            request_url: some(h.request_url),
            request_size: nonzero(h.request_size),
            status: nonzero(h.status),
            response_size: nonzero(h.response_size),
            user_agent: some(h.user_agent),
            remote_ip: some(h.remote_ip),
            server_ip: some(h.server_ip),
            referer: some(h.referer),
            latency: h.latency.map(|d| Duration {
                seconds: d.seconds,
                nanos: d.nanos,
            }),
            cache_lookup: h.cache_lookup.then_some(true),
            cache_hit: h.cache_hit.then_some(true),
            cache_validated_with_origin_server: h
                .cache_validated_with_origin_server
                .then_some(true),
            cache_fill_bytes: nonzero(h.cache_fill_bytes),
            protocol: some(h.protocol),
        }),
        operation: e.operation.map(|o| LogEntryOperation {
            id: some(o.id),
            producer: some(o.producer),
            first: o.first.then_some(true),
            last: o.last.then_some(true),
        }),
        trace: some(e.trace),
        span_id: some(e.span_id),
        trace_sampled: e.trace_sampled.then_some(true),
        source_location: e.source_location.map(|s| LogEntrySourceLocation {
            file: some(s.file),
            line: nonzero(s.line),
            function: some(s.function),
        }),
        split: e.split.map(|s| LogSplit {
            uid: s.uid,
            index: s.index,
            total_splits: s.total_splits,
        }),
        text_payload,
        json_payload,
        proto_payload,
    })
}

/// The JSON model as a protobuf entry; fails on two payloads at once (protobuf has room for one)
/// and on a `protoPayload` of a type the emulator cannot encode.
pub fn entry_to_proto(e: LogEntry) -> Result<v2::LogEntry, String> {
    let payloads = [
        e.text_payload.is_some(),
        e.json_payload.is_some(),
        e.proto_payload.is_some(),
    ];
    if payloads.iter().filter(|p| **p).count() > 1 {
        return Err(
            "payload: at most one of textPayload, jsonPayload and protoPayload may be set".into(),
        );
    }
    let payload = if let Some(text) = e.text_payload {
        Some(v2::log_entry::Payload::TextPayload(text))
    } else if let Some(json) = e.json_payload {
        Some(v2::log_entry::Payload::JsonPayload(json_to_struct(json)))
    } else if let Some(proto) = &e.proto_payload {
        Some(v2::log_entry::Payload::ProtoPayload(payload::json_to_any(
            proto,
        )?))
    } else {
        None
    };
    Ok(v2::LogEntry {
        log_name: e.log_name.unwrap_or_default(),
        resource: e.resource.map(resource_to_proto),
        timestamp: e.timestamp.map(timestamp_to_proto),
        receive_timestamp: e.receive_timestamp.map(timestamp_to_proto),
        severity: e.severity.map_or(0, Severity::rank),
        insert_id: e.insert_id.unwrap_or_default(),
        http_request: e.http_request.map(|h| ltype::HttpRequest {
            request_method: h.request_method.unwrap_or_default(),
            request_url: h.request_url.unwrap_or_default(),
            request_size: h.request_size.unwrap_or_default(),
            status: h.status.unwrap_or_default(),
            response_size: h.response_size.unwrap_or_default(),
            user_agent: h.user_agent.unwrap_or_default(),
            remote_ip: h.remote_ip.unwrap_or_default(),
            server_ip: h.server_ip.unwrap_or_default(),
            referer: h.referer.unwrap_or_default(),
            latency: h.latency.map(|d| prost_types::Duration {
                seconds: d.seconds,
                nanos: d.nanos,
            }),
            cache_lookup: h.cache_lookup.unwrap_or_default(),
            cache_hit: h.cache_hit.unwrap_or_default(),
            cache_validated_with_origin_server: h
                .cache_validated_with_origin_server
                .unwrap_or_default(),
            cache_fill_bytes: h.cache_fill_bytes.unwrap_or_default(),
            protocol: h.protocol.unwrap_or_default(),
        }),
        labels: e.labels.unwrap_or_default().into_iter().collect(),
        operation: e.operation.map(|o| v2::LogEntryOperation {
            id: o.id.unwrap_or_default(),
            producer: o.producer.unwrap_or_default(),
            first: o.first.unwrap_or_default(),
            last: o.last.unwrap_or_default(),
        }),
        trace: e.trace.unwrap_or_default(),
        span_id: e.span_id.unwrap_or_default(),
        trace_sampled: e.trace_sampled.unwrap_or_default(),
        source_location: e.source_location.map(|s| v2::LogEntrySourceLocation {
            file: s.file.unwrap_or_default(),
            line: s.line.unwrap_or_default(),
            function: s.function.unwrap_or_default(),
        }),
        split: e.split.map(|s| v2::LogSplit {
            uid: s.uid,
            index: s.index,
            total_splits: s.total_splits,
        }),
        payload,
    })
}

pub(crate) fn resource_from_proto(r: api::MonitoredResource) -> MonitoredResource {
    MonitoredResource {
        r#type: r.r#type,
        labels: r.labels.into_iter().collect(),
    }
}

fn resource_to_proto(r: MonitoredResource) -> api::MonitoredResource {
    api::MonitoredResource {
        r#type: r.r#type,
        labels: r.labels.into_iter().collect(),
    }
}

fn timestamp_from_proto(field: &str, t: prost_types::Timestamp) -> Result<Timestamp, String> {
    u32::try_from(t.nanos)
        .ok()
        .and_then(|nanos| Timestamp::new(t.seconds, nanos))
        .ok_or_else(|| format!("{field}: nanos {} is out of range", t.nanos))
}

fn timestamp_to_proto(t: Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.seconds,
        nanos: t.nanos as i32,
    }
}

fn some(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn nonzero<T: Default + PartialEq>(n: T) -> Option<T> {
    (n != T::default()).then_some(n)
}

/// A `google.protobuf.Struct` as a JSON object.
pub(crate) fn struct_to_json(s: prost_types::Struct) -> Map<String, Value> {
    s.fields
        .into_iter()
        .map(|(k, v)| (k, value_to_json(v)))
        .collect()
}

fn value_to_json(v: prost_types::Value) -> Value {
    match v.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(b)) => Value::Bool(b),
        Some(Kind::StringValue(s)) => Value::String(s),
        Some(Kind::NumberValue(n)) => number_to_json(n),
        Some(Kind::StructValue(s)) => Value::Object(struct_to_json(s)),
        Some(Kind::ListValue(l)) => Value::Array(l.values.into_iter().map(value_to_json).collect()),
    }
}

/// A `double` as JSON: whole numbers print without a fraction (`42`, as Cloud Logging shows
/// them), and the values JSON has no number for as proto3 JSON spells them.
pub(crate) fn number_to_json(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER {
        Value::Number(Number::from(n as i64))
    } else if let Some(number) = Number::from_f64(n) {
        Value::Number(number)
    } else if n.is_nan() {
        Value::String("NaN".into())
    } else if n > 0.0 {
        Value::String("Infinity".into())
    } else {
        Value::String("-Infinity".into())
    }
}

/// A JSON object as a `google.protobuf.Struct` (numbers become doubles, as on the real API).
pub(crate) fn json_to_struct(map: Map<String, Value>) -> prost_types::Struct {
    prost_types::Struct {
        fields: map
            .into_iter()
            .map(|(k, v)| (k, json_to_value(v)))
            .collect(),
    }
}

fn json_to_value(v: Value) -> prost_types::Value {
    let kind = match v {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        Value::String(s) => Kind::StringValue(s),
        Value::Array(a) => Kind::ListValue(prost_types::ListValue {
            values: a.into_iter().map(json_to_value).collect(),
        }),
        Value::Object(o) => Kind::StructValue(json_to_struct(o)),
    };
    prost_types::Value { kind: Some(kind) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(v: Value) -> LogEntry {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn every_field_survives_the_round_trip() {
        let full = entry(json!({
            "logName": "projects/p/logs/app",
            "resource": {"type": "k8s_container", "labels": {"pod_name": "web-1"}},
            "insertId": "id-1",
            "timestamp": "2026-01-02T03:04:05.123456789Z",
            "receiveTimestamp": "2026-01-02T03:04:06Z",
            "severity": "WARNING",
            "labels": {"a": "1", "b": "2"},
            "httpRequest": {"requestMethod": "GET", "requestUrl": "/x", "requestSize": "12",
                "status": 503, "responseSize": "34", "userAgent": "ua", "remoteIp": "1.2.3.4",
                "serverIp": "5.6.7.8", "referer": "r", "latency": "0.120s", "cacheLookup": true,
                "cacheHit": true, "cacheValidatedWithOriginServer": true, "cacheFillBytes": "9",
                "protocol": "HTTP/2"},
            "operation": {"id": "op", "producer": "me", "first": true, "last": true},
            "trace": "projects/p/traces/abc",
            "spanId": "000000000000004a",
            "traceSampled": true,
            "sourceLocation": {"file": "a.py", "line": "7", "function": "f"},
            "split": {"uid": "u", "index": 1, "totalSplits": 2},
            "jsonPayload": {"message": "m", "n": 42, "f": 1.5, "ok": true, "none": null,
                "list": [1, "two", {"three": 3}], "nested": {"deep": {"er": "x"}}},
        }));
        assert_eq!(canonical(full.clone()).unwrap(), full);
    }

    #[test]
    fn defaults_disappear_as_in_proto3() {
        let sparse = entry(json!({
            "severity": "DEFAULT", "traceSampled": false, "trace": "", "labels": {},
            "httpRequest": {"status": 0, "cacheHit": false},
            "jsonPayload": {"whole": 2.0, "big": 1e300},
        }));
        let back = serde_json::to_value(canonical(sparse).unwrap()).unwrap();
        assert_eq!(
            back,
            json!({"httpRequest": {}, "jsonPayload": {"whole": 2, "big": 1e300}})
        );
    }

    #[test]
    fn bad_proto_fields_are_named() {
        let e = v2::LogEntry {
            severity: 150,
            ..Default::default()
        };
        assert!(
            entry_from_proto(e)
                .unwrap_err()
                .starts_with("severity: 150")
        );
        let e = v2::LogEntry {
            timestamp: Some(prost_types::Timestamp {
                seconds: 0,
                nanos: -1,
            }),
            ..Default::default()
        };
        assert!(entry_from_proto(e).unwrap_err().starts_with("timestamp: "));
        assert_eq!(number_to_json(f64::NAN), json!("NaN"));
        assert_eq!(number_to_json(f64::NEG_INFINITY), json!("-Infinity"));
    }
}
