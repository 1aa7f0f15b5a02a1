//! The whole pipeline from a fluentd config: every `<source>`, `<filter>`, `<match>`, `<label>`
//! and `<system>` validated into typed settings. All mistakes of a file are collected and
//! reported together; parameters logferry accepts but does not act on are warnings.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use fluent_config::{Common, Diagnostic, ParseOptions, Reader, Section};

use crate::filters::{Filter, GrepFilter, KubernetesMetadata, RecordTransformer};
use crate::pattern::TagPattern;
use crate::sinks::BufferConfig;
use crate::sinks::file::{FileFormat, FileSinkConfig};
use crate::sinks::forward::ForwardSinkConfig;
use crate::sources::forward::ForwardSourceConfig;
use crate::sources::monitor::EndpointConfig;
use crate::sources::tail::TailSourceConfig;

pub const SOURCE_TYPES: &[&str] = &["tail", "forward", "prometheus", "monitor_agent"];
pub const FILTER_TYPES: &[&str] = &["grep", "record_transformer", "kubernetes_metadata"];
pub const OUTPUT_TYPES: &[&str] = &["google_cloud", "forward", "stdout", "file", "null"];
/// Plugins a fluentd user may have that logferry does not offer yet.
const NOT_YET: &[&str] = &[
    "http",
    "syslog",
    "exec",
    "tcp",
    "udp",
    "copy",
    "relabel",
    "rewrite_tag_filter",
    "parser",
    "s3",
    "elasticsearch",
    "kafka",
];

/// A validated pipeline, ready to start.
pub struct PipelineConfig {
    pub root: Section,
    pub sources: Vec<SourceDef>,
    pub scopes: HashMap<Option<String>, Vec<StepDef>>,
    pub outputs: Vec<OutputDef>,
}

pub struct SourceDef {
    pub name: String,
    pub label: Option<String>,
    pub kind: SourceKind,
}

pub enum SourceKind {
    Tail(TailSourceConfig),
    Forward(ForwardSourceConfig),
    /// `@type prometheus`: the operations endpoint (served by the supervisor).
    Prometheus(EndpointConfig),
    /// `@type monitor_agent`: the same endpoint, fluentd's monitor_agent port.
    MonitorAgent(EndpointConfig),
}

impl SourceKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            SourceKind::Tail(_) => "tail",
            SourceKind::Forward(_) => "forward",
            SourceKind::Prometheus(_) => "prometheus",
            SourceKind::MonitorAgent(_) => "monitor_agent",
        }
    }

    /// The operations endpoint this source asks for, if it is one.
    pub fn endpoint(&self) -> Option<std::net::SocketAddr> {
        match self {
            SourceKind::Prometheus(c) | SourceKind::MonitorAgent(c) => Some(c.addr),
            _ => None,
        }
    }
}

pub enum StepDef {
    /// A filter, its plugin id (`@id`, else `filterN` by its place among the filters) first.
    Filter(TagPattern, String, Box<dyn Filter>),
    Match(TagPattern, usize),
}

pub struct OutputDef {
    pub name: String,
    pub pattern: String,
    pub kind: OutputKind,
    pub buffer: BufferConfig,
}

pub enum OutputKind {
    Stdout,
    Null,
    File(FileSinkConfig),
    GoogleCloud(Box<crate::sinks::google_cloud::GoogleCloudConfig>),
    Forward(ForwardSinkConfig),
}

impl OutputKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            OutputKind::Stdout => "stdout",
            OutputKind::Null => "null",
            OutputKind::File(_) => "file",
            OutputKind::GoogleCloud(_) => "google_cloud",
            OutputKind::Forward(_) => "forward",
        }
    }
}

/// Loads and validates a config file. `Ok` carries the warnings; `Err` every diagnostic,
/// errors and warnings, sorted by position.
pub fn load(path: &Path) -> Result<(PipelineConfig, Vec<Diagnostic>), Vec<Diagnostic>> {
    let (root, mut diags) = fluent_config::parse_file_tolerant(path, &ParseOptions::default());
    finish_load(root, &mut diags)
}

/// The same from text, for tests.
pub fn load_str(
    text: &str,
    name: &Path,
) -> Result<(PipelineConfig, Vec<Diagnostic>), Vec<Diagnostic>> {
    let (root, mut diags) = fluent_config::parse_str_tolerant(text, name, &ParseOptions::default());
    finish_load(root, &mut diags)
}

fn finish_load(
    root: Section,
    diags: &mut Vec<Diagnostic>,
) -> Result<(PipelineConfig, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut pipeline = PipelineConfig {
        root: root.clone(),
        sources: Vec::new(),
        scopes: HashMap::new(),
        outputs: Vec::new(),
    };
    {
        let mut top = Reader::new(&root, diags);
        read_scope(&mut top, None, &mut pipeline);
        for section in top.sections("source") {
            let mut r = top.child(section);
            if let Some(source) = read_source(&mut r, pipeline.sources.len()) {
                pipeline.sources.push(source);
            }
            r.finish();
        }
        for section in top.sections("label") {
            let mut r = top.child(section);
            let name = section.arg.trim().to_string();
            if !name.starts_with('@') {
                r.error_at(
                    &section.arg_span.clone(),
                    format!("label name `{name}` must start with `@`"),
                    Some(format!("<label @{name}>")),
                );
            }
            read_scope(&mut r, Some(name), &mut pipeline);
            r.finish();
        }
        if let Some(section) = top.section_opt("system") {
            let mut r = top.child(section);
            read_system(&mut r);
            r.finish();
        }
        top.finish();
    }
    check_labels(&root, &pipeline, diags);
    check_buffer_paths(&root, diags);
    if pipeline.sources.is_empty() && !diags.iter().any(|d| d.is_error()) {
        diags.push(Diagnostic::warning(
            "the configuration has no <source>: nothing will be read",
            root.span.clone(),
        ));
    }
    fluent_config::sort_by_position(diags);
    if diags.iter().any(|d| d.is_error()) {
        return Err(std::mem::take(diags));
    }
    Ok((pipeline, std::mem::take(diags)))
}

fn read_scope(r: &mut Reader<'_>, label: Option<String>, pipeline: &mut PipelineConfig) {
    // Filters and matches are interleaved in declaration order.
    let section = r.section();
    let mut steps = Vec::new();
    let filters = r.sections("filter");
    let matches = r.sections("match");
    let mut ordered: Vec<(&Section, bool)> = filters
        .into_iter()
        .map(|s| (s, true))
        .chain(matches.into_iter().map(|s| (s, false)))
        .collect();
    ordered.sort_by_key(|(s, _)| (s.span.file.clone(), s.span.line, s.span.column));
    let _ = section;
    for (section, is_filter) in ordered {
        let mut c = r.child(section);
        let pattern = match TagPattern::new(&section.arg) {
            Ok(p) => p,
            Err(message) => {
                c.error_at(&section.arg_span.clone(), message, None);
                c.finish();
                continue;
            }
        };
        if is_filter {
            let index = steps
                .iter()
                .filter(|s| matches!(s, StepDef::Filter(..)))
                .count();
            if let Some((name, filter)) = read_filter(&mut c, index) {
                steps.push(StepDef::Filter(pattern, name, filter));
            }
        } else if let Some(output) = read_output(&mut c, pipeline.outputs.len()) {
            steps.push(StepDef::Match(pattern, pipeline.outputs.len()));
            pipeline.outputs.push(output);
        }
        c.finish();
    }
    pipeline.scopes.insert(label, steps);
}

fn unknown_type(
    r: &mut Reader<'_>,
    kind: &str,
    span: &fluent_config::Span,
    what: &str,
    known: &[&str],
) {
    if NOT_YET.contains(&kind) {
        r.error_at(
            span,
            format!("{what} plugin `{kind}` is not available in logferry yet"),
            Some(format!("available: {}", known.join(", "))),
        );
    } else {
        let hint = fluent_config::did_you_mean(kind, known)
            .map(|s| format!("did you mean `{s}`?"))
            .unwrap_or_else(|| format!("available: {}", known.join(", ")));
        r.error_at(span, format!("unknown {what} plugin `{kind}`"), Some(hint));
    }
}

/// `@id`, `@label` and `@log_level`; the last is validated and then reported as not acted on.
fn read_common(r: &mut Reader<'_>) -> Common {
    let common = r.common();
    if common.log_level.is_some() {
        r.ignored("@log_level", LOG_LEVEL_IGNORED);
    }
    common
}

const LOG_LEVEL_IGNORED: &str =
    "logferry has one log level for every plugin: set it with `logferry run --log-level`";

fn read_source(r: &mut Reader<'_>, index: usize) -> Option<SourceDef> {
    let common = read_common(r);
    let (kind, span) = r.required_plugin_type()?;
    let name = common
        .id
        .clone()
        .unwrap_or_else(|| format!("source{index}"));
    let label = common.label.map(|(l, _)| l);
    match kind.as_str() {
        "tail" => TailSourceConfig::from_reader(r).map(|c| SourceDef {
            name,
            label,
            kind: SourceKind::Tail(c),
        }),
        "forward" => ForwardSourceConfig::from_reader(r).map(|c| SourceDef {
            name,
            label,
            kind: SourceKind::Forward(c),
        }),
        "prometheus" => EndpointConfig::prometheus(r).map(|c| SourceDef {
            name,
            label,
            kind: SourceKind::Prometheus(c),
        }),
        "monitor_agent" => EndpointConfig::monitor_agent(r).map(|c| SourceDef {
            name,
            label,
            kind: SourceKind::MonitorAgent(c),
        }),
        other => {
            unknown_type(r, other, &span, "input", SOURCE_TYPES);
            None
        }
    }
}

fn read_filter(r: &mut Reader<'_>, index: usize) -> Option<(String, Box<dyn Filter>)> {
    let common = read_common(r);
    let name = common.id.unwrap_or_else(|| format!("filter{index}"));
    let (kind, span) = r.required_plugin_type()?;
    let filter = match kind.as_str() {
        "grep" => GrepFilter::from_reader(r).map(|f| Box::new(f) as Box<dyn Filter>),
        "record_transformer" => {
            RecordTransformer::from_reader(r).map(|f| Box::new(f) as Box<dyn Filter>)
        }
        "kubernetes_metadata" => {
            KubernetesMetadata::from_reader(r).map(|f| Box::new(f) as Box<dyn Filter>)
        }
        other => {
            unknown_type(r, other, &span, "filter", FILTER_TYPES);
            None
        }
    };
    filter.map(|f| (name, f))
}

fn read_output(r: &mut Reader<'_>, index: usize) -> Option<OutputDef> {
    let common = read_common(r);
    let (kind, span) = r.required_plugin_type()?;
    let pattern = r.section().arg.clone();
    let name = common.id.unwrap_or_else(|| format!("output{index}"));
    let buffer = read_buffer(r, &kind);
    let kind = match kind.as_str() {
        "stdout" => {
            if let Some(section) = r.section_opt("format") {
                let mut f = r.child(section);
                let _ = f.plugin_type();
                f.ignored("output_type", "stdout always writes fluentd's json line");
                f.finish();
            }
            r.ignored("output_type", "stdout always writes fluentd's json line");
            OutputKind::Stdout
        }
        "null" => OutputKind::Null,
        "file" => {
            let path = r.required_string("path");
            let mut format = r.string("format");
            if let Some(section) = r.section_opt("format") {
                let mut f = r.child(section);
                format = f.plugin_type().map(|(t, _)| t);
                f.finish();
            }
            let format = match format.as_deref() {
                None | Some("json") => FileFormat::Json,
                Some("out_file") => FileFormat::OutFile,
                Some(other) => {
                    let span = r.section().span.clone();
                    r.error_at(
                        &span,
                        format!("file output format `{other}` is not supported"),
                        Some("use json or out_file".into()),
                    );
                    FileFormat::Json
                }
            };
            r.fixed_bool(
                "append",
                true,
                "logferry always appends to the file of the path (fluentd writes each chunk to a new file)",
            );
            r.ignored("compress", "files are written uncompressed");
            r.ignored("symlink_path", "not implemented");
            OutputKind::File(FileSinkConfig {
                path: path?,
                format,
                sync: true,
            })
        }
        "google_cloud" => OutputKind::GoogleCloud(Box::new(
            crate::sinks::google_cloud::GoogleCloudConfig::from_reader(r),
        )),
        "forward" => OutputKind::Forward(ForwardSinkConfig::from_reader(r)?),
        other => {
            unknown_type(r, other, &span, "output", OUTPUT_TYPES);
            return None;
        }
    };
    Some(OutputDef {
        name,
        pattern,
        kind,
        buffer,
    })
}

/// Buffer settings from a v1 `<buffer>` section or v0.12 flat parameters on the `<match>`.
fn read_buffer(r: &mut Reader<'_>, kind: &str) -> BufferConfig {
    let mut config = BufferConfig::default();
    if kind == "stdout" || kind == "null" {
        config.flush_interval = Duration::ZERO;
    }
    let mut file = None;
    if let Some(param) = r.param("buffer_type").cloned() {
        file =
            check_buffer_type(r, param.value.trim(), &param.value_span).then_some(param.value_span);
    }
    let path = r.string("buffer_path");
    config.disk = read_disk_buffer(r, file, path, "buffer_path");
    read_buffer_params(r, &mut config, true);
    if let Some(section) = r.section_opt("buffer") {
        let mut b = r.child(section);
        let mut file = None;
        if let Some((buffer_type, span)) = b.plugin_type() {
            file = check_buffer_type(&mut b, &buffer_type, &span).then_some(span);
        }
        let path = b.string("path");
        config.disk = read_disk_buffer(&mut b, file, path, "path").or(config.disk);
        read_buffer_params(&mut b, &mut config, false);
        b.finish();
    }
    config
}

/// `true` for the disk buffer.
fn check_buffer_type(r: &mut Reader<'_>, buffer_type: &str, span: &fluent_config::Span) -> bool {
    match buffer_type {
        "memory" => false,
        "file" | "file_single" => true,
        other => {
            r.error_at(
                span,
                format!("unknown buffer type `{other}`"),
                Some("use memory or file".into()),
            );
            false
        }
    }
}

/// The directory a disk buffer's `path` (or v0.12 `buffer_path`) names. v0.12's is a file
/// pattern (`/var/log/td-agent/buffer/td.*.buffer`): the directory is that pattern without its `*`.
fn buffer_dir(path: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(path.trim().replace(".*", "").replace('*', ""))
}

/// Two outputs given one disk buffer directory would corrupt it (the second would fail at start
/// on the directory's lock): say so when the file is read, naming both places.
fn check_buffer_paths(root: &Section, diags: &mut Vec<Diagnostic>) {
    fn matches<'a>(section: &'a Section, out: &mut Vec<&'a Section>) {
        for child in &section.sections {
            match child.name.as_str() {
                "match" => out.push(child),
                "label" => matches(child, out),
                _ => {}
            }
        }
    }
    let last = |s: &'_ Section, key: &str| s.params.iter().rev().find(|p| p.key == key).cloned();
    let says_file = |s: &Section, keys: &[&str]| {
        keys.iter()
            .any(|k| last(s, k).is_some_and(|p| p.value.trim() == "file"))
    };
    let mut outputs = Vec::new();
    matches(root, &mut outputs);
    let mut seen: Vec<(std::path::PathBuf, fluent_config::Span)> = Vec::new();
    for output in outputs {
        // As read_buffer reads it: a `<buffer>` section's path wins over the flat parameter.
        let v1 = output
            .sections
            .iter()
            .rev()
            .find(|b| b.name == "buffer")
            .filter(|b| says_file(b, &["@type", "type"]))
            .and_then(|b| last(b, "path"));
        let v0 = || says_file(output, &["buffer_type"]).then(|| last(output, "buffer_path"));
        let Some(param) = v1.or_else(|| v0().flatten()) else {
            continue;
        };
        let dir = buffer_dir(&param.value);
        match seen.iter().find(|(d, _)| *d == dir) {
            Some((_, first)) => diags.push(
                Diagnostic::error(
                    format!(
                        "the buffer directory {} is already used by the output at {}:{}; two outputs cannot share a disk buffer",
                        dir.display(),
                        first.file.display(),
                        first.line
                    ),
                    param.value_span.clone(),
                )
                .with_hint("give each <match> its own buffer path"),
            ),
            None => seen.push((dir, param.value_span.clone())),
        }
    }
}

/// The disk buffer's settings when the type is `file` (`file` holds its span).
fn read_disk_buffer(
    r: &mut Reader<'_>,
    file: Option<fluent_config::Span>,
    path: Option<String>,
    path_key: &str,
) -> Option<crate::sinks::disk_buffer::DiskBufferConfig> {
    use crate::sinks::disk_buffer::{DiskBufferConfig, FsyncPolicy};
    let Some(span) = file else {
        if path.is_some() {
            r.ignored(
                path_key,
                "only the file buffer uses a path; this is the memory buffer",
            );
        }
        return None;
    };
    let Some(path) = path.filter(|p| !p.trim().is_empty()) else {
        r.error_at(
            &span,
            format!("the file buffer needs `{path_key}`: the directory to keep it in"),
            Some(format!("{path_key} /var/log/logferry/buffer")),
        );
        return None;
    };
    let path = buffer_dir(&path);
    let limit = r
        .section()
        .params
        .iter()
        .rev()
        .find(|p| p.key == "total_limit_size")
        .and_then(|p| fluent_config::literal::parse_size(&p.value).ok());
    let mut config = match limit {
        Some(limit) => DiskBufferConfig::with_limit(path, limit),
        None => DiskBufferConfig::new(path),
    };
    let fsync = r.enum_of("fsync", FsyncPolicy::NAMES, "before_ack");
    config.fsync = FsyncPolicy::from_name(fsync).unwrap_or_default();
    Some(config)
}

fn read_buffer_params(r: &mut Reader<'_>, c: &mut BufferConfig, flat: bool) {
    if flat {
        r.alias("chunk_limit_size", "buffer_chunk_limit");
        r.alias("queued_chunks_limit_size", "buffer_queue_limit");
        r.alias("retry_max_interval", "max_retry_wait");
        r.alias("flush_thread_count", "num_threads");
        r.alias("retry_max_times", "retry_limit");
    }
    if let Some(v) = r.duration("flush_interval") {
        c.flush_interval = v;
    }
    if let Some(v) = r.size("chunk_limit_size") {
        c.chunk_limit_size = v.max(1024) as usize;
    }
    if let Some(v) = r.uint("chunk_limit_records") {
        c.chunk_limit_records = v.max(1) as usize;
    }
    if let Some(v) = r.uint("queued_chunks_limit_size") {
        c.queued_chunks_limit_size = v.max(1) as usize;
    }
    if let Some(v) = r.size("total_limit_size") {
        // The disk buffer reads its own (the log's bound); for memory it bounds what the
        // output holds, at least one chunk.
        c.total_limit_size = (v as usize).max(c.chunk_limit_size);
    }
    if let Some(v) = r.duration("retry_wait") {
        c.retry_wait = v;
    }
    if let Some(v) = r.duration("retry_max_interval") {
        c.retry_max_interval = v;
    }
    if let Some(v) = r.uint("flush_thread_count") {
        c.flush_thread_count = v as usize;
    }
    if let Some(v) = r.opt_bool("adaptive_concurrency") {
        c.adaptive_concurrency = Some(v);
    }
    if let Some(param) = r.param("flush_mode").cloned() {
        match param.value.trim() {
            "immediate" => c.flush_interval = Duration::ZERO,
            "interval" | "default" | "lazy" => {}
            other => r.value_error(
                &param,
                format!("unknown flush_mode `{other}`"),
                Some("interval, immediate, lazy or default".into()),
            ),
        }
    }
    let never_drop = "logferry retries until delivered: a chunk is never dropped";
    for key in [
        "retry_max_times",
        "retry_timeout",
        "retry_forever",
        "disable_retry_limit",
        "retry_type",
        "retry_exponential_backoff_base",
        "retry_randomize",
        "retry_secondary_threshold",
    ] {
        r.ignored(key, never_drop);
    }
    for key in [
        "flush_at_shutdown",
        "flush_thread_interval",
        "flush_thread_burst_interval",
        "delayed_commit_timeout",
        "overflow_action",
        "chunk_full_threshold",
        "compress",
        "timekey",
        "timekey_wait",
        "timekey_use_utc",
        "timekey_zone",
        "chunk_keys",
        "buffer_queue_full_action",
        "try_flush_interval",
        "queued_chunks_limit_size_per_flush",
    ] {
        r.ignored(key, "logferry always flushes at shutdown, blocks sources when full, and chunks by size and time");
    }
}

fn read_system(r: &mut Reader<'_>) {
    if r.log_level().is_some() {
        r.ignored("@log_level", LOG_LEVEL_IGNORED);
    }
    for key in [
        "workers",
        "root_dir",
        "suppress_repeated_stacktrace",
        "emit_error_log_interval",
        "suppress_config_dump",
        "without_source",
        "rpc_endpoint",
        "enable_get_dump",
        "process_name",
        "enable_msgpack_time_support",
        "file_permission",
        "dir_permission",
        "ignore_repeated_log_interval",
        "ignore_same_log_interval",
        "enable_input_metrics",
        "enable_size_metrics",
        "enable_jit",
        "disable_shared_socket",
        "strict_config_value",
    ] {
        r.ignored(key, "not used by logferry");
    }
    for name in [
        "log",
        "counter_server",
        "counter_client",
        "source_only_buffer",
    ] {
        for section in r.sections(name) {
            let span = section.span.clone();
            r.warn_at(
                &span,
                format!("<{name}> in <system> is accepted for compatibility but has no effect"),
                None,
            );
        }
    }
}

fn check_labels(root: &Section, pipeline: &PipelineConfig, diags: &mut Vec<Diagnostic>) {
    for source in &pipeline.sources {
        if let Some(label) = &source.label
            && !pipeline.scopes.contains_key(&Some(label.clone()))
        {
            let span = root
                .sections
                .iter()
                .find(|s| {
                    s.name == "source"
                        && s.params
                            .iter()
                            .any(|p| p.key == "@label" && p.value.trim() == label)
                })
                .and_then(|s| s.params.iter().find(|p| p.key == "@label"))
                .map(|p| p.value_span.clone())
                .unwrap_or_else(|| root.span.clone());
            let labels: Vec<&str> = pipeline
                .scopes
                .keys()
                .flatten()
                .map(String::as_str)
                .collect();
            let hint =
                fluent_config::did_you_mean(label, &labels).map(|s| format!("did you mean `{s}`?"));
            diags.push(
                Diagnostic::error(format!("no <label {label}> is defined"), span)
                    .with_opt_hint(hint),
            );
        }
    }
}
