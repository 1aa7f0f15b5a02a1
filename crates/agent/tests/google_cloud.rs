//! The `google_cloud` output against fake Google endpoints on 127.0.0.1: request bodies, resource
//! detection, tokens, size limits, retries, partial errors and idempotent resends.

#[path = "google_cloud/fake.rs"]
#[allow(dead_code)]
mod fake;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use agent::ack::Ack;
use agent::event::{Event, Origin, Record};
use agent::sinks::google_cloud::{
    self, AuthMode, Compression, GoogleCloudConfig, GoogleCloudSink, GoogleCloudStats,
};
use agent::sinks::{BufferConfig, Delivery, RoutedBatch, Sink, spawn_output};
use bytes::Bytes;
use fake::{FakeLogging, FakeMetadata, FakeTokenServer, RejectAs, Scripted};
use gcloud_logging::{LogEntry, Timestamp};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const DEADLINE: Duration = Duration::from_secs(60);

fn ts(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

fn line(tag: &str, file: u64, offset: u64, text: &[u8], time: Timestamp) -> Event {
    Event {
        tag: tag.into(),
        time,
        record: Record::Line(Bytes::copy_from_slice(text)),
        origin: Some(Origin { file, offset }),
    }
}

fn lines(count: usize, size: usize) -> Vec<Event> {
    let time = ts("2026-11-25T10:00:00Z");
    let mut offset = 0;
    (0..count)
        .map(|i| {
            let mut text = format!("line {i:06} ").into_bytes();
            text.resize(size, b'x');
            let event = line("app.log", 42, offset, &text, time);
            offset += size as u64 + 1;
            event
        })
        .collect()
}

fn config(logging: &FakeLogging, dir: &Path) -> GoogleCloudConfig {
    GoogleCloudConfig {
        project_id: Some("test-project".into()),
        endpoint: logging.endpoint(),
        endpoint_explicit: true,
        use_metadata_service: false,
        dead_letter_path: dir.join("dead-letter.jsonl"),
        ..GoogleCloudConfig::default()
    }
}

async fn start_sink(config: GoogleCloudConfig) -> Arc<GoogleCloudSink> {
    google_cloud::build_sink(config).await.unwrap()
}

async fn send(sink: &GoogleCloudSink, events: Vec<Event>) {
    tokio::time::timeout(DEADLINE, sink.send(Delivery::new(events)))
        .await
        .expect("send timed out")
        .1
        .expect("send failed");
}

fn body_json(logging: &FakeLogging, i: usize) -> Value {
    serde_json::from_slice(&logging.requests()[i].body).unwrap()
}

fn stat(counter: &std::sync::atomic::AtomicU64) -> u64 {
    GoogleCloudStats::get(counter)
}

fn dead_letters(dir: &Path) -> Vec<Value> {
    match std::fs::read_to_string(dir.join("dead-letter.jsonl")) {
        Ok(text) => text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// A port nothing listens on.
async fn closed_port() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr.to_string()
}

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

fn gke_values() -> Vec<(&'static str, &'static str)> {
    vec![
        ("project/project-id", "gke-project"),
        ("instance/zone", "projects/123456/zones/asia-northeast1-a"),
        ("instance/id", "8812345"),
        ("instance/name", "gke-node-1"),
        ("instance/attributes/cluster-name", "fastapi-cluster"),
        ("instance/attributes/cluster-location", "asia-northeast1"),
    ]
}

#[tokio::test]
async fn resource_is_detected_on_gke() {
    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    let metadata = FakeMetadata::start(&gke_values(), Duration::from_secs(3600)).await;
    let mut cfg = config(&logging, dir.path());
    cfg.project_id = None;
    cfg.use_metadata_service = true;
    cfg.metadata_host = metadata.host();
    cfg.k8s_pod_name = Some("api-7d9f".into());
    cfg.k8s_namespace_name = Some("default".into());
    cfg.k8s_container_name = Some("logferry".into());
    let sink = start_sink(cfg.clone()).await;
    let resolved = sink.resolved();
    assert_eq!(resolved.project_id, "gke-project");
    assert_eq!(
        serde_json::to_value(&resolved.resource).unwrap(),
        json!({"type": "k8s_container", "labels": {
            "project_id": "gke-project", "location": "asia-northeast1", "cluster_name": "fastapi-cluster",
            "namespace_name": "default", "pod_name": "api-7d9f", "container_name": "logferry"}})
    );
    send(&sink, lines(1, 10)).await;
    assert_eq!(body_json(&logging, 0)["resource"]["type"], "k8s_container");
    assert_eq!(
        body_json(&logging, 0)["logName"],
        "projects/gke-project/logs/app.log"
    );

    // The legacy type the original fluentd-gcp image wrote.
    cfg.resource_type = Some("container".into());
    let legacy = google_cloud::build_sink(cfg).await.unwrap();
    assert_eq!(
        serde_json::to_value(&legacy.resolved().resource).unwrap(),
        json!({"type": "container", "labels": {
            "project_id": "gke-project", "cluster_name": "fastapi-cluster", "namespace_id": "default",
            "instance_id": "8812345", "pod_id": "api-7d9f", "container_name": "logferry",
            "zone": "asia-northeast1-a"}})
    );
}

#[tokio::test]
async fn resource_is_detected_on_gce() {
    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    let values: Vec<_> = gke_values()
        .into_iter()
        .filter(|(k, _)| !k.contains("cluster"))
        .collect();
    let metadata = FakeMetadata::start(&values, Duration::from_secs(3600)).await;
    let mut cfg = config(&logging, dir.path());
    cfg.project_id = None;
    cfg.use_metadata_service = true;
    cfg.metadata_host = metadata.host();
    let sink = start_sink(cfg).await;
    assert_eq!(
        serde_json::to_value(&sink.resolved().resource).unwrap(),
        json!({"type": "gce_instance", "labels": {
            "project_id": "gke-project", "instance_id": "8812345", "zone": "asia-northeast1-a"}})
    );
}

#[tokio::test]
async fn resource_is_global_without_a_metadata_server() {
    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    let mut cfg = config(&logging, dir.path());
    cfg.use_metadata_service = true;
    cfg.metadata_host = closed_port().await;
    let sink = start_sink(cfg.clone()).await;
    assert_eq!(
        serde_json::to_value(&sink.resolved().resource).unwrap(),
        json!({"type": "global", "labels": {"project_id": "test-project"}})
    );
    cfg.project_id = None;
    let error = google_cloud::build_sink(cfg).await.err().unwrap();
    assert!(
        matches!(
            error,
            google_cloud::BuildError::Metadata(google_cloud::MetadataError::UnknownProject)
        ),
        "{error}"
    );
    assert!(error.to_string().contains("project_id"), "{error}");
}

#[tokio::test]
async fn metadata_token_is_fetched_refreshed_in_the_background_and_after_a_401() {
    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    // A token with a minute left is inside the refresh margin: used, and replaced in the background.
    let metadata = FakeMetadata::start(&gke_values(), Duration::from_secs(60)).await;
    let mut cfg = config(&logging, dir.path());
    cfg.auth = AuthMode::Metadata;
    cfg.metadata_host = metadata.host();
    let sink = start_sink(cfg).await;
    send(&sink, lines(1, 10)).await;
    let auth = |i: usize| {
        logging.requests()[i].headers["authorization"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(auth(0), "Bearer meta-token-1");
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        send(&sink, lines(1, 10)).await;
        let last = logging.requests().len() - 1;
        if auth(last) != "Bearer meta-token-1" {
            assert_eq!(auth(last), "Bearer meta-token-2");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no background refresh"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A long-lived token is kept until the API rejects it; one 401 forces one refresh.
    let logging = FakeLogging::start().await;
    let metadata = FakeMetadata::start(&gke_values(), Duration::from_secs(3600)).await;
    let mut cfg = config(&logging, dir.path());
    cfg.auth = AuthMode::Metadata;
    cfg.metadata_host = metadata.host();
    let sink = start_sink(cfg).await;
    send(&sink, lines(1, 10)).await;
    send(&sink, lines(1, 10)).await;
    assert_eq!(metadata.tokens_issued.load(Ordering::SeqCst), 1);
    logging.require_token("meta-token-2");
    send(&sink, lines(1, 10)).await;
    let requests = logging.requests();
    assert_eq!(requests.len(), 4);
    assert_eq!(requests[2].headers["authorization"], "Bearer meta-token-1");
    assert_eq!(requests[3].headers["authorization"], "Bearer meta-token-2");
    assert_eq!(stat(&sink.stats().token_refreshes_forced), 1);
    assert_eq!(stat(&sink.stats().entries_delivered), 3);
}

fn openssl(args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn service_account_key_signs_a_jwt_the_token_endpoint_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    let public = dir.path().join("public.der");
    let key_s = key.to_str().unwrap();
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        key_s,
    ]);
    openssl(&[
        "rsa",
        "-in",
        key_s,
        "-RSAPublicKey_out",
        "-outform",
        "DER",
        "-out",
        public.to_str().unwrap(),
    ]);
    let email = "logferry@key-project.iam.gserviceaccount.com";
    let tokens = FakeTokenServer::start(std::fs::read(&public).unwrap(), email).await;
    let key_file = dir.path().join("sa.json");
    let key_json = json!({
        "type": "service_account",
        "project_id": "key-project",
        "private_key_id": "abc",
        "private_key": std::fs::read_to_string(&key).unwrap(),
        "client_email": email,
        "token_uri": format!("http://{}/token", tokens.addr),
    });
    std::fs::write(&key_file, key_json.to_string()).unwrap();

    let logging = FakeLogging::start().await;
    let mut cfg = config(&logging, dir.path());
    cfg.project_id = None;
    cfg.auth = AuthMode::ServiceAccount;
    cfg.credentials_path = Some(key_file.clone());
    let sink = start_sink(cfg.clone()).await;
    assert_eq!(sink.resolved().project_id, "key-project");
    send(&sink, lines(2, 10)).await;
    assert_eq!(tokens.verified.load(Ordering::SeqCst), 1);
    assert_eq!(
        logging.requests()[0].headers["authorization"],
        "Bearer sa-token-1"
    );

    // `auth auto` sends no token to an explicit http:// endpoint (the emulator), key file or not.
    cfg.auth = AuthMode::Auto;
    cfg.project_id = Some("test-project".into());
    let sink = google_cloud::build_sink(cfg).await.unwrap();
    send(&sink, lines(1, 10)).await;
    assert!(logging.requests()[1].headers.get("authorization").is_none());
}

#[tokio::test]
async fn a_300_kib_line_arrives_split_and_reassembles() {
    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    let sink = start_sink(config(&logging, dir.path())).await;
    let mut text = String::new();
    let mut i = 0;
    while text.len() < 300 * 1024 {
        text.push_str(&format!("{i} \"quoted\" ログ\t"));
        i += 1;
    }
    let t = ts("2026-11-25T10:00:00Z");
    let mut events = lines(2, 100);
    events.insert(1, line("app.log", 42, 101, text.as_bytes(), t));
    send(&sink, events).await;
    let accepted = logging.accepted();
    let parts: Vec<&LogEntry> = accepted.iter().filter(|e| e.split.is_some()).collect();
    assert!(parts.len() >= 2, "{} parts", parts.len());
    assert_eq!(accepted.len(), parts.len() + 2);
    let uid = &parts[0].split.as_ref().unwrap().uid;
    let mut joined = String::new();
    for (i, part) in parts.iter().enumerate() {
        let split = part.split.as_ref().unwrap();
        assert_eq!(&split.uid, uid);
        assert_eq!(split.index as usize, i);
        assert_eq!(split.total_splits as usize, parts.len());
        assert_eq!(part.insert_id.as_deref().unwrap(), format!("{uid}-{i:08x}"));
        assert_eq!(part.timestamp, Some(t));
        assert!(serde_json::to_vec(part).unwrap().len() <= gcloud_logging::MAX_ENTRY_BYTES);
        joined.push_str(part.text_payload.as_deref().unwrap());
    }
    assert_eq!(joined, text);
    assert!(
        logging
            .requests()
            .iter()
            .all(|r| r.body.len() <= gcloud_logging::MAX_REQUEST_BYTES)
    );
}

#[tokio::test]
async fn twenty_thousand_1kib_lines_never_exceed_the_request_limit() {
    for (limit, chunk) in [
        (1_000_000, 2_000),
        (gcloud_logging::MAX_REQUEST_BYTES, 20_000),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let logging = FakeLogging::start().await;
        let mut cfg = config(&logging, dir.path());
        cfg.max_request_bytes = limit;
        let sink = start_sink(cfg).await;
        let all = lines(20_000, 1024);
        for events in all.chunks(chunk) {
            send(&sink, events.to_vec()).await;
        }
        let requests = logging.requests();
        assert!(requests.len() > 20_000 * 1024 / limit);
        for r in &requests {
            assert!(r.body.len() <= limit, "{} > {limit}", r.body.len());
        }
        let ids: BTreeSet<String> = logging
            .accepted()
            .into_iter()
            .map(|e| e.insert_id.unwrap())
            .collect();
        assert_eq!(ids.len(), 20_000);
    }
}

#[tokio::test]
async fn an_endpoint_that_throttles_fails_and_resets_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    logging.script([
        Scripted::Status(429, Some(0)),
        Scripted::Status(503, None),
        Scripted::Reset,
        Scripted::Pass,
        Scripted::Status(500, None),
        Scripted::Reset,
        Scripted::Status(429, None),
        Scripted::Pass,
        Scripted::Status(502, None),
    ]);
    let mut cfg = config(&logging, dir.path());
    cfg.max_request_bytes = 20_000;
    let output = start_sink(cfg).await;
    let buffer = BufferConfig {
        flush_interval: Duration::from_millis(10),
        chunk_limit_size: 16 * 1024,
        retry_wait: Duration::from_millis(5),
        retry_max_interval: Duration::from_millis(50),
        ..BufferConfig::default()
    };
    let (handle, runner) = spawn_output(
        "google_cloud",
        output.clone(),
        buffer,
        None,
        CancellationToken::new(),
    );
    let all = lines(600, 200);
    let acked = Arc::new(AtomicUsize::new(0));
    for events in all.chunks(50) {
        let count = events.len();
        let acked = acked.clone();
        let batch = RoutedBatch {
            events: events.to_vec(),
            ack: Ack::new(move || {
                acked.fetch_add(count, Ordering::SeqCst);
            }),
            caught_up: false,
        };
        assert!(handle.send(batch).await.is_ok());
    }
    drop(handle);
    tokio::time::timeout(DEADLINE, runner)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(acked.load(Ordering::SeqCst), 600);
    let ids: BTreeSet<String> = logging
        .accepted()
        .into_iter()
        .map(|e| e.insert_id.unwrap())
        .collect();
    let want: BTreeSet<String> = all
        .iter()
        .map(|e| gcloud_logging::insert_id(42, e.origin.unwrap().offset, None))
        .collect();
    assert_eq!(ids, want);
    assert!(stat(&output.stats().requests_failed) >= 7);
}

#[tokio::test]
async fn a_partial_error_for_2_of_100_delivers_98_and_dead_letters_2() {
    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    logging.reject_when(RejectAs::PartialErrors, |e| {
        e.text_payload
            .as_deref()
            .is_some_and(|t| t.starts_with("line 000013") || t.starts_with("line 000077"))
    });
    let sink = start_sink(config(&logging, dir.path())).await;
    send(&sink, lines(100, 50)).await;
    assert_eq!(logging.accepted().len(), 98);
    assert_eq!(logging.requests().len(), 1);
    let dead = dead_letters(dir.path());
    assert_eq!(dead.len(), 2);
    assert_eq!(dead[0]["status"]["code"], 3);
    assert_eq!(dead[0]["status"]["message"], "entry 13 is invalid");
    assert_eq!(dead[0]["logName"], "projects/test-project/logs/app.log");
    assert!(
        dead[0]["entry"]["textPayload"]
            .as_str()
            .unwrap()
            .starts_with("line 000013")
    );
    assert!(
        dead[1]["entry"]["textPayload"]
            .as_str()
            .unwrap()
            .starts_with("line 000077")
    );
    assert!(dead[0]["time"].as_str().is_some());
    assert_eq!(stat(&sink.stats().entries_delivered), 98);
    assert_eq!(stat(&sink.stats().entries_dead_lettered), 2);

    // Without partialSuccess nothing is written: the 98 are sent again on their own.
    let logging = FakeLogging::start().await;
    logging.reject_when(RejectAs::PartialErrors, |e| {
        e.text_payload
            .as_deref()
            .is_some_and(|t| t.starts_with("line 000050"))
    });
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&logging, dir.path());
    cfg.partial_success = false;
    let sink = google_cloud::build_sink(cfg).await.unwrap();
    send(&sink, lines(100, 50)).await;
    assert_eq!(logging.accepted().len(), 99);
    assert_eq!(dead_letters(dir.path()).len(), 1);
}

#[tokio::test]
async fn a_whole_request_400_is_bisected_to_the_bad_entries() {
    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    logging.reject_when(RejectAs::WholeRequest, |e| {
        e.text_payload.as_deref().is_some_and(|t| t.contains("BAD"))
    });
    let sink = start_sink(config(&logging, dir.path())).await;
    let mut events = lines(64, 40);
    for i in [3, 40, 41] {
        events[i].record = Record::Line(Bytes::from(format!("BAD entry {i}")));
    }
    send(&sink, events).await;
    assert_eq!(logging.accepted().len(), 61);
    let dead = dead_letters(dir.path());
    let texts: Vec<&str> = dead
        .iter()
        .map(|d| d["entry"]["textPayload"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["BAD entry 3", "BAD entry 40", "BAD entry 41"]);
    assert_eq!(dead[0]["status"]["message"], "some entry is invalid");
    assert!(stat(&sink.stats().bisections) >= 3);
}

#[tokio::test]
async fn resent_events_get_identical_insert_ids_and_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    let sink = start_sink(config(&logging, dir.path())).await;
    let map_event = |i: u64| Event {
        tag: "api".into(),
        time: ts("2026-11-25T10:00:00.5Z"),
        record: Record::Map(
            json!({"n": i, "msg": "no origin"})
                .as_object()
                .unwrap()
                .clone(),
        ),
        origin: None,
    };
    // As after a restart: the same lines read again from the same file and offsets.
    let first: Vec<Event> = lines(30, 64)
        .into_iter()
        .chain((0..3).map(map_event))
        .collect();
    let again: Vec<Event> = lines(30, 64)
        .into_iter()
        .chain((0..3).map(map_event))
        .collect();
    send(&sink, first).await;
    send(&sink, again).await;
    let requests = logging.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body, requests[1].body);
    let accepted = logging.accepted();
    let ids: BTreeSet<&str> = accepted
        .iter()
        .map(|e| e.insert_id.as_deref().unwrap())
        .collect();
    assert_eq!(ids.len(), 33, "ids are distinct within a send");
}

#[tokio::test]
async fn a_failed_chunk_is_resumed_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    logging.script([Scripted::Pass, Scripted::Status(503, None)]);
    let mut cfg = config(&logging, dir.path());
    cfg.max_request_bytes = 10_000;
    let sink = start_sink(cfg).await;
    let (chunk, result) = sink.send(Delivery::new(lines(100, 200))).await;
    assert!(result.is_err());
    sink.send(chunk).await.1.unwrap();
    let accepted = logging.accepted();
    let ids: BTreeSet<String> = accepted
        .iter()
        .map(|e| e.insert_id.clone().unwrap())
        .collect();
    assert_eq!(accepted.len(), 100, "no request was sent twice");
    assert_eq!(ids.len(), 100);
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

#[tokio::test]
async fn a_request_whose_every_entry_is_refused_is_retried_not_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    logging.reject_when(RejectAs::WholeRequest, |_| true);
    let sink = start_sink(config(&logging, dir.path())).await;
    let error = sink.send(Delivery::new(lines(8, 40))).await.1.unwrap_err();
    assert!(error.to_string().contains("refused every entry"), "{error}");
    assert!(dead_letters(dir.path()).is_empty());
    assert_eq!(stat(&sink.stats().entries_dead_lettered), 0);
}

/// Each failure says what failed, and the metrics' error class comes from that: a token server
/// that refuses the credentials, one nobody listens on, an `entries:write` that refuses them and
/// one nobody listens on are four classes, and none is an auth failure by its text alone.
#[tokio::test]
async fn a_refused_credential_and_an_unreachable_server_fail_with_different_classes() {
    use agent::sinks::google_cloud::{AuthError, WriteError};
    use agent::sinks::{FailureKind, SinkError, SinkFailure};

    async fn failed_send(cfg: GoogleCloudConfig) -> SinkError {
        let sink = start_sink(cfg).await;
        tokio::time::timeout(DEADLINE, sink.send(Delivery::new(lines(2, 20))))
            .await
            .expect("send timed out")
            .1
            .expect_err("the send should fail")
    }

    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    let refusing = fake::serve(|_| fake::Reply::json(401, r#"{"error":"invalid_grant"}"#)).await;

    let mut cfg = config(&logging, dir.path());
    cfg.auth = AuthMode::Metadata;
    cfg.metadata_host = refusing.to_string();
    let refused = failed_send(cfg.clone()).await;
    assert!(
        matches!(
            &refused.failure,
            SinkFailure::GoogleCloud(WriteError::Token {
                source: AuthError::Refused { status, body, .. },
                ..
            }) if status.as_u16() == 401 && body.contains("invalid_grant")
        ),
        "{refused:?}"
    );
    assert_eq!(refused.class(), "token_refused");
    assert!(refused.to_string().contains("invalid_grant"), "{refused}");

    cfg.metadata_host = closed_port().await;
    let unreachable = failed_send(cfg).await;
    assert!(
        matches!(
            &unreachable.failure,
            SinkFailure::GoogleCloud(WriteError::Token {
                source: AuthError::Transport { .. },
                ..
            })
        ),
        "{unreachable:?}"
    );
    assert_eq!(unreachable.class(), "token_connection");
    assert!(
        logging.requests().is_empty(),
        "nothing is sent without a token"
    );

    logging.script([Scripted::Status(403, None)]);
    let denied = failed_send(config(&logging, dir.path())).await;
    assert_eq!(denied.class(), "google_cloud_auth", "{denied}");
    assert_eq!(denied.kind(), FailureKind::Other);
    assert!(
        denied.to_string().contains("403 Permission denied"),
        "{denied}"
    );

    let mut cfg = config(&logging, dir.path());
    cfg.endpoint = format!("http://{}", closed_port().await);
    let down = failed_send(cfg).await;
    assert_eq!(down.class(), "google_cloud_connection", "{down}");
    assert_eq!(down.kind(), FailureKind::Connection);
}
