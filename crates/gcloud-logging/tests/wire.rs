//! Round trips of realistic Cloud Logging bodies through the shared wire model: what the sink
//! writes, what Google's Python client writes, and what the API answers, must all parse and
//! re-serialize to the same JSON, and the hand-written fast encoder must agree with serde.

use std::collections::BTreeMap;

use gcloud_logging::encode::{
    EntryEncoder, TextEntry, encode_entry, encode_labels, encode_text_entry,
};
use gcloud_logging::wire::{ListLogEntriesResponse, RpcCode};
use gcloud_logging::{
    Duration, ErrorBody, LogEntry, MonitoredResource, Severity, Timestamp, WriteLogEntriesRequest,
    insert_id, lift_record, log_name,
};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Parses `body` into `T`, serializes it again, and checks the JSON is unchanged.
fn assert_round_trip<T>(body: &Value) -> T
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let parsed: T = serde_json::from_value(body.clone()).expect("body parses");
    let again = serde_json::to_value(&parsed).expect("serializes");
    assert_eq!(&again, body, "re-serialized body differs");
    parsed
}

#[test]
fn full_write_request_with_every_field_round_trips() {
    let body = json!({
        "logName": "projects/my-project/logs/app.log",
        "resource": {"type": "k8s_container", "labels": {
            "project_id": "my-project", "location": "asia-northeast1-a", "cluster_name": "fastapi-cluster",
            "namespace_name": "default", "pod_name": "api-7d9f", "container_name": "api"
        }},
        "labels": {"env": "prod"},
        "entries": [
            {
                "logName": "projects/my-project/logs/app%2Faccess",
                "resource": {"type": "global"},
                "insertId": "0000000000000abc0000000000000010",
                "timestamp": "2026-11-25T10:00:00.123456789Z",
                "receiveTimestamp": "2026-11-25T10:00:01.500Z",
                "severity": "WARNING",
                "labels": {"team": "api"},
                "httpRequest": {
                    "requestMethod": "POST", "requestUrl": "https://api.example.com/items?x=1",
                    "requestSize": "1024", "status": 201, "responseSize": "77", "userAgent": "curl/8.5",
                    "remoteIp": "203.0.113.9", "serverIp": "10.8.0.4", "referer": "https://example.com/",
                    "latency": "0.120s", "cacheLookup": true, "cacheHit": false,
                    "cacheValidatedWithOriginServer": false, "cacheFillBytes": "0", "protocol": "HTTP/2"
                },
                "operation": {"id": "op-1", "producer": "api", "first": true, "last": false},
                "trace": "projects/my-project/traces/4bf92f3577b34da6a3ce929d0e0e4736",
                "spanId": "00f067aa0ba902b7",
                "traceSampled": true,
                "sourceLocation": {"file": "app/main.py", "line": "42", "function": "create_item"},
                "split": {"uid": "u-0abc", "index": 0, "totalSplits": 2},
                "jsonPayload": {"message": "created", "item": {"id": 7, "tags": ["a", "b"]}, "ok": true, "ratio": 0.5}
            },
            {"insertId": "b", "timestamp": "2026-11-25T10:00:00Z", "textPayload": "plain \"line\" \\ ✓"},
            {"protoPayload": {"@type": "type.googleapis.com/google.cloud.audit.AuditLog", "methodName": "x"}}
        ],
        "partialSuccess": true,
        "dryRun": true
    });
    let req: WriteLogEntriesRequest = assert_round_trip(&body);
    assert!(req.partial_success && req.dry_run);
    let first = &req.entries[0];
    assert_eq!(first.severity, Some(Severity::Warning));
    assert_eq!(first.timestamp.unwrap().nanos, 123_456_789);
    let http = first.http_request.as_ref().unwrap();
    assert_eq!((http.request_size, http.status), (Some(1024), Some(201)));
    assert_eq!(
        http.latency,
        Some(Duration {
            seconds: 0,
            nanos: 120_000_000
        })
    );
    assert_eq!(first.source_location.as_ref().unwrap().line, Some(42));
    assert_eq!(first.split.as_ref().unwrap().total_splits, 2);
    assert_eq!(
        req.resource.unwrap().labels["cluster_name"],
        "fastapi-cluster"
    );
}

#[test]
fn python_client_text_and_struct_bodies_parse() {
    // What google-cloud-logging's `Logger.log_text` / `log_struct` send over HTTP.
    let text: WriteLogEntriesRequest = serde_json::from_value(json!({
        "entries": [{
            "logName": "projects/p/logs/x",
            "resource": {"type": "global", "labels": {}},
            "textPayload": "hi"
        }],
        "partialSuccess": false,
        "dry_run": false
    }))
    .unwrap();
    assert_eq!(text.entries[0].text_payload.as_deref(), Some("hi"));
    assert_eq!(text.entries[0].resource, Some(MonitoredResource::global()));
    assert!(!text.partial_success && !text.dry_run);

    let structured: WriteLogEntriesRequest = serde_json::from_value(json!({
        "entries": [{
            "logName": "projects/p/logs/x",
            "resource": {"type": "global", "labels": {}},
            "jsonPayload": {"message": "hi", "n": 1},
            "severity": "ERROR",
            "labels": {"k": "v"},
            "insertId": "py-1",
            "timestamp": "2026-11-25T10:00:00.123456Z"
        }],
        "partial_success": true,
        "dry_run": true
    }))
    .unwrap();
    assert!(structured.partial_success && structured.dry_run);
    let entry = &structured.entries[0];
    assert_eq!(entry.severity, Some(Severity::Error));
    assert_eq!(entry.json_payload.as_ref().unwrap()["n"], json!(1));
    assert_eq!(
        entry.timestamp.unwrap().to_string(),
        "2026-11-25T10:00:00.123456Z"
    );
}

#[test]
fn partial_error_body_round_trips() {
    let body = json!({"error": {
        "code": 400,
        "message": "Log entry with size 300K exceeds maximum size of 256.0K",
        "status": "INVALID_ARGUMENT",
        "details": [
            {"@type": "type.googleapis.com/google.logging.v2.WriteLogEntriesPartialErrors",
             "logEntryErrors": {
                "3": {"code": 3, "message": "Log entry with size 300K exceeds maximum size of 256.0K"},
                "97": {"code": 3, "message": "Invalid timestamp"}
             }},
            {"@type": "type.googleapis.com/google.rpc.DebugInfo", "detail": "x"}
        ]
    }});
    let parsed: ErrorBody = assert_round_trip(&body);
    assert_eq!(parsed.rpc_code(), Some(RpcCode::InvalidArgument));
    let errors = parsed.partial_errors().unwrap();
    assert_eq!(
        errors.log_entry_errors.keys().copied().collect::<Vec<_>>(),
        [3, 97]
    );
    assert_eq!(errors.log_entry_errors[&97].message, "Invalid timestamp");
}

#[test]
fn list_response_round_trips() {
    let body = json!({
        "entries": [{
            "logName": "projects/p/logs/app.log",
            "resource": {"type": "container", "labels": {"cluster_name": "fastapi-cluster"}},
            "insertId": "a", "timestamp": "2026-11-25T10:00:00Z", "receiveTimestamp": "2026-11-25T10:00:00.010Z",
            "textPayload": "GET /health 200"
        }],
        "nextPageToken": "abc"
    });
    let parsed: ListLogEntriesResponse = assert_round_trip(&body);
    assert_eq!(parsed.entries.len(), 1);
}

#[test]
fn lifted_json_line_travels_in_a_request() {
    let line = r#"{"severity":"warn","message":"slow","httpRequest":{"status":200,"latency":"1.5s"},
        "logging.googleapis.com/trace":"4bf92f3577b34da6a3ce929d0e0e4736","timestampSeconds":1795000000,
        "timestampNanos":0}"#;
    let Value::Object(record) = serde_json::from_str(line).unwrap() else {
        unreachable!()
    };
    let mut entry = lift_record(record, "p");
    entry.insert_id = Some(insert_id(1, 0, None));
    let req = WriteLogEntriesRequest {
        log_name: Some(log_name("p", "app.log")),
        resource: Some(MonitoredResource::global()),
        entries: vec![entry],
        partial_success: true,
        ..WriteLogEntriesRequest::default()
    };
    let wire = serde_json::to_value(&req).unwrap();
    assert_eq!(
        wire["entries"][0],
        json!({
            "insertId": "00000000000000010000000000000000",
            "timestamp": "2026-11-18T11:06:40Z",
            "severity": "WARNING",
            "httpRequest": {"status": 200, "latency": "1.500s"},
            "trace": "projects/p/traces/4bf92f3577b34da6a3ce929d0e0e4736",
            "textPayload": "slow"
        })
    );
    let back: WriteLogEntriesRequest = serde_json::from_value(wire).unwrap();
    assert_eq!(back, req);
}

/// The entry the serde path builds for the same inputs as the fast encoder.
fn serde_text_entry(
    text: &[u8],
    ts: Timestamp,
    id: &str,
    severity: Option<Severity>,
    labels: Option<&BTreeMap<String, String>>,
) -> LogEntry {
    LogEntry {
        insert_id: Some(id.to_owned()),
        timestamp: Some(ts),
        severity,
        labels: labels.cloned(),
        text_payload: Some(String::from_utf8_lossy(text).into_owned()),
        ..LogEntry::default()
    }
}

#[test]
fn fast_encoder_matches_the_serde_path() {
    let labels = BTreeMap::from([("pod \"x\"".to_owned(), "a\\b\n".to_owned())]);
    let labels_json = encode_labels(&labels);
    let texts: [&[u8]; 9] = [
        b"",
        b"plain line",
        b"quote \" and backslash \\ and slash /",
        b"controls \x01\x02\x1b[31m red \x7f tab\t cr\r",
        b"NUL \0 in the middle\0",
        "emoji 😀 ログ é".as_bytes(),
        b"invalid \xff\xfe utf-8 \xc3( and truncated \xe3\x83",
        b"{\"looks\":\"like json\"}",
        &[b'x'; 300],
    ];
    let ts = Timestamp {
        seconds: 1_795_000_000,
        nanos: 123_456_789,
    };
    for (i, text) in texts.iter().enumerate() {
        let id = insert_id(9, i as u64 * 100, None);
        for (severity, labels) in [(None, None), (Some(Severity::Error), Some(&labels))] {
            let mut fast = Vec::new();
            encode_text_entry(
                &mut fast,
                text,
                ts,
                &id,
                severity,
                labels.map(|_| labels_json.as_slice()),
            );
            let parsed: LogEntry = serde_json::from_slice(&fast).expect("fast output is JSON");
            let want = serde_text_entry(text, ts, &id, severity, labels);
            assert_eq!(parsed, want, "text {i}");

            let mut slow = Vec::new();
            encode_entry(&mut slow, &want).unwrap();
            assert_eq!(serde_json::from_slice::<LogEntry>(&slow).unwrap(), parsed);
        }
    }
}

proptest! {
    #[test]
    fn fast_encoder_agrees_with_serde_on_any_bytes(
        text in proptest::collection::vec(any::<u8>(), 0..200),
        seconds in -62_135_596_800i64..253_402_300_799,
        nanos in 0u32..1_000_000_000,
        offset in any::<u64>(),
    ) {
        let ts = Timestamp { seconds, nanos };
        let id = insert_id(3, offset, None);
        let mut encoder = EntryEncoder::new();
        let mut out = Vec::new();
        encoder.encode_text(&mut out, &TextEntry {
            text: &text, timestamp: ts, insert_id: &id, severity: Some(Severity::Info),
            labels_json: None, log_name: None, split: None,
        });
        let parsed: LogEntry = serde_json::from_slice(&out).unwrap();
        prop_assert_eq!(parsed, serde_text_entry(&text, ts, &id, Some(Severity::Info), None));
    }

    #[test]
    fn timestamps_round_trip_through_text(
        seconds in -62_135_596_800i64..253_402_300_799,
        nanos in 0u32..1_000_000_000,
    ) {
        let ts = Timestamp { seconds, nanos };
        prop_assert_eq!(Timestamp::parse_rfc3339(&ts.to_string()).unwrap(), ts);
    }

    #[test]
    fn lenient_severity_never_panics(text in ".{0,20}") {
        let _ = Severity::parse_lenient(&text);
    }
}
