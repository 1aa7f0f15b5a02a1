//! What the watch delivered, held for the filter: the node's pods (by uid, with indexes by
//! name and by container id) and the namespaces, bounded by `cache_size` each. A deleted pod or
//! namespace is kept `cache_ttl` longer, so the lines its containers wrote just before the end
//! still get its labels when the agent reads them later. The filter reads it from the source
//! threads without ever waiting on the API: a lookup is a map access, and the only wait is a
//! bounded one for a pod the watch has not delivered yet while the watch is up.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use regex::Regex;
use serde_json::{Map, Value};
use tokio::time::Instant;

use super::api::{Namespace, ObjectMeta, Pod};
use crate::metrics::Gauge;

/// What a line's file path says about its pod.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct PodKey {
    pub namespace: String,
    pub name: String,
    /// From `/var/log/pods/NAMESPACE_POD_UID/…`.
    pub uid: Option<String>,
    /// From `/var/log/containers/…-ID.log`.
    pub container_id: Option<String>,
}

/// A pod as the record shows it (keys already de-dotted, annotations already matched).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct PodInfo {
    pub uid: String,
    pub namespace: String,
    pub name: String,
    pub host: String,
    pub labels: Map<String, Value>,
    pub annotations: Map<String, Value>,
    /// The controller (or first) owner: `{kind, name}`.
    pub owner: Option<(String, String)>,
    pub containers: Vec<ContainerInfo>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ContainerInfo {
    /// Without the runtime's `containerd://` prefix; empty until the container started.
    pub id: String,
    pub name: String,
    pub image: String,
    pub image_id: String,
}

/// A namespace as the record shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct NamespaceInfo {
    pub uid: String,
    pub labels: Map<String, Value>,
    pub annotations: Map<String, Value>,
}

/// How API objects become record fields: the plugin's `de_dot`, `de_slash` and
/// `annotation_match`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Shaping {
    pub de_dot: Option<String>,
    pub de_slash: Option<String>,
    pub annotation_match: Vec<Regex>,
}

impl Shaping {
    fn key(&self, key: &str) -> String {
        let mut key = key.to_owned();
        if let Some(separator) = &self.de_dot {
            key = key.replace('.', separator);
        }
        if let Some(separator) = &self.de_slash {
            key = key.replace('/', separator);
        }
        key
    }

    fn labels(&self, labels: &Map<String, Value>) -> Map<String, Value> {
        labels
            .iter()
            .map(|(k, v)| (self.key(k), v.clone()))
            .collect()
    }

    fn annotations(&self, annotations: &Map<String, Value>) -> Map<String, Value> {
        annotations
            .iter()
            .filter(|(k, _)| self.annotation_match.iter().any(|r| r.is_match(k)))
            .map(|(k, v)| (self.key(k), v.clone()))
            .collect()
    }

    pub fn pod(&self, pod: &Pod) -> PodInfo {
        let meta = &pod.metadata;
        let owners = &meta.owner_references;
        let owner = owners
            .iter()
            .find(|o| o.controller)
            .or(owners.first())
            .map(|o| (o.kind.clone(), o.name.clone()));
        let status = &pod.status;
        let containers = status
            .container_statuses
            .iter()
            .chain(&status.init_container_statuses)
            .chain(&status.ephemeral_container_statuses)
            .map(|c| ContainerInfo {
                id: c.bare_id().to_owned(),
                name: c.name.clone(),
                image: c.image.clone(),
                image_id: c.image_id.clone(),
            })
            .collect();
        PodInfo {
            uid: meta.uid.clone(),
            namespace: meta.namespace.clone(),
            name: meta.name.clone(),
            host: pod.spec.node_name.clone(),
            labels: self.labels(&meta.labels),
            annotations: self.annotations(&meta.annotations),
            owner,
            containers,
        }
    }

    pub fn namespace(&self, namespace: &Namespace) -> (String, NamespaceInfo) {
        let meta: &ObjectMeta = &namespace.metadata;
        let info = NamespaceInfo {
            uid: meta.uid.clone(),
            labels: self.labels(&meta.labels),
            annotations: self.annotations(&meta.annotations),
        };
        (meta.name.clone(), info)
    }
}

/// How long lookups do not wait after a wait that the watch did not end.
pub(crate) const MISSED_WAIT_PAUSE: Duration = Duration::from_secs(30);

/// Whether the pod watch can be waited for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ApiState {
    /// Not started, or failing: nothing to wait for.
    Down,
    /// Started, the first list not answered yet: waits end at `until` at the latest, however
    /// many files the agent finds at start.
    Starting { until: Instant },
    /// Listed and watching.
    Up,
}

struct Kept<T> {
    value: Arc<T>,
    deleted_at: Option<Instant>,
    /// When it was last looked up or changed, for eviction (a tick, not a time).
    used: u64,
}

#[derive(Default)]
struct Table<T> {
    entries: HashMap<String, Kept<T>>,
}

impl<T> Table<T> {
    fn get(&mut self, key: &str, now: Instant, ttl: Duration, tick: u64) -> Option<Arc<T>> {
        let kept = self.entries.get_mut(key)?;
        if kept.deleted_at.is_some_and(|at| now >= at + ttl) {
            return None;
        }
        kept.used = tick;
        Some(kept.value.clone())
    }

    /// The entry to drop when the table is full: a deleted one first, then the least used.
    fn victim(&self) -> Option<String> {
        self.entries
            .iter()
            .min_by_key(|(_, k)| (k.deleted_at.is_none(), k.used))
            .map(|(key, _)| key.clone())
    }

    /// Deleted entries past their time.
    /// A new list came: what it no longer holds ended while the watch was down.
    fn deleted_unless_listed<'a>(&mut self, listed: impl Iterator<Item = &'a str>, now: Instant) {
        let listed: std::collections::HashSet<&str> = listed.collect();
        for (key, kept) in &mut self.entries {
            if !listed.contains(key.as_str()) && kept.deleted_at.is_none() {
                kept.deleted_at = Some(now);
            }
        }
    }

    fn expired(&self, now: Instant, ttl: Duration) -> Vec<String> {
        self.entries
            .iter()
            .filter(|(_, k)| k.deleted_at.is_some_and(|at| now >= at + ttl))
            .map(|(key, _)| key.clone())
            .collect()
    }
}

#[derive(Default)]
struct State {
    /// By uid.
    pods: Table<PodInfo>,
    /// `(namespace, name)` → uid of the newest pod of that name.
    by_name: HashMap<(String, String), String>,
    /// Container id → uid.
    by_container: HashMap<String, String>,
    /// By name.
    namespaces: Table<NamespaceInfo>,
    tick: u64,
    api: Option<ApiState>,
    /// When a wait with the watch up last ended without the pod.
    missed_wait: Option<std::time::Instant>,
}

/// The cache shared by the filter (reading) and the watcher (writing).
pub(crate) struct MetadataCache {
    state: Mutex<State>,
    /// Signalled on every change, for the filter's bounded wait.
    changed: Condvar,
    /// Bumped on every change: a record built at this epoch is still right.
    epoch: AtomicU64,
    size: usize,
    ttl: Duration,
    /// Set by [`MetadataCache::report_to`]: whether the watch is up, and the pods held.
    gauges: OnceLock<(Arc<Gauge>, Arc<Gauge>)>,
}

impl MetadataCache {
    pub fn new(size: usize, ttl: Duration) -> MetadataCache {
        MetadataCache {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            epoch: AtomicU64::new(0),
            size: size.max(1),
            ttl,
            gauges: OnceLock::new(),
        }
    }

    /// Keeps `up` (1 while the pod watch is listed and watching) and `pods` (pods held) true
    /// from now on.
    pub fn report_to(&self, up: Arc<Gauge>, pods: Arc<Gauge>) {
        let _ = self.gauges.set((up, pods));
        self.report();
    }

    fn report(&self) {
        if let Some((up, pods)) = self.gauges.get() {
            let state = self.lock();
            up.set(i64::from(state.api == Some(ApiState::Up)));
            pods.set(i64::try_from(state.pods.entries.len()).unwrap_or(i64::MAX));
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bumped by every change.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    fn changed(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.changed.notify_all();
        self.report();
    }

    #[cfg(test)]
    pub fn api_state(&self) -> ApiState {
        self.lock().api.unwrap_or(ApiState::Down)
    }

    pub fn set_api_state(&self, api: ApiState) {
        self.lock().api = Some(api);
        self.changed();
    }

    /// The pod a line is from: by uid when the path names it, else by container id, else the
    /// newest pod of that name.
    pub fn pod(&self, key: &PodKey) -> Option<Arc<PodInfo>> {
        let mut state = self.lock();
        self.find(&mut state, key)
    }

    fn find(&self, state: &mut State, key: &PodKey) -> Option<Arc<PodInfo>> {
        state.tick += 1;
        let (now, tick) = (Instant::now(), state.tick);
        if let Some(uid) = &key.uid {
            return state.pods.get(uid, now, self.ttl, tick);
        }
        let by_container = key
            .container_id
            .as_ref()
            .and_then(|id| state.by_container.get(id))
            .cloned();
        if let Some(uid) = by_container
            && let Some(pod) = state.pods.get(&uid, now, self.ttl, tick)
        {
            return Some(pod);
        }
        let uid = state
            .by_name
            .get(&(key.namespace.clone(), key.name.clone()))?
            .clone();
        state.pods.get(&uid, now, self.ttl, tick)
    }

    /// [`Self::pod`], waiting up to `timeout` for the watch to deliver it, but only while the
    /// watch is up (or starting): with the API server down the line goes on at once. A wait
    /// the watch did not end says the files being read are of pods long gone (kubelet keeps a
    /// dead container's log for a while, and a start reads them all): for
    /// [`MISSED_WAIT_PAUSE`] after one, the next lookups do not wait, so such files cost one
    /// wait and not one each.
    pub fn wait_for_pod(&self, key: &PodKey, timeout: Duration) -> Option<Arc<PodInfo>> {
        let deadline = std::time::Instant::now() + timeout;
        let mut state = self.lock();
        if state
            .missed_wait
            .is_some_and(|at| at.elapsed() < MISSED_WAIT_PAUSE)
        {
            return self.find(&mut state, key);
        }
        loop {
            if let Some(pod) = self.find(&mut state, key) {
                return Some(pod);
            }
            let now = std::time::Instant::now();
            let left = match state.api.unwrap_or(ApiState::Down) {
                ApiState::Down => return None,
                ApiState::Up => deadline.saturating_duration_since(now),
                ApiState::Starting { until } => deadline
                    .saturating_duration_since(now)
                    .min(until.saturating_duration_since(Instant::now())),
            };
            if left.is_zero() {
                if state.api == Some(ApiState::Up) {
                    state.missed_wait = Some(now);
                }
                return None;
            }
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    pub fn namespace(&self, name: &str) -> Option<Arc<NamespaceInfo>> {
        let mut state = self.lock();
        state.tick += 1;
        let tick = state.tick;
        state.namespaces.get(name, Instant::now(), self.ttl, tick)
    }

    /// An added or changed pod.
    pub fn put_pod(&self, pod: PodInfo) {
        let mut state = self.lock();
        self.insert_pod(&mut state, pod);
        self.expire(&mut state);
        drop(state);
        self.changed();
    }

    /// A deleted pod: kept `cache_ttl` longer for the lines it wrote last.
    pub fn delete_pod(&self, uid: &str) {
        let mut state = self.lock();
        if let Some(kept) = state.pods.entries.get_mut(uid) {
            kept.deleted_at.get_or_insert_with(Instant::now);
        }
        self.expire(&mut state);
        drop(state);
        self.changed();
    }

    /// A new list: every pod it holds, the ones it no longer holds deleted (they ended while
    /// the watch was down).
    pub fn replace_pods(&self, pods: Vec<PodInfo>) {
        let mut state = self.lock();
        state
            .pods
            .deleted_unless_listed(pods.iter().map(|p| p.uid.as_str()), Instant::now());
        for pod in pods {
            self.insert_pod(&mut state, pod);
        }
        self.expire(&mut state);
        drop(state);
        self.changed();
    }

    pub fn put_namespace(&self, name: String, namespace: NamespaceInfo) {
        let mut guard = self.lock();
        let state = &mut *guard;
        Self::insert(
            &mut state.namespaces,
            name,
            namespace,
            &mut state.tick,
            self.size,
        );
        self.expire(state);
        drop(guard);
        self.changed();
    }

    pub fn delete_namespace(&self, name: &str) {
        let mut state = self.lock();
        if let Some(kept) = state.namespaces.entries.get_mut(name) {
            kept.deleted_at.get_or_insert_with(Instant::now);
        }
        drop(state);
        self.changed();
    }

    pub fn replace_namespaces(&self, namespaces: Vec<(String, NamespaceInfo)>) {
        let mut guard = self.lock();
        let state = &mut *guard;
        state
            .namespaces
            .deleted_unless_listed(namespaces.iter().map(|(n, _)| n.as_str()), Instant::now());
        for (name, namespace) in namespaces {
            Self::insert(
                &mut state.namespaces,
                name,
                namespace,
                &mut state.tick,
                self.size,
            );
        }
        self.expire(state);
        drop(guard);
        self.changed();
    }

    /// Whether the pod `uid` is held as deleted (`None`: not held).
    #[cfg(test)]
    pub fn deleted(&self, uid: &str) -> Option<bool> {
        let state = self.lock();
        state.pods.entries.get(uid).map(|k| k.deleted_at.is_some())
    }

    /// How many pods and namespaces are held (deleted ones included).
    #[cfg(test)]
    pub fn len(&self) -> (usize, usize) {
        let state = self.lock();
        (state.pods.entries.len(), state.namespaces.entries.len())
    }

    fn insert<T>(table: &mut Table<T>, key: String, value: T, tick: &mut u64, size: usize) {
        *tick += 1;
        let kept = Kept {
            value: Arc::new(value),
            deleted_at: None,
            used: *tick,
        };
        if !table.entries.contains_key(&key)
            && table.entries.len() >= size
            && let Some(victim) = table.victim()
        {
            table.entries.remove(&victim);
        }
        table.entries.insert(key, kept);
    }

    fn insert_pod(&self, state: &mut State, pod: PodInfo) {
        if pod.uid.is_empty() {
            return;
        }
        let uid = pod.uid.clone();
        if !state.pods.entries.contains_key(&uid)
            && state.pods.entries.len() >= self.size
            && let Some(victim) = state.pods.victim()
        {
            Self::remove_pod(state, &victim);
        }
        // Container ids the new version no longer names stay pointing here: a line of a
        // container that ended is still this pod's.
        state
            .by_name
            .insert((pod.namespace.clone(), pod.name.clone()), uid.clone());
        for container in &pod.containers {
            if !container.id.is_empty() {
                state.by_container.insert(container.id.clone(), uid.clone());
            }
        }
        Self::insert(&mut state.pods, uid, pod, &mut state.tick, usize::MAX);
    }

    fn remove_pod(state: &mut State, uid: &str) {
        let Some(kept) = state.pods.entries.remove(uid) else {
            return;
        };
        let pod = &kept.value;
        let name = (pod.namespace.clone(), pod.name.clone());
        if state.by_name.get(&name).is_some_and(|u| u == uid) {
            state.by_name.remove(&name);
        }
        state.by_container.retain(|_, u| u != uid);
    }

    fn expire(&self, state: &mut State) {
        let now = Instant::now();
        for uid in state.pods.expired(now, self.ttl) {
            Self::remove_pod(state, &uid);
        }
        for name in state.namespaces.expired(now, self.ttl) {
            state.namespaces.entries.remove(&name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(uid: &str, name: &str, container_id: &str, app: &str) -> PodInfo {
        let mut labels = Map::new();
        labels.insert("app".into(), app.into());
        PodInfo {
            uid: uid.into(),
            namespace: "shop".into(),
            name: name.into(),
            host: "node-a".into(),
            labels,
            containers: vec![ContainerInfo {
                id: container_id.into(),
                name: "api".into(),
                ..ContainerInfo::default()
            }],
            ..PodInfo::default()
        }
    }

    fn key(name: &str, uid: Option<&str>, container_id: Option<&str>) -> PodKey {
        PodKey {
            namespace: "shop".into(),
            name: name.into(),
            uid: uid.map(str::to_owned),
            container_id: container_id.map(str::to_owned),
        }
    }

    fn app(pod: Option<Arc<PodInfo>>) -> Option<String> {
        pod.map(|p| p.labels["app"].as_str().unwrap().to_owned())
    }

    /// A pod is found by uid, by container id, or by name (the newest of that name); a pod
    /// deleted and created again with the same name keeps its own lines by container id.
    #[test]
    fn lookups_by_uid_container_and_name() {
        let cache = MetadataCache::new(10, Duration::from_secs(60));
        cache.put_pod(pod("u1", "web-0", "c1", "old"));
        assert_eq!(
            app(cache.pod(&key("web-0", None, None))),
            Some("old".into())
        );
        cache.delete_pod("u1");
        cache.put_pod(pod("u2", "web-0", "c2", "new"));
        assert_eq!(
            app(cache.pod(&key("web-0", None, None))),
            Some("new".into())
        );
        assert_eq!(
            app(cache.pod(&key("web-0", None, Some("c1")))),
            Some("old".into())
        );
        assert_eq!(
            app(cache.pod(&key("web-0", Some("u1"), None))),
            Some("old".into())
        );
        assert_eq!(
            app(cache.pod(&key("web-0", None, Some("unknown")))),
            Some("new".into()),
            "an unknown container id falls back to the name"
        );
        assert_eq!(cache.pod(&key("web-0", Some("u3"), None)), None);
        assert_eq!(cache.pod(&key("web-1", None, None)), None);
    }

    /// A deleted pod stays `cache_ttl`, then goes.
    #[tokio::test(start_paused = true)]
    async fn deleted_pods_stay_for_the_ttl() {
        let cache = MetadataCache::new(10, Duration::from_secs(60));
        cache.put_pod(pod("u1", "web-0", "c1", "web"));
        cache.delete_pod("u1");
        tokio::time::advance(Duration::from_secs(59)).await;
        assert!(cache.pod(&key("web-0", None, Some("c1"))).is_some());
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(cache.pod(&key("web-0", None, Some("c1"))).is_none());
        cache.put_pod(pod("u2", "web-1", "c2", "web"));
        assert_eq!(
            cache.len().0,
            1,
            "expired entries are dropped on the next change"
        );
    }

    /// Full: a deleted pod goes first, then the least used; the indexes follow.
    #[test]
    fn the_cache_is_bounded() {
        let cache = MetadataCache::new(3, Duration::from_secs(3600));
        cache.put_pod(pod("u1", "a", "c1", "a"));
        cache.put_pod(pod("u2", "b", "c2", "b"));
        cache.put_pod(pod("u3", "c", "c3", "c"));
        cache.delete_pod("u2");
        cache.put_pod(pod("u4", "d", "c4", "d"));
        assert_eq!(cache.len().0, 3);
        assert!(
            cache.pod(&key("b", None, Some("c2"))).is_none(),
            "the deleted one went"
        );
        assert!(cache.pod(&key("a", None, None)).is_some());
        cache.put_pod(pod("u5", "e", "c5", "e"));
        assert!(
            cache.pod(&key("c", None, None)).is_none(),
            "the least used went"
        );
        for name in ["a", "d", "e"] {
            assert!(cache.pod(&key(name, None, None)).is_some(), "{name}");
        }
        for n in 0..100 {
            cache.put_pod(pod(
                &format!("x{n}"),
                &format!("x{n}"),
                &format!("cx{n}"),
                "x",
            ));
            cache.put_namespace(format!("ns{n}"), NamespaceInfo::default());
        }
        assert_eq!(cache.len(), (3, 3));
        let state = cache.lock();
        assert_eq!(state.by_name.len(), 3);
        assert_eq!(state.by_container.len(), 3);
    }

    /// A relist marks the pods it no longer holds deleted (kept for the ttl), not gone.
    #[test]
    fn a_relist_deletes_what_it_no_longer_holds() {
        let cache = MetadataCache::new(10, Duration::from_secs(3600));
        cache.put_pod(pod("u1", "a", "c1", "a"));
        cache.put_pod(pod("u2", "b", "c2", "b"));
        cache.replace_pods(vec![pod("u2", "b", "c2", "b2"), pod("u3", "c", "c3", "c")]);
        let state = cache.lock();
        assert!(state.pods.entries["u1"].deleted_at.is_some());
        assert!(state.pods.entries["u2"].deleted_at.is_none());
        assert_eq!(state.pods.entries["u2"].value.labels["app"], "b2");
        assert!(state.pods.entries["u3"].deleted_at.is_none());
    }

    /// The wait ends as soon as the pod comes, at the timeout while the watch is up, and at
    /// once while it is down.
    #[test]
    fn waits_are_bounded() {
        let cache = Arc::new(MetadataCache::new(10, Duration::from_secs(3600)));
        let start = std::time::Instant::now();
        assert!(
            cache
                .wait_for_pod(&key("a", None, None), Duration::from_secs(10))
                .is_none()
        );
        assert!(start.elapsed() < Duration::from_secs(1), "down: no wait");

        cache.set_api_state(ApiState::Up);
        let start = std::time::Instant::now();
        assert!(
            cache
                .wait_for_pod(&key("a", None, None), Duration::from_millis(200))
                .is_none()
        );
        assert!(start.elapsed() >= Duration::from_millis(200));
        let start = std::time::Instant::now();
        assert!(
            cache
                .wait_for_pod(&key("z", None, None), Duration::from_secs(10))
                .is_none()
        );
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "after a missed wait, no wait for a while"
        );
        cache.lock().missed_wait = None;

        let writer = cache.clone();
        let put = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            writer.put_pod(pod("u1", "a", "c1", "a"));
        });
        let start = std::time::Instant::now();
        assert!(
            cache
                .wait_for_pod(&key("a", None, None), Duration::from_secs(30))
                .is_some()
        );
        assert!(start.elapsed() < Duration::from_secs(10));
        put.join().unwrap();

        let writer = cache.clone();
        let down = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            writer.set_api_state(ApiState::Down);
        });
        let start = std::time::Instant::now();
        assert!(
            cache
                .wait_for_pod(&key("b", None, None), Duration::from_secs(30))
                .is_none()
        );
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the API went down: the wait ends"
        );
        down.join().unwrap();
    }

    #[test]
    fn shaping_de_dots_and_matches_annotations() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-0", "namespace": "shop", "uid": "u1",
                "labels": {"app.kubernetes.io/name": "web", "tier": "front"},
                "annotations": {"prometheus.io/scrape": "true", "other": "x"},
                "ownerReferences": [{"kind": "Node", "name": "n"}, {"kind": "ReplicaSet", "name": "web-5d", "controller": true}]},
            "spec": {"nodeName": "node-a"},
            "status": {"containerStatuses": [{"name": "api", "image": "api:1", "imageID": "sha256:1", "containerID": "containerd://abc"}],
                       "initContainerStatuses": [{"name": "init", "containerID": "cri-o://def"}]}
        }))
        .unwrap();
        let shaping = Shaping {
            de_dot: Some("_".into()),
            de_slash: Some("__".into()),
            annotation_match: vec![Regex::new("^prometheus").unwrap()],
        };
        let info = shaping.pod(&pod);
        assert_eq!(
            Value::Object(info.labels.clone()),
            serde_json::json!({"app_kubernetes_io__name": "web", "tier": "front"})
        );
        assert_eq!(
            Value::Object(info.annotations.clone()),
            serde_json::json!({"prometheus_io__scrape": "true"})
        );
        assert_eq!(info.owner, Some(("ReplicaSet".into(), "web-5d".into())));
        assert_eq!(info.host, "node-a");
        let ids: Vec<&str> = info.containers.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["abc", "def"]);
        let plain = Shaping::default().pod(&pod);
        assert!(plain.labels.contains_key("app.kubernetes.io/name"));
        assert!(plain.annotations.is_empty(), "no annotation_match: none");
    }
}
