//! `logferry query` against the emulator: the original system's query, limit, order, freshness
//! and the output formats.

use std::time::Duration;

use emulator::cli::{Format, Order, QueryArgs, fetch_entries, print_entries};
use gcloud_logging::Timestamp;
use serde_json::json;

use crate::support::{Server, container_resource};

fn args(url: &str, filter: &str) -> QueryArgs {
    QueryArgs {
        filter: filter.to_string(),
        emulator: Some(url.to_string()),
        project: "local-project".to_string(),
        limit: 10,
        order: Order::Desc,
        freshness: Duration::from_secs(86_400),
        format: Format::Table,
    }
}

#[tokio::test]
async fn query_reads_what_the_original_setup_would_show() {
    let server = Server::start().await;
    let now = Timestamp::now().seconds;
    let old = Timestamp::new(now - 3 * 86_400, 0).unwrap().to_string();
    let mut entries = Vec::new();
    for i in 0..15 {
        entries.push(json!({"textPayload": format!("GET /items/{i} 200"),
            "timestamp": Timestamp::new(now - 100 + i, 0).unwrap().to_string()}));
    }
    entries.push(json!({"textPayload": "three days old", "timestamp": old}));
    let resp = server
        .write(json!({"logName": "projects/local-project/logs/app.log",
            "resource": container_resource("fastapi-cluster"), "entries": entries}))
        .await;
    assert_eq!(resp.status, 200);
    let resp = server
        .write(json!({"logName": "projects/local-project/logs/app.log",
            "resource": container_resource("elsewhere"), "entries": [{"textPayload": "other cluster"}]}))
        .await;
    assert_eq!(resp.status, 200);

    let query = r#"resource.type="container" resource.labels.cluster_name="fastapi-cluster""#;
    // Default: newest first, 10 entries, only the last day.
    let got = fetch_entries(&args(&server.url, query)).await.unwrap();
    let texts: Vec<&str> = got
        .iter()
        .map(|e| e["textPayload"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (5..15)
        .rev()
        .map(|i| format!("GET /items/{i} 200"))
        .collect();
    assert_eq!(texts, expected);

    // Ascending with a larger limit than one page; the three-day-old line needs a wider window.
    let mut a = args(&server.url, query);
    a.order = Order::Asc;
    a.limit = 100;
    assert_eq!(fetch_entries(&a).await.unwrap().len(), 15);
    a.freshness = Duration::from_secs(7 * 86_400);
    let all = fetch_entries(&a).await.unwrap();
    assert_eq!(all.len(), 16);
    assert_eq!(all[0]["textPayload"], "three days old");
    // A filter that mentions timestamp is left alone.
    let mut a = args(
        &server.url,
        &format!(
            "{query} timestamp<\"{}\"",
            Timestamp::new(now - 86_400, 0).unwrap()
        ),
    );
    a.limit = 100;
    assert_eq!(fetch_entries(&a).await.unwrap().len(), 1);

    for format in [Format::Json, Format::Table, Format::Text] {
        let mut out = Vec::new();
        print_entries(&mut out, &got, format).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("GET /items/14 200"), "{format:?}: {out}");
        if format == Format::Json {
            let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(parsed.as_array().unwrap().len(), 10);
        }
        if format == Format::Table {
            assert!(out.starts_with("TIMESTAMP"));
            assert!(out.contains("app.log"));
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn query_without_an_emulator_explains_what_is_missing() {
    let mut a = args("http://unused", "");
    a.emulator = None;
    let err = fetch_entries(&a).await.unwrap_err().to_string();
    assert!(err.contains("pass --emulator URL"), "{err}");
    let err = fetch_entries(&args("http://127.0.0.1:9", "severity>="))
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("127.0.0.1:9"), "{err:#}");
}
