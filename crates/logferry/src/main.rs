//! The `logferry` binary: parses flags and wires the crates. `run` is the sidecar (also what a
//! bare `logferry -c FILE` or the `FLUENTD_ARGS` environment variable of the original
//! Deployment starts), `check` validates a config like `fluentd --dry-run`.
#![deny(unsafe_code)]

mod check;
mod demo;
mod logging;
mod memory;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use fluent_config::literal::parse_duration;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use logging::LogFormat;

#[derive(Parser)]
#[command(
    name = "logferry",
    version,
    about = "Ships log files to Google Cloud Logging; reads fluentd configs unchanged."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// With no subcommand: run with this config (like `fluentd -c`).
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the agent (the sidecar).
    Run(RunArgs),
    /// Validate a config and print the resolved pipeline (like `fluentd --dry-run`).
    Check(CheckArgs),
    /// Run the local Cloud Logging emulator (REST and gRPC APIs, durable store, query language).
    Emulator(emulator::cli::EmulatorArgs),
    /// Read entries like `gcloud logging read` (from the emulator).
    Query(emulator::cli::QueryArgs),
    /// The whole system on this machine: emulator, web API and agent as in the pod.
    Demo(demo::DemoArgs),
}

#[derive(Args, Clone)]
struct RunArgs {
    /// The fluentd config file. Default: `-c` from $FLUENTD_ARGS, else /etc/fluentd/fluentd.conf.
    #[arg(short = 'c', long = "config")]
    config: Option<PathBuf>,
    /// Format of logferry's own log lines on stderr.
    #[arg(long, value_enum, default_value = "text", env = "LOGFERRY_LOG_FORMAT")]
    log_format: LogFormat,
    /// Longest time from SIGTERM to exit (fits a 30 s grace period).
    #[arg(long, default_value = "25s", value_parser = parse_duration)]
    drain_timeout: Duration,
    /// On SIGTERM, keep following the files until they have been quiet this long.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    drain_quiet: Duration,
    /// On SIGTERM, keep following the files until this file exists (the app writes it on exit,
    /// e.g. web-api's --exit-marker), instead of waiting for quiet files.
    #[arg(long)]
    writer_exit_marker: Option<PathBuf>,
    /// Verbosity of logferry's own log (error, warn, info, debug, trace).
    #[arg(long, default_value = "info")]
    log_level: String,
    /// Serve /metrics, /healthz, /readyz, /api/plugins.json and POST /api/config.reload on this
    /// address (the Kubernetes probes use 0.0.0.0:24231). Default: off, unless the config has a
    /// `<source> @type prometheus` or `monitor_agent`.
    #[arg(long, value_name = "ADDR", env = "LOGFERRY_HEALTH_LISTEN")]
    health_listen: Option<std::net::SocketAddr>,
    /// Let POST /api/config.reload answer any peer that sends `Authorization: Bearer <token>`,
    /// the token being this file's content (surrounding whitespace ignored), and no one else.
    /// Without it the reload answers loopback peers only (127.0.0.0/8, ::1). Read once at start.
    #[arg(long, value_name = "PATH", env = "LOGFERRY_RELOAD_TOKEN_FILE")]
    reload_token_file: Option<PathBuf>,
}

#[derive(Args)]
struct CheckArgs {
    #[arg(short = 'c', long = "config")]
    config: Option<PathBuf>,
}

/// The config path: the flag, then `-c`/`--config` inside $FLUENTD_ARGS, then fluentd's default.
fn config_path(flag: Option<PathBuf>) -> PathBuf {
    if let Some(path) = flag {
        return path;
    }
    if let Ok(args) = std::env::var("FLUENTD_ARGS") {
        let words: Vec<&str> = args.split_whitespace().collect();
        for (i, word) in words.iter().enumerate() {
            if (*word == "-c" || *word == "--config") && i + 1 < words.len() {
                return PathBuf::from(words[i + 1]);
            }
            if let Some(path) = word.strip_prefix("--config=") {
                return PathBuf::from(path);
            }
        }
    }
    PathBuf::from("/etc/fluentd/fluentd.conf")
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Check(args)) => check::run(&config_path(args.config)),
        Some(Command::Run(args)) => run(args),
        Some(Command::Emulator(args)) => {
            logging::init(LogFormat::Text, "info");
            block_on(emulator::cli::run(args))
        }
        Some(Command::Query(args)) => block_on(emulator::cli::run_query(args)),
        Some(Command::Demo(args)) => demo::run(args),
        None => run(cli.run),
    }
}

fn block_on(future: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build();
    match runtime
        .map_err(anyhow::Error::from)
        .and_then(|r| r.block_on(future))
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: RunArgs) -> ExitCode {
    memory::return_large_blocks();
    logging::init(args.log_format, &args.log_level);
    let path = config_path(args.config.clone());
    let (pipeline, warnings) = match agent::config::load(&path) {
        Ok(loaded) => loaded,
        Err(diagnostics) => {
            eprint!("{}", fluent_config::render_all(&diagnostics));
            error!("invalid configuration {}; not starting", path.display());
            return ExitCode::FAILURE;
        }
    };
    for warning in &warnings {
        warn!("{}", warning.to_string().trim_end());
    }
    let reload_token = match &args.reload_token_file {
        None => None,
        Some(file) => match std::fs::read_to_string(file) {
            Ok(text) => match agent::health::ReloadToken::from_text(&text) {
                Some(token) => Some(token),
                None => {
                    error!("--reload-token-file {}: the file is empty", file.display());
                    return ExitCode::FAILURE;
                }
            },
            Err(e) => {
                error!("--reload-token-file {}: {e}", file.display());
                return ExitCode::FAILURE;
            }
        },
    };
    info!(
        "using configuration file: {}",
        pipeline.root.to_fluentd_string().trim_end()
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let stop = CancellationToken::new();
        let force = CancellationToken::new();
        tokio::spawn(watch_signals(stop.clone(), force.clone()));
        let options = agent::runtime::RunOptions {
            drain_timeout: args.drain_timeout,
            drain: agent::sources::tail::DrainPolicy {
                quiet: args.drain_quiet,
                writer_exit_marker: args.writer_exit_marker.clone(),
                // Leave a third of the timeout (5 s at most) for delivery.
                writer_wait_limit: args
                    .drain_timeout
                    .saturating_sub((args.drain_timeout / 3).min(Duration::from_secs(5))),
            },
            // The agent's metrics, health and forward sockets: one set for the process, kept
            // by the supervisor across reloads.
            telemetry: agent::telemetry::Telemetry::default(),
            listeners: agent::sources::forward::KeptListeners::default(),
        };
        let reloads = tokio::sync::mpsc::channel(4);
        tokio::spawn(watch_reload_signal(reloads.0.clone()));
        let supervise = agent::runtime::SuperviseOptions {
            config_path: path.clone(),
            run: options,
            health_listen: args.health_listen,
            reload_token,
        };
        agent::runtime::supervise(pipeline, supervise, stop, force, reloads).await
    });
    match result {
        Ok(summary) if summary.drained => {
            info!("stopped: every line read was delivered and positions are saved");
            ExitCode::SUCCESS
        }
        Ok(_) => {
            warn!(
                "stopped before everything was delivered; undelivered lines will be read again on the next start"
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// SIGHUP: read the config again, as fluentd does. An invalid one is reported and the running
/// pipeline goes on.
async fn watch_reload_signal(reload: tokio::sync::mpsc::Sender<agent::health::ReloadRequest>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangup) = signal(SignalKind::hangup()) else {
        error!("cannot listen for SIGHUP");
        return;
    };
    while hangup.recv().await.is_some() {
        info!("received SIGHUP: reloading the configuration");
        let (tx, rx) = tokio::sync::oneshot::channel();
        if reload.send(tx).await.is_err() {
            return;
        }
        // One reload at a time; signals that arrive meanwhile make one more.
        let _ = rx.await;
    }
}

/// First SIGTERM/SIGINT: drain. Second: stop now.
async fn watch_signals(stop: CancellationToken, force: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        error!("cannot listen for signals");
        return;
    };
    for token in [stop, force] {
        tokio::select! {
            _ = term.recv() => info!("received SIGTERM"),
            _ = int.recv() => info!("received SIGINT"),
        }
        token.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every duration flag reads times like the config does: `run --drain-timeout 1w` was an
    /// error while `query --freshness 1w` worked.
    #[test]
    fn duration_flags_take_the_units_of_config_times() {
        let cli = Cli::try_parse_from([
            "logferry",
            "run",
            "--drain-timeout",
            "1w",
            "--drain-quiet",
            "1500ms",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let Some(Command::Run(run)) = cli.command else {
            panic!("not run");
        };
        assert_eq!(run.drain_timeout, Duration::from_secs(7 * 86_400));
        assert_eq!(run.drain_quiet, Duration::from_millis(1500));

        let cli = Cli::try_parse_from(["logferry", "--drain-timeout", "0.5h"]).unwrap();
        assert_eq!(cli.run.drain_timeout, Duration::from_secs(1800));
        assert!(Cli::try_parse_from(["logferry", "demo", "--duration", "2w"]).is_ok());
        assert!(Cli::try_parse_from(["logferry", "query", "--freshness", "2.5d"]).is_ok());

        for bad in ["1y", "-5s", "1000000w"] {
            let flag = format!("--drain-timeout={bad}");
            let err = Cli::try_parse_from(["logferry", "run", &flag])
                .err()
                .unwrap_or_else(|| panic!("{bad} accepted"))
                .to_string();
            assert!(err.contains("invalid time"), "{bad}: {err}");
        }
    }
}
