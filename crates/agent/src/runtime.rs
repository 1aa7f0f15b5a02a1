//! Starting and stopping a pipeline. One place decides when to drain and for how long: on the
//! first stop request every source reads its files to the end and hands out held lines, the
//! outputs deliver everything, positions are persisted, and the agent exits; at the deadline
//! (or on a second request) whatever is acknowledged is persisted and the rest is left for the
//! next start to read again.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::{OutputKind, PipelineConfig, SourceKind, StepDef};
use crate::router::{Router, Scope, Step};
use crate::sinks::file::FileSink;
use crate::sinks::null::NullSink;
use crate::sinks::stdout::StdoutSink;
use crate::sinks::{Sink, spawn_output};
use crate::sources::tail::{DrainPolicy, SourceControl, spawn_tail_source};

/// How a run ends.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Longest time from the stop request to exit.
    pub drain_timeout: Duration,
    /// How the sources decide the writer is done before their final read.
    pub drain: DrainPolicy,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            drain_timeout: Duration::from_secs(25),
            drain: DrainPolicy::default(),
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
    #[error("output {name} ({kind}) could not start: {message}")]
    Output {
        name: String,
        kind: &'static str,
        message: String,
    },
    #[error("source {name} could not start: {error}")]
    Source { name: String, error: std::io::Error },
}

/// Runs `pipeline` until `stop` is cancelled, then drains. `force` cuts the drain short.
pub async fn run(
    pipeline: PipelineConfig,
    options: RunOptions,
    stop: CancellationToken,
    force: CancellationToken,
) -> Result<RunSummary, RunError> {
    let abort = CancellationToken::new();
    let mut handles = Vec::new();
    let mut joins: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    for output in &pipeline.outputs {
        let sink = build_sink(&output.kind)
            .await
            .map_err(|message| RunError::Output {
                name: output.name.clone(),
                kind: output.kind.type_name(),
                message,
            })?;
        info!(
            "adding match pattern=\"{}\" type=\"{}\"",
            output.pattern,
            output.kind.type_name()
        );
        let (handle, join) = spawn_output(&output.name, sink, output.buffer.clone(), abort.clone());
        handles.push(handle);
        joins.push(join);
    }
    let mut scopes = HashMap::new();
    for (label, steps) in pipeline.scopes {
        let steps = steps
            .into_iter()
            .map(|step| match step {
                StepDef::Filter(pattern, filter) => Step::Filter(pattern, filter),
                StepDef::Match(pattern, index) => Step::Match(pattern, index),
            })
            .collect();
        scopes.insert(label, Scope { steps });
    }
    let router = Arc::new(Router::new(scopes, handles));
    let control = SourceControl {
        policy: Arc::new(options.drain.clone()),
        ..SourceControl::default()
    };
    let mut threads = Vec::new();
    for source in pipeline.sources {
        match source.kind {
            SourceKind::Tail(config) => {
                info!("adding source type=\"tail\"");
                let thread = spawn_tail_source(
                    source.name.clone(),
                    config,
                    router.clone(),
                    source.label,
                    control.clone(),
                )
                .map_err(|error| RunError::Source {
                    name: source.name,
                    error,
                })?;
                threads.push(thread);
            }
        }
    }
    let summary_router = router.clone();
    drop(router);

    stop.cancelled().await;
    info!("shutting down: reading every file to its end and delivering what was read");
    control.drain.store(true, Ordering::Release);
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
    for join in joins {
        let _ = join.await;
    }
    Ok(summary)
}

async fn build_sink(kind: &OutputKind) -> Result<Arc<dyn Sink>, String> {
    Ok(match kind {
        OutputKind::Stdout => Arc::new(StdoutSink),
        OutputKind::Null => Arc::new(NullSink),
        OutputKind::File(config) => Arc::new(FileSink::new(config.clone())),
        OutputKind::GoogleCloud(config) => {
            crate::sinks::google_cloud::build((**config).clone()).await?
        }
    })
}
