//! Entry points for `fuzz/` (cargo fuzz) and `tests/fuzz_smoke.rs` (stable CI): one function per
//! target, so both run exactly the same code. Not part of the API.
//!
//! Parsing any text returns a query or an error; evaluating any query against any entry returns
//! a bool; and the narrowing admits every entry the query matches (its documented promise).

use serde_json::{Value, json};

/// `data` is a filter, optionally followed by a NUL byte and a LogEntry as JSON. The filter is
/// tested against that entry (when it parses) and a few fixed ones, and each match is checked
/// against [`crate::Query::restrictions`].
pub fn fuzz_query(data: &[u8]) {
    let (filter, entry) = match data.iter().position(|&b| b == 0) {
        Some(nul) => (
            &data[..nul],
            serde_json::from_slice::<Value>(&data[nul + 1..]).ok(),
        ),
        None => (data, None),
    };
    let Ok(filter) = std::str::from_utf8(filter) else {
        return;
    };
    let Ok(query) = crate::parse(filter) else {
        return;
    };
    let narrowing = query.restrictions();
    let _ = narrowing.is_unrestricted();
    for entry in entry.iter().chain(fixed_entries().iter()) {
        if query.matches(entry) {
            assert!(
                narrowing.admits(entry),
                "{filter:?} matches {entry} but its narrowing {narrowing:?} rejects it"
            );
        }
    }
}

fn fixed_entries() -> [Value; 4] {
    [
        json!({}),
        json!({"insertId": "e01", "logName": "projects/demo/logs/stdout",
            "resource": {"type": "k8s_container", "labels": {"cluster_name": "c1", "pod_name": "api-7d9f"}},
            "severity": "ERROR", "timestamp": "2026-11-25T10:05:00.123456Z",
            "labels": {"k8s-pod/app": "fastapi"},
            "jsonPayload": {"message": "Database connection failed", "code": 503, "retries": [1, 2.5, null],
                "ok": false, "user": {"id": "u-42"}},
            "httpRequest": {"status": 504, "latency": "1.500s", "remoteIp": "203.0.113.7"},
            "trace": "projects/demo/traces/abc123", "traceSampled": true}),
        json!({"logName": "projects/demo/logs/cloudaudit.googleapis.com%2Factivity",
            "resource": {"type": "gce_instance"}, "severity": 400,
            "timestamp": "2026-11-24T23:59:59+09:00", "textPayload": "kernel: Out of memory ログ"}),
        json!({"severity": "warning", "timestamp": 17, "textPayload": null,
            "labels": {"": "", "a.b": "1e3"}, "jsonPayload": {"": {"": []}}}),
    ]
}
