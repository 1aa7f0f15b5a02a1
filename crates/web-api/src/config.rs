//! Command-line flags, parsed by clap and then validated into a typed [`Config`].
//!
//! Flags mirror the original stack where one exists (`--bind`, `--workers` like gunicorn's
//! `-w`); the rest pick the log destination, format, rotation and shutdown behaviour.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use tracing::level_filters::LevelFilter;

use crate::logging::{LogFormat, LoggingConfig, Rotation};

/// The web API: the Rust counterpart of the FastAPI app.
#[derive(Debug, Parser)]
#[command(name = "web-api", version, about)]
pub struct Cli {
    /// Address to listen on (port 0 picks a free port; see --port-file).
    #[arg(long, default_value = "0.0.0.0:5000", env = "WEB_API_BIND")]
    pub bind: SocketAddr,
    /// Tokio worker threads, like gunicorn's -w [default: number of CPUs].
    #[arg(long, short = 'w', env = "WEB_API_WORKERS")]
    pub workers: Option<usize>,
    /// Append log lines to this file (e.g. /api/log/app.log).
    #[arg(long, env = "WEB_API_LOG_FILE")]
    pub log_file: Option<PathBuf>,
    /// Also write log lines to stdout (the default when --log-file is not given).
    #[arg(long)]
    pub stdout: bool,
    /// Line format.
    #[arg(long, value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
    /// Lowest level written: error, warn, info, debug, trace.
    #[arg(long, default_value = "info")]
    pub log_level: LevelFilter,
    /// Rotate the log file when it would exceed this size (e.g. 10m, 512k, 1g, 1048576).
    #[arg(long, value_parser = parse_size)]
    pub rotate_size: Option<u64>,
    /// Rotated files to keep (app.log.1 … app.log.N).
    #[arg(long, default_value_t = 5)]
    pub rotate_keep: u32,
    /// GCP project: traces are written as projects/PROJECT/traces/ID instead of the bare ID.
    #[arg(long, env = "GOOGLE_CLOUD_PROJECT")]
    pub project: Option<String>,
    /// How long in-flight requests may run after SIGTERM/SIGINT (e.g. 10s, 500ms).
    #[arg(long, default_value = "10s", value_parser = fluent_config::literal::parse_duration)]
    pub shutdown_timeout: Duration,
    /// Write the bound address (host:port) here once listening.
    #[arg(long)]
    pub port_file: Option<PathBuf>,
    /// Write this file after the log is flushed at exit (tells a log shipper the writer is done).
    #[arg(long)]
    pub exit_marker: Option<PathBuf>,
    /// Bytes of log lines that may wait in memory before requests wait for the writer.
    #[arg(long, default_value = "4m", value_parser = parse_size)]
    pub log_buffer: u64,
}

/// Flags that contradict each other.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("--rotate-size needs --log-file")]
    RotateWithoutFile,
    #[error("--rotate-keep must be at least 1")]
    RotateKeepZero,
    #[error("--workers must be at least 1")]
    ZeroWorkers,
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub workers: usize,
    pub logging: LoggingConfig,
    pub shutdown_timeout: Duration,
    pub port_file: Option<PathBuf>,
    pub exit_marker: Option<PathBuf>,
}

impl Cli {
    pub fn validate(self) -> Result<Config, ConfigError> {
        let workers = match self.workers {
            Some(0) => return Err(ConfigError::ZeroWorkers),
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let rotation = match self.rotate_size {
            None => None,
            Some(_) if self.log_file.is_none() => return Err(ConfigError::RotateWithoutFile),
            Some(_) if self.rotate_keep == 0 => return Err(ConfigError::RotateKeepZero),
            Some(max_bytes) => Some(Rotation {
                max_bytes,
                keep: self.rotate_keep,
            }),
        };
        let stdout = self.stdout || self.log_file.is_none();
        Ok(Config {
            bind: self.bind,
            workers,
            logging: LoggingConfig {
                format: self.log_format,
                file: self.log_file,
                stdout,
                rotation,
                level: self.log_level,
                project: self.project.filter(|p| !p.is_empty()),
                buffer_bytes: usize::try_from(self.log_buffer).unwrap_or(usize::MAX),
            },
            shutdown_timeout: self.shutdown_timeout,
            port_file: self.port_file,
            exit_marker: self.exit_marker,
        })
    }
}

/// `10m` → 10 MiB; units k, m, g (binary, optional `b`/`ib`), plain numbers are bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let lower = s.trim().to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(digits_end);
    let n: u64 = num.parse().map_err(|_| format!("not a size: {s:?}"))?;
    let mult: u64 = match unit.trim() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit {other:?} in {s:?} (use k, m or g)"
            ));
        }
    };
    match n.checked_mul(mult) {
        Some(0) | None => Err(format!("size out of range: {s:?}")),
        Some(v) => Ok(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10m"), Ok(10 << 20));
        assert_eq!(parse_size("512K"), Ok(512 << 10));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("10x").is_err());
        assert!(parse_size("0").is_err());
    }

    /// `--shutdown-timeout` reads times with the one duration parser of the workspace (hours,
    /// days and weeks too), and a huge value is an error, not an overflow: `n * 60` on a
    /// `u64` of minutes once panicked in debug builds.
    #[test]
    fn shutdown_timeout_takes_every_unit_and_rejects_overflow() {
        let timeout = |value: &str| {
            Cli::try_parse_from(["web-api", "--shutdown-timeout", value])
                .map(|cli| cli.shutdown_timeout)
                .map_err(|e| e.to_string())
        };
        assert_eq!(timeout("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(timeout("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(timeout("3"), Ok(Duration::from_secs(3)));
        assert_eq!(timeout("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(timeout("1h"), Ok(Duration::from_secs(3_600)));
        assert_eq!(timeout("1w"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(timeout("0.5"), Ok(Duration::from_millis(500)));
        for overflow in ["307445734561825861m", "18446744073709551615m", "1000000d"] {
            let err = timeout(overflow).unwrap_err();
            assert!(err.contains("invalid time"), "{overflow}: {err}");
        }
        assert_eq!(
            Cli::parse_from(["web-api"]).shutdown_timeout,
            Duration::from_secs(10)
        );
    }

    #[test]
    fn defaults_and_contradictions() {
        let cfg = Cli::parse_from(["web-api"]).validate().unwrap();
        assert_eq!(cfg.bind.port(), 5000);
        assert!(cfg.logging.stdout, "stdout is the default destination");
        assert_eq!(cfg.logging.format, LogFormat::Json);
        let cfg = Cli::parse_from([
            "web-api",
            "--log-file",
            "/tmp/a.log",
            "--rotate-size",
            "10m",
            "-w",
            "1",
        ])
        .validate()
        .unwrap();
        assert!(!cfg.logging.stdout);
        assert_eq!(cfg.workers, 1);
        assert_eq!(cfg.logging.rotation.unwrap().max_bytes, 10 << 20);
        let err = Cli::parse_from(["web-api", "--rotate-size", "1m"])
            .validate()
            .unwrap_err();
        assert_eq!(err, ConfigError::RotateWithoutFile);
    }
}
