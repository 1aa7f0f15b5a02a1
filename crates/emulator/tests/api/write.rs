//! `entries:write`: every field round-trips, defaults merge, validation answers like the real
//! API (Google's error JSON, per-entry details), partialSuccess, dryRun, gzip, dedup.

use std::io::Write;

use gcloud_logging::{ErrorBody, MAX_REQUEST_BYTES};
use serde_json::{Value, json};

use crate::support::{Server, container_resource};

fn error_of(resp: &emulator::client::HttpResponse) -> ErrorBody {
    serde_json::from_slice(&resp.body).unwrap_or_else(|e| {
        panic!(
            "not Google's error JSON ({e}): {}",
            String::from_utf8_lossy(&resp.body)
        )
    })
}

#[tokio::test]
async fn every_field_round_trips() {
    let server = Server::start().await;
    let entry = json!({
        "logName": "projects/p/logs/app%2Fweb",
        "resource": {"type": "k8s_container", "labels": {"cluster_name": "c", "pod_name": "p-1"}},
        "insertId": "id-1",
        "timestamp": "2026-11-25T10:00:00.123456789Z",
        "severity": "NOTICE",
        "labels": {"k": "v"},
        "httpRequest": {
            "requestMethod": "GET", "requestUrl": "/x", "requestSize": "10", "status": 200,
            "responseSize": "20", "userAgent": "ua", "remoteIp": "10.0.0.1", "serverIp": "10.0.0.2",
            "referer": "r", "latency": "0.120s", "cacheLookup": true, "cacheHit": false,
            "cacheValidatedWithOriginServer": true, "cacheFillBytes": "5", "protocol": "HTTP/1.1"
        },
        "operation": {"id": "op", "producer": "prod", "first": true, "last": false},
        "trace": "projects/p/traces/abc",
        "spanId": "000000000000004a",
        "traceSampled": true,
        "sourceLocation": {"file": "main.py", "line": "42", "function": "f"},
        "split": {"uid": "u", "index": 1, "totalSplits": 2},
        "jsonPayload": {"message": "hi", "nested": {"n": 1.5, "list": [1, "a", null]}}
    });
    let resp = server.write(json!({"entries": [entry]})).await;
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    assert_eq!(resp.json(), json!({}));
    let got = server.list(json!({"resourceNames": ["projects/p"]})).await;
    let mut got = got["entries"][0].clone();
    assert!(got["receiveTimestamp"].is_string());
    got.as_object_mut().unwrap().remove("receiveTimestamp");
    // Like Cloud Logging (proto3), false booleans are not echoed.
    let mut expected = entry.clone();
    expected["httpRequest"]
        .as_object_mut()
        .unwrap()
        .remove("cacheHit");
    expected["operation"]
        .as_object_mut()
        .unwrap()
        .remove("last");
    assert_eq!(got, expected);

    // The snake_case names Google's Python client sends are accepted too.
    let resp = server
        .write(json!({"log_name": "projects/p/logs/snake", "resource": {"type": "global"},
            "entries": [{"text_payload": "s", "insert_id": "snake-1", "span_id": "1"}], "dry_run": false}))
        .await;
    assert_eq!(resp.status, 200);
    let got = server
        .list(json!({"resourceNames": ["projects/p"], "filter": "log_id(\"snake\")"}))
        .await;
    assert_eq!(got["entries"][0]["textPayload"], "s");
    assert_eq!(got["entries"][0]["insertId"], "snake-1");
    server.stop().await;
}

#[tokio::test]
async fn request_defaults_merge_and_the_server_fills_ids_and_times() {
    let server = Server::start().await;
    let resp = server
        .write(json!({
            "logName": "projects/p/logs/app.log",
            "resource": container_resource("fastapi-cluster"),
            "labels": {"shared": "req", "both": "req"},
            "entries": [
                {"textPayload": "one", "labels": {"both": "entry"}},
                {"textPayload": "two", "logName": "projects/p/logs/other", "resource": {"type": "global"}},
                {"textPayload": "three"}
            ]
        }))
        .await;
    assert_eq!(resp.status, 200);
    let got = server.list(json!({"resourceNames": ["projects/p"]})).await;
    let e = got["entries"].as_array().unwrap();
    assert_eq!(e.len(), 3);
    assert_eq!(
        e.iter()
            .map(|e| e["textPayload"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["one", "two", "three"]
    );
    assert_eq!(e[0]["labels"], json!({"shared": "req", "both": "entry"}));
    assert_eq!(e[1]["labels"], json!({"shared": "req", "both": "req"}));
    assert_eq!(e[0]["logName"], "projects/p/logs/app.log");
    assert_eq!(e[1]["logName"], "projects/p/logs/other");
    assert_eq!(e[1]["resource"], json!({"type": "global"}));
    assert_eq!(e[2]["resource"], container_resource("fastapi-cluster"));
    // Server-filled insertIds sort in list order; timestamps default to the receive time.
    let ids: Vec<&str> = e.iter().map(|e| e["insertId"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    assert!(ids[0] != ids[1] && ids[1] != ids[2]);
    for e in e {
        assert_eq!(e["timestamp"], e["receiveTimestamp"]);
    }
    server.stop().await;
}

#[tokio::test]
async fn invalid_entries_get_googles_error_json_and_nothing_is_written() {
    let server = Server::start().await;
    let future =
        gcloud_logging::Timestamp::new(gcloud_logging::Timestamp::now().seconds + 25 * 3600, 0)
            .unwrap();
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"logName": "projects/p/logs/a b", "resource": {"type": "global"}}),
            "not a valid log name",
        ),
        (
            json!({"logName": "app.log", "resource": {"type": "global"}}),
            "not a valid log name",
        ),
        (
            json!({"logName": format!("projects/p/logs/{}", "x".repeat(513)), "resource": {"type": "global"}}),
            "longer than 512",
        ),
        (
            json!({"resource": {"type": "global"}}),
            "log name is required",
        ),
        (json!({"logName": "projects/p/logs/x"}), "resource"),
        (
            json!({"logName": "projects/p/logs/x", "resource": {"type": "global"}, "textPayload": "a", "jsonPayload": {}}),
            "at most one",
        ),
        (
            json!({"logName": "projects/p/logs/x", "resource": {"type": "global"}, "timestamp": future.to_string()}),
            "future",
        ),
        (
            json!({"logName": "projects/p/logs/x", "resource": {"type": "global"}, "textPayload": "x".repeat(300 * 1024)}),
            "exceeds maximum size",
        ),
        (
            json!({"logName": "projects/p/logs/x", "resource": {"type": "global"}, "severity": "LOUD"}),
            "Invalid LogEntry",
        ),
        (
            json!({"logName": "projects/p/logs/x", "resource": {"type": "global"}, "timestamp": "yesterday"}),
            "Invalid LogEntry",
        ),
    ];
    for (bad, expected) in cases {
        let good = json!({"logName": "projects/p/logs/ok", "resource": {"type": "global"}, "textPayload": "fine"});
        let resp = server.write(json!({"entries": [good, bad.clone()]})).await;
        assert_eq!(resp.status, 400, "{bad}");
        let err = error_of(&resp);
        assert_eq!(err.error.code, 400);
        assert_eq!(err.error.status, "INVALID_ARGUMENT");
        assert!(
            err.error.message.contains(expected),
            "{bad}: {}",
            err.error.message
        );
        let partial = err
            .partial_errors()
            .expect("WriteLogEntriesPartialErrors detail");
        assert_eq!(
            partial.log_entry_errors.keys().copied().collect::<Vec<_>>(),
            [1]
        );
        assert_eq!(partial.log_entry_errors[&1].code, 3);
    }
    // Without partialSuccess the valid entry beside each bad one was not written.
    assert!(server.list_all("p", "").await.is_empty());

    // Request-level errors.
    let resp = server
        .client
        .request(
            "POST",
            "/v2/entries:write",
            Some(("application/json", b"{nope")),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(resp.status, 400);
    assert_eq!(error_of(&resp).error.status, "INVALID_ARGUMENT");
    let resp = server.write(json!({"entries": []})).await;
    assert_eq!(resp.status, 400);
    let huge = vec![b' '; MAX_REQUEST_BYTES + 1];
    let resp = server
        .client
        .request(
            "POST",
            "/v2/entries:write",
            Some(("application/json", &huge)),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(resp.status, 400);
    assert!(error_of(&resp).error.message.contains("exceeds the limit"));
    let resp = server
        .client
        .request("GET", "/v2/nothing", None, &[])
        .await
        .unwrap();
    assert_eq!(resp.status, 404);
    assert_eq!(error_of(&resp).error.status, "NOT_FOUND");
    server.stop().await;
}

#[tokio::test]
async fn partial_success_writes_the_valid_entries_and_reports_the_bad_indices() {
    let server = Server::start().await;
    let entries: Vec<Value> = (0..100)
        .map(|i| match i {
            17 => json!({"textPayload": "bad", "logName": "projects/p/logs/bad name"}),
            63 => json!({"textPayload": "bad", "jsonPayload": {"also": "bad"}}),
            _ => json!({"textPayload": format!("line {i}"), "insertId": format!("{i:03}")}),
        })
        .collect();
    let resp = server
        .write(json!({
            "logName": "projects/p/logs/app.log", "resource": {"type": "global"},
            "partialSuccess": true, "entries": entries
        }))
        .await;
    assert_eq!(resp.status, 400);
    let err = error_of(&resp);
    assert_eq!(err.error.status, "INVALID_ARGUMENT");
    let partial = err.partial_errors().unwrap();
    assert_eq!(
        partial.log_entry_errors.keys().copied().collect::<Vec<_>>(),
        [17, 63]
    );
    assert!(partial.log_entry_errors[&17].message.contains("log name"));
    assert!(
        partial.log_entry_errors[&63]
            .message
            .contains("at most one")
    );
    let stored = server.list_all("p", "").await;
    assert_eq!(stored.len(), 98);
    assert!(stored.iter().all(|e| e["textPayload"] != "bad"));
    server.stop().await;
}

#[tokio::test]
async fn dry_run_validates_without_writing() {
    let server = Server::start().await;
    for flag in ["dryRun", "dry_run"] {
        let mut body = json!({"logName": "projects/p/logs/x", "resource": {"type": "global"}, "entries": [{"textPayload": "t"}]});
        body[flag] = json!(true);
        assert_eq!(server.write(body.clone()).await.status, 200);
        body["entries"] = json!([{"textPayload": "t", "logName": "bad"}]);
        assert_eq!(server.write(body).await.status, 400);
    }
    assert!(server.list_all("p", "").await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn gzip_bodies_are_accepted() {
    let server = Server::start().await;
    let body = serde_json::to_vec(&json!({
        "logName": "projects/p/logs/gz", "resource": {"type": "global"},
        "entries": [{"textPayload": "zipped"}]
    }))
    .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&body).unwrap();
    let gz = gz.finish().unwrap();
    let resp = server
        .client
        .request(
            "POST",
            "/v2/entries:write",
            Some(("application/json", &gz)),
            &[("Content-Encoding", "gzip")],
        )
        .await
        .unwrap();
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    let got = server.list_all("p", "").await;
    assert_eq!(got[0]["textPayload"], "zipped");
    let resp = server
        .client
        .request(
            "POST",
            "/v2/entries:write",
            Some(("application/json", b"not gzip")),
            &[("Content-Encoding", "gzip")],
        )
        .await
        .unwrap();
    assert_eq!(resp.status, 400);
    server.stop().await;
}

/// A large request is prepared in parts, one per core: the errors still name the entries'
/// own indices, and the insertIds the emulator gives follow the entries' order.
#[tokio::test]
async fn a_large_request_keeps_its_indices_and_its_order() {
    let server = Server::start().await;
    let bad = [1, 2_999, 4_321];
    let entries: Vec<Value> = (0..5_000)
        .map(|i| {
            if bad.contains(&i) {
                json!({"textPayload": "bad", "severity": "LOUD"})
            } else {
                json!({"textPayload": format!("line {i:05}")})
            }
        })
        .collect();
    let resp = server
        .write(json!({
            "logName": "projects/p/logs/big", "resource": {"type": "global"},
            "partialSuccess": true, "entries": entries
        }))
        .await;
    assert_eq!(resp.status, 400);
    let partial = error_of(&resp).partial_errors().unwrap();
    assert_eq!(
        partial.log_entry_errors.keys().copied().collect::<Vec<_>>(),
        bad
    );
    // One timestamp for all (the request's receive time): insertId orders them.
    let stored = server.list_all("p", "").await;
    assert_eq!(stored.len(), 4_997);
    let lines: Vec<&str> = stored
        .iter()
        .map(|e| e["textPayload"].as_str().unwrap())
        .collect();
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted, "listed in the order they were written");
    server.stop().await;
}

/// A body that is not a request at all is refused as a whole, with what is wrong with it.
#[tokio::test]
async fn malformed_bodies_are_refused_with_what_is_wrong() {
    let server = Server::start().await;
    let cases: [(&[u8], &str); 6] = [
        (b"{\"entries\": [", "Invalid JSON payload received"),
        (b"not json", "Invalid JSON payload received"),
        (b"[{\"textPayload\": \"x\"}]", "must be a JSON object"),
        (
            b"{\"entries\": {\"textPayload\": \"x\"}}",
            "entries: must be a list",
        ),
        (
            b"{\"partialSuccess\": \"maybe\", \"entries\": [{}]}",
            "Invalid JSON payload received",
        ),
        (b"{\"entries\": null}", "at least one log entry"),
    ];
    for (body, expected) in cases {
        let resp = server
            .client
            .request(
                "POST",
                "/v2/entries:write",
                Some(("application/json", body)),
                &[],
            )
            .await
            .unwrap();
        let shown = String::from_utf8_lossy(body);
        assert_eq!(resp.status, 400, "{shown}");
        let err = error_of(&resp);
        assert_eq!(err.error.status, "INVALID_ARGUMENT", "{shown}");
        assert!(
            err.error.message.contains(expected),
            "{shown}: {}",
            err.error.message
        );
    }
    assert!(server.list_all("p", "").await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn same_insert_id_and_timestamp_is_stored_once_first_write_wins() {
    let server = Server::start().await;
    let write = |payload: &str, ts: &str| {
        json!({"logName": "projects/p/logs/x", "resource": {"type": "global"},
            "entries": [{"insertId": "dup", "timestamp": ts, "textPayload": payload}]})
    };
    assert_eq!(
        server
            .write(write("first", "2026-01-01T00:00:00Z"))
            .await
            .status,
        200
    );
    assert_eq!(
        server
            .write(write("second", "2026-01-01T00:00:00Z"))
            .await
            .status,
        200
    );
    // Same instant written differently is still the same timestamp.
    assert_eq!(
        server
            .write(write("third", "2026-01-01T09:00:00+09:00"))
            .await
            .status,
        200
    );
    // A different timestamp is a different entry.
    assert_eq!(
        server
            .write(write("fourth", "2026-01-01T00:00:01Z"))
            .await
            .status,
        200
    );
    // Another project is another namespace.
    let mut other = write("other", "2026-01-01T00:00:00Z");
    other["logName"] = json!("projects/q/logs/x");
    assert_eq!(server.write(other).await.status, 200);
    let got = server.list_all("p", "").await;
    let payloads: Vec<&str> = got
        .iter()
        .map(|e| e["textPayload"].as_str().unwrap())
        .collect();
    assert_eq!(payloads, ["first", "fourth"]);
    assert_eq!(server.list_all("q", "").await.len(), 1);
    server.stop().await;
}
