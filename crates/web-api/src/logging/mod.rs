//! Logging for the web API: Cloud Logging structured JSON (or Python-style text) lines,
//! written losslessly by a dedicated thread to a file and/or stdout.
//!
//! [`init`] wires the pieces: [`LogWriter`] (bounded channel + writer thread, rotation,
//! reopen), [`CloudLayer`] (tracing events → lines) and a level filter.

mod format;
mod layer;
mod time;
mod writer;

use std::path::PathBuf;

use tracing::level_filters::LevelFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;

pub use format::{Formatter, HttpRequest, LogFormat, Record, SourceLocation, TraceContext};
pub use layer::{ACCESS_TARGET, CloudLayer, REQUEST_SPAN, error_chain, severity_of};
pub use time::UtcTime;
pub use writer::{
    BATCH_LINGER, LogError, LogWriter, Rotation, WriterConfig, WriterStats, numbered,
};

/// Everything `--log-*` decides.
#[derive(Debug, Clone)]
pub struct LoggingConfig {
    pub format: LogFormat,
    pub file: Option<PathBuf>,
    pub stdout: bool,
    pub rotation: Option<Rotation>,
    /// Lowest level written for this crate's events; other crates are held at WARN or above.
    pub level: LevelFilter,
    pub project: Option<String>,
    /// Bytes of lines that may wait in memory before requests wait for the writer.
    pub buffer_bytes: usize,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig {
            format: LogFormat::Json,
            file: None,
            stdout: true,
            rotation: None,
            level: LevelFilter::INFO,
            project: None,
            buffer_bytes: 4 << 20,
        }
    }
}

/// Starts the writer thread and installs the global subscriber. Keep the returned writer to
/// reopen (SIGHUP) and to flush before exit.
pub fn init(config: &LoggingConfig) -> Result<LogWriter, LogError> {
    let (writer, _thread) = LogWriter::spawn(WriterConfig {
        file: config.file.clone(),
        rotation: config.rotation,
        stdout: config.stdout,
        buffer_bytes: config.buffer_bytes,
    })?;
    let filter = Targets::new()
        .with_target("web_api", config.level)
        .with_default(config.level.min(LevelFilter::WARN));
    let layer = CloudLayer::new(
        writer.clone(),
        Formatter {
            format: config.format,
            project: config.project.clone(),
        },
    )
    .with_filter(filter);
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
        .map_err(|e| LogError::Install(e.to_string()))?;
    Ok(writer)
}
