//! Entries as GKE writes a node's container logs: a record the `kubernetes_metadata` filter
//! marked gets its own `k8s_container` resource (one request carries many pods, so the resource
//! is set per entry, which `entries:write` lets an entry do), the log `stdout` or `stderr` from
//! its `stream`, its pod's labels as `k8s-pod/KEY` entry labels and the node as
//! `compute.googleapis.com/resource_name`. The bookkeeping fields (`kubernetes`, `docker`,
//! `stream`, the `cri` parser's `logtag`) leave the payload, so a plain line is a `textPayload`
//! and a JSON line (with `detect_json`) is lifted as a sidecar's is.

use std::collections::BTreeMap;

use gcloud_logging::{LogEntry, MonitoredResource, log_name};
use serde_json::{Map, Value};

use crate::event::value_text;

/// The entry label naming the node.
pub const NODE_LABEL: &str = "compute.googleapis.com/resource_name";
/// The prefix of a pod label's entry label.
pub const POD_LABEL_PREFIX: &str = "k8s-pod/";

/// What every container entry of a sink shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct K8sSettings {
    pub project_id: String,
    pub location: Option<String>,
    pub cluster_name: Option<String>,
    pub node_name: Option<String>,
}

/// What a record's Kubernetes fields give its entry.
#[derive(Debug, Clone, PartialEq)]
pub struct K8sShape {
    pub resource: MonitoredResource,
    /// `stdout` or `stderr`; the tag names the log otherwise.
    pub stream: Option<&'static str>,
    pub labels: BTreeMap<String, String>,
}

/// A record, less its Kubernetes fields, and what they give the entry.
pub struct Shaped {
    pub payload: Map<String, Value>,
    /// The payload came from a text line that was a JSON object.
    pub detected_json: bool,
    pub shape: K8sShape,
}

/// `None` unless the record's `kubernetes` map names namespace, pod and container.
pub fn shape(
    settings: &K8sSettings,
    record: &Map<String, Value>,
    detect_json: bool,
) -> Option<Shaped> {
    let kubernetes = record.get("kubernetes")?.as_object()?;
    let name = |key: &str| kubernetes.get(key).and_then(Value::as_str);
    let (namespace, pod, container) = (
        name("namespace_name")?,
        name("pod_name")?,
        name("container_name")?,
    );
    let mut labels = BTreeMap::new();
    labels.insert("project_id".to_owned(), settings.project_id.clone());
    if let Some(location) = &settings.location {
        labels.insert("location".to_owned(), location.clone());
    }
    if let Some(cluster) = &settings.cluster_name {
        labels.insert("cluster_name".to_owned(), cluster.clone());
    }
    labels.insert("namespace_name".to_owned(), namespace.to_owned());
    labels.insert("pod_name".to_owned(), pod.to_owned());
    labels.insert("container_name".to_owned(), container.to_owned());
    let resource = MonitoredResource {
        r#type: "k8s_container".to_owned(),
        labels,
    };

    let mut entry_labels = BTreeMap::new();
    if let Some(pod_labels) = kubernetes.get("labels").and_then(Value::as_object) {
        for (key, value) in pod_labels {
            entry_labels.insert(
                format!("{POD_LABEL_PREFIX}{key}"),
                value_text(value).into_owned(),
            );
        }
    }
    if let Some(node) = name("host")
        .map(str::to_owned)
        .or_else(|| settings.node_name.clone())
    {
        entry_labels.insert(NODE_LABEL.to_owned(), node);
    }
    let stream = match record.get("stream").and_then(Value::as_str) {
        Some("stdout") => Some("stdout"),
        Some("stderr") => Some("stderr"),
        _ => None,
    };

    // Only what stays is copied (the nested maps that leave are most of a record's nodes).
    let mut payload: Map<String, Value> = record
        .iter()
        .filter(|(key, _)| !matches!(key.as_str(), "kubernetes" | "docker" | "stream" | "logtag"))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    // The json-file driver's `log` is the line, as the cri parser's `message` is.
    if payload.len() == 1
        && let Some(Value::String(_)) = payload.get("log")
        && let Some(log) = payload.remove("log")
    {
        payload.insert("message".to_owned(), log);
    }
    let mut detected_json = false;
    if detect_json
        && payload.len() == 1
        && let Some(Value::String(text)) = payload.get("message")
        && text.trim_start().starts_with('{')
        && let Ok(Value::Object(object)) = serde_json::from_str::<Value>(text)
    {
        payload = object;
        detected_json = true;
    }
    Some(Shaped {
        payload,
        detected_json,
        shape: K8sShape {
            resource,
            stream,
            labels: entry_labels,
        },
    })
}

impl K8sShape {
    /// Sets the entry's resource, log and labels (labels the line itself set win).
    pub fn apply(self, entry: &mut LogEntry, project_id: &str) {
        entry.resource = Some(self.resource);
        if let Some(stream) = self.stream {
            entry.log_name = Some(log_name(project_id, stream));
        }
        if !self.labels.is_empty() {
            let mut labels = self.labels;
            labels.extend(entry.labels.take().unwrap_or_default());
            entry.labels = Some(labels);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings() -> K8sSettings {
        K8sSettings {
            project_id: "p".into(),
            location: Some("asia-northeast1".into()),
            cluster_name: Some("c1".into()),
            node_name: Some("node-a".into()),
        }
    }

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn a_cri_record_becomes_a_k8s_container_text_entry() {
        let record = map(json!({
            "stream": "stderr", "logtag": "F", "message": "boom",
            "docker": {"container_id": "abc"},
            "kubernetes": {"namespace_name": "shop", "pod_name": "web-0", "container_name": "api",
                           "labels": {"app": "web", "tier": "front"}},
        }));
        let shaped = shape(&settings(), &record, true).unwrap();
        assert_eq!(shaped.payload, map(json!({"message": "boom"})));
        assert!(!shaped.detected_json);
        let mut entry = gcloud_logging::lift_record(shaped.payload, "p");
        shaped.shape.apply(&mut entry, "p");
        assert_eq!(entry.text_payload.as_deref(), Some("boom"));
        assert_eq!(entry.log_name.as_deref(), Some("projects/p/logs/stderr"));
        assert_eq!(
            entry.resource,
            Some(MonitoredResource::new(
                "k8s_container",
                [
                    ("project_id", "p"),
                    ("location", "asia-northeast1"),
                    ("cluster_name", "c1"),
                    ("namespace_name", "shop"),
                    ("pod_name", "web-0"),
                    ("container_name", "api"),
                ]
            ))
        );
        let labels = entry.labels.unwrap();
        assert_eq!(labels["k8s-pod/app"], "web");
        assert_eq!(labels["k8s-pod/tier"], "front");
        assert_eq!(labels[NODE_LABEL], "node-a");
    }

    #[test]
    fn json_lines_are_lifted_with_detect_json_only() {
        let record = map(json!({
            "stream": "stdout", "log": r#"{"severity":"ERROR","message":"m","n":1}"#,
            "kubernetes": {"namespace_name": "a", "pod_name": "b", "container_name": "c",
                           "host": "node-b"},
        }));
        let shaped = shape(&settings(), &record, true).unwrap();
        assert!(shaped.detected_json);
        assert_eq!(shaped.payload["n"], 1);
        assert_eq!(
            shaped.shape.labels[NODE_LABEL], "node-b",
            "the record's host wins"
        );
        assert_eq!(shaped.shape.stream, Some("stdout"));
        let plain = shape(&settings(), &record, false).unwrap();
        assert!(!plain.detected_json);
        assert!(plain.payload["message"].as_str().unwrap().starts_with('{'));
    }

    #[test]
    fn records_without_a_container_are_not_shaped() {
        for record in [
            json!({"message": "x"}),
            json!({"kubernetes": {"namespace_name": "a", "pod_name": "b"}}),
            json!({"kubernetes": "a"}),
        ] {
            assert!(
                shape(&settings(), &map(record.clone()), true).is_none(),
                "{record}"
            );
        }
    }
}
