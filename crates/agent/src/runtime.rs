//! Starting and stopping a pipeline. One place decides when to drain and for how long: on the
//! first stop request every source reads its files to the end and hands out held lines, the
//! outputs deliver everything, positions are persisted, and the agent exits; at the deadline
//! (or on a second request) whatever is acknowledged is persisted and the rest is left for the
//! next start to read again.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::config::{OutputDef, OutputKind, PipelineConfig, SourceKind, StepDef};
use crate::health::{self, PluginInfo, ReloadRequest};
use crate::metrics;
use crate::router::{Router, Scope, Step};
use crate::sinks::file::FileSink;
use crate::sinks::forward::ForwardSink;
use crate::sinks::metered::{MeteredSink, OutputMetrics};
use crate::sinks::null::NullSink;
use crate::sinks::stdout::StdoutSink;
use crate::sinks::{OutputHandle, Sink, spawn_output};
use crate::sources::forward::{KeptListeners, spawn_forward_source};
use crate::sources::tail::{DrainPolicy, SourceControl, spawn_tail_source};
use crate::telemetry::Telemetry;

/// How a run ends, and the handles that outlive it.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Longest time from the stop request to exit.
    pub drain_timeout: Duration,
    /// How the sources decide the writer is done before their final read.
    pub drain: DrainPolicy,
    /// The metrics and health the pipeline counts into and the endpoint serves.
    pub telemetry: Telemetry,
    /// The forward inputs' sockets, taken over by the next pipeline after a reload.
    pub listeners: KeptListeners,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            drain_timeout: Duration::from_secs(25),
            drain: DrainPolicy::default(),
            telemetry: Telemetry::default(),
            listeners: KeptListeners::default(),
        }
    }
}

/// What happened during a run.
#[derive(Debug, Default)]
pub struct RunSummary {
    /// True when the drain finished before the deadline: every line read was delivered.
    pub drained: bool,
    pub unmatched: u64,
    pub filtered: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("output {name} ({kind}) could not start: {error}")]
    Output {
        name: String,
        kind: &'static str,
        #[source]
        error: OutputError,
    },
    #[error("source {name} could not start: {error}")]
    Source { name: String, error: std::io::Error },
    #[error("cannot serve the operations endpoint on {addr}: {error}")]
    Endpoint {
        addr: SocketAddr,
        error: std::io::Error,
    },
}

/// Why an output could not start.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error(transparent)]
    GoogleCloud(#[from] crate::sinks::google_cloud::BuildError),
    #[error("cannot open the disk buffer {}: {source}", path.display())]
    DiskBuffer {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Runs `pipeline` until `stop` is cancelled, then drains. `force` cuts the drain short.
pub async fn run(
    pipeline: PipelineConfig,
    options: RunOptions,
    stop: CancellationToken,
    force: CancellationToken,
) -> Result<RunSummary, RunError> {
    run_with(pipeline, options, stop, force, Arc::default()).await
}

/// [`run`]; when `reloading` is set by the time `stop` fires, the sources stop at the end of
/// their files for the next pipeline to continue (see [`SourceControl::reload`]).
pub async fn run_with(
    pipeline: PipelineConfig,
    options: RunOptions,
    stop: CancellationToken,
    force: CancellationToken,
    reloading: Arc<AtomicBool>,
) -> Result<RunSummary, RunError> {
    let abort = CancellationToken::new();
    let telemetry = &options.telemetry;
    telemetry.health.pipeline_started(plugin_infos(&pipeline));
    let mut output_metrics = Vec::new();
    let mut handles = Vec::new();
    let mut joins: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    for output in &pipeline.outputs {
        let (handle, join, counted) = match start_output(output, telemetry, &abort).await {
            Ok(started) => started,
            Err(error) => {
                stop_started_outputs(&abort, joins).await;
                return Err(error);
            }
        };
        output_metrics.push(counted);
        handles.push(handle);
        joins.push(join);
    }
    let mut scopes = HashMap::new();
    for (label, steps) in pipeline.scopes {
        let steps = steps
            .into_iter()
            .map(|step| match step {
                StepDef::Filter(pattern, name, filter) => {
                    filter.start(&name, telemetry);
                    Step::Filter(pattern, filter)
                }
                StepDef::Match(pattern, index) => Step::Match(pattern, index),
            })
            .collect();
        scopes.insert(label, Scope { steps });
    }
    let router = Arc::new(Router::new(scopes, handles).with_metrics(output_metrics));
    let control = SourceControl {
        policy: Arc::new(options.drain.clone()),
        metrics: telemetry.metrics.clone(),
        ..SourceControl::default()
    };
    let mut threads = Vec::new();
    let forward_addrs: Vec<std::net::SocketAddr> = pipeline
        .sources
        .iter()
        .filter_map(|s| match &s.kind {
            SourceKind::Forward(config) => Some(config.addr),
            _ => None,
        })
        .collect();
    options.listeners.release_except(&forward_addrs);
    for source in pipeline.sources {
        let started = match source.kind {
            SourceKind::Tail(config) => {
                info!("adding source type=\"tail\"");
                spawn_tail_source(
                    source.name.clone(),
                    config,
                    router.clone(),
                    source.label,
                    control.clone(),
                )
            }
            SourceKind::Forward(config) => {
                info!("adding source type=\"forward\"");
                spawn_forward_source(
                    source.name.clone(),
                    config,
                    router.clone(),
                    source.label,
                    control.clone(),
                    &options.listeners,
                )
            }
            // Served by the supervisor for the life of the process.
            SourceKind::Prometheus(_) | SourceKind::MonitorAgent(_) => continue,
        };
        match started {
            Ok(thread) => threads.push(thread),
            Err(error) => {
                // As at the drain deadline: outputs first, then the sources persist what is
                // acknowledged and stop.
                stop_started_outputs(&abort, joins).await;
                control.stop.store(true, Ordering::Release);
                for thread in threads {
                    let _ = tokio::task::spawn_blocking(move || thread.join()).await;
                }
                return Err(RunError::Source {
                    name: source.name,
                    error,
                });
            }
        }
    }
    let summary_router = router.clone();
    drop(router);

    stop.cancelled().await;
    info!("shutting down: reading every file to its end and delivering what was read");
    if reloading.load(Ordering::Acquire) {
        control.reload.store(true, Ordering::Release);
    } else {
        control.drain.store(true, Ordering::Release);
    }
    let deadline = tokio::time::sleep(options.drain_timeout);
    tokio::pin!(deadline);
    let sources_done = async {
        for thread in threads {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    };
    tokio::pin!(sources_done);
    let mut drained = true;
    tokio::select! {
        _ = &mut sources_done => {}
        _ = &mut deadline => { drained = false; warn!(timeout = ?options.drain_timeout, "drain_timeout reached: persisting acknowledged positions and exiting"); }
        _ = force.cancelled() => { drained = false; warn!("second stop request: persisting acknowledged positions and exiting"); }
    }
    let summary = RunSummary {
        drained,
        unmatched: summary_router.unmatched(),
        filtered: summary_router.filtered(),
    };
    drop(summary_router);
    if !drained {
        // Outputs first: they finish what is in flight and acknowledge it; then the sources
        // persist every acknowledged position and stop.
        abort.cancel();
        for join in joins.drain(..) {
            let _ = join.await;
        }
        control.stop.store(true, Ordering::Release);
        sources_done.await;
    }
    // A disk buffer acknowledged the sources before delivering: its outputs may still be
    // delivering, within the same deadline (what is left stays on disk for the next start).
    let outputs_done = async {
        for join in joins {
            let _ = join.await;
        }
    };
    tokio::pin!(outputs_done);
    let mut summary = summary;
    tokio::select! {
        biased;
        _ = &mut outputs_done => {}
        _ = &mut deadline => {
            summary.drained = false;
            warn!(timeout = ?options.drain_timeout, "drain_timeout reached while delivering from the disk buffer: the rest is delivered after the next start");
            abort.cancel();
            outputs_done.await;
        }
        _ = force.cancelled() => {
            summary.drained = false;
            abort.cancel();
            outputs_done.await;
        }
    }
    Ok(summary)
}

/// Builds an output's sink, wraps it in its metrics and starts its runner (memory or disk
/// buffer).
async fn start_output(
    output: &OutputDef,
    telemetry: &Telemetry,
    abort: &CancellationToken,
) -> Result<
    (
        OutputHandle,
        tokio::task::JoinHandle<()>,
        Arc<OutputMetrics>,
    ),
    RunError,
> {
    let failed = |error: OutputError| RunError::Output {
        name: output.name.clone(),
        kind: output.kind.type_name(),
        error,
    };
    let sink = build_sink(&output.name, &output.kind, &telemetry.metrics)
        .await
        .map_err(failed)?;
    info!(
        "adding match pattern=\"{}\" type=\"{}\"",
        output.pattern,
        output.kind.type_name()
    );
    let counted = OutputMetrics::new(telemetry, &output.name, output.kind.type_name());
    let sink = MeteredSink::wrap(sink, counted.clone());
    let (handle, join) = match &output.buffer.disk {
        Some(disk) => crate::sinks::disk_buffer::spawn_disk_output(
            &output.name,
            sink,
            &counted,
            output.buffer.clone(),
            disk.clone(),
            abort.clone(),
        )
        .map_err(|source| {
            failed(OutputError::DiskBuffer {
                path: disk.path.clone(),
                source,
            })
        })?,
        None => spawn_output(
            &output.name,
            sink,
            output.buffer.clone(),
            Some(counted.limiter_gauges()),
            abort.clone(),
        ),
    };
    Ok((handle, join, counted))
}

/// A pipeline that cannot start stops the outputs it started before it returns: a disk buffer
/// stays locked until its runner has stopped, and a reload that fails goes back to the
/// previous configuration, whose outputs open the same directories.
async fn stop_started_outputs(abort: &CancellationToken, joins: Vec<tokio::task::JoinHandle<()>>) {
    abort.cancel();
    for join in joins {
        let _ = join.await;
    }
}

async fn build_sink(
    name: &str,
    kind: &OutputKind,
    metrics: &Arc<metrics::Metrics>,
) -> Result<Arc<dyn Sink>, OutputError> {
    Ok(match kind {
        OutputKind::Stdout => Arc::new(StdoutSink),
        OutputKind::Null => Arc::new(NullSink),
        OutputKind::File(config) => Arc::new(FileSink::new(config.clone())),
        OutputKind::GoogleCloud(config) => {
            let sink =
                crate::sinks::google_cloud::build_sink_counted((**config).clone(), metrics.clone())
                    .await?;
            metrics.register_counters(name, "google_cloud", sink.stats_handle());
            sink
        }
        OutputKind::Forward(config) => Arc::new(ForwardSink::new(config.clone())),
    })
}

fn plugin_infos(pipeline: &PipelineConfig) -> Vec<PluginInfo> {
    let sources = pipeline.sources.iter().map(|s| PluginInfo {
        plugin_id: s.name.clone(),
        category: "input",
        kind: s.kind.type_name().to_string(),
    });
    let outputs = pipeline.outputs.iter().map(|o| PluginInfo {
        plugin_id: o.name.clone(),
        category: "output",
        kind: o.kind.type_name().to_string(),
    });
    sources.chain(outputs).collect()
}

// ---- the supervisor: operations endpoints and reloads ----------------------------------------

/// What [`supervise`] needs besides the first pipeline.
#[derive(Debug, Clone)]
pub struct SuperviseOptions {
    /// Read again on each reload.
    pub config_path: PathBuf,
    pub run: RunOptions,
    /// `--health-listen`: serve the operations endpoint here whatever the config says.
    pub health_listen: Option<SocketAddr>,
    /// `--reload-token-file`: who may `POST /api/config.reload` (`None`: loopback peers).
    pub reload_token: Option<health::ReloadToken>,
}

/// Runs pipelines until `stop`. Serves the operations endpoints (`--health-listen`, `<source>
/// @type prometheus`/`monitor_agent`) for the life of the process, and on each reload request
/// (SIGHUP, `POST /api/config.reload`) re-reads the config: a bad one is rejected with its
/// diagnostics while the running pipeline goes on; a good one replaces it. The running pipeline
/// is drained first (files read to their end, every line delivered, positions persisted) and
/// the new one starts from the pos_files, so no line is lost or read twice.
pub async fn supervise(
    first: PipelineConfig,
    options: SuperviseOptions,
    stop: CancellationToken,
    force: CancellationToken,
    reloads: (mpsc::Sender<ReloadRequest>, mpsc::Receiver<ReloadRequest>),
) -> Result<RunSummary, RunError> {
    let (reload_tx, mut reload_rx) = reloads;
    let telemetry = options.run.telemetry.clone();
    let endpoint_reload = health::Reload {
        requests: reload_tx,
        token: options.reload_token.clone(),
    };
    let endpoints = CancellationToken::new();
    let _stop_endpoints = endpoints.clone().drop_guard();
    let mut serving: Vec<SocketAddr> = Vec::new();
    let wanted = options.health_listen.into_iter();
    let wanted = wanted.chain(first.sources.iter().filter_map(|s| s.kind.endpoint()));
    for addr in wanted.collect::<Vec<_>>() {
        if !serving.contains(&addr) {
            let reload = Some(endpoint_reload.clone());
            health::bind(addr, telemetry.clone(), reload, endpoints.clone())
                .await
                .map_err(|error| RunError::Endpoint { addr, error })?;
            serving.push(addr);
        }
    }
    let path = options.config_path.clone();
    let mut running_text = std::fs::read_to_string(&path).ok();
    let mut previous_text: Option<String> = None;
    let mut pipeline = first;
    loop {
        for addr in pipeline.sources.iter().filter_map(|s| s.kind.endpoint()) {
            if !serving.contains(&addr) {
                let reload = Some(endpoint_reload.clone());
                match health::bind(addr, telemetry.clone(), reload, endpoints.clone()).await {
                    Ok(_) => serving.push(addr),
                    Err(e) => warn!(%addr, error = %e, "cannot serve the operations endpoint"),
                }
            }
        }
        let run_stop = CancellationToken::new();
        let reloading = Arc::new(AtomicBool::new(false));
        let mut task = tokio::spawn(run_with(
            pipeline,
            options.run.clone(),
            run_stop.clone(),
            force.clone(),
            reloading.clone(),
        ));
        let (next, reply, next_text) = loop {
            tokio::select! {
                ended = &mut task => {
                    let error = match joined(ended) {
                        Ok(summary) => return Ok(summary),
                        Err(error) => error,
                    };
                    // A reloaded config that cannot start: go back to the one that ran.
                    let Some(text) = previous_text.take() else { return Err(error) };
                    error!("{error}; going back to the previous configuration");
                    running_text = None;
                    telemetry.metrics.error(metrics::class::CONFIG_RELOAD);
                    match crate::config::load_str(&text, &path) {
                        Ok((p, _)) => {
                            let (tx, _) = tokio::sync::oneshot::channel();
                            break (p, tx, text);
                        }
                        Err(_) => return Err(error),
                    }
                }
                _ = stop.cancelled() => {
                    run_stop.cancel();
                    return joined(task.await);
                }
                Some(reply) = reload_rx.recv() => match load_for_reload(&path) {
                    Ok((p, text)) => break (p, reply, text),
                    Err(diagnostics) => {
                        telemetry.metrics.config_reloads.with(&["rejected"]).inc();
                        telemetry.metrics.error(metrics::class::CONFIG_RELOAD);
                        error!(
                            "the new configuration in {} is invalid; the running pipeline goes on unchanged:\n{diagnostics}",
                            path.display()
                        );
                        let _ = reply.send(Err(diagnostics));
                    }
                },
            }
        };
        if !task.is_finished() {
            info!(
                "reloading {}: draining the running pipeline (files read to their end, everything delivered, positions saved)",
                path.display()
            );
            reloading.store(true, Ordering::Release);
            run_stop.cancel();
            let summary = joined(task.await)?;
            if !summary.drained {
                warn!(
                    "the pipeline did not drain in time; what was not delivered is read again by the new one"
                );
            }
        }
        if stop.is_cancelled() {
            let _ = reply.send(Err("the agent is shutting down".into()));
            return Ok(RunSummary {
                drained: true,
                ..RunSummary::default()
            });
        }
        telemetry.metrics.config_reloads.with(&["ok"]).inc();
        info!("configuration reloaded from {}", path.display());
        let _ = reply.send(Ok(format!("reloaded {}", path.display())));
        previous_text = running_text.replace(next_text);
        pipeline = next;
    }
}

fn joined(
    ended: Result<Result<RunSummary, RunError>, tokio::task::JoinError>,
) -> Result<RunSummary, RunError> {
    ended.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// The config file read and validated again; `Err` is the rendered diagnostics.
fn load_for_reload(path: &std::path::Path) -> Result<(PipelineConfig, String), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let (pipeline, warnings) = crate::config::load_str(&text, path)
        .map_err(|diagnostics| fluent_config::render_all(&diagnostics))?;
    for warning in &warnings {
        warn!("{}", warning.to_string().trim_end());
    }
    for source in &pipeline.sources {
        if let SourceKind::Tail(tail) = &source.kind
            && tail.tail.pos_file.is_none()
        {
            warn!(source = %source.name, "this tail source has no pos_file: after the reload it starts again according to read_from_head");
        }
    }
    Ok((pipeline, text))
}
