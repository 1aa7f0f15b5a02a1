//! Google's Rust client (`google-cloud-logging-v2`) against the `logferry emulator` binary.
//! The client sends its unary calls (write, list entries, list logs, delete a log) as REST/JSON
//! and `TailLogEntries` over gRPC, so one run drives both of the emulator's protocols on its
//! one port: text and JSON payloads with labels, severities and resources written and listed
//! back in both orders, filtered and paged; logs listed and deleted; a bad filter's
//! `INVALID_ARGUMENT`; a live tail.

use std::collections::HashMap;

use emulator_rust_client_test::{Emulator, within};
use google_cloud_api::model::MonitoredResource;
use google_cloud_gax::error::Error;
use google_cloud_gax::error::rpc::Code;
use google_cloud_gax::paginator::Paginator;
use google_cloud_logging_type::model::LogSeverity;
use google_cloud_logging_v2::client::LoggingServiceV2;
use google_cloud_logging_v2::model::{LogEntry, TailLogEntriesRequest};
use google_cloud_wkt::Timestamp;
use serde_json::json;

const PROJECT: &str = "projects/rust-project";

fn log_name(id: &str) -> String {
    format!("{PROJECT}/logs/{id}")
}

fn pod() -> MonitoredResource {
    MonitoredResource::new()
        .set_type("k8s_container")
        .set_labels([
            ("cluster_name", "fastapi-cluster"),
            ("namespace_name", "default"),
            ("pod_name", "web-1"),
            ("container_name", "api"),
        ])
}

/// Whole seconds an hour ago: the entries' timestamps count from it, distinct, ordered, and
/// inside any default window.
fn an_hour_ago() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    now - 3600
}

fn at(base: i64, i: i64) -> Timestamp {
    Timestamp::new(base + i, 0).unwrap()
}

/// The JSON payload the tests write: nested objects, a number, a boolean.
fn order_paid() -> google_cloud_wkt::Struct {
    let serde_json::Value::Object(payload) = json!({
        "message": "order 17 paid", "amount": 12.5, "user": {"id": 42, "name": "ann"}, "ok": true,
    }) else {
        unreachable!("an object literal")
    };
    payload
}

/// Writes the entries `lists_entries_*` read: a text WARNING and a JSON ERROR with a resource
/// of their own, then five batched INFO lines that take the request's resource and labels.
/// Returns the second their timestamps count from.
async fn write_app_entries(client: &LoggingServiceV2) -> i64 {
    let base = an_hour_ago();
    client
        .write_log_entries()
        .set_entries([
            LogEntry::new()
                .set_log_name(log_name("app"))
                .set_resource(pod())
                .set_labels([("client", "rust"), ("kind", "text")])
                .set_severity(LogSeverity::Warning)
                .set_insert_id("text-1")
                .set_timestamp(at(base, 0))
                .set_text_payload("disk almost full"),
            LogEntry::new()
                .set_log_name(log_name("app"))
                .set_resource(pod())
                .set_labels([("client", "rust"), ("kind", "json")])
                .set_severity(LogSeverity::Error)
                .set_insert_id("json-1")
                .set_timestamp(at(base, 1))
                .set_json_payload(order_paid()),
        ])
        .send()
        .await
        .expect("entries:write with a text and a JSON entry");
    client
        .write_log_entries()
        .set_log_name(log_name("app"))
        .set_resource(MonitoredResource::new().set_type("global"))
        .set_labels([("client", "rust"), ("kind", "batch")])
        .set_entries((0..5).map(|i| {
            LogEntry::new()
                .set_severity(LogSeverity::Info)
                .set_insert_id(format!("batch-{i}"))
                .set_timestamp(at(base, 10 + i))
                .set_text_payload(format!("batched {i}"))
        }))
        .send()
        .await
        .expect("entries:write with the request's log name, resource and labels");
    base
}

/// `insertId`s of the entries `filter` matches, in `order_by` order, read in one page.
async fn insert_ids(client: &LoggingServiceV2, filter: &str, order_by: &str) -> Vec<String> {
    let page = client
        .list_log_entries()
        .set_resource_names([PROJECT])
        .set_filter(filter)
        .set_order_by(order_by)
        .set_page_size(100)
        .send()
        .await
        .unwrap_or_else(|e| panic!("entries:list {filter:?}: {e}"));
    assert!(page.next_page_token.is_empty(), "one page holds them all");
    page.entries.into_iter().map(|e| e.insert_id).collect()
}

#[tokio::test]
async fn writes_text_and_json_entries_and_lists_them_back() {
    let emulator = Emulator::start().await;
    let client = emulator.client().await;
    within("write and list", async {
        let base = write_app_entries(&client).await;

        let all = [
            "text-1", "json-1", "batch-0", "batch-1", "batch-2", "batch-3", "batch-4",
        ];
        let filter = r#"labels.client="rust""#;
        assert_eq!(insert_ids(&client, filter, "timestamp asc").await, all);
        let mut newest_first = all.to_vec();
        newest_first.reverse();
        assert_eq!(
            insert_ids(&client, filter, "timestamp desc").await,
            newest_first
        );
        assert_eq!(
            insert_ids(&client, "severity>=WARNING", "timestamp asc").await,
            ["text-1", "json-1"]
        );
        assert_eq!(
            insert_ids(
                &client,
                r#"jsonPayload.user.name="ann" AND jsonPayload.amount>12"#,
                "timestamp asc"
            )
            .await,
            ["json-1"]
        );
        assert_eq!(
            insert_ids(
                &client,
                r#"resource.type="k8s_container" AND textPayload:"full""#,
                "timestamp asc"
            )
            .await,
            ["text-1"]
        );

        let entries = client
            .list_log_entries()
            .set_resource_names([PROJECT])
            .set_filter(r#"labels.kind="text" OR labels.kind="json""#)
            .set_order_by("timestamp asc")
            .send()
            .await
            .unwrap()
            .entries;
        let [text, structured] = &entries[..] else {
            panic!("two entries: {entries:?}");
        };
        assert_eq!(text.log_name, log_name("app"));
        assert_eq!(
            text.text_payload().map(String::as_str),
            Some("disk almost full")
        );
        assert_eq!(text.severity, LogSeverity::Warning);
        assert_eq!(text.resource, Some(pod()));
        assert_eq!(
            text.labels,
            HashMap::from([
                ("client".into(), "rust".into()),
                ("kind".into(), "text".into())
            ])
        );
        assert_eq!(text.timestamp, Some(at(base, 0)));
        assert!(
            text.receive_timestamp.is_some(),
            "the emulator stamps receiveTimestamp"
        );

        assert_eq!(structured.json_payload().map(|p| &**p), Some(&order_paid()));
        assert_eq!(structured.severity, LogSeverity::Error);
        assert_eq!(structured.timestamp, Some(at(base, 1)));

        let batched = client
            .list_log_entries()
            .set_resource_names([PROJECT])
            .set_filter(r#"labels.kind="batch""#)
            .set_page_size(1)
            .send()
            .await
            .unwrap();
        let first = &batched.entries[0];
        assert_eq!(
            first.insert_id, "batch-0",
            "oldest first without an order_by, as the API says"
        );
        assert_eq!(first.log_name, log_name("app"), "the request's log name");
        assert_eq!(
            first.resource.as_ref().map(|r| r.r#type.as_str()),
            Some("global")
        );
        assert_eq!(first.labels["client"], "rust", "the request's labels");
        assert_eq!(first.text_payload().map(String::as_str), Some("batched 0"));
        assert!(!batched.next_page_token.is_empty(), "more pages follow");
    })
    .await;
}

#[tokio::test]
async fn pages_through_entries_with_page_tokens() {
    let emulator = Emulator::start().await;
    let client = emulator.client().await;
    within("paging", async {
        write_app_entries(&client).await;

        // The client's paginator follows nextPageToken until it is empty.
        let mut pages = client
            .list_log_entries()
            .set_resource_names([PROJECT])
            .set_filter(r#"logName="projects/rust-project/logs/app""#)
            .set_order_by("timestamp asc")
            .set_page_size(3)
            .by_page();
        let mut sizes = Vec::new();
        let mut ids = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.expect("a page");
            sizes.push(page.entries.len());
            ids.extend(page.entries.into_iter().map(|e| e.insert_id));
        }
        assert_eq!(sizes, [3, 3, 1]);
        assert_eq!(
            ids,
            [
                "text-1", "json-1", "batch-0", "batch-1", "batch-2", "batch-3", "batch-4"
            ]
        );

        // A token handed back by hand continues where its page ended.
        let first = client
            .list_log_entries()
            .set_resource_names([PROJECT])
            .set_order_by("timestamp desc")
            .set_page_size(2)
            .send()
            .await
            .unwrap();
        let second = client
            .list_log_entries()
            .set_resource_names([PROJECT])
            .set_order_by("timestamp desc")
            .set_page_size(2)
            .set_page_token(first.next_page_token)
            .send()
            .await
            .unwrap();
        let ids = |entries: &[LogEntry]| {
            entries
                .iter()
                .map(|e| e.insert_id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&first.entries), ["batch-4", "batch-3"]);
        assert_eq!(ids(&second.entries), ["batch-2", "batch-1"]);
    })
    .await;
}

#[tokio::test]
async fn lists_and_deletes_logs() {
    let emulator = Emulator::start().await;
    let client = emulator.client().await;
    within("logs list and delete", async {
        for id in ["app", "audit", "worker"] {
            client
                .write_log_entries()
                .set_log_name(log_name(id))
                .set_resource(MonitoredResource::new().set_type("global"))
                .set_entries([LogEntry::new().set_text_payload(format!("a line in {id}"))])
                .send()
                .await
                .unwrap();
        }
        // The client has no paginator for logs.list: follow nextPageToken by hand.
        let logs = |client: &LoggingServiceV2| {
            let client = client.clone();
            async move {
                let (mut names, mut token, mut pages) = (Vec::new(), String::new(), 0);
                loop {
                    let page = client
                        .list_logs()
                        .set_parent(PROJECT)
                        .set_page_size(1)
                        .set_page_token(token)
                        .send()
                        .await
                        .expect("logs.list");
                    pages += 1;
                    names.extend(page.log_names);
                    if page.next_page_token.is_empty() {
                        names.sort();
                        return (names, pages);
                    }
                    token = page.next_page_token;
                }
            }
        };
        let (names, pages) = logs(&client).await;
        assert_eq!(
            names,
            [log_name("app"), log_name("audit"), log_name("worker")]
        );
        assert!(pages >= 3, "one log per page: {pages} pages");

        client
            .delete_log()
            .set_log_name(log_name("audit"))
            .send()
            .await
            .expect("logs.delete");
        assert_eq!(logs(&client).await.0, [log_name("app"), log_name("worker")]);
        assert!(
            insert_ids(
                &client,
                r#"logName="projects/rust-project/logs/audit""#,
                "timestamp asc"
            )
            .await
            .is_empty()
        );

        let again = client
            .delete_log()
            .set_log_name(log_name("audit"))
            .send()
            .await
            .expect_err("the log is gone");
        assert_eq!(code(&again), Some(Code::NotFound), "{again}");
    })
    .await;
}

#[tokio::test]
async fn a_bad_filter_is_invalid_argument() {
    let emulator = Emulator::start().await;
    let client = emulator.client().await;
    let error = within(
        "entries:list with a bad filter",
        client
            .list_log_entries()
            .set_resource_names([PROJECT])
            .set_filter("severity>>ERROR")
            .send(),
    )
    .await
    .expect_err("severity>>ERROR is not a filter");
    assert_eq!(code(&error), Some(Code::InvalidArgument), "{error}");
    assert_eq!(error.http_status_code(), Some(400), "{error}");
    let message = &error.status().unwrap().message;
    assert!(message.contains("severity"), "{message}");
}

#[tokio::test]
async fn tails_entries_over_grpc() {
    let emulator = Emulator::start().await;
    let client = emulator.client().await;
    let (requests, mut responses) = client.tail_log_entries().build();
    requests
        .send(
            TailLogEntriesRequest::new()
                .set_resource_names([PROJECT])
                .set_filter(r#"labels.client="rust" AND severity>=WARNING"#)
                .set_buffer_window(google_cloud_wkt::Duration::clamp(0, 100_000_000)),
        )
        .await
        .expect("the tail request is sent");
    // The emulator answers an empty response once the tail is listening.
    let first = within("the tail to start", responses.next())
        .await
        .expect("the stream stays open")
        .expect("TailLogEntries over gRPC");
    assert!(first.entries.is_empty(), "{first:?}");

    write_app_entries(&client).await;
    let mut tailed = Vec::new();
    while tailed.len() < 2 {
        let response = within("tailed entries", responses.next())
            .await
            .expect("the stream stays open")
            .expect("a tail response");
        tailed.extend(response.entries.into_iter().map(|e| e.insert_id));
    }
    assert_eq!(
        tailed,
        ["text-1", "json-1"],
        "only the entries the filter matches"
    );
    drop(requests);
}

/// The gRPC-style status code of an error, whichever protocol carried it.
fn code(error: &Error) -> Option<Code> {
    error.status().map(|status| status.code)
}
