//! Keeps the cache up to date: list, then watch from the list's resourceVersion (bookmarks move
//! it on), and list again when the watch says 410 Gone or the connection fails. Failures are
//! retried for ever with `watch_retry_interval` × `watch_retry_exponential_backoff_base`^n
//! (at most [`MAX_RETRY_DELAY`]); meanwhile the cache keeps what it knew and the filter does not
//! wait for what it does not know.

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::api::{
    ApiClient, ApiError, List, Namespace, ObjectMeta, Pod, WATCH_SECONDS, WatchEvent,
};
use super::cache::{ApiState, MetadataCache, Shaping};

/// The longest pause between two attempts.
pub(crate) const MAX_RETRY_DELAY: Duration = Duration::from_secs(10);

/// What the watcher needs besides the client.
#[derive(Debug, Clone)]
pub(crate) struct WatchOptions {
    /// Only this node's pods (`spec.nodeName`); `None`: every pod of the cluster.
    pub node: Option<String>,
    /// Watch namespaces too (their labels and uid).
    pub namespaces: bool,
    pub retry_interval: Duration,
    pub backoff_base: f64,
}

impl WatchOptions {
    fn delay(&self, failures: u32) -> Duration {
        let factor = self.backoff_base.max(1.0).powi(failures.min(30) as i32);
        self.retry_interval
            .mul_f64(factor.min(1e6))
            .min(MAX_RETRY_DELAY)
    }
}

/// Runs until `stop`.
pub(crate) async fn run(
    client: ApiClient,
    options: WatchOptions,
    cache: Arc<MetadataCache>,
    shaping: Arc<Shaping>,
    stop: CancellationToken,
) {
    let (cache, shaping) = (&*cache, &*shaping);
    let pods_path = match &options.node {
        Some(node) => format!(
            "/api/v1/pods?fieldSelector=spec.nodeName%3D{}",
            percent_encode(node)
        ),
        None => "/api/v1/pods?".to_owned(),
    };
    let pods = list_and_watch::<Pod>(&client, pods_path, &options, cache, shaping, &stop);
    let namespaces = async {
        if options.namespaces {
            let path = "/api/v1/namespaces?".to_owned();
            list_and_watch::<Namespace>(&client, path, &options, cache, shaping, &stop).await;
        }
    };
    tokio::join!(pods, namespaces);
}

/// A resource the watcher follows, and what its objects do to the cache.
pub(crate) trait Resource: DeserializeOwned + Send + 'static {
    /// For the log: `pods`, `namespaces`.
    const NAME: &'static str;
    /// Whether this watch being up lets a line wait for what it has not delivered yet.
    const WAITED_FOR: bool;
    fn meta(&self) -> &ObjectMeta;
    /// A new list: all there is.
    fn listed(items: Vec<Self>, cache: &MetadataCache, shaping: &Shaping);
    /// One event of the watch.
    fn changed(event: WatchEvent<Self>, cache: &MetadataCache, shaping: &Shaping);
}

impl Resource for Pod {
    const NAME: &'static str = "pods";
    const WAITED_FOR: bool = true;

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn listed(items: Vec<Pod>, cache: &MetadataCache, shaping: &Shaping) {
        cache.replace_pods(items.iter().map(|p| shaping.pod(p)).collect());
    }

    fn changed(event: WatchEvent<Pod>, cache: &MetadataCache, shaping: &Shaping) {
        match event {
            WatchEvent::Added(p) | WatchEvent::Modified(p) => cache.put_pod(shaping.pod(&p)),
            WatchEvent::Deleted(p) => cache.delete_pod(&p.metadata.uid),
            _ => {}
        }
    }
}

impl Resource for Namespace {
    const NAME: &'static str = "namespaces";
    const WAITED_FOR: bool = false;

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn listed(items: Vec<Namespace>, cache: &MetadataCache, shaping: &Shaping) {
        cache.replace_namespaces(items.iter().map(|n| shaping.namespace(n)).collect());
    }

    fn changed(event: WatchEvent<Namespace>, cache: &MetadataCache, shaping: &Shaping) {
        match event {
            WatchEvent::Added(n) | WatchEvent::Modified(n) => {
                let (name, info) = shaping.namespace(&n);
                cache.put_namespace(name, info);
            }
            WatchEvent::Deleted(n) => cache.delete_namespace(&n.metadata.name),
            _ => {}
        }
    }
}

/// Why a watch ended.
enum Ended {
    /// The server closed it (its timeout): watch again from where it was.
    Closed,
    /// List again (410 Gone, an ERROR event).
    Relist,
    Failed(ApiError),
}

/// List `path` into the cache, watch from there, and start over on failure.
async fn list_and_watch<T: Resource>(
    client: &ApiClient,
    path: String,
    options: &WatchOptions,
    cache: &MetadataCache,
    shaping: &Shaping,
    stop: &CancellationToken,
) {
    let what = T::NAME;
    let on_state = |up: bool| {
        if T::WAITED_FOR {
            cache.set_api_state(if up { ApiState::Up } else { ApiState::Down });
        }
    };
    let mut failures: u32 = 0;
    let mut up = false;
    let fail = |failures: &mut u32, up: &mut bool, error: &ApiError| {
        if *up || *failures == 0 {
            warn!(
                "the Kubernetes API does not answer ({error}); {what}: lines go out with what the cache and the file path give until it does"
            );
        } else {
            debug!("{what}: the Kubernetes API still does not answer: {error}");
        }
        *up = false;
        *failures += 1;
        on_state(false);
    };
    // Lists in a row that the next watch sent back at once (410): paced like failures.
    let mut relists: u32 = 0;
    loop {
        let pause = if failures > 0 {
            Some(options.delay(failures - 1))
        } else if relists > 1 {
            Some(options.delay(relists - 2))
        } else {
            None
        };
        if let Some(delay) = pause {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(delay) => {}
            }
        }
        let listed = tokio::select! {
            _ = stop.cancelled() => return,
            listed = client.list::<T>(&path) => listed,
        };
        let List { metadata, items } = match listed {
            Ok(list) => list,
            Err(error) => {
                fail(&mut failures, &mut up, &error);
                continue;
            }
        };
        let count = items.len();
        T::listed(items, cache, shaping);
        if failures > 0 {
            info!("the Kubernetes API answers again: {count} {what} listed");
        } else {
            debug!("{count} {what} listed");
        }
        failures = 0;
        up = true;
        on_state(true);
        let mut version = metadata.resource_version;
        loop {
            let mut delivered = false;
            let ended = tokio::select! {
                _ = stop.cancelled() => return,
                ended = watch::<T>(client, &path, &mut version, cache, shaping, &mut delivered) => ended,
            };
            if delivered {
                relists = 0;
            }
            match ended {
                Ended::Closed => continue,
                Ended::Relist => {
                    relists += 1;
                    break;
                }
                Ended::Failed(error) => {
                    fail(&mut failures, &mut up, &error);
                    break;
                }
            }
        }
    }
}

/// One watch from `version`, moving it with each event.
async fn watch<T: Resource>(
    client: &ApiClient,
    path: &str,
    version: &mut String,
    cache: &MetadataCache,
    shaping: &Shaping,
    delivered: &mut bool,
) -> Ended {
    let separator = if path.ends_with('?') { "" } else { "&" };
    let watch_path = format!(
        "{path}{separator}watch=1&resourceVersion={}&allowWatchBookmarks=true&timeoutSeconds={WATCH_SECONDS}",
        percent_encode(version)
    );
    let mut stream = match client.watch(&watch_path).await {
        Ok(stream) => stream,
        Err(ApiError::Gone) => return Ended::Relist,
        Err(error) => return Ended::Failed(error),
    };
    loop {
        match stream.next::<T>().await {
            Ok(None) => return Ended::Closed,
            Ok(Some(WatchEvent::Bookmark(at))) => {
                *version = at;
                *delivered = true;
            }
            Ok(Some(WatchEvent::Gone)) => return Ended::Relist,
            Ok(Some(WatchEvent::Error(message))) => {
                warn!("the Kubernetes API ended a watch: {message}; listing again");
                return Ended::Relist;
            }
            Ok(Some(event)) => {
                if let WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o) =
                    &event
                    && !o.meta().resource_version.is_empty()
                {
                    version.clone_from(&o.meta().resource_version);
                }
                T::changed(event, cache, shaping);
                *delivered = true;
            }
            Err(error) => return Ended::Failed(error),
        }
    }
}

/// A query value: what is not unreserved is `%XX`.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_a_cap() {
        let options = WatchOptions {
            node: None,
            namespaces: true,
            retry_interval: Duration::from_secs(1),
            backoff_base: 2.0,
        };
        let delays: Vec<u64> = (0..6).map(|n| options.delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 10, 10]);
        assert_eq!(options.delay(u32::MAX), MAX_RETRY_DELAY);
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(percent_encode("node-a.b_c"), "node-a.b_c");
        assert_eq!(percent_encode("a=b&c d"), "a%3Db%26c%20d");
    }
}
