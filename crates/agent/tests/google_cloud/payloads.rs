//! What the requests carry: text lines as `textPayload`, JSON records with every special
//! field lifted, Python logging lines verbatim, log names per tag, gzip bodies.

use super::*;

#[tokio::test]
async fn text_lines_are_sent_as_text_payload_entries() {
    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    let mut cfg = config(&logging, dir.path());
    cfg.labels = [("env".to_owned(), "test".to_owned())].into();
    let sink = start_sink(cfg).await;
    let t = ts("2026-11-25T10:00:00.123456789Z");
    send(
        &sink,
        vec![
            line(
                "app.log",
                7,
                0,
                b"INFO: 10.0.0.1 \"GET /health HTTP/1.1\" 200 OK",
                t,
            ),
            line(
                "app.log",
                7,
                46,
                b"tab\there, emoji \xf0\x9f\x98\x80, bad \xff byte",
                t,
            ),
        ],
    )
    .await;
    let requests = logging.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].headers["content-type"], "application/json");
    assert!(requests[0].headers.get("authorization").is_none());
    let body = String::from_utf8(requests[0].body.clone()).unwrap();
    assert_eq!(
        body,
        concat!(
            // One tag in the chunk: the log is named once, in the request.
            r#"{"labels":{"env":"test"},"logName":"projects/test-project/logs/app.log","partialSuccess":true,"resource":{"labels":{"project_id":"test-project"},"type":"global"},"entries":["#,
            r#"{"insertId":"00000000000000070000000000000000","timestamp":"2026-11-25T10:00:00.123456789Z","textPayload":"INFO: 10.0.0.1 \"GET /health HTTP/1.1\" 200 OK"},"#,
            r#"{"insertId":"0000000000000007000000000000002e","timestamp":"2026-11-25T10:00:00.123456789Z","textPayload":"tab\there, emoji 😀, bad � byte"}"#,
            "]}"
        )
    );
    assert_eq!(stat(&sink.stats().entries_delivered), 2);
}

#[tokio::test]
async fn json_records_lift_every_special_field() {
    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    let mut cfg = config(&logging, dir.path());
    cfg.detect_json = true;
    let sink = start_sink(cfg).await;
    let record = json!({
        "severity": "warn",
        "message": "slow request",
        "time": "2026-11-25T10:00:01.5Z",
        "httpRequest": {"requestMethod": "GET", "requestUrl": "/items/1", "status": 200,
                        "latency": "0.120s", "responseSize": "512", "remoteIp": "10.0.0.1"},
        "logging.googleapis.com/insertId": "custom-id-1",
        "logging.googleapis.com/labels": {"route": "/items"},
        "logging.googleapis.com/operation": {"id": "op1", "producer": "api", "first": true},
        "logging.googleapis.com/sourceLocation": {"file": "main.py", "line": "42", "function": "get_item"},
        "logging.googleapis.com/spanId": "000000000000004a",
        "logging.googleapis.com/trace": "4bf92f3577b34da6a3ce929d0e0e4736",
        "logging.googleapis.com/trace_sampled": true,
        "user": {"id": 7}
    });
    let Value::Object(map) = record.clone() else {
        unreachable!()
    };
    let t = ts("2026-11-25T10:00:00Z");
    let mut text_line = line("api", 1, 0, record.to_string().as_bytes(), t);
    text_line.origin = Some(Origin { file: 1, offset: 0 });
    let map_event = Event {
        tag: "api".into(),
        time: t,
        record: Record::Map(map),
        origin: None,
    };
    let lone_message = Event {
        tag: "api".into(),
        time: t,
        record: Record::Map(json!({"message": "just text"}).as_object().unwrap().clone()),
        origin: Some(Origin {
            file: 1,
            offset: 900,
        }),
    };
    send(&sink, vec![map_event, text_line, lone_message]).await;
    let body = body_json(&logging, 0);
    assert_eq!(body["logName"], "projects/test-project/logs/api");
    let expected = json!({
        "insertId": "custom-id-1",
        "timestamp": "2026-11-25T10:00:01.500Z",
        "severity": "WARNING",
        "labels": {"route": "/items"},
        "httpRequest": {"requestMethod": "GET", "requestUrl": "/items/1", "status": 200,
                        "latency": "0.120s", "responseSize": "512", "remoteIp": "10.0.0.1"},
        "operation": {"id": "op1", "producer": "api", "first": true},
        "trace": "projects/test-project/traces/4bf92f3577b34da6a3ce929d0e0e4736",
        "spanId": "000000000000004a",
        "traceSampled": true,
        "sourceLocation": {"file": "main.py", "line": "42", "function": "get_item"},
        "jsonPayload": {"message": "slow request", "user": {"id": 7}}
    });
    assert_eq!(body["entries"][0], expected);
    // The same record as a `format none` line with `detect_json`.
    assert_eq!(body["entries"][1], expected);
    assert_eq!(
        body["entries"][2],
        json!({
            "insertId": "00000000000000010000000000000384",
            "timestamp": "2026-11-25T10:00:00Z",
            "textPayload": "just text"
        })
    );
}

#[tokio::test]
async fn python_logging_text_lines_are_sent_verbatim() {
    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    let sink = start_sink(config(&logging, dir.path())).await;
    let python = [
        "INFO:     10.0.0.1:51234 - \"GET /items/1 HTTP/1.1\" 200 OK",
        "2026-11-25 10:00:00,123 - app.main - WARNING - cache miss for key='user:7'",
        "Traceback (most recent call last):",
        "  File \"/app/main.py\", line 42, in get_item",
        "    raise KeyError(\"item\")",
        "KeyError: 'item'",
        "{not json, but starts with a brace",
    ];
    let t = ts("2026-11-25T10:00:00.000001Z");
    let mut offset = 0;
    let events = python
        .iter()
        .map(|text| {
            let e = line("app.log", 3, offset, text.as_bytes(), t);
            offset += text.len() as u64 + 1;
            e
        })
        .collect();
    send(&sink, events).await;
    let accepted = logging.accepted();
    let texts: Vec<&str> = accepted
        .iter()
        .map(|e| e.text_payload.as_deref().unwrap())
        .collect();
    assert_eq!(texts, python);
    let body = body_json(&logging, 0);
    assert_eq!(body["logName"], "projects/test-project/logs/app.log");
    assert_eq!(
        body["entries"][3],
        json!({
            "insertId": "000000000000000300000000000000a8",
            "timestamp": "2026-11-25T10:00:00.000001Z",
            "textPayload": "  File \"/app/main.py\", line 42, in get_item"
        })
    );
}

#[tokio::test]
async fn gzip_bodies_decompress_to_the_same_json() {
    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    let mut cfg = config(&logging, dir.path());
    cfg.compress = Compression::Gzip;
    let sink = start_sink(cfg).await;
    send(&sink, lines(200, 300)).await;
    let r = &logging.requests()[0];
    assert_eq!(r.headers["content-encoding"], "gzip");
    assert!(
        r.wire_len * 5 < r.body.len(),
        "{} vs {}",
        r.wire_len,
        r.body.len()
    );
    assert_eq!(logging.accepted().len(), 200);
}

#[tokio::test]
async fn a_chunk_of_several_tags_names_the_log_in_each_entry() {
    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    let sink = start_sink(config(&logging, dir.path())).await;
    let t = ts("2026-11-25T10:00:00Z");
    send(
        &sink,
        vec![line("app.log", 1, 0, b"a1", t), line("web", 2, 0, b"w1", t)],
    )
    .await;
    let body = body_json(&logging, 0);
    assert!(body.get("logName").is_none(), "{body}");
    assert_eq!(
        body["entries"][0]["logName"],
        "projects/test-project/logs/app.log"
    );
    assert_eq!(
        body["entries"][1]["logName"],
        "projects/test-project/logs/web"
    );
    let accepted = logging.accepted();
    let names: Vec<&str> = accepted
        .iter()
        .map(|e| e.log_name.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(
        names,
        [
            "projects/test-project/logs/app.log",
            "projects/test-project/logs/web"
        ]
    );
}

#[tokio::test]
async fn split_logs_by_tag_sends_one_request_per_tag() {
    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    let mut cfg = config(&logging, dir.path());
    cfg.split_logs_by_tag = true;
    let sink = start_sink(cfg).await;
    let t = ts("2026-11-25T10:00:00Z");
    send(
        &sink,
        vec![
            line("app.log", 1, 0, b"a1", t),
            line("web/access log", 2, 0, b"w1", t),
            line("app.log", 1, 3, b"a2", t),
        ],
    )
    .await;
    let bodies: Vec<Value> = (0..2).map(|i| body_json(&logging, i)).collect();
    assert_eq!(bodies[0]["logName"], "projects/test-project/logs/app.log");
    assert_eq!(bodies[0]["entries"].as_array().unwrap().len(), 2);
    assert!(bodies[0]["entries"][0].get("logName").is_none());
    // The space is not allowed in a log id: it becomes `_` (see `gcloud_logging::log_id`).
    assert_eq!(
        bodies[1]["logName"],
        "projects/test-project/logs/web%2Faccess_log"
    );
}
