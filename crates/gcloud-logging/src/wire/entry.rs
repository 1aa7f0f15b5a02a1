//! `LogEntry` and the messages inside it (`MonitoredResource`, `HttpRequest`, operation, source
//! location, split), as `google.logging.v2` defines them.
//!
//! Every field is optional and omitted when unset, so an entry serializes to only what was given.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::int;
use crate::duration::Duration;
use crate::severity::Severity;
use crate::time::Timestamp;

/// One log entry. Exactly one of `text_payload`, `json_payload` and `proto_payload` is normally
/// set (the API also accepts none).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// `projects/P/logs/<url-encoded log id>`; falls back to the request's `logName`.
    #[serde(default, alias = "log_name", skip_serializing_if = "Option::is_none")]
    pub log_name: Option<String>,
    /// What produced the entry; falls back to the request's `resource`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<MonitoredResource>,
    /// Unique id of the entry within the log; with `timestamp`, Cloud Logging's dedup key.
    #[serde(default, alias = "insert_id", skip_serializing_if = "Option::is_none")]
    pub insert_id: Option<String>,
    /// When the event happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    /// When Cloud Logging received the entry (output only).
    #[serde(
        default,
        alias = "receive_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub receive_timestamp: Option<Timestamp>,
    /// The entry's severity; absent means `DEFAULT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// User-defined labels; merged over the request's labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// The HTTP request the entry is about.
    #[serde(
        default,
        alias = "http_request",
        skip_serializing_if = "Option::is_none"
    )]
    pub http_request: Option<HttpRequest>,
    /// The long-running operation the entry belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<LogEntryOperation>,
    /// `projects/P/traces/TRACE_ID` of the trace the entry belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    /// 16-hex-digit span id within `trace`.
    #[serde(default, alias = "span_id", skip_serializing_if = "Option::is_none")]
    pub span_id: Option<String>,
    /// Whether the trace was sampled.
    #[serde(
        default,
        alias = "trace_sampled",
        skip_serializing_if = "Option::is_none"
    )]
    pub trace_sampled: Option<bool>,
    /// The source code that wrote the entry.
    #[serde(
        default,
        alias = "source_location",
        skip_serializing_if = "Option::is_none"
    )]
    pub source_location: Option<LogEntrySourceLocation>,
    /// Which part this entry is of an original entry too large for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<LogSplit>,
    /// A plain-text payload (a `format none` line).
    #[serde(
        default,
        alias = "text_payload",
        skip_serializing_if = "Option::is_none"
    )]
    pub text_payload: Option<String>,
    /// A structured payload (`google.protobuf.Struct`, so always a JSON object).
    #[serde(
        default,
        alias = "json_payload",
        skip_serializing_if = "Option::is_none"
    )]
    pub json_payload: Option<Map<String, Value>>,
    /// A typed payload (`google.protobuf.Any`, with its `@type`), kept as JSON.
    #[serde(
        default,
        alias = "proto_payload",
        skip_serializing_if = "Option::is_none"
    )]
    pub proto_payload: Option<Value>,
}

/// The thing that produced a log entry: a type (`k8s_container`, `gce_instance`, `global`, the
/// legacy `container`) and the labels that identify an instance of it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MonitoredResource {
    /// The resource type, e.g. `k8s_container`.
    #[serde(rename = "type")]
    pub r#type: String,
    /// The labels the type defines, e.g. `project_id`, `cluster_name`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl MonitoredResource {
    /// A resource of type `r#type` with the given labels.
    pub fn new<I, K, V>(r#type: impl Into<String>, labels: I) -> MonitoredResource
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        MonitoredResource {
            r#type: r#type.into(),
            labels: labels
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The `global` resource, for entries that belong to nothing more specific.
    pub fn global() -> MonitoredResource {
        MonitoredResource {
            r#type: "global".to_owned(),
            labels: BTreeMap::new(),
        }
    }
}

/// Facts about an HTTP request, as Cloud Logging shows them in its request view.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRequest {
    /// `GET`, `POST`, …
    #[serde(
        default,
        alias = "request_method",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_method: Option<String>,
    /// The scheme, host, path and query that were requested.
    #[serde(
        default,
        alias = "request_url",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_url: Option<String>,
    /// Bytes in the request, headers and body included (int64).
    #[serde(
        default,
        alias = "request_size",
        with = "int::int64",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_size: Option<i64>,
    /// The response status code.
    #[serde(
        default,
        with = "int::opt_int32",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<i32>,
    /// Bytes in the response, headers and body included (int64).
    #[serde(
        default,
        alias = "response_size",
        with = "int::int64",
        skip_serializing_if = "Option::is_none"
    )]
    pub response_size: Option<i64>,
    /// The client's `User-Agent`.
    #[serde(default, alias = "user_agent", skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The client's IP address.
    #[serde(default, alias = "remote_ip", skip_serializing_if = "Option::is_none")]
    pub remote_ip: Option<String>,
    /// The server's IP address.
    #[serde(default, alias = "server_ip", skip_serializing_if = "Option::is_none")]
    pub server_ip: Option<String>,
    /// The `Referer` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referer: Option<String>,
    /// Time from request received to response sent, e.g. `"0.120s"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<Duration>,
    /// Whether a cache lookup was attempted.
    #[serde(
        default,
        alias = "cache_lookup",
        skip_serializing_if = "Option::is_none"
    )]
    pub cache_lookup: Option<bool>,
    /// Whether the response came from a cache.
    #[serde(default, alias = "cache_hit", skip_serializing_if = "Option::is_none")]
    pub cache_hit: Option<bool>,
    /// Whether the cached response was validated with the origin.
    #[serde(
        default,
        alias = "cache_validated_with_origin_server",
        skip_serializing_if = "Option::is_none"
    )]
    pub cache_validated_with_origin_server: Option<bool>,
    /// Bytes inserted into the cache (int64).
    #[serde(
        default,
        alias = "cache_fill_bytes",
        with = "int::int64",
        skip_serializing_if = "Option::is_none"
    )]
    pub cache_fill_bytes: Option<i64>,
    /// `HTTP/1.1`, `HTTP/2`, `websocket`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

/// The long-running operation an entry belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntryOperation {
    /// Identifies the operation within `producer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Who runs the operation, e.g. `github.com/MyProject/MyApplication`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producer: Option<String>,
    /// This is the operation's first entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<bool>,
    /// This is the operation's last entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<bool>,
}

/// Where in the source code the entry was written.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntrySourceLocation {
    /// Source file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Line within `file`, 1-based (int64).
    #[serde(default, with = "int::int64", skip_serializing_if = "Option::is_none")]
    pub line: Option<i64>,
    /// Function or method name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
}

/// Marks one part of an entry that was split because it was too large for one entry; the parts
/// share `uid` and reassemble in `index` order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogSplit {
    /// Shared by every part of the original entry.
    #[serde(default)]
    pub uid: String,
    /// This part's position, from 0.
    #[serde(default, with = "int::int32")]
    pub index: i32,
    /// How many parts the original entry became.
    #[serde(default, alias = "total_splits", with = "int::int32")]
    pub total_splits: i32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_entry_is_an_empty_object() {
        assert_eq!(serde_json::to_string(&LogEntry::default()).unwrap(), "{}");
        let e: LogEntry = serde_json::from_str("{}").unwrap();
        assert_eq!(e, LogEntry::default());
    }

    #[test]
    fn int64_fields_go_out_as_strings_and_come_in_either_way() {
        let r = HttpRequest {
            request_size: Some(1234),
            response_size: Some(-1),
            status: Some(200),
            ..HttpRequest::default()
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v,
            json!({"requestSize": "1234", "responseSize": "-1", "status": 200})
        );
        let back: HttpRequest = serde_json::from_value(
            json!({"requestSize": 1234, "responseSize": "-1", "status": "200"}),
        )
        .unwrap();
        assert_eq!(back, r);
        let line: LogEntrySourceLocation = serde_json::from_value(json!({"line": 1e2})).unwrap();
        assert_eq!(line.line, Some(100));
        assert!(serde_json::from_value::<HttpRequest>(json!({"requestSize": "12x"})).is_err());
        assert!(serde_json::from_value::<HttpRequest>(json!({"requestSize": 1.5})).is_err());
        assert!(serde_json::from_value::<HttpRequest>(json!({"status": 1u64 << 40})).is_err());
    }

    #[test]
    fn snake_case_names_are_accepted() {
        let e: LogEntry = serde_json::from_value(json!({
            "log_name": "projects/p/logs/x",
            "insert_id": "a",
            "text_payload": "t",
            "span_id": "000000000000004a",
            "trace_sampled": true,
            "http_request": {"request_method": "GET", "cache_fill_bytes": "3"},
            "split": {"uid": "u", "index": 1, "total_splits": 2}
        }))
        .unwrap();
        assert_eq!(e.log_name.as_deref(), Some("projects/p/logs/x"));
        assert_eq!(e.trace_sampled, Some(true));
        assert_eq!(e.http_request.unwrap().cache_fill_bytes, Some(3));
        assert_eq!(e.split.unwrap().total_splits, 2);
        let out = serde_json::to_value(LogEntry {
            span_id: Some("s".into()),
            ..LogEntry::default()
        })
        .unwrap();
        assert_eq!(out, json!({"spanId": "s"}));
    }

    #[test]
    fn resource_type_is_named_type() {
        let r = MonitoredResource::new("k8s_container", [("cluster_name", "fastapi-cluster")]);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v,
            json!({"type": "k8s_container", "labels": {"cluster_name": "fastapi-cluster"}})
        );
        assert_eq!(
            serde_json::to_value(MonitoredResource::global()).unwrap(),
            json!({"type": "global"})
        );
    }

    #[test]
    fn json_payload_must_be_an_object() {
        assert!(serde_json::from_value::<LogEntry>(json!({"jsonPayload": [1, 2]})).is_err());
        assert!(serde_json::from_value::<LogEntry>(json!({"jsonPayload": {"a": [1, 2]}})).is_ok());
    }
}
