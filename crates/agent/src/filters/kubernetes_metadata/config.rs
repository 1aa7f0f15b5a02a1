//! The filter's parameters, validated: fluent-plugin-kubernetes_metadata_filter's names and
//! defaults, where the API server is (`kubernetes_url`, else the pod's own service account as
//! `KUBERNETES_SERVICE_HOST`/`_PORT` and `secret_dir` give it), and which node's pods to watch
//! (`K8S_NODE_NAME`, else `NODE_NAME`, the DaemonSet's downward API).

use std::path::PathBuf;
use std::time::Duration;

use fluent_config::Reader;
use regex::Regex;

use super::api::ApiSettings;
use super::cache::Shaping;
use super::watcher::WatchOptions;
use super::{CONTAINERS_REGEXP, PODS_REGEXP};

/// Tags (and pods, and namespaces) remembered: a node has a few hundred pods at most.
pub(crate) const DEFAULT_CACHE_SIZE: usize = 1000;
/// How long a deleted pod's metadata is kept (the plugin's `cache_ttl`, an hour).
const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(3600);
/// How long the first line of a pod the watch has not delivered yet waits for it.
const DEFAULT_WAIT_FOR_POD: Duration = Duration::from_secs(1);
const DEFAULT_SECRET_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Parameters of the plugin this filter accepts without acting on them.
const IGNORED_PARAMS: &[(&str, &str)] = &[
    (
        "watch_retry_max_times",
        "the watch is retried for ever; meanwhile lines go out with what the cache and the path give",
    ),
    (
        "allow_orphans",
        "a pod the API server does not know keeps the namespace its path names",
    ),
    (
        "orphaned_namespace_name",
        "a pod the API server does not know keeps the namespace its path names",
    ),
    (
        "orphaned_namespace_id",
        "a pod the API server does not know keeps the namespace its path names",
    ),
    ("stats_interval", "the cache is not logged periodically"),
    ("ssl_partial_chain", "the CA in `ca_file` is a trust anchor"),
    ("test_api_adapter", "it is for the plugin's own tests"),
    (
        "empty_array_for_missing",
        "a field the API server does not give is left out",
    ),
];

/// What the filter does, validated.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub regexps: Vec<Regex>,
    pub from_record: bool,
    pub cache_size: usize,
    /// `None`: no API server (not in a cluster and no `kubernetes_url`): the path only.
    pub api: Option<ApiConfig>,
}

#[derive(Debug, Clone)]
pub(crate) struct ApiConfig {
    pub settings: ApiSettings,
    pub watch: WatchOptions,
    pub shaping: Shaping,
    pub record: RecordOptions,
    /// `master_url` as the plugin writes it (`…/api`).
    pub master_url: String,
    pub cache_ttl: Duration,
    pub wait_for_pod: Duration,
}

/// What goes into the record (the plugin's `skip_*`).
#[derive(Debug, Clone, Default)]
pub(crate) struct RecordOptions {
    pub pod_labels: bool,
    pub namespace_labels: bool,
    pub container_metadata: bool,
    pub master_url: bool,
    pub namespace_metadata: bool,
}

/// The process environment the defaults come from (a map in tests).
pub(crate) type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

pub(crate) fn process_env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}

pub(crate) fn read(r: &mut Reader<'_>, env: Env<'_>) -> Option<Config> {
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
                    r.value_error(
                        &param,
                        format!("invalid regular expression: {}", last_line(&error)),
                        None,
                    );
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
    let api = read_api(r, env);
    for (key, why) in IGNORED_PARAMS {
        r.ignored(key, why);
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
    if r.has_errors() {
        return None;
    }
    Some(Config {
        regexps,
        from_record,
        cache_size,
        api,
    })
}

fn read_api(r: &mut Reader<'_>, env: Env<'_>) -> Option<ApiConfig> {
    if let Some(param) = r.param("apiVersion")
        && param.value.trim() != "v1"
    {
        r.value_error(param, "only the core API `v1` is read", None);
    }
    r.fixed_bool(
        "watch",
        true,
        "the filter always lists and watches the node's pods (one connection, not one GET per pod)",
    );
    let secret_dir = PathBuf::from(
        r.string("secret_dir")
            .unwrap_or_else(|| DEFAULT_SECRET_DIR.into()),
    );
    let in_secret_dir = |name: &str| Some(secret_dir.join(name)).filter(|p| p.is_file());
    let url = r.string("kubernetes_url");
    let token_file = r.string("bearer_token_file").map(PathBuf::from);
    let ca_file = r.string("ca_file").map(PathBuf::from);
    let verify_ssl = r.bool("verify_ssl", true);
    let client_cert = r.string("client_cert").map(PathBuf::from);
    let client_key = r.string("client_key").map(PathBuf::from);
    if client_cert.is_some() != client_key.is_some()
        && let Some(param) = r.param("client_cert").or(r.param("client_key"))
    {
        r.value_error(param, "`client_cert` and `client_key` go together", None);
    }
    let open_timeout = r.duration("open_timeout").unwrap_or(Duration::from_secs(5));
    let read_timeout = r
        .duration("read_timeout")
        .unwrap_or(Duration::from_secs(30));
    let cache_ttl = r.duration("cache_ttl").unwrap_or(DEFAULT_CACHE_TTL);
    let wait_for_pod = r.duration("wait_for_pod").unwrap_or(DEFAULT_WAIT_FOR_POD);
    let retry_interval = r
        .duration("watch_retry_interval")
        .unwrap_or(Duration::from_secs(1));
    let backoff_base = r
        .float("watch_retry_exponential_backoff_base")
        .unwrap_or(2.0);
    let node = r
        .string("node_name")
        .or_else(|| env("K8S_NODE_NAME"))
        .or_else(|| env("NODE_NAME"));

    let mut annotation_match = Vec::new();
    for pattern in r.list("annotation_match").unwrap_or_default() {
        match Regex::new(strip_slashes(&pattern)) {
            Ok(regex) => annotation_match.push(regex),
            Err(error) => {
                if let Some(param) = r.param("annotation_match") {
                    let message = format!(
                        "invalid regular expression `{pattern}`: {}",
                        last_line(&error)
                    );
                    r.value_error(param, message, None);
                }
            }
        }
    }
    let de_dot = separator(r, "de_dot", true, "_", '.');
    let de_slash = separator(r, "de_slash", false, "__", '/');
    let skip_labels = r.bool("skip_labels", false);
    let skip_pod_labels = r.bool("skip_pod_labels", false);
    let skip_container_metadata = r.bool("skip_container_metadata", false);
    let skip_master_url = r.bool("skip_master_url", false);
    let skip_namespace_metadata = r.bool("skip_namespace_metadata", false);
    let include_namespace_metadata = r.bool("include_namespace_metadata", true);

    let (base, master_url) = match url {
        Some(url) => {
            let trimmed = url.trim().trim_end_matches('/');
            let base = trimmed.strip_suffix("/api").unwrap_or(trimmed).to_owned();
            if !(base.starts_with("http://") || base.starts_with("https://"))
                && let Some(param) = r.param("kubernetes_url")
            {
                r.value_error(
                    param,
                    "expected an http:// or https:// URL",
                    Some("https://kubernetes.default.svc/api".into()),
                );
                return None;
            }
            (base, trimmed.to_owned())
        }
        None => {
            let host = env("KUBERNETES_SERVICE_HOST")?;
            let port = env("KUBERNETES_SERVICE_PORT").unwrap_or_else(|| "443".into());
            let host = if host.contains(':') {
                format!("[{host}]")
            } else {
                host
            };
            let base = format!("https://{host}:{port}");
            let master_url = format!("{base}/api");
            (base, master_url)
        }
    };
    let namespace_metadata = include_namespace_metadata && !skip_namespace_metadata;
    Some(ApiConfig {
        settings: ApiSettings {
            base,
            token_file: token_file.or_else(|| in_secret_dir("token")),
            ca_file: ca_file.or_else(|| in_secret_dir("ca.crt")),
            verify_ssl,
            client_cert,
            client_key,
            open_timeout,
            read_timeout,
        },
        watch: WatchOptions {
            node,
            namespaces: namespace_metadata,
            retry_interval,
            backoff_base,
        },
        shaping: Shaping {
            de_dot,
            de_slash,
            annotation_match,
        },
        record: RecordOptions {
            pod_labels: !skip_labels && !skip_pod_labels,
            namespace_labels: !skip_labels,
            container_metadata: !skip_container_metadata,
            master_url: !skip_master_url,
            namespace_metadata,
        },
        master_url,
        cache_ttl,
        wait_for_pod,
    })
}

/// `de_dot`/`de_slash` and their separator, which must not hold the character it replaces.
fn separator(
    r: &mut Reader<'_>,
    key: &str,
    default: bool,
    default_separator: &str,
    replaced: char,
) -> Option<String> {
    let on = r.bool(key, default);
    let separator_key = format!("{key}_separator");
    let separator = r
        .string(&separator_key)
        .unwrap_or_else(|| default_separator.into());
    if separator.contains(replaced) {
        if let Some(param) = r.param(&separator_key) {
            r.value_error(
                param,
                format!("the separator cannot hold `{replaced}`, which it replaces"),
                None,
            );
        }
        return None;
    }
    on.then_some(separator)
}

pub(crate) fn default_regexps() -> Vec<Regex> {
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

fn last_line(error: &regex::Error) -> String {
    let message = error.to_string();
    message.lines().last().unwrap_or("invalid").to_owned()
}
