//! `@type kubernetes_metadata`: the fields fluent-plugin-kubernetes_metadata_filter adds to a
//! node's container lines. The tag a node's `tail` gives each file (`kubernetes.*` expands to
//! the path with `/` as `.`) names namespace, pod, container and container id
//! (`/var/log/containers/POD_NAMESPACE_CONTAINER-ID.log`) or namespace, pod, pod uid and
//! container (`/var/log/pods/NAMESPACE_POD_UID/CONTAINER/N.log`); the API server adds the rest
//! (labels, annotations, node, owner, images, the namespace's uid and labels), from a cache a
//! watch keeps up to date ([`watcher`], over our own small client: [`api`]).
//!
//! The record gets the plugin's layout: `kubernetes: {namespace_name, pod_name, container_name,
//! pod_id, host, labels, annotations, container_image, container_image_id, owner, namespace_id,
//! namespace_labels, master_url}` and `docker: {container_id}`. A line never waits on the API
//! server: what the cache does not know (the API is down, the pod long gone) goes out with what
//! the path gives; only the first line of a pod the watch has not delivered yet waits for it,
//! `wait_for_pod` at most.

mod api;
mod cache;
mod config;
mod watcher;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use fluent_config::Reader;
use regex::Regex;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

use self::cache::{ApiState, MetadataCache, NamespaceInfo, PodInfo, PodKey};
use self::config::{ApiConfig, Config, DEFAULT_CACHE_SIZE};
use super::Filter;
use crate::event::Event;
use crate::metrics::Counter;
use crate::telemetry::Telemetry;

/// The plugin's default: `var.log.containers.POD_NAMESPACE_CONTAINER-ID.log` at the end of the
/// tag, the pod name a DNS subdomain (so the dots of the path before it are not taken for it).
pub const CONTAINERS_REGEXP: &str = r"var\.log\.containers\.(?<pod_name>[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*)_(?<namespace>[^_]+)_(?<container_name>.+)-(?<docker_id>[a-z0-9]{64})\.log$";

/// `var.log.pods.NAMESPACE_POD_UID.CONTAINER.N.log`, rotated copies (`N.log.20261203-040000`)
/// included. Namespaces and container names are DNS labels (no `.` or `_`); pod names may
/// hold dots, never `_`.
pub const PODS_REGEXP: &str = r"(?:^|\.)var\.log\.pods\.(?<namespace>[^_.]+)_(?<pod_name>[^_]+)_(?<pod_id>[0-9a-fA-F-]{36})\.(?<container_name>[^._]+)\.[0-9]+\.log(?:\..*)?$";

pub struct KubernetesMetadata {
    /// Tried in order; the first that matches the tag gives the metadata.
    regexps: Vec<Regex>,
    /// Keep a `kubernetes` map the record already has (`lookup_from_k8s_field`).
    from_record: bool,
    cache_size: usize,
    /// Per tag: what its path says, and the `kubernetes` map last built for it.
    tags: Mutex<HashMap<Arc<str>, TagState>>,
    /// `None`: no API server to ask; the path is all there is.
    api: Option<Api>,
    /// Records given the API's pod and records given the path's fields only, once started.
    counts: OnceLock<RecordCounts>,
}

struct RecordCounts {
    api: Arc<Counter>,
    path: Arc<Counter>,
}

/// What one tag gives: the `kubernetes` map, and the container id when the path names it.
#[derive(Debug, PartialEq)]
pub struct Fields {
    pub kubernetes: Map<String, Value>,
    pub container_id: Option<String>,
}

/// A tag's `kubernetes` map: the cache epoch it was built at, the map, and whether the cache
/// held the pod (else the map has what the path gives).
type Built = (u64, Arc<Map<String, Value>>, bool);

struct TagState {
    /// `None` for a tag no regexp matches.
    fields: Option<Arc<Fields>>,
    /// The map built at this cache epoch (a change in the cache builds it again).
    built: Option<Built>,
    /// The first line waited (or needed not) for the pod; the next ones take what is there.
    waited: bool,
}

/// The API side: the watch's cache, and the watch itself once [`Filter::start`] ran.
struct Api {
    config: ApiConfig,
    cache: Arc<MetadataCache>,
    /// Cancelled when the filter is dropped (the pipeline ended or was reloaded).
    stop: CancellationToken,
    started: std::sync::atomic::AtomicBool,
}

impl KubernetesMetadata {
    pub fn from_reader(r: &mut Reader<'_>) -> Option<KubernetesMetadata> {
        config::read(r, &config::process_env).map(KubernetesMetadata::new)
    }

    /// The filter with its defaults and no API server (for tests and callers without a config).
    pub fn with_defaults() -> KubernetesMetadata {
        KubernetesMetadata::new(Config {
            regexps: config::default_regexps(),
            from_record: true,
            cache_size: DEFAULT_CACHE_SIZE,
            api: None,
        })
    }

    fn new(config: Config) -> KubernetesMetadata {
        let api = config.api.map(|api| Api {
            cache: Arc::new(MetadataCache::new(config.cache_size, api.cache_ttl)),
            config: api,
            stop: CancellationToken::new(),
            started: Default::default(),
        });
        KubernetesMetadata {
            regexps: config.regexps,
            from_record: config.from_record,
            cache_size: config.cache_size,
            tags: Mutex::new(HashMap::new()),
            api,
            counts: OnceLock::new(),
        }
    }

    /// What `tag`'s path says, looked up once per tag.
    pub fn fields_for(&self, tag: &Arc<str>) -> Option<Arc<Fields>> {
        let mut tags = self.tags.lock().unwrap_or_else(|p| p.into_inner());
        self.tag_state(&mut tags, tag).fields.clone()
    }

    fn tag_state<'t>(
        &self,
        tags: &'t mut HashMap<Arc<str>, TagState>,
        tag: &Arc<str>,
    ) -> &'t mut TagState {
        if !tags.contains_key(tag) {
            if tags.len() >= self.cache_size {
                tags.clear();
            }
            let fields = self.parse(tag).map(Arc::new);
            tags.insert(
                tag.clone(),
                TagState {
                    fields,
                    built: None,
                    waited: false,
                },
            );
        }
        tags.get_mut(tag).expect("inserted above")
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

    /// The `kubernetes` map for a line of `tag` with what the API server says: built once per
    /// tag and cache change. `None` without an API server or for a tag that names no pod.
    /// The `kubernetes` map from the API's cache for `tag`'s pod, and whether the cache held
    /// the pod (else the map has what the path gives); `None` without an API server.
    fn kubernetes_for(&self, tag: &Arc<str>) -> Option<(Arc<Map<String, Value>>, bool)> {
        let api = self.api.as_ref()?;
        let epoch = api.cache.epoch();
        let (fields, wait) = {
            let mut tags = self.tags.lock().unwrap_or_else(|p| p.into_inner());
            let state = self.tag_state(&mut tags, tag);
            let fields = state.fields.clone()?;
            if let Some((at, map, found)) = &state.built
                && *at == epoch
            {
                return Some((map.clone(), *found));
            }
            (fields, !state.waited)
        };
        // Outside the lock: the wait must not hold up the other files' lines.
        let key = pod_key(&fields);
        let mut pod = api.cache.pod(&key);
        if pod.is_none() && wait && !api.config.wait_for_pod.is_zero() {
            pod = api.cache.wait_for_pod(&key, api.config.wait_for_pod);
        }
        let namespace = if api.config.record.namespace_metadata {
            api.cache.namespace(&key.namespace)
        } else {
            None
        };
        let map = Arc::new(api.record(&fields, pod.as_deref(), namespace.as_deref()));
        let found = pod.is_some();
        let mut tags = self.tags.lock().unwrap_or_else(|p| p.into_inner());
        let state = self.tag_state(&mut tags, tag);
        state.built = Some((epoch, map.clone(), found));
        state.waited = true;
        Some((map, found))
    }
}

fn pod_key(fields: &Fields) -> PodKey {
    let text = |key: &str| {
        fields
            .kubernetes
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    PodKey {
        namespace: text("namespace_name").unwrap_or_default(),
        name: text("pod_name").unwrap_or_default(),
        uid: text("pod_id"),
        container_id: fields.container_id.clone(),
    }
}

impl Api {
    /// The path's fields and what the API server says of the pod and its namespace.
    fn record(
        &self,
        fields: &Fields,
        pod: Option<&PodInfo>,
        namespace: Option<&NamespaceInfo>,
    ) -> Map<String, Value> {
        let options = &self.config.record;
        let mut map = fields.kubernetes.clone();
        if let Some(pod) = pod {
            map.insert("pod_id".into(), pod.uid.clone().into());
            if !pod.host.is_empty() {
                map.insert("host".into(), pod.host.clone().into());
            }
            if options.pod_labels && !pod.labels.is_empty() {
                map.insert("labels".into(), Value::Object(pod.labels.clone()));
            }
            if !pod.annotations.is_empty() {
                map.insert("annotations".into(), Value::Object(pod.annotations.clone()));
            }
            if let Some((kind, name)) = &pod.owner {
                let mut owner = Map::new();
                owner.insert("kind".into(), kind.clone().into());
                owner.insert("name".into(), name.clone().into());
                map.insert("owner".into(), Value::Object(owner));
            }
            let container_name = map.get("container_name").and_then(Value::as_str);
            let container = match &fields.container_id {
                Some(id) => pod.containers.iter().find(|c| &c.id == id),
                None => pod
                    .containers
                    .iter()
                    .find(|c| Some(c.name.as_str()) == container_name),
            };
            if options.container_metadata
                && let Some(container) = container
            {
                if !container.image.is_empty() {
                    map.insert("container_image".into(), container.image.clone().into());
                }
                if !container.image_id.is_empty() {
                    map.insert(
                        "container_image_id".into(),
                        container.image_id.clone().into(),
                    );
                }
            }
            if options.master_url {
                map.insert("master_url".into(), self.config.master_url.clone().into());
            }
        }
        if let Some(namespace) = namespace {
            if !namespace.uid.is_empty() {
                map.insert("namespace_id".into(), namespace.uid.clone().into());
            }
            if options.namespace_labels && !namespace.labels.is_empty() {
                map.insert(
                    "namespace_labels".into(),
                    Value::Object(namespace.labels.clone()),
                );
            }
            if !namespace.annotations.is_empty() {
                map.insert(
                    "namespace_annotations".into(),
                    Value::Object(namespace.annotations.clone()),
                );
            }
        }
        map
    }
}

/// Whether the record already says which pod it is from.
fn has_pod(map: &Map<String, Value>) -> bool {
    map.get("kubernetes")
        .and_then(Value::as_object)
        .is_some_and(|k| k.contains_key("namespace_name") && k.contains_key("pod_name"))
}

impl Filter for KubernetesMetadata {
    fn start(&self, plugin_id: &str, telemetry: &Telemetry) {
        let metrics = &telemetry.metrics;
        let _ = self.counts.set(RecordCounts {
            api: metrics.kubernetes_records.with(&[plugin_id, "api"]),
            path: metrics.kubernetes_records.with(&[plugin_id, "path"]),
        });
        let Some(api) = &self.api else {
            info!(
                "kubernetes_metadata: no API server (no kubernetes_url, no KUBERNETES_SERVICE_HOST): namespace, pod and container come from the file paths only"
            );
            return;
        };
        if api.started.swap(true, std::sync::atomic::Ordering::AcqRel) {
            return;
        }
        api.cache.report_to(
            metrics.kubernetes_api_up.with(&[plugin_id]),
            metrics.kubernetes_cached_pods.with(&[plugin_id]),
        );
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            error!(
                "kubernetes_metadata: started outside the runtime; the API server is not watched"
            );
            return;
        };
        let client = match api::ApiClient::new(api.config.settings.clone()) {
            Ok(client) => client,
            Err(e) => {
                error!(
                    "kubernetes_metadata: {e}; namespace, pod and container come from the file paths only"
                );
                return;
            }
        };
        let node = api.config.watch.node.as_deref().unwrap_or("every node");
        info!(
            "kubernetes_metadata: watching the pods of {node} at {}",
            api.config.settings.base
        );
        api.cache.set_api_state(ApiState::Starting {
            until: tokio::time::Instant::now() + api.config.wait_for_pod,
        });
        runtime.spawn(watcher::run(
            client,
            api.config.watch.clone(),
            api.cache.clone(),
            Arc::new(api.config.shaping.clone()),
            api.stop.clone(),
        ));
    }

    fn apply(&self, event: &mut Event) -> bool {
        let Some(fields) = self.fields_for(&event.tag) else {
            return true;
        };
        let map = event.record.make_map();
        if self.from_record && has_pod(map) {
            return true;
        }
        let (kubernetes, from_api) = match self.kubernetes_for(&event.tag) {
            Some((built, found)) => ((*built).clone(), found),
            None => (fields.kubernetes.clone(), false),
        };
        if let Some(counts) = self.counts.get() {
            if from_api { &counts.api } else { &counts.path }.inc();
        }
        if let Some(id) = &fields.container_id {
            let mut docker = Map::new();
            docker.insert("container_id".into(), Value::String(id.clone()));
            map.insert("docker".into(), Value::Object(docker));
        }
        map.insert("kubernetes".into(), Value::Object(kubernetes));
        true
    }
}

impl Drop for KubernetesMetadata {
    fn drop(&mut self) {
        if let Some(api) = &self.api {
            api.stop.cancel();
        }
    }
}
