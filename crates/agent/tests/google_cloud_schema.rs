//! Every request body the `google_cloud` output sends for a broad corpus, checked against
//! Google's own schema of the Logging API: the discovery document that ships in the
//! google-api-python-client wheel (`logging.v2.json`), read by
//! `google_cloud/validate_write_requests.py` (installed by scripts/test.sh). The corpus goes
//! through the real pipeline (tail sources, the parsers, three `google_cloud` outputs) to a fake
//! `entries:write` on 127.0.0.1, plus events without a file position (what the forward input
//! gives) sent to the sink directly.

#[allow(dead_code)]
#[path = "google_cloud/fake.rs"]
mod fake;

use std::path::{Path, PathBuf};
use std::time::Duration;

use agent::event::{Event, Record};
use agent::runtime::{RunOptions, run};
use agent::sinks::google_cloud::{self, GoogleCloudConfig};
use agent::sinks::{Delivery, Sink};
use fake::FakeLogging;
use gcloud_logging::Timestamp;
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

const DEADLINE: Duration = Duration::from_secs(120);
const PROJECT: &str = "schema-project";
const VALIDATOR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/google_cloud/validate_write_requests.py"
);

/// Runs the validator over `dir/*.json`: (exit code, stdout).
async fn validate(dir: &Path) -> (i32, String) {
    let dir = dir.to_owned();
    let run = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg(VALIDATOR)
            .arg(dir)
            .output()
    });
    let out = tokio::time::timeout(DEADLINE, run)
        .await
        .expect("the validator finishes")
        .unwrap()
        .unwrap_or_else(|e| {
            panic!("python3 is not available ({e}); scripts/test.sh installs what this test needs")
        });
    let stderr = String::from_utf8_lossy(&out.stderr);
    let code = out.status.code().unwrap_or(-1);
    assert_ne!(
        code, 2,
        "the validator could not run: {stderr}\ninstall its packages as scripts/test.sh does: pip install -r scripts/test-requirements.txt"
    );
    assert!(stderr.trim().is_empty(), "validator stderr: {stderr}");
    (code, String::from_utf8_lossy(&out.stdout).into_owned())
}

fn write_bodies(dir: &Path, bodies: &[Vec<u8>]) {
    std::fs::create_dir_all(dir).unwrap();
    for (i, body) in bodies.iter().enumerate() {
        std::fs::write(dir.join(format!("{i:05}.json")), body).unwrap();
    }
}

fn python_log() -> String {
    [
        "2026-11-25 10:00:00,123 INFO app: starting",
        "2026-11-25 10:00:01,000 ERROR app: boom",
        "Traceback (most recent call last):",
        "  File \"/app/main.py\", line 10, in handler",
        "    1 / 0",
        "ZeroDivisionError: division by zero",
        "2026-11-25 10:00:01,500 WARNING app: ユニコード 😀",
        "2026-11-25 10:00:02,000 INFO app: END-python",
        "2026-11-25 10:00:03,000 INFO app: after the end",
        "",
    ]
    .join("\n")
}

fn text_log() -> Vec<u8> {
    let mut log = Vec::new();
    for line in [
        b"INFO: 10.0.0.1 \"GET /health HTTP/1.1\" 200 OK".to_vec(),
        "ユニコード ✓ 😀 עברית e\u{301} \u{2028}"
            .as_bytes()
            .to_vec(),
        b"tab\there bell\x07 nul\x00 esc\x1b[31m quote\" backslash\\".to_vec(),
        b"bad \xff\xfe utf8 \xc3 and a cut \xe3\x83".to_vec(),
        Vec::new(),
        "é".repeat(150 * 1024).into_bytes(),
        b"x".repeat(600 * 1024),
        b"END-text".to_vec(),
    ] {
        log.extend_from_slice(&line);
        log.push(b'\n');
    }
    log
}

fn json_log() -> String {
    let big = "z".repeat(300 * 1024);
    [
        // Google's structured-logging example (cloud.google.com/logging/docs/structured-logging).
        json!({
            "severity": "ERROR",
            "message": "There was an error in the application.",
            "httpRequest": {"requestMethod": "GET"},
            "times": "2020-10-12T07:20:50.52Z",
            "logging.googleapis.com/insertId": "42",
            "logging.googleapis.com/labels": {"user_label_1": "value_1", "user_label_2": "value_2"},
            "logging.googleapis.com/operation": {
                "id": "get_data",
                "producer": "github.com/MyProject/MyApplication",
                "first": "true"
            },
            "logging.googleapis.com/sourceLocation": {"file": "get_data.py", "line": "142", "function": "getData"},
            "logging.googleapis.com/spanId": "000000000000004a",
            "logging.googleapis.com/trace": "projects/my-projectid/traces/06796866738c859f2f19b7cfb3214824",
            "logging.googleapis.com/trace_sampled": false
        })
        .to_string(),
        // Every special field, and a `timestamp` object that outranks `time`.
        json!({
            "severity": "warn",
            "time": "2026-11-25T10:00:00.5+09:00",
            "timestamp": {"seconds": 1_795_000_000, "nanos": 120_000_000},
            "message": "every field",
            "httpRequest": {
                "requestMethod": "POST", "requestUrl": "https://example.com/a?b=c", "requestSize": "123",
                "status": 201, "responseSize": 4567, "userAgent": "curl/8", "remoteIp": "10.0.0.1",
                "serverIp": "10.0.0.2", "referer": "https://r/", "latency": "0.120s", "cacheLookup": true,
                "cacheHit": "false", "cacheValidatedWithOriginServer": true, "cacheFillBytes": "9",
                "protocol": "HTTP/1.1"
            },
            "logging.googleapis.com/insertId": "custom-id",
            "logging.googleapis.com/labels": {"team": "api"},
            "logging.googleapis.com/operation": {"id": "op", "producer": "p", "first": true, "last": "false"},
            "logging.googleapis.com/sourceLocation": {"file": "main.py", "line": 42, "function": "handle"},
            "logging.googleapis.com/spanId": "00f067aa0ba902b7",
            "logging.googleapis.com/trace": "4bf92f3577b34da6a3ce929d0e0e4736",
            "logging.googleapis.com/traceSampled": "true"
        })
        .to_string(),
        r#"{"timestampSeconds":"1795000001","timestampNanos":7,"message":"pair"}"#.to_owned(),
        r#"{"timestamp":{"seconds":1795000002},"message":"seconds without nanos"}"#.to_owned(),
        r#"{"severity":"CONFIG","message":"java config"}"#.to_owned(),
        r#"{"severity":450,"k":1}"#.to_owned(),
        r#"{"severity":"loud","k":2}"#.to_owned(),
        r#"{"severity":450.5,"k":3}"#.to_owned(),
        r#"{"severity":{"level":3},"k":4}"#.to_owned(),
        r#"{"httpRequest":{"status":"OK","requestMethod":"GET","latency":"soon","requestSize":"12","x":1},"message":"bad field"}"#.to_owned(),
        r#"{"logging.googleapis.com/operation":{"id":7},"logging.googleapis.com/labels":{"n":1},"logging.googleapis.com/trace":{"id":"x"}}"#.to_owned(),
        r#"{"message":"only a message"}"#.to_owned(),
        r#"{"ключ":"значение","emoji":"😀","nested":{"a":[1,2.5,null,true,{"deep":[[[]]]}]},"esc":"\u0000\t\"\\"}"#.to_owned(),
        r#"{"a\u0062":1,"message":"escaped key"}"#.to_owned(),
        r#"{"big":1e308,"neg":-0,"int":18446744073709551615,"small":-9223372036854775808}"#.to_owned(),
        format!(r#"{{"message":"a big record","detail":{{"stack":"{big}"}}}}"#),
        "not json at all".to_owned(),
        r#"{"message":"END-json","k":1}"#.to_owned(),
        String::new(),
    ]
    .join("\n")
}

fn detect_log() -> String {
    [
        r#"{"message":"lone"}"#,
        r#"{"severity":"ERROR","message":"boom","logging.googleapis.com/operation":{"id":"x","first":"true"}}"#,
        "plain text line",
        r#"  {"message": "indented"}"#,
        r#"{"message":"dup","message":"last"}"#,
        "{not json",
        r#"{"message":"END-detect"}"#,
        "",
    ]
    .join("\n")
}

/// A directory path long enough that `tag *` gives a tag of 600+ characters.
fn deep_dir(root: &Path) -> PathBuf {
    let mut dir = root.join("deep");
    while dir.to_string_lossy().len() < 620 {
        dir = dir.join("a-rather-long-directory-name.with:odd@chars");
    }
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn output(pattern: &str, logging: &FakeLogging, dir: &Path, extra: &str) -> String {
    format!(
        "<match {pattern}>\n  @type google_cloud\n  endpoint {}\n  project_id {PROJECT}\n  use_metadata_service false\n  dead_letter_path {}\n{extra}</match>\n",
        logging.endpoint(),
        dir.join(format!("dead-{}.jsonl", pattern.replace('*', "_")))
            .display()
    )
}

fn source(path: &Path, tag: &str, format: &str) -> String {
    format!(
        "<source>\n  @type tail\n  path {}\n  pos_file {}.pos\n  tag {tag}\n  format {format}\n</source>\n",
        path.display(),
        path.display()
    )
}

/// Entries of every request, each with its request's `logName` and resource filled in.
fn entries_of(bodies: &[Vec<u8>]) -> Vec<Value> {
    let mut all = Vec::new();
    for body in bodies {
        let body: Value = serde_json::from_slice(body).unwrap();
        for entry in body["entries"].as_array().unwrap() {
            let mut entry = entry.clone();
            for key in ["logName", "resource"] {
                if entry.get(key).is_none()
                    && let Some(v) = body.get(key)
                {
                    entry[key] = v.clone();
                }
            }
            all.push(entry);
        }
    }
    all
}

fn text_of(entry: &Value) -> String {
    match (&entry["textPayload"], &entry["jsonPayload"]["message"]) {
        (Value::String(t), _) => t.clone(),
        (_, Value::String(m)) => m.clone(),
        _ => String::new(),
    }
}

fn find<'a>(entries: &'a [Value], text: &str) -> &'a Value {
    entries
        .iter()
        .find(|e| text_of(e) == text)
        .unwrap_or_else(|| panic!("no entry with the text {text:?}"))
}

/// Events without a file position, as the forward input gives them: maps, with odd tags.
fn forward_events() -> Vec<Event> {
    let time = Timestamp::parse_rfc3339("2026-11-25T10:00:05.000000001Z").unwrap();
    let map = |v: Value| match v {
        Value::Object(m) => Record::Map(m),
        _ => unreachable!(),
    };
    vec![
        Event {
            tag: "".into(),
            time,
            record: map(json!({"message": "empty tag"})),
            origin: None,
        },
        Event {
            tag: "fwd:ns@v1".into(),
            time,
            record: map(
                json!({"message": "forwarded", "severity": "E", "logging.googleapis.com/trace": "abc"}),
            ),
            origin: None,
        },
        Event {
            tag: "ログ/サービス".into(),
            time,
            record: Record::Map(Map::new()),
            origin: None,
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_for_a_broad_corpus_matches_googles_schema() {
    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    let deep = deep_dir(dir.path());
    let files = [
        (dir.path().join("text.log"), text_log()),
        (
            dir.path().join("odd.log"),
            b"odd tag line\nEND-odd\n".to_vec(),
        ),
        (deep.join("x.log"), b"deep line\nEND-deep\n".to_vec()),
        (dir.path().join("python.log"), python_log().into_bytes()),
        (dir.path().join("json.log"), json_log().into_bytes()),
        (dir.path().join("detect.log"), detect_log().into_bytes()),
        (
            dir.path().join("split.log"),
            b"split one\nEND-split\n".to_vec(),
        ),
    ];
    for (path, content) in &files {
        std::fs::write(path, content).unwrap();
    }
    let config = [
        source(&files[0].0, "app.log", "none"),
        source(&files[1].0, "ns:app@v1+ログ", "none"),
        source(&files[2].0, "*", "none"),
        source(&files[3].0, "python.app", "python"),
        source(&files[4].0, "json.app", "json"),
        source(&files[5].0, "detect.app", "none"),
        source(&files[6].0, "split.app", "none"),
        output(
            "detect.**",
            &logging,
            dir.path(),
            concat!(
                "  detect_json true\n  resource_type k8s_container\n",
                "  resource_labels {\"location\":\"europe-west1\",\"cluster_name\":\"fastapi-cluster\"}\n",
                "  k8s_namespace_name default\n  k8s_pod_name api-0\n  k8s_container_name api\n",
                "  labels {\"env\":\"test\"}\n",
            ),
        ),
        output(
            "split.**",
            &logging,
            dir.path(),
            "  split_logs_by_tag true\n  compress gzip\n  resource_type container\n",
        ),
        output("**", &logging, dir.path(), ""),
    ]
    .concat();
    let (pipeline, _warnings) = agent::config::load_str(&config, Path::new("schema.conf"))
        .unwrap_or_else(|diags| panic!("the test config is valid: {diags:?}"));
    let stop = CancellationToken::new();
    let running = tokio::spawn(run(
        pipeline,
        RunOptions::default(),
        stop.clone(),
        CancellationToken::new(),
    ));

    let sink = google_cloud::build_sink(GoogleCloudConfig {
        project_id: Some(PROJECT.into()),
        endpoint: logging.endpoint(),
        endpoint_explicit: true,
        use_metadata_service: false,
        dead_letter_path: dir.path().join("dead-forward.jsonl"),
        ..GoogleCloudConfig::default()
    })
    .await
    .unwrap();
    tokio::time::timeout(DEADLINE, sink.send(Delivery::new(forward_events())))
        .await
        .expect("forward events sent in time")
        .1
        .expect("forward events delivered");

    let sentinels = [
        "END-text",
        "END-odd",
        "END-deep",
        "END-python",
        "END-json",
        "END-detect",
        "END-split",
    ];
    let started = tokio::time::Instant::now();
    loop {
        let bodies: Vec<Vec<u8>> = logging.requests().into_iter().map(|r| r.body).collect();
        let entries = entries_of(&bodies);
        let missing: Vec<_> = sentinels
            .iter()
            .filter(|s| !entries.iter().any(|e| text_of(e) == **s))
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "still missing {missing:?} after {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    let summary = tokio::time::timeout(DEADLINE, running)
        .await
        .expect("the pipeline drains in time")
        .unwrap()
        .expect("the pipeline ran");
    assert!(summary.drained);

    let requests = logging.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.headers.get("content-encoding").is_some()),
        "one output sends gzip"
    );
    let bodies: Vec<Vec<u8>> = requests.into_iter().map(|r| r.body).collect();
    let body_dir = dir.path().join("bodies");
    write_bodies(&body_dir, &bodies);
    let (code, report) = validate(&body_dir).await;
    println!("{report}");
    assert_eq!(
        code, 0,
        "requests that do not match Google's schema:\n{report}"
    );
    assert!(report.contains(": 0 problems"), "{report}");
    for file in std::fs::read_dir(dir.path()).unwrap() {
        let path = file.unwrap().path();
        if path.to_string_lossy().ends_with(".jsonl") {
            let dead = std::fs::read_to_string(&path).unwrap();
            assert!(dead.is_empty(), "{}: {dead}", path.display());
        }
    }

    // The corpus exercised what it is meant to: every lifting rule and name rule above.
    let entries = entries_of(&bodies);
    let google = find(&entries, "There was an error in the application.");
    assert_eq!(google["operation"]["first"], true);
    assert_eq!(google["sourceLocation"]["line"], "142");
    assert_eq!(google["jsonPayload"]["times"], "2020-10-12T07:20:50.52Z");
    let every = find(&entries, "every field");
    assert_eq!(every["timestamp"], "2026-11-18T11:06:40.120Z");
    assert_eq!(every["jsonPayload"]["time"], "2026-11-25T10:00:00.5+09:00");
    assert_eq!(every["operation"]["last"], false);
    assert_eq!(every["traceSampled"], true);
    assert_eq!(every["httpRequest"]["cacheHit"], false);
    assert_eq!(every["severity"], "WARNING");
    assert_eq!(
        find(&entries, "seconds without nanos")["jsonPayload"]["timestamp"],
        json!({"seconds": 1_795_000_002})
    );
    assert_eq!(find(&entries, "java config")["severity"], "DEBUG");
    let by_k = |k: i64| {
        entries
            .iter()
            .find(|e| e["jsonPayload"]["k"] == k)
            .unwrap_or_else(|| panic!("entry k={k}"))
    };
    assert_eq!(by_k(1)["severity"], "WARNING");
    assert_eq!(by_k(2)["severity"], "DEFAULT");
    assert_eq!(by_k(3)["severity"], "DEFAULT");
    assert_eq!(by_k(4)["jsonPayload"]["severity"], json!({"level": 3}));
    let bad = find(&entries, "bad field");
    assert_eq!(bad["httpRequest"]["requestMethod"], "GET");
    assert_eq!(
        bad["jsonPayload"]["httpRequest"],
        json!({"status": "OK", "latency": "soon", "x": 1})
    );
    assert_eq!(
        find(&entries, "only a message")["textPayload"],
        "only a message"
    );
    let lone = find(&entries, "lone");
    assert_eq!(
        lone["jsonPayload"],
        json!({"message": "lone"}),
        "detect_json"
    );
    assert_eq!(lone["resource"]["type"], "k8s_container");
    assert_eq!(find(&entries, "boom")["operation"]["first"], true);
    assert!(
        entries
            .iter()
            .any(|e| e["split"]["totalSplits"].as_i64() >= Some(2)),
        "an oversize line was split"
    );
    assert!(
        entries
            .iter()
            .any(|e| text_of(e).starts_with("bad \u{fffd}")),
        "invalid UTF-8 became U+FFFD"
    );
    let names: std::collections::BTreeSet<&str> = entries
        .iter()
        .filter_map(|e| e["logName"].as_str())
        .collect();
    for want in [
        format!("projects/{PROJECT}/logs/app.log"),
        format!("projects/{PROJECT}/logs/ns_app_v1___"),
        format!("projects/{PROJECT}/logs/_"),
        format!("projects/{PROJECT}/logs/fwd_ns_v1"),
        format!("projects/{PROJECT}/logs/__%2F____"),
        format!("projects/{PROJECT}/logs/split.app"),
    ] {
        assert!(names.contains(want.as_str()), "{want} in {names:?}");
    }
    let deep_name = find(&entries, "END-deep")["logName"].as_str().unwrap();
    let deep_id = &deep_name[format!("projects/{PROJECT}/logs/").len()..];
    assert_eq!(
        deep_id.len(),
        gcloud_logging::ids::MAX_LOG_ID_CHARS,
        "{deep_id}"
    );
    let forwarded = find(&entries, "forwarded");
    assert_eq!(forwarded["insertId"].as_str().unwrap().len(), 32);
}

/// The check is not vacuous: bodies Cloud Logging would refuse, each for one reason, are each
/// reported.
#[tokio::test]
async fn the_schema_check_reports_what_cloud_logging_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let entry = |extra: Value| {
        let mut e = json!({
            "logName": "projects/p/logs/app.log",
            "resource": {"type": "global"},
            "timestamp": "2026-11-25T10:00:00Z",
            "textPayload": "t"
        });
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                e.as_object_mut().unwrap().remove(k);
            } else {
                e[k] = v.clone();
            }
        }
        json!({"entries": [e]})
    };
    let cases: Vec<(Value, &str)> = vec![
        (entry(json!({})), ""),
        (
            entry(json!({"logName": "projects/p/logs/ns%3Aapp"})),
            "holds a character Cloud Logging refuses",
        ),
        (
            entry(json!({"logName": format!("projects/p/logs/{}", "a".repeat(512))})),
            "fewer than 512",
        ),
        (
            entry(json!({"logName": "p/app"})),
            "is not projects/PROJECT_ID/logs/LOG_ID",
        ),
        (entry(json!({"jsonPayload": {"a": 1}})), "has 2 payloads"),
        (entry(json!({"textPayload": null})), "has 0 payloads"),
        (entry(json!({"severity": "WARN"})), "is not one of"),
        (
            entry(json!({"timestamp": "2026-11-25 10:00:00"})),
            "is not an RFC 3339 timestamp",
        ),
        (
            entry(json!({"timestamp": "2026-02-30T10:00:00Z"})),
            "is not an RFC 3339 timestamp",
        ),
        (
            entry(json!({"httpRequest": {"status": "200"}})),
            "expected an integer",
        ),
        (
            entry(json!({"httpRequest": {"requestSize": 12}})),
            "expected a string",
        ),
        (
            entry(json!({"httpRequest": {"requestSize": "12x"}})),
            "is not an int64 decimal string",
        ),
        (
            entry(json!({"httpRequest": {"latency": "0.5"}})),
            "is not a google-duration",
        ),
        (
            entry(json!({"operation": {"first": "true"}})),
            "expected a boolean",
        ),
        (entry(json!({"labels": {"k": 1}})), "expected a string"),
        (
            entry(json!({"receiveTimestamp": "2026-11-25T10:00:00Z"})),
            "is output only",
        ),
        (
            entry(json!({"payload": "x"})),
            "is not a field of the schema",
        ),
        (entry(json!({"resource": null})), "has no resource type"),
        (entry(json!({"logName": null})), "has no logName"),
        (
            entry(json!({"split": {"uid": "u", "index": 2, "totalSplits": 2}})),
            "is not below totalSplits",
        ),
        (
            entry(json!({"textPayload": "x".repeat(300 * 1024)})),
            "entry limit",
        ),
        (
            json!({"entries": [], "logName": "projects/p/logs/a"}),
            "at least one entry",
        ),
        (
            json!({"entries": [{"textPayload": "t"}], "partialSuccess": "yes"}),
            "expected a boolean",
        ),
    ];
    for (i, (body, want)) in cases.iter().enumerate() {
        let one = dir.path().join(format!("case{i}"));
        write_bodies(&one, &[serde_json::to_vec(body).unwrap()]);
        let (code, report) = validate(&one).await;
        if want.is_empty() {
            assert_eq!(code, 0, "a valid body is accepted: {report}");
        } else {
            assert_eq!(code, 1, "case {i} ({want}) is refused: {report}");
            assert!(
                report.contains(want),
                "case {i}: want {want:?} in:\n{report}"
            );
        }
    }
}
