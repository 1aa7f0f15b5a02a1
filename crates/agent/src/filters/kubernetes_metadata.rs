//! `@type kubernetes_metadata`: the fields fluent-plugin-kubernetes_metadata_filter adds, read
//! from the tag a node's `tail` gives each container log file (`kubernetes.*` expands to the
//! path with `/` as `.`). Kubelet names the files after the pod, so the path alone says
//! namespace, pod, container and container id (`/var/log/containers/POD_NAMESPACE_CONTAINER-ID.log`)
//! or namespace, pod, pod uid and container (`/var/log/pods/NAMESPACE_POD_UID/CONTAINER/N.log`).
//!
//! The record gets the plugin's layout: `kubernetes: {namespace_name, pod_name, container_name,
//! pod_id?}` and `docker: {container_id}` when the id is known. What only the API server knows
//! (labels, annotations, node, owners) is not fetched: those parameters are accepted and warned.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use fluent_config::Reader;
use regex::Regex;
use serde_json::{Map, Value};

use super::Filter;
use crate::event::Event;

/// The plugin's default: `var.log.containers.POD_NAMESPACE_CONTAINER-ID.log` at the end of the
/// tag, the pod name a DNS subdomain (so the dots of the path before it are not taken for it).
pub const CONTAINERS_REGEXP: &str = r"var\.log\.containers\.(?<pod_name>[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*)_(?<namespace>[^_]+)_(?<container_name>.+)-(?<docker_id>[a-z0-9]{64})\.log$";

/// `var.log.pods.NAMESPACE_POD_UID.CONTAINER.N.log`, rotated copies (`N.log.20261203-040000`)
/// included. Namespaces and container names are DNS labels (no `.` or `_`); pod names may
/// hold dots, never `_`.
pub const PODS_REGEXP: &str = r"(?:^|\.)var\.log\.pods\.(?<namespace>[^_.]+)_(?<pod_name>[^_]+)_(?<pod_id>[0-9a-fA-F-]{36})\.(?<container_name>[^._]+)\.[0-9]+\.log(?:\..*)?$";

/// Tags remembered with what they gave: a node has a few thousand files at most, and the
/// cache is emptied when it would grow past this (`cache_size`).
const DEFAULT_CACHE_SIZE: usize = 1000;

/// Parameters whose work needs the API server, which this filter does not ask yet.
const API_PARAMS: &[&str] = &[
    "kubernetes_url",
    "apiVersion",
    "ca_file",
    "verify_ssl",
    "client_cert",
    "client_key",
    "bearer_token_file",
    "secret_dir",
    "cache_ttl",
    "watch",
    "watch_retry_interval",
    "watch_retry_exponential_backoff_base",
    "watch_retry_max_times",
    "annotation_match",
    "allow_orphans",
    "orphaned_namespace_name",
    "orphaned_namespace_id",
    "de_dot",
    "de_dot_separator",
    "de_slash",
    "de_slash_separator",
    "include_namespace_metadata",
    "stats_interval",
    "ssl_partial_chain",
    "open_timeout",
    "read_timeout",
    "test_api_adapter",
    "empty_array_for_missing",
];

/// Parameters that leave out what the API server would add: nothing to leave out here.
const SKIP_PARAMS: &[&str] = &[
    "skip_labels",
    "skip_container_metadata",
    "skip_master_url",
    "skip_namespace_metadata",
    "skip_pod_labels",
];

pub struct KubernetesMetadata {
    /// Tried in order; the first that matches the tag gives the metadata.
    regexps: Vec<Regex>,
    /// Keep a `kubernetes` map the record already has (`lookup_from_k8s_field`).
    from_record: bool,
    cache_size: usize,
    /// Per tag: the fields to add, or `None` for a tag no regexp matches.
    cache: Mutex<HashMap<Arc<str>, Option<Arc<Fields>>>>,
}

/// What one tag gives: the `kubernetes` map, and the container id when the path names it.
#[derive(Debug, PartialEq)]
pub struct Fields {
    pub kubernetes: Map<String, Value>,
    pub container_id: Option<String>,
}

impl KubernetesMetadata {
    pub fn from_reader(r: &mut Reader<'_>) -> Option<KubernetesMetadata> {
        let regexps = match r.param("tag_to_kubernetes_name_regexp").cloned() {
            Some(param) => {
                let pattern = strip_slashes(&param.value);
                match Regex::new(pattern) {
                    Ok(regex) if has_names(&regex) => vec![regex],
                    Ok(_) => {
                        r.value_error(
                            &param,
                            "the regexp needs the named groups `namespace`, `pod_name` and `container_name`",
                            Some(format!("the default is {CONTAINERS_REGEXP}")),
                        );
                        return None;
                    }
                    Err(error) => {
                        let message = error.to_string();
                        let last = message.lines().last().unwrap_or("invalid");
                        r.value_error(&param, format!("invalid regular expression: {last}"), None);
                        return None;
                    }
                }
            }
            None => default_regexps(),
        };
        let from_record = r.bool("lookup_from_k8s_field", true);
        let cache_size = r
            .uint("cache_size")
            .map_or(DEFAULT_CACHE_SIZE, |n| n.max(1) as usize);
        for key in API_PARAMS {
            r.ignored(
                key,
                "pod labels, annotations and the node come from the API server, which this filter \
                 does not ask yet; namespace, pod, container and container id come from the path",
            );
        }
        for key in SKIP_PARAMS {
            let _ = r.opt_bool(key);
        }
        if r.bool("use_journal", false)
            && let Some(param) = r.param("use_journal")
        {
            r.value_error(
                param,
                "journald records are not read: the metadata comes from the tail path",
                Some("tail /var/log/containers/*.log with `tag kubernetes.*`".into()),
            );
        }
        r.ignored(
            "container_name_to_kubernetes_regexp",
            "it applies to journald records, which are not read",
        );
        Some(KubernetesMetadata {
            regexps,
            from_record,
            cache_size,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The filter with its defaults (for tests and callers without a config).
    pub fn with_defaults() -> KubernetesMetadata {
        KubernetesMetadata {
            regexps: default_regexps(),
            from_record: true,
            cache_size: DEFAULT_CACHE_SIZE,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// What `tag` says, looked up once per tag.
    pub fn fields_for(&self, tag: &Arc<str>) -> Option<Arc<Fields>> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(found) = cache.get(tag) {
            return found.clone();
        }
        let fields = self.parse(tag).map(Arc::new);
        if cache.len() >= self.cache_size {
            cache.clear();
        }
        cache.insert(tag.clone(), fields.clone());
        fields
    }

    fn parse(&self, tag: &str) -> Option<Fields> {
        let caps = self.regexps.iter().find_map(|r| r.captures(tag))?;
        let text = |name: &str| caps.name(name).map(|m| m.as_str().to_owned());
        let mut kubernetes = Map::new();
        kubernetes.insert("container_name".into(), text("container_name")?.into());
        kubernetes.insert("namespace_name".into(), text("namespace")?.into());
        kubernetes.insert("pod_name".into(), text("pod_name")?.into());
        if let Some(uid) = text("pod_id") {
            kubernetes.insert("pod_id".into(), uid.into());
        }
        Some(Fields {
            kubernetes,
            container_id: text("docker_id").filter(|id| !id.is_empty()),
        })
    }
}

fn default_regexps() -> Vec<Regex> {
    [CONTAINERS_REGEXP, PODS_REGEXP]
        .iter()
        .map(|p| Regex::new(p).expect("the built-in regexps compile"))
        .collect()
}

fn has_names(regex: &Regex) -> bool {
    let names: Vec<&str> = regex.capture_names().flatten().collect();
    ["namespace", "pod_name", "container_name"]
        .iter()
        .all(|n| names.contains(n))
}

fn strip_slashes(pattern: &str) -> &str {
    let p = pattern.trim();
    if p.len() >= 2 && p.starts_with('/') && p.ends_with('/') {
        &p[1..p.len() - 1]
    } else {
        p
    }
}

/// Whether the record already says which pod it is from.
fn has_pod(map: &Map<String, Value>) -> bool {
    map.get("kubernetes")
        .and_then(Value::as_object)
        .is_some_and(|k| k.contains_key("namespace_name") && k.contains_key("pod_name"))
}

impl Filter for KubernetesMetadata {
    fn apply(&self, event: &mut Event) -> bool {
        let Some(fields) = self.fields_for(&event.tag) else {
            return true;
        };
        let map = event.record.make_map();
        if self.from_record && has_pod(map) {
            return true;
        }
        if let Some(id) = &fields.container_id {
            let mut docker = Map::new();
            docker.insert("container_id".into(), Value::String(id.clone()));
            map.insert("docker".into(), Value::Object(docker));
        }
        map.insert(
            "kubernetes".into(),
            Value::Object(fields.kubernetes.clone()),
        );
        true
    }
}
