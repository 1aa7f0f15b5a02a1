//! logferry's own metrics, rendered in the Prometheus text format. Every metric name lives in
//! this module (fluentd's `fluentd_*` names where the meaning is the same, `logferry_*`
//! otherwise), so a dashboard author reads one file. The registry is a handful of atomics per
//! series: a component looks its series up once and then only increments.
//!
//! The registry is a [`Metrics`] value, not a global: the runtime makes one per agent and hands
//! it to every source and output it starts, so two agents in one process (a test's two
//! pipelines) count apart. The supervisor keeps the same one across config reloads: counters
//! keep counting, as Prometheus expects of a counter.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.add(1);
    }
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    pub fn set(&self, v: i64) {
        self.0.store(v, Ordering::Relaxed);
    }
    pub fn add(&self, n: i64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Observations counted into fixed buckets (upper bounds, ascending).
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    sum_bits: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            sum_bits: AtomicU64::new(0f64.to_bits()),
            count: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, value: f64) {
        if let Some(i) = self.bounds.iter().position(|b| value <= *b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let _ = self
            .sum_bits
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + value).to_bits())
            });
    }

    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The mean of every observation, if any.
    pub fn mean(&self) -> Option<f64> {
        let count = self.count();
        (count > 0).then(|| f64::from_bits(self.sum_bits.load(Ordering::Relaxed)) / count as f64)
    }

    /// The upper bound of the bucket holding quantile `q` (0..=1); `None` when empty or past
    /// the last bucket.
    pub fn quantile_bound(&self, q: f64) -> Option<f64> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        let wanted = (q * count as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (bound, bucket) in self.bounds.iter().zip(&self.counts) {
            seen += bucket.load(Ordering::Relaxed);
            if seen >= wanted {
                return Some(*bound);
            }
        }
        None
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// A metric name with its label names and one series per label values.
pub struct Family<M> {
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
    bounds: &'static [f64],
    series: Mutex<BTreeMap<Vec<String>, Arc<M>>>,
}

impl<M> Family<M> {
    const fn make(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
        bounds: &'static [f64],
    ) -> Self {
        Family {
            name,
            help,
            labels,
            bounds,
            series: Mutex::new(BTreeMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Vec<String>, Arc<M>>> {
        self.series.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets the series whose label values satisfy `pred` (a file no longer followed).
    pub fn remove_where(&self, mut pred: impl FnMut(&[String]) -> bool) {
        self.lock().retain(|k, _| !pred(k));
    }

    /// Every series with its label values.
    pub fn snapshot(&self) -> Vec<(Vec<String>, Arc<M>)> {
        self.lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

impl<M: Default> Family<M> {
    /// The series for these label values, created on first use.
    pub fn with(&self, values: &[&str]) -> Arc<M> {
        debug_assert_eq!(values.len(), self.labels.len(), "{}", self.name);
        let key: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        self.lock().entry(key).or_default().clone()
    }
}

impl Family<Histogram> {
    pub fn with(&self, values: &[&str]) -> Arc<Histogram> {
        let key: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        let bounds = self.bounds;
        self.lock()
            .entry(key)
            .or_insert_with(|| Arc::new(Histogram::new(bounds)))
            .clone()
    }
}

pub type CounterFamily = Family<Counter>;
pub type GaugeFamily = Family<Gauge>;
pub type HistogramFamily = Family<Histogram>;

const fn counter(
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
) -> CounterFamily {
    Family::make(name, help, labels, &[])
}
const fn gauge(
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
) -> GaugeFamily {
    Family::make(name, help, labels, &[])
}
const fn histogram(
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
    bounds: &'static [f64],
) -> HistogramFamily {
    Family::make(name, help, labels, bounds)
}

/// Declares [`Metrics`] with one field per family, in the order the page shows them: a family
/// cannot be declared and left out of the page.
macro_rules! registry {
    ($( $field:ident : $ty:ty = $make:expr; )*) => {
        /// One agent's metrics: every family, and the counters components keep themselves.
        pub struct Metrics {
            $( pub $field: $ty, )*
            components: Mutex<BTreeMap<(String, &'static str), Registered>>,
        }

        impl Default for Metrics {
            fn default() -> Self {
                Metrics {
                    $( $field: $make, )*
                    components: Mutex::default(),
                }
            }
        }

        impl Metrics {
            fn families(&self) -> Vec<&dyn Render> {
                vec![$( &self.$field ),*]
            }
        }
    };
}

const SECONDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];
const EXPOSURE_SECONDS: &[f64] = &[
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
];
const BYTES: &[f64] = &[
    1024.0,
    4096.0,
    16384.0,
    65536.0,
    262_144.0,
    1_048_576.0,
    4_194_304.0,
    10_485_760.0,
];

registry! {
    // ---- inputs ----------------------------------------------------------------------------------

    input_records: CounterFamily = counter(
        "fluentd_input_status_num_records_total",
        "Events emitted by each input.",
        &["plugin_id", "type"],
    );
    tail_lines_read: CounterFamily = counter(
        "logferry_tail_lines_read_total",
        "Lines read from each followed path.",
        &["plugin_id", "path"],
    );
    tail_bytes_read: CounterFamily = counter(
        "logferry_tail_bytes_read_total",
        "Bytes read from each followed path.",
        &["plugin_id", "path"],
    );
    tail_file_position: GaugeFamily = gauge(
        "fluentd_tail_file_position",
        "Acknowledged position (the pos_file offset) of the file currently at each path.",
        &["plugin_id", "type", "path"],
    );
    tail_bytes_behind: GaugeFamily = gauge(
        "logferry_tail_bytes_behind",
        "Bytes between the acknowledged position and the end of the file at each path: what a deleted volume would lose now.",
        &["plugin_id", "path"],
    );
    exposure_window: HistogramFamily = histogram(
        "logferry_exposure_window_seconds",
        "Time from reading a chunk of lines to its acknowledgement by every output.",
        &["plugin_id"],
        EXPOSURE_SECONDS,
    );
    forward_connections: CounterFamily = counter(
        "logferry_forward_connections_total",
        "Connections accepted by each forward input.",
        &["plugin_id"],
    );
    forward_active_connections: GaugeFamily = gauge(
        "logferry_forward_active_connections",
        "Connections open now on each forward input.",
        &["plugin_id"],
    );
    forward_refused_connections: CounterFamily = counter(
        "logferry_forward_refused_connections_total",
        "Connections closed at once because each forward input already served max_connections.",
        &["plugin_id"],
    );

    // ---- filters ---------------------------------------------------------------------------------

    kubernetes_api_up: GaugeFamily = gauge(
        "logferry_kubernetes_api_up",
        "1 while each kubernetes_metadata filter has listed the node's pods and watches them, 0 while the API server does not answer (lines then carry what the cache and the file path give).",
        &["plugin_id"],
    );
    kubernetes_cached_pods: GaugeFamily = gauge(
        "logferry_kubernetes_cached_pods",
        "Pods each kubernetes_metadata filter holds (deleted ones kept for cache_ttl included).",
        &["plugin_id"],
    );
    kubernetes_records: CounterFamily = counter(
        "logferry_kubernetes_metadata_records_total",
        "Records each kubernetes_metadata filter gave metadata to, by where the pod's came from: api (the watch's cache held the pod) or path (it did not, or there is no API server: namespace, pod and container from the file path only).",
        &["plugin_id", "source"],
    );

    // ---- outputs ---------------------------------------------------------------------------------

    output_emit_records: CounterFamily = counter(
        "fluentd_output_status_emit_records",
        "Events routed to each output.",
        &["plugin_id", "type"],
    );
    output_write_count: CounterFamily = counter(
        "fluentd_output_status_write_count",
        "Chunks handed to each output's destination (every attempt).",
        &["plugin_id", "type"],
    );
    output_retry_count: CounterFamily = counter(
        "fluentd_output_status_retry_count",
        "Failed chunk deliveries that will be retried.",
        &["plugin_id", "type"],
    );
    output_num_errors: CounterFamily = counter(
        "fluentd_output_status_num_errors",
        "Errors while delivering chunks.",
        &["plugin_id", "type"],
    );
    output_entries_sent: CounterFamily = counter(
        "logferry_output_entries_sent_total",
        "Entries handed to each output's destination, counting every attempt.",
        &["plugin_id", "type"],
    );
    output_entries_acked: CounterFamily = counter(
        "logferry_output_entries_acked_total",
        "Entries each output delivered for good (including those it dead-lettered).",
        &["plugin_id", "type"],
    );
    output_entries_retried: CounterFamily = counter(
        "logferry_output_entries_retried_total",
        "Entries in chunks whose delivery failed and will be retried.",
        &["plugin_id", "type"],
    );
    output_buffer_bytes: GaugeFamily = gauge(
        "fluentd_output_status_buffer_total_bytes",
        "Approximate bytes of events held by each output (buffered or in flight).",
        &["plugin_id", "type"],
    );
    output_buffer_entries: GaugeFamily = gauge(
        "logferry_output_buffer_entries",
        "Events held by each output (buffered or in flight).",
        &["plugin_id", "type"],
    );
    output_flush_duration: HistogramFamily = histogram(
        "logferry_output_flush_duration_seconds",
        "Time to deliver one chunk (one attempt).",
        &["plugin_id", "type"],
        SECONDS,
    );
    output_concurrency_limit: GaugeFamily = gauge(
        "logferry_output_concurrency_limit",
        "How many chunks each output may have in flight now (adapted to the destination's latency and back-pressure).",
        &["plugin_id", "type"],
    );
    output_in_flight: GaugeFamily = gauge(
        "logferry_output_requests_in_flight",
        "Chunks each output has in flight now.",
        &["plugin_id", "type"],
    );
    output_rtt: HistogramFamily = histogram(
        "logferry_output_rtt_seconds",
        "Round-trip time of each delivered send (one attempt), as the concurrency limit observes it.",
        &["plugin_id", "type"],
        SECONDS,
    );
    google_cloud_request_duration: HistogramFamily = histogram(
        "logferry_google_cloud_request_duration_seconds",
        "Latency of entries:write requests, by HTTP status class.",
        &["code"],
        SECONDS,
    );
    google_cloud_request_bytes: HistogramFamily = histogram(
        "logferry_google_cloud_request_bytes",
        "Body size of entries:write requests as sent (after compression).",
        &[],
        BYTES,
    );
    google_cloud_token_refreshes: CounterFamily = counter(
        "logferry_google_cloud_token_refreshes_total",
        "Access token fetches, by result.",
        &["result"],
    );

    // ---- the process -----------------------------------------------------------------------------

    errors: CounterFamily = counter(
        "logferry_errors_total",
        "Errors by class (each is also logged).",
        &["class"],
    );
    config_reloads: CounterFamily = counter(
        "logferry_config_reloads_total",
        "Configuration reloads, by result.",
        &["result"],
    );
}

/// Error classes of [`Metrics::errors`]. An output's failed delivery is counted once, under the class
/// its error gives ([`crate::sinks::SinkError::class`]).
pub mod class {
    /// `entries:write`: no answer in time.
    pub const GOOGLE_CLOUD_TIMEOUT: &str = "google_cloud_timeout";
    /// `entries:write`: no connection, or it broke.
    pub const GOOGLE_CLOUD_CONNECTION: &str = "google_cloud_connection";
    /// `entries:write` answered 401 or 403: the credentials or their permissions.
    pub const GOOGLE_CLOUD_AUTH: &str = "google_cloud_auth";
    /// `entries:write` answered 429.
    pub const GOOGLE_CLOUD_QUOTA: &str = "google_cloud_quota";
    /// `entries:write` answered 5xx.
    pub const GOOGLE_CLOUD_SERVER: &str = "google_cloud_server";
    /// `entries:write` refused the request (another 4xx, or every entry refused).
    pub const GOOGLE_CLOUD_REQUEST: &str = "google_cloud_request";
    /// The token server (or the metadata server handing out tokens) could not be reached.
    pub const TOKEN_CONNECTION: &str = "token_connection";
    /// The token server did not answer in time.
    pub const TOKEN_TIMEOUT: &str = "token_timeout";
    /// The token server refused the credentials (`invalid_grant`, a revoked key, ...).
    pub const TOKEN_REFUSED: &str = "token_refused";
    /// No token request could be made, or its answer was not a token.
    pub const TOKEN_INVALID: &str = "token_invalid";
    /// Rejected entries could not be written to the dead-letter file.
    pub const DEAD_LETTER: &str = "dead_letter";
    /// The forward output could not connect, or the connection broke.
    pub const FORWARD_CONNECTION: &str = "forward_connection";
    /// The forward output's server did not take or acknowledge a message in time.
    pub const FORWARD_TIMEOUT: &str = "forward_timeout";
    /// The forward output's shared-key handshake failed.
    pub const FORWARD_HANDSHAKE: &str = "forward_handshake";
    /// The forward output's server answered something else than an ack.
    pub const FORWARD_PROTOCOL: &str = "forward_protocol";
    /// The file or stdout output could not write.
    pub const OUTPUT_IO: &str = "output_io";
    /// Any other failed delivery (a lost chunk, a failed preparation).
    pub const OUTPUT_OTHER: &str = "output_other";
    pub const TAIL_UNREADABLE: &str = "tail_unreadable";
    pub const POS_FILE: &str = "pos_file";
    pub const FORWARD_MALFORMED: &str = "forward_malformed";
    pub const FORWARD_AUTH: &str = "forward_auth";
    pub const CONFIG_RELOAD: &str = "config_reload";
}

/// Counters a component keeps itself (the google_cloud output's), shown under `name` with one
/// series per output; a re-registered output (after a reload) continues from its old totals.
pub trait CounterSource: Send + Sync {
    /// `(metric name, help, value)` for each counter.
    fn counters(&self) -> Vec<(&'static str, &'static str, u64)>;
}

struct Registered {
    base: BTreeMap<&'static str, u64>,
    source: Arc<dyn CounterSource>,
}

impl Metrics {
    /// Counts one error of `class` (see [`class`]).
    pub fn error(&self, class: &'static str) {
        self.errors.with(&[class]).inc();
    }

    /// Exposes `source`'s counters with labels `plugin_id`, `type`.
    pub fn register_counters(
        &self,
        plugin_id: &str,
        kind: &'static str,
        source: Arc<dyn CounterSource>,
    ) {
        let mut sources = self.components.lock().unwrap_or_else(|p| p.into_inner());
        let key = (plugin_id.to_string(), kind);
        let mut base = BTreeMap::new();
        if let Some(old) = sources.remove(&key) {
            base = old.base;
            for (name, _, value) in old.source.counters() {
                *base.entry(name).or_insert(0) += value;
            }
        }
        sources.insert(key, Registered { base, source });
    }
}

// ---- rendering -------------------------------------------------------------------------------

trait Render: Sync {
    fn render(&self, out: &mut String);
}

fn header(out: &mut String, name: &str, help: &str, kind: Kind) {
    let kind = match kind {
        Kind::Counter => "counter",
        Kind::Gauge => "gauge",
        Kind::Histogram => "histogram",
    };
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn labels(out: &mut String, names: &[&str], values: &[String], extra: Option<(&str, &str)>) {
    if names.is_empty() && extra.is_none() {
        return;
    }
    out.push('{');
    let mut first = true;
    let pairs = names
        .iter()
        .copied()
        .zip(values.iter().map(String::as_str))
        .chain(extra);
    for (name, value) in pairs {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(name);
        out.push_str("=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
}

impl Render for CounterFamily {
    fn render(&self, out: &mut String) {
        header(out, self.name, self.help, Kind::Counter);
        for (values, c) in self.snapshot() {
            out.push_str(self.name);
            labels(out, self.labels, &values, None);
            let _ = writeln!(out, " {}", c.get());
        }
    }
}

impl Render for GaugeFamily {
    fn render(&self, out: &mut String) {
        header(out, self.name, self.help, Kind::Gauge);
        for (values, g) in self.snapshot() {
            out.push_str(self.name);
            labels(out, self.labels, &values, None);
            let _ = writeln!(out, " {}", g.get());
        }
    }
}

impl Render for HistogramFamily {
    fn render(&self, out: &mut String) {
        header(out, self.name, self.help, Kind::Histogram);
        for (values, h) in self.snapshot() {
            let mut cumulative = 0;
            for (bound, count) in h.bounds.iter().zip(&h.counts) {
                cumulative += count.load(Ordering::Relaxed);
                let _ = write!(out, "{}_bucket", self.name);
                labels(
                    out,
                    self.labels,
                    &values,
                    Some(("le", &format_float(*bound))),
                );
                let _ = writeln!(out, " {cumulative}");
            }
            let _ = write!(out, "{}_bucket", self.name);
            labels(out, self.labels, &values, Some(("le", "+Inf")));
            let _ = writeln!(out, " {}", h.count());
            let _ = write!(out, "{}_sum", self.name);
            labels(out, self.labels, &values, None);
            let sum = f64::from_bits(h.sum_bits.load(Ordering::Relaxed));
            let _ = writeln!(out, " {}", format_float(sum));
            let _ = write!(out, "{}_count", self.name);
            labels(out, self.labels, &values, None);
            let _ = writeln!(out, " {}", h.count());
        }
    }
}

fn format_float(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

impl Metrics {
    /// Every metric in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        header(
            &mut out,
            "logferry_build_info",
            "The running logferry version.",
            Kind::Gauge,
        );
        let _ = writeln!(
            out,
            "logferry_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        for family in self.families() {
            family.render(&mut out);
        }
        // Counters kept by components, grouped by metric name.
        let sources = self.components.lock().unwrap_or_else(|p| p.into_inner());
        type Series = Vec<(String, &'static str, u64)>;
        let mut by_name: BTreeMap<&'static str, (&'static str, Series)> = BTreeMap::new();
        for ((plugin_id, kind), registered) in sources.iter() {
            for (name, help, value) in registered.source.counters() {
                let base = registered.base.get(name).copied().unwrap_or(0);
                by_name.entry(name).or_insert((help, Vec::new())).1.push((
                    plugin_id.clone(),
                    kind,
                    base + value,
                ));
            }
        }
        for (name, (help, series)) in by_name {
            header(&mut out, name, help, Kind::Counter);
            for (plugin_id, kind, value) in series {
                out.push_str(name);
                labels(
                    &mut out,
                    &["plugin_id", "type"],
                    &[plugin_id, kind.to_string()],
                    None,
                );
                let _ = writeln!(out, " {value}");
            }
        }
        out
    }
}

impl CounterSource for crate::sinks::google_cloud::GoogleCloudStats {
    fn counters(&self) -> Vec<(&'static str, &'static str, u64)> {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        vec![
            (
                "logferry_google_cloud_requests_total",
                "entries:write requests sent.",
                get(&self.requests_sent),
            ),
            (
                "logferry_google_cloud_request_failures_total",
                "entries:write requests that failed and were retried.",
                get(&self.requests_failed),
            ),
            (
                "logferry_google_cloud_entries_delivered_total",
                "Entries Cloud Logging accepted.",
                get(&self.entries_delivered),
            ),
            (
                "logferry_output_entries_rejected_total",
                "Entries the destination refused (they are dead-lettered).",
                get(&self.entries_rejected),
            ),
            (
                "logferry_output_entries_dead_lettered_total",
                "Entries written to the dead-letter file with their reason.",
                get(&self.entries_dead_lettered),
            ),
            (
                "logferry_google_cloud_bisections_total",
                "Requests split to find the entries a whole-request 400 was about.",
                get(&self.bisections),
            ),
            (
                "logferry_google_cloud_forced_token_refreshes_total",
                "Token refreshes forced by a 401.",
                get(&self.token_refreshes_forced),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static TEST_COUNTER: CounterFamily = counter("test_total", "A test.", &["a"]);
    static TEST_HISTOGRAM: HistogramFamily = histogram("test_seconds", "A test.", &[], &[1.0, 2.0]);

    /// Every family is on the page, with its header, before it has a series.
    #[test]
    fn every_family_is_rendered() {
        let metrics = Metrics::default();
        let page = metrics.render();
        let families = metrics.families().len();
        assert!(families >= 20, "found only {families} families");
        // One header per family, and the build info's.
        assert_eq!(page.matches("# TYPE ").count(), families + 1, "{page}");
    }

    #[test]
    fn renders_counters_with_escaped_labels_and_cumulative_buckets() {
        TEST_COUNTER.with(&["x\"y"]).add(3);
        let mut out = String::new();
        TEST_COUNTER.render(&mut out);
        assert!(out.contains("# TYPE test_total counter\n"), "{out}");
        assert!(out.contains("test_total{a=\"x\\\"y\"} 3\n"), "{out}");
        let h = TEST_HISTOGRAM.with(&[]);
        h.observe(0.5);
        h.observe(1.5);
        h.observe(7.0);
        let mut out = String::new();
        TEST_HISTOGRAM.render(&mut out);
        assert!(out.contains("test_seconds_bucket{le=\"1.0\"} 1\n"), "{out}");
        assert!(out.contains("test_seconds_bucket{le=\"2.0\"} 2\n"), "{out}");
        assert!(
            out.contains("test_seconds_bucket{le=\"+Inf\"} 3\n"),
            "{out}"
        );
        assert!(out.contains("test_seconds_sum 9.0\n"), "{out}");
        assert!(out.contains("test_seconds_count 3\n"), "{out}");
    }

    struct Fixed(u64);
    impl CounterSource for Fixed {
        fn counters(&self) -> Vec<(&'static str, &'static str, u64)> {
            vec![("test_fixed_total", "Fixed.", self.0)]
        }
    }

    #[test]
    fn a_re_registered_source_continues_from_its_totals() {
        let metrics = Metrics::default();
        metrics.register_counters("out-test", "t", Arc::new(Fixed(5)));
        metrics.register_counters("out-test", "t", Arc::new(Fixed(2)));
        let text = metrics.render();
        assert!(
            text.contains("test_fixed_total{plugin_id=\"out-test\",type=\"t\"} 7\n"),
            "{text}"
        );
        assert!(text.contains("logferry_build_info{version="), "{text}");
    }
}
