//! The `google_cloud` output's parameters: read from a `<match>` section with the names of
//! fluent-plugin-google-cloud, validated into [`GoogleCloudConfig`]. Values that usually come from
//! the environment (downward API, `GOOGLE_APPLICATION_CREDENTIALS`, `GCE_METADATA_HOST`) are read
//! here, once, so the rest of the sink (and its tests) never looks at the process environment.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use fluent_config::Reader;
use gcloud_logging::MAX_REQUEST_BYTES;

/// Cloud Logging's public endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://logging.googleapis.com";
/// The metadata server's host on GCE and GKE.
pub const DEFAULT_METADATA_HOST: &str = "metadata.google.internal";
/// Where rejected entries go unless `dead_letter_path` says otherwise.
pub const DEFAULT_DEAD_LETTER_FILE: &str = "logferry-dead-letter.jsonl";

/// How the sink gets an access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// `auto`: no token for an explicit `http://` endpoint (the emulator); otherwise a key file
    /// (`credentials_path`, `GOOGLE_APPLICATION_CREDENTIALS`, gcloud's application default
    /// credentials), else the metadata server.
    Auto,
    /// Never send a token.
    None,
    /// The metadata server's default service account (GCE, GKE, Workload Identity).
    Metadata,
    /// A credentials file (service-account key or `authorized_user`) is required.
    ServiceAccount,
}

/// What to do with an entry over `max_entry_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OversizeEntries {
    /// Cut it into several entries linked by `LogEntry.split`.
    Split,
    /// Keep the first part and add a marker saying how much was cut.
    Truncate,
}

/// Request body compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
}

/// The typed configuration of one `google_cloud` output.
#[derive(Clone, PartialEq)]
pub struct GoogleCloudConfig {
    /// Project to write to; detected from the metadata server or the key file when unset.
    pub project_id: Option<String>,
    pub zone: Option<String>,
    pub vm_id: Option<String>,
    pub vm_name: Option<String>,
    /// Forces the monitored resource type (`k8s_container`, `container`, `gce_instance`,
    /// `global` or any other); detected when unset.
    pub resource_type: Option<String>,
    /// Resource labels set or overriding the detected ones.
    pub resource_labels: BTreeMap<String, String>,
    /// Request-wide entry labels.
    pub labels: BTreeMap<String, String>,
    pub use_metadata_service: bool,
    pub partial_success: bool,
    /// Parse `format none` lines that are JSON objects and lift their fields.
    pub detect_json: bool,
    /// One request per tag with a request-level `logName` instead of a `logName` per entry.
    pub split_logs_by_tag: bool,
    /// `scheme://host[:port]` without a path.
    pub endpoint: String,
    /// Whether `endpoint` was written in the configuration (plain HTTP is allowed only then).
    pub endpoint_explicit: bool,
    pub auth: AuthMode,
    /// `credentials_path`, else `GOOGLE_APPLICATION_CREDENTIALS`.
    pub credentials_path: Option<PathBuf>,
    /// gcloud's `application_default_credentials.json`, tried by `auth auto` after the above.
    pub adc_well_known_path: Option<PathBuf>,
    /// `GCE_METADATA_HOST`, else `metadata.google.internal`; may carry a port.
    pub metadata_host: String,
    pub max_request_bytes: usize,
    pub max_entry_bytes: usize,
    pub oversize_entries: OversizeEntries,
    pub compress: Compression,
    /// JSON lines of rejected entries with their status. Default
    /// `$TMPDIR/logferry-dead-letter.jsonl`; every rejection is also logged at ERROR, so it is
    /// visible in the container's output even where the file does not outlive the pod.
    pub dead_letter_path: PathBuf,
    pub request_timeout: Duration,
    /// Connect/answer timeout of each metadata-server call during detection.
    pub metadata_timeout: Duration,
    pub k8s_pod_name: Option<String>,
    pub k8s_namespace_name: Option<String>,
    pub k8s_container_name: Option<String>,
    /// The cluster of a node's containers (`k8s_container` resources); else the metadata
    /// server's `cluster-name` attribute.
    pub k8s_cluster_name: Option<String>,
    /// Else the metadata server's `cluster-location` attribute, else the zone.
    pub k8s_cluster_location: Option<String>,
    /// The node the agent runs on (`NODE_NAME` from the downward API): each container entry's
    /// `compute.googleapis.com/resource_name` label, unless the record names its host.
    pub k8s_node_name: Option<String>,
}

impl Default for GoogleCloudConfig {
    /// The defaults without looking at the environment (see [`GoogleCloudConfig::with_env`]).
    fn default() -> Self {
        GoogleCloudConfig {
            project_id: None,
            zone: None,
            vm_id: None,
            vm_name: None,
            resource_type: None,
            resource_labels: BTreeMap::new(),
            labels: BTreeMap::new(),
            use_metadata_service: true,
            partial_success: true,
            detect_json: false,
            split_logs_by_tag: false,
            endpoint: DEFAULT_ENDPOINT.to_owned(),
            endpoint_explicit: false,
            auth: AuthMode::Auto,
            credentials_path: None,
            adc_well_known_path: None,
            metadata_host: DEFAULT_METADATA_HOST.to_owned(),
            max_request_bytes: MAX_REQUEST_BYTES,
            max_entry_bytes: gcloud_logging::MAX_ENTRY_BYTES,
            oversize_entries: OversizeEntries::Split,
            compress: Compression::None,
            dead_letter_path: std::env::temp_dir().join(DEFAULT_DEAD_LETTER_FILE),
            request_timeout: Duration::from_secs(30),
            metadata_timeout: Duration::from_secs(1),
            k8s_pod_name: None,
            k8s_namespace_name: None,
            k8s_container_name: None,
            k8s_cluster_name: None,
            k8s_cluster_location: None,
            k8s_node_name: None,
        }
    }
}

impl std::fmt::Debug for GoogleCloudConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Paths and names only: nothing here is a secret, but keep the key file's contents out.
        f.debug_struct("GoogleCloudConfig")
            .field("project_id", &self.project_id)
            .field("resource_type", &self.resource_type)
            .field("endpoint", &self.endpoint)
            .field("auth", &self.auth)
            .field("credentials_path", &self.credentials_path)
            .field("max_request_bytes", &self.max_request_bytes)
            .field("max_entry_bytes", &self.max_entry_bytes)
            .field("dead_letter_path", &self.dead_letter_path)
            .finish_non_exhaustive()
    }
}

/// fluent-plugin-google-cloud parameters logferry accepts and ignores, with the reason.
const IGNORED: &[(&str, &str)] = &[
    ("use_grpc", "logferry always uses the REST API"),
    (
        "grpc_compression_algorithm",
        "logferry always uses the REST API; see `compress`",
    ),
    ("enable_monitoring", "logferry exposes its own counters"),
    ("monitoring_type", "logferry exposes its own counters"),
    ("statusz_port", "logferry has no statusz page"),
    (
        "autoformat_stackdriver_trace",
        "bare 32-hex trace ids are always qualified",
    ),
    (
        "kubernetes_tag_regexp",
        "the resource comes from the metadata server and the downward API",
    ),
    ("adjust_invalid_timestamps", "timestamps are sent as read"),
    ("coerce_to_utf8", "invalid UTF-8 always becomes U+FFFD"),
    (
        "non_utf8_replacement_string",
        "invalid UTF-8 always becomes U+FFFD",
    ),
    (
        "require_valid_tags",
        "every tag is made a valid log id (other characters become `_`); none is rejected",
    ),
    ("label_map", "map labels with a filter instead"),
    ("enable_metadata_agent", "the metadata agent is deprecated"),
    ("metadata_agent_url", "the metadata agent is deprecated"),
    ("detect_subservice", "not supported"),
    ("vm_type", "the resource comes from the metadata server"),
    ("http_request_key", "the `httpRequest` key is always lifted"),
    ("operation_key", "the standard key is always lifted"),
    ("source_location_key", "the standard key is always lifted"),
    ("span_id_key", "the standard key is always lifted"),
    ("trace_key", "the standard key is always lifted"),
    ("trace_sampled_key", "the standard key is always lifted"),
    ("insert_id_key", "the standard key is always lifted"),
    ("labels_key", "the standard key is always lifted"),
    (
        "enable_debug_logs",
        "run logferry with `--log-level debug` (or LOGFERRY_LOG=debug)",
    ),
    ("logging_api_url", "use `endpoint`"),
    (
        "total_num_retries",
        "retries never stop while the buffer holds the chunk",
    ),
];

impl GoogleCloudConfig {
    /// Reads this plugin's parameters; the caller already consumed `@type/@id/@label/@log_level`
    /// and the buffer parameters, and calls `r.finish()` afterwards.
    pub fn from_reader(r: &mut Reader<'_>) -> GoogleCloudConfig {
        let mut c = GoogleCloudConfig::default().with_env(|k| std::env::var(k).ok());
        c.project_id = non_empty(r.string("project_id"));
        c.zone = non_empty(r.string("zone"));
        c.vm_id = non_empty(r.string("vm_id"));
        c.vm_name = non_empty(r.string("vm_name"));
        c.resource_type = non_empty(r.string("resource_type"));
        if let Some(labels) = r.hash("resource_labels") {
            c.resource_labels = labels.into_iter().collect();
        }
        if let Some(labels) = r.hash("labels") {
            c.labels = labels.into_iter().collect();
        }
        c.use_metadata_service = r.bool("use_metadata_service", c.use_metadata_service);
        c.partial_success = r.bool("partial_success", c.partial_success);
        c.detect_json = r.bool("detect_json", c.detect_json);
        c.split_logs_by_tag = r.bool("split_logs_by_tag", c.split_logs_by_tag);

        if let Some(p) = r.param("endpoint") {
            match normalize_endpoint(&p.value) {
                Ok(endpoint) => {
                    c.endpoint = endpoint;
                    c.endpoint_explicit = true;
                }
                Err(why) => r.value_error(
                    p,
                    why,
                    Some("write e.g. `endpoint http://127.0.0.1:8085`".into()),
                ),
            }
        }
        c.auth = match r.enum_of(
            "auth",
            &["auto", "none", "metadata", "service_account"],
            "auto",
        ) {
            "none" => AuthMode::None,
            "metadata" => AuthMode::Metadata,
            "service_account" => AuthMode::ServiceAccount,
            _ => AuthMode::Auto,
        };
        if let Some(path) = non_empty(r.string("credentials_path")) {
            c.credentials_path = Some(PathBuf::from(path));
        }
        if c.auth == AuthMode::ServiceAccount
            && c.credentials_path.is_none()
            && let Some(p) = r.param("auth")
        {
            r.value_error(
                p,
                "`auth service_account` needs `credentials_path` or GOOGLE_APPLICATION_CREDENTIALS",
                None,
            );
        }

        if let Some(p) = r.param("max_request_bytes") {
            match fluent_config::literal::parse_size(&p.value) {
                Ok(n) if (1024..=MAX_REQUEST_BYTES as u64).contains(&n) => c.max_request_bytes = n as usize,
                Ok(_) => r.value_error(
                    p,
                    format!("`max_request_bytes` must be between 1k and {MAX_REQUEST_BYTES} (Cloud Logging's limit)"),
                    None,
                ),
                Err(e) => r.value_error(p, format!("invalid size `{}`: {}", e.text, e.expected), None),
            }
        }
        if let Some(p) = r.param("max_entry_bytes") {
            match fluent_config::literal::parse_size(&p.value) {
                Ok(n) if (1024..=gcloud_logging::MAX_ENTRY_BYTES as u64).contains(&n) => {
                    c.max_entry_bytes = n as usize
                }
                Ok(_) => r.value_error(
                    p,
                    format!(
                        "`max_entry_bytes` must be between 1k and {} (Cloud Logging's limit)",
                        gcloud_logging::MAX_ENTRY_BYTES
                    ),
                    None,
                ),
                Err(e) => r.value_error(
                    p,
                    format!("invalid size `{}`: {}", e.text, e.expected),
                    None,
                ),
            }
        }
        c.oversize_entries = match r.enum_of("oversize_entries", &["split", "truncate"], "split") {
            "truncate" => OversizeEntries::Truncate,
            _ => OversizeEntries::Split,
        };
        c.compress = match r.enum_of("compress", &["none", "gzip", "text"], "none") {
            "gzip" => Compression::Gzip,
            _ => Compression::None,
        };
        if let Some(path) = non_empty(r.string("dead_letter_path")) {
            c.dead_letter_path = PathBuf::from(path);
        }
        if let Some(t) = r.duration("request_timeout") {
            c.request_timeout = t.max(Duration::from_millis(100));
        }
        for (key, slot) in [
            ("k8s_pod_name", &mut c.k8s_pod_name),
            ("k8s_namespace_name", &mut c.k8s_namespace_name),
            ("k8s_container_name", &mut c.k8s_container_name),
            ("k8s_cluster_name", &mut c.k8s_cluster_name),
            ("k8s_cluster_location", &mut c.k8s_cluster_location),
            ("k8s_node_name", &mut c.k8s_node_name),
        ] {
            if let Some(v) = non_empty(r.string(key)) {
                *slot = Some(v);
            }
        }
        for (key, why) in IGNORED {
            r.ignored(key, why);
        }
        c
    }

    /// Fills the values that come from the environment: `GOOGLE_APPLICATION_CREDENTIALS`,
    /// gcloud's ADC file under `$HOME`, `GCE_METADATA_HOST`, and the downward-API variables
    /// `POD_NAME` (else `HOSTNAME`), `POD_NAMESPACE` (else `NAMESPACE`), `CONTAINER_NAME`,
    /// `NODE_NAME`.
    pub fn with_env(mut self, env: impl Fn(&str) -> Option<String>) -> GoogleCloudConfig {
        let get = |k: &str| env(k).filter(|v| !v.is_empty());
        if self.credentials_path.is_none() {
            self.credentials_path = get("GOOGLE_APPLICATION_CREDENTIALS").map(PathBuf::from);
        }
        if self.adc_well_known_path.is_none() {
            self.adc_well_known_path = get("CLOUDSDK_CONFIG")
                .map(PathBuf::from)
                .or_else(|| get("HOME").map(|h| PathBuf::from(h).join(".config/gcloud")))
                .map(|dir| dir.join("application_default_credentials.json"));
        }
        if let Some(host) = get("GCE_METADATA_HOST") {
            self.metadata_host = host;
        }
        self.k8s_pod_name = self
            .k8s_pod_name
            .or_else(|| get("POD_NAME").or_else(|| get("HOSTNAME")));
        self.k8s_namespace_name = self
            .k8s_namespace_name
            .or_else(|| get("POD_NAMESPACE").or_else(|| get("NAMESPACE")));
        self.k8s_container_name = self.k8s_container_name.or_else(|| get("CONTAINER_NAME"));
        self.k8s_node_name = self.k8s_node_name.or_else(|| get("NODE_NAME"));
        self
    }

    /// Whether requests go out without a token (see [`AuthMode::Auto`]).
    pub fn is_local_endpoint(&self) -> bool {
        self.endpoint_explicit && self.endpoint.starts_with("http://")
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// `http(s)://host[:port]` with any trailing `/` removed; anything else is an error.
pub fn normalize_endpoint(text: &str) -> Result<String, String> {
    let trimmed = text.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .ok_or_else(|| {
            format!("invalid endpoint `{text}`: expected http://host:port or https://host")
        })?;
    if rest.is_empty() || rest.contains('/') || rest.contains(char::is_whitespace) {
        return Err(format!(
            "invalid endpoint `{text}`: expected a scheme and host (and port) without a path"
        ));
    }
    trimmed
        .parse::<http::Uri>()
        .map_err(|e| format!("invalid endpoint `{text}`: {e}"))?;
    Ok(trimmed.to_owned())
}
