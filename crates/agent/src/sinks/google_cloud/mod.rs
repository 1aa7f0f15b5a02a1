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
pub mod metadata;
pub mod service;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use gcloud_logging::WriteLogEntriesRequest;

pub use config::{AuthMode, Compression, GoogleCloudConfig, OversizeEntries};
pub use metadata::Resolved;
pub use service::GoogleCloudStats;

use self::encoder::{EncodeSettings, encode_chunk};
use self::service::{DeadLetter, Service};
use super::{SendFuture, Sink, SinkError};
use crate::event::Event;

/// Room for what the server adds to each entry (`receiveTimestamp`, field names).
const SERVER_FIELDS_BYTES: usize = 128;

/// Chunks in flight at once (each chunk's requests go one after another).
pub const CONCURRENCY: usize = 2;

/// Builds the output: resolves credentials, project and resource (asking the metadata server
/// with short timeouts). Errors are configuration problems that no retry would fix.
pub async fn build(config: GoogleCloudConfig) -> Result<Arc<dyn Sink>, String> {
    Ok(build_sink(config).await?)
}

/// [`build`], keeping the concrete type (for its counters and resolved resource).
pub async fn build_sink(config: GoogleCloudConfig) -> Result<Arc<GoogleCloudSink>, String> {
    if config.endpoint.starts_with("http://") && !config.endpoint_explicit {
        return Err("plain http:// is only used for an endpoint set with `endpoint`".into());
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
    };
    let stats = Arc::new(GoogleCloudStats::default());
    let service = Service {
        tokens: auth::TokenSource::new(credentials, http.clone()),
        http,
        url: format!("{}/v2/entries:write", config.endpoint),
        compress: config.compress,
        timeout: config.request_timeout,
        partial_success: config.partial_success,
        dead_letter: DeadLetter::new(config.dead_letter_path.clone()),
        stats: stats.clone(),
        last_success_log: Mutex::new(None),
    };
    Ok(Arc::new(GoogleCloudSink {
        inner: Arc::new(Inner {
            settings,
            service,
            progress: Mutex::new(Vec::new()),
        }),
        resolved,
        stats,
    }))
}

/// The output; see the module docs.
pub struct GoogleCloudSink {
    inner: Arc<Inner>,
    resolved: Resolved,
    stats: Arc<GoogleCloudStats>,
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
    /// Chunks that failed part-way: how many steps (dead-lettering the unsendable entries, then
    /// each request) are already done, so a resend neither repeats nor dead-letters twice.
    progress: Mutex<Vec<(Weak<Vec<Event>>, usize)>>,
}

impl Inner {
    fn steps_done(&self, chunk: &Arc<Vec<Event>>) -> usize {
        let mut progress = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        progress.retain(|(weak, _)| weak.strong_count() > 0);
        progress
            .iter()
            .find(|(weak, _)| std::ptr::eq(weak.as_ptr(), Arc::as_ptr(chunk)))
            .map_or(0, |(_, done)| *done)
    }

    fn set_steps_done(&self, chunk: &Arc<Vec<Event>>, done: Option<usize>) {
        let mut progress = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        progress.retain(|(weak, _)| !std::ptr::eq(weak.as_ptr(), Arc::as_ptr(chunk)));
        if let Some(done) = done {
            progress.push((Arc::downgrade(chunk), done));
        }
    }

    async fn send_chunk(&self, chunk: Arc<Vec<Event>>) -> Result<(), SinkError> {
        let encoded = encode_chunk(&self.settings, &chunk);
        let mut done = self.steps_done(&chunk);
        if done == 0 {
            self.service
                .dead_letter_unsendable(encoded.unsendable)
                .await?;
            done = 1;
        }
        for (i, batch) in encoded.batches.into_iter().enumerate().skip(done - 1) {
            if let Err(e) = self.service.deliver(batch).await {
                self.set_steps_done(&chunk, Some(i + 1));
                return Err(e);
            }
        }
        self.set_steps_done(&chunk, None);
        Ok(())
    }
}

impl Sink for GoogleCloudSink {
    fn send(&self, chunk: Arc<Vec<Event>>) -> SendFuture {
        let inner = self.inner.clone();
        Box::pin(async move { inner.send_chunk(chunk).await })
    }

    fn concurrency(&self) -> usize {
        CONCURRENCY
    }
}
