//! The `google_cloud` output against fake Google endpoints on 127.0.0.1, by concern: request
//! bodies (`payloads`), resource detection (`resource`), credentials (`auth`), and size limits,
//! retries, partial errors and idempotent resends (`delivery`). The helpers all of them use
//! are here.

#[path = "google_cloud/fake.rs"]
#[allow(dead_code)]
mod fake;

#[path = "google_cloud/auth.rs"]
mod auth;
#[path = "google_cloud/delivery.rs"]
mod delivery;
#[path = "google_cloud/payloads.rs"]
mod payloads;
#[path = "google_cloud/resource.rs"]
mod resource;

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

/// What the GKE metadata server says about a node of `fastapi-cluster`.
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
