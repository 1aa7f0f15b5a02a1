//! `@type google_cloud`: ships events to Cloud Logging's `entries:write`, as
//! fluent-plugin-google-cloud did, without its ways of losing or duplicating lines: requests and
//! entries are kept under the API's size limits (long entries are split, not dropped), every
//! failure but a rejected entry is retried, rejected entries go to a dead-letter file, and each
//! entry's `insertId` and timestamp are derived from the event so a resend is deduplicated.
//!
//! `config.rs` reads the parameters, `metadata.rs` finds the project and monitored resource,
//! `auth.rs` provides tokens, `encoder.rs` builds size-aware requests, `service.rs` sends them.

pub mod auth;
pub mod config;
pub mod encoder;
pub mod http;
pub mod kubernetes;
pub mod metadata;
pub mod oversize;
pub mod service;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use gcloud_logging::WriteLogEntriesRequest;

pub use auth::{AuthError, CredentialsError};
pub use config::{AuthMode, Compression, GoogleCloudConfig, OversizeEntries};
pub use metadata::{MetadataError, Resolved};
pub use service::{GoogleCloudStats, WriteError};

use self::encoder::{EncodeSettings, Encoded, encode_chunk_into};
use self::service::{DeadLetter, Service};
use super::{Batching, Concurrency, Delivery, Prepared, SendFuture, Sink, SinkError};
use crate::event::Event;
use crate::metrics::Metrics;

/// Room for what the server adds to each entry (`receiveTimestamp`, field names).
const SERVER_FIELDS_BYTES: usize = 128;

/// Requests in flight: two to start with (what a trickle needs), adapted from there to the
/// endpoint's latency up to `MAX_CONCURRENCY` (`flush_thread_count` lowers the ceiling).
pub const CONCURRENCY: Concurrency = Concurrency::Adaptive {
    initial: 2,
    max: MAX_CONCURRENCY,
};
pub const MAX_CONCURRENCY: usize = 32;

/// What each entry adds to its record in a request: `logName`, `timestamp`, `insertId`, the
/// payload's key and punctuation (about 150 bytes for a text line), plus the project's name.
const ENTRY_FIELDS_BYTES: usize = 160;

/// A merged send fills this share of `max_request_bytes` by estimate, so it seldom spills into
/// a second request.
const REQUEST_FILL: f64 = 0.9;

/// Why the output cannot start: configuration problems that no retry would fix.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("plain http:// is only used for an endpoint set with `endpoint`")]
    PlainHttp,
    #[error(transparent)]
    Tls(#[from] http::TlsSetupError),
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error(transparent)]
    Metadata(#[from] MetadataError),
}

/// Builds the output: resolves credentials, project and resource (asking the metadata server
/// with short timeouts). Its requests and token fetches are counted in `metrics`.
pub async fn build(
    config: GoogleCloudConfig,
    metrics: Arc<Metrics>,
) -> Result<Arc<dyn Sink>, BuildError> {
    Ok(build_sink_counted(config, metrics).await?)
}

/// [`build`], keeping the concrete type (for its counters and resolved resource), with metrics
/// of its own.
pub async fn build_sink(config: GoogleCloudConfig) -> Result<Arc<GoogleCloudSink>, BuildError> {
    build_sink_counted(config, Arc::default()).await
}

/// [`build`], keeping the concrete type.
pub async fn build_sink_counted(
    config: GoogleCloudConfig,
    metrics: Arc<Metrics>,
) -> Result<Arc<GoogleCloudSink>, BuildError> {
    if config.endpoint.starts_with("http://") && !config.endpoint_explicit {
        return Err(BuildError::PlainHttp);
    }
    let http = http::HttpClient::new(Duration::from_secs(10))?;
    let metadata_http = http::HttpClient::new(config.metadata_timeout)?;
    let metadata = metadata::MetadataClient::new(
        &config.metadata_host,
        metadata_http,
        config.metadata_timeout * 2,
    );
    let (credentials, key_project) = auth::choose_credentials(&config, &metadata)?;
    let facts = if config.use_metadata_service {
        metadata::machine_facts(&metadata).await
    } else {
        metadata::MachineFacts::default()
    };
    let resolved = metadata::resolve(&config, &facts, key_project.as_deref())?;
    tracing::info!(
        project_id = %resolved.project_id,
        resource = %resolved.resource.r#type,
        endpoint = %config.endpoint,
        credentials = ?credentials,
        "google_cloud output ready"
    );
    let settings = EncodeSettings {
        project_id: resolved.project_id.clone(),
        header: WriteLogEntriesRequest {
            resource: Some(resolved.resource.clone()),
            labels: config.labels.clone(),
            partial_success: config.partial_success,
            ..WriteLogEntriesRequest::default()
        },
        split_logs_by_tag: config.split_logs_by_tag,
        detect_json: config.detect_json,
        max_request_bytes: config.max_request_bytes,
        // Cloud Logging counts an entry's size after it merged the request's resource and
        // labels into it and added its own fields: leave room for them, so a split part is
        // never rejected for a few bytes.
        max_entry_bytes: config.max_entry_bytes.saturating_sub(
            serde_json::to_vec(&resolved.resource).map_or(0, |r| r.len())
                + serde_json::to_vec(&config.labels).map_or(0, |l| l.len())
                + SERVER_FIELDS_BYTES,
        ),
        oversize: config.oversize_entries,
        k8s: k8s_settings(&config, &facts, &resolved),
    };
    let stats = Arc::new(GoogleCloudStats::default());
    let service = Service {
        tokens: auth::TokenSource::new(credentials, http.clone(), metrics.clone()),
        http,
        url: format!("{}/v2/entries:write", config.endpoint),
        compress: config.compress,
        timeout: config.request_timeout,
        partial_success: config.partial_success,
        dead_letter: DeadLetter::new(config.dead_letter_path.clone()),
        stats: stats.clone(),
        last_success_log: Mutex::new(None),
        metrics,
    };
    let batching = Batching {
        max_bytes: (config.max_request_bytes as f64 * REQUEST_FILL) as usize,
        per_event_bytes: ENTRY_FIELDS_BYTES + resolved.project_id.len(),
    };
    Ok(Arc::new(GoogleCloudSink {
        inner: Arc::new(Inner {
            settings,
            service,
            spare: Mutex::new(None),
        }),
        resolved,
        stats,
        batching,
    }))
}

/// Container records become `k8s_container` entries unless `resource_type` asks for another
/// type.
fn k8s_settings(
    config: &GoogleCloudConfig,
    facts: &metadata::MachineFacts,
    resolved: &Resolved,
) -> Option<kubernetes::K8sSettings> {
    if config
        .resource_type
        .as_deref()
        .is_some_and(|t| t != "k8s_container")
    {
        return None;
    }
    let (location, cluster_name) = metadata::cluster_of(config, facts);
    Some(kubernetes::K8sSettings {
        project_id: resolved.project_id.clone(),
        location,
        cluster_name,
        node_name: config.k8s_node_name.clone(),
    })
}

/// The output; see the module docs.
pub struct GoogleCloudSink {
    inner: Arc<Inner>,
    resolved: Resolved,
    stats: Arc<GoogleCloudStats>,
    batching: Batching,
}

impl GoogleCloudSink {
    /// The project and resource every request carries.
    pub fn resolved(&self) -> &Resolved {
        &self.resolved
    }

    /// Counters since start.
    pub fn stats(&self) -> &GoogleCloudStats {
        &self.stats
    }

    /// The counters, shared (for the metrics endpoint).
    pub fn stats_handle(&self) -> Arc<GoogleCloudStats> {
        self.stats.clone()
    }
}

struct Inner {
    settings: EncodeSettings,
    service: Service,
    /// The body of the last delivered request, kept for the next one to be encoded into (see
    /// `encode_chunk_into`), and when it was kept: one buffer at most, dropped after
    /// `SPARE_KEPT` unused so an idle agent holds none.
    spare: Mutex<Option<(Vec<u8>, Instant)>>,
}

/// How long a delivered request's buffer is kept for reuse.
const SPARE_KEPT: Duration = Duration::from_secs(2);

impl Inner {
    fn take_spare(&self) -> Option<Vec<u8>> {
        let mut spare = self.spare.lock().unwrap_or_else(|p| p.into_inner());
        spare.take().map(|(body, _)| body)
    }

    /// Keeps the largest body of a delivered chunk for the next encode, and forgets it again
    /// after `SPARE_KEPT` if nothing took it.
    fn keep_spare(self: &Arc<Self>, chunk: &mut EncodedChunk) {
        let Some(body) = chunk
            .encoded
            .batches
            .iter_mut()
            .max_by_key(|b| b.body.capacity())
            .map(|b| std::mem::take(&mut b.body))
        else {
            return;
        };
        let kept = Instant::now();
        {
            let mut spare = self.spare.lock().unwrap_or_else(|p| p.into_inner());
            if spare
                .as_ref()
                .is_some_and(|(b, _)| b.capacity() >= body.capacity())
            {
                return;
            }
            *spare = Some((body, kept));
        }
        let inner = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep(SPARE_KEPT).await;
            if let Some(inner) = inner.upgrade() {
                let mut spare = inner.spare.lock().unwrap_or_else(|p| p.into_inner());
                if spare.as_ref().is_some_and(|(_, at)| *at == kept) {
                    *spare = None;
                }
            }
        });
    }
}

/// A chunk encoded into requests, and how many of its steps (dead-lettering the entries that
/// cannot be sent, then each request) are done, so a resend neither repeats a delivered
/// request nor dead-letters twice.
struct EncodedChunk {
    encoded: Encoded,
    steps_done: usize,
}

impl EncodedChunk {
    fn new(encoded: Encoded) -> EncodedChunk {
        EncodedChunk {
            encoded,
            steps_done: 0,
        }
    }

    fn bytes(&self) -> usize {
        let bodies: usize = self.encoded.batches.iter().map(|b| b.body.len()).sum();
        let unsendable: usize = self
            .encoded
            .unsendable
            .iter()
            .map(|u| u.entry_json.len())
            .sum();
        bodies + unsendable
    }
}

impl Inner {
    async fn send_chunk(&self, chunk: &mut EncodedChunk) -> Result<(), SinkError> {
        if chunk.steps_done == 0 {
            let unsendable = std::mem::take(&mut chunk.encoded.unsendable);
            if let Err(e) = self
                .service
                .dead_letter_unsendable(unsendable.clone())
                .await
            {
                chunk.encoded.unsendable = unsendable;
                return Err(e);
            }
            chunk.steps_done = 1;
        }
        let done = chunk.steps_done - 1;
        for batch in chunk.encoded.batches.iter_mut().skip(done) {
            self.service.deliver(batch).await?;
            chunk.steps_done += 1;
        }
        Ok(())
    }
}

impl Sink for GoogleCloudSink {
    fn prepare(&self, events: &[Event]) -> Option<Prepared> {
        let spare = self.inner.take_spare();
        let chunk = EncodedChunk::new(encode_chunk_into(&self.inner.settings, events, spare));
        Some(Prepared {
            bytes: chunk.bytes(),
            payload: Box::new(chunk),
        })
    }

    fn send(&self, mut delivery: Delivery) -> SendFuture {
        if delivery.prepared_mut::<EncodedChunk>().is_none() {
            // Not prepared by a runner (a direct call): encode here.
            let prepared = self.prepare(&delivery.events);
            delivery.set_prepared(prepared.expect("google_cloud always prepares"));
        }
        let inner = self.inner.clone();
        Box::pin(async move {
            let chunk = delivery
                .prepared_mut::<EncodedChunk>()
                .expect("prepared above");
            let result = inner.send_chunk(chunk).await;
            if result.is_ok() {
                inner.keep_spare(chunk);
            }
            (delivery, result)
        })
    }

    fn concurrency(&self) -> Concurrency {
        CONCURRENCY
    }

    fn batching(&self) -> Option<Batching> {
        Some(self.batching)
    }
}
