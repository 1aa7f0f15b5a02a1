//! `web-api`: parses flags, starts logging, serves until SIGTERM/SIGINT, flushes the log and
//! leaves an exit marker. SIGHUP reopens the log file after an external rotation.
#![forbid(unsafe_code)]

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use clap::Parser as _;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use web_api::logging::{self, LogWriter, UtcTime};
use web_api::{Cli, Config, ServeConfig, Stopped};

fn main() -> ExitCode {
    let config = match Cli::parse().validate() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("web-api: {e}");
            return ExitCode::from(2);
        }
    };
    match serve(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("web-api: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(config: Config) -> anyhow::Result<()> {
    // A marker left by a previous run (the container restarted) would tell the sidecar this
    // run is already over.
    if let Some(marker) = &config.exit_marker {
        match std::fs::remove_file(marker) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("removing stale exit marker {}", marker.display()));
            }
        }
    }
    let writer = logging::init(&config.logging).context("starting logging")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.workers)
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let stopped = runtime.block_on(serve_async(&config, &writer));
    // Requests abandoned at the drain deadline are dropped here, not waited for.
    runtime.shutdown_timeout(Duration::from_secs(1));
    let stopped = stopped?;
    tracing::info!(drained = stopped == Stopped::Drained, "web-api stopped");
    writer.flush();
    if let Some(marker) = &config.exit_marker {
        let lines = writer.stats().lines_written.load(Ordering::Relaxed);
        let mut time = Vec::new();
        UtcTime::from_system(SystemTime::now()).write_rfc3339(&mut time);
        let body = serde_json::json!({
            "exited": String::from_utf8_lossy(&time),
            "drained": stopped == Stopped::Drained,
            "lines_written": lines,
        });
        write_atomically(marker, format!("{body}\n").as_bytes())
            .with_context(|| format!("writing exit marker {}", marker.display()))?;
    }
    Ok(())
}

async fn serve_async(config: &Config, writer: &LogWriter) -> anyhow::Result<Stopped> {
    // Handlers first: a SIGTERM that arrives right after the port file appears must drain.
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
    let shutdown = CancellationToken::new();
    let trigger = shutdown.clone();
    let hup_writer = writer.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => { tracing::info!("SIGTERM received"); trigger.cancel(); }
                _ = int.recv() => { tracing::info!("SIGINT received"); trigger.cancel(); }
                _ = hup.recv() => {
                    tracing::info!("SIGHUP received: reopening the log file");
                    let w = hup_writer.clone();
                    let _ = tokio::task::spawn_blocking(move || w.reopen()).await;
                }
            }
        }
    });

    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("binding {}", config.bind))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    eprintln!("listening on {addr}");
    tracing::info!(
        workers = config.workers as u64,
        "listening on http://{addr}"
    );
    if let Some(port_file) = &config.port_file {
        write_atomically(port_file, format!("{addr}\n").as_bytes())
            .with_context(|| format!("writing port file {}", port_file.display()))?;
    }
    let serve_config = ServeConfig {
        drain_deadline: config.shutdown_timeout,
        ..ServeConfig::default()
    };
    Ok(web_api::run(listener, serve_config, shutdown.cancelled_owned()).await?)
}

/// Temp file + rename, so readers never see half a file.
fn write_atomically(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path)
}
