//! Sends encoded requests to `POST /v2/entries:write` and decides, per answer, what becomes of
//! the entries: delivered; rejected one by one (partial errors) and written to the dead-letter
//! file; a whole-request 400 bisected until the bad entries are isolated; or a retryable failure
//! (429, 5xx, 401/403, timeouts, resets) handed back to the buffer, which resends the chunk.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use gcloud_logging::wire::RpcCode;
use gcloud_logging::{ErrorBody, Status, Timestamp};
use http::{HeaderMap, Request, StatusCode};
use http_body_util::Full;
use tokio::time::Instant;
use tracing::{error, info, warn};

use super::auth::{AccessToken, AuthError, TokenSource};
use super::config::Compression;
use super::encoder::{Batch, Unsendable};
use super::http::{HttpClient, HttpError};
use crate::metrics::{Metrics, class};
use crate::sinks::{FailureKind, SinkError};

/// Why a chunk did not reach Cloud Logging: the token, the connection, the API's answer or the
/// dead-letter file.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// No access token to send with: the token server could not be reached, or refused.
    #[error("{context}: {source}")]
    Token {
        /// When it was needed ("no access token", "refreshing the access token after a 401").
        context: &'static str,
        #[source]
        source: AuthError,
    },
    /// `entries:write` could not be reached, broke the exchange off or did not answer in time.
    #[error("entries:write to {url} {}: {source}", failed(.source))]
    Transport {
        url: String,
        #[source]
        source: HttpError,
    },
    /// `entries:write` answered an error status for the whole request; `message` is the
    /// API's (or the start of the body).
    #[error("entries:write answered {}", describe_status(*.status, .message))]
    Status { status: StatusCode, message: String },
    /// Every entry of a request was refused on its own: the request itself is wrong.
    #[error("entries:write refused every entry: {0}")]
    RefusedEveryEntry(String),
    /// The rejected entries could not be written to the dead-letter file.
    #[error("writing the dead-letter file {}: {source}", path.display())]
    DeadLetter {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn failed(error: &HttpError) -> &'static str {
    match error {
        HttpError::Timeout(_) => "timed out",
        HttpError::Connection(_) => "connection failed",
    }
}

fn describe_status(status: StatusCode, message: &str) -> String {
    match status.as_u16() {
        401 => format!("401 Unauthorized: {message}"),
        403 => format!("403 Permission denied: {message}"),
        404 => format!("404 Not found: {message}"),
        429 => format!("429 Too Many Requests (quota or rate limit): {message}"),
        code => format!("HTTP {code}: {message}"),
    }
}

impl WriteError {
    /// As far as the concurrency limit cares.
    pub fn kind(&self) -> FailureKind {
        match self {
            WriteError::Transport {
                source: HttpError::Timeout(_),
                ..
            } => FailureKind::Timeout,
            WriteError::Transport { .. } => FailureKind::Connection,
            WriteError::Status { status, .. } => match status.as_u16() {
                429 => FailureKind::Throttled,
                500..=599 => FailureKind::Server,
                _ => FailureKind::Other,
            },
            WriteError::Token { .. }
            | WriteError::RefusedEveryEntry(_)
            | WriteError::DeadLetter { .. } => FailureKind::Other,
        }
    }

    /// The class of `logferry_errors_total`.
    pub fn class(&self) -> &'static str {
        match self {
            WriteError::Token { source, .. } => source.class(),
            WriteError::Transport {
                source: HttpError::Timeout(_),
                ..
            } => class::GOOGLE_CLOUD_TIMEOUT,
            WriteError::Transport { .. } => class::GOOGLE_CLOUD_CONNECTION,
            WriteError::Status { status, .. } => status_class(*status),
            WriteError::RefusedEveryEntry(_) => class::GOOGLE_CLOUD_REQUEST,
            WriteError::DeadLetter { .. } => class::DEAD_LETTER,
        }
    }
}

/// The class of an error status of `entries:write`.
fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 | 403 => class::GOOGLE_CLOUD_AUTH,
        429 => class::GOOGLE_CLOUD_QUOTA,
        400..=499 => class::GOOGLE_CLOUD_REQUEST,
        _ => class::GOOGLE_CLOUD_SERVER,
    }
}

/// How often "Successfully sent" is repeated at INFO after the first time.
pub const SUCCESS_LOG_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// Counters of one output; every entry ends in `entries_delivered` or `entries_dead_lettered`.
#[derive(Debug, Default)]
pub struct GoogleCloudStats {
    pub requests_sent: AtomicU64,
    pub requests_failed: AtomicU64,
    pub entries_delivered: AtomicU64,
    pub entries_dead_lettered: AtomicU64,
    /// Entries the API refused (a subset of the dead-lettered ones).
    pub entries_rejected: AtomicU64,
    pub bisections: AtomicU64,
    pub token_refreshes_forced: AtomicU64,
}

impl GoogleCloudStats {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Where the entries of one `deliver` stand.
#[derive(Default)]
struct Outcome {
    /// Parts still to send (bisection, or the rest after partial errors without
    /// `partialSuccess`).
    pending: Vec<Batch>,
    /// Entries a whole-request 400 pinned down by bisection; dead-lettered at the end unless
    /// every entry of the request was refused.
    refused: Vec<(Batch, Status)>,
    delivered_any: bool,
}

/// What the API said about one request.
enum Answer {
    Delivered,
    /// Entries rejected one by one; with `partialSuccess` the others were written.
    PartialErrors(Vec<(usize, Status)>),
    /// The whole request was refused as invalid, without saying which entry is at fault.
    BadRequest(Status),
}

pub struct Service {
    pub http: HttpClient,
    pub url: String,
    pub tokens: Arc<TokenSource>,
    pub compress: Compression,
    pub timeout: Duration,
    pub partial_success: bool,
    pub dead_letter: DeadLetter,
    pub stats: Arc<GoogleCloudStats>,
    pub last_success_log: Mutex<Option<Instant>>,
    pub metrics: Arc<Metrics>,
}

impl Service {
    /// Delivers every entry of `batch`, or dead-letters the ones the API refuses; `Err` means
    /// retry later (the entries in this batch may or may not have been written).
    pub async fn deliver(&self, batch: &mut Batch) -> Result<(), SinkError> {
        let original = batch.entries.len();
        if original == 0 {
            return Ok(());
        }
        let mut outcome = Outcome::default();
        let answer = self.post(batch).await?;
        self.judge(batch, answer, &mut outcome).await?;
        while let Some(mut next) = outcome.pending.pop() {
            if next.entries.is_empty() {
                continue;
            }
            let answer = self.post(&mut next).await?;
            self.judge(&next, answer, &mut outcome).await?;
        }
        if original > 1 && !outcome.delivered_any && outcome.refused.len() == original {
            // Every entry refused on its own: the request itself (resource, labels, project) is
            // wrong, not the entries. Keep them and retry until the configuration is fixed.
            let message = outcome
                .refused
                .first()
                .map(|(_, s)| s.message.clone())
                .unwrap_or_default();
            error!(entries = original, error = %message,
                "Cloud Logging refused every entry of a request; this looks like a configuration problem (resource, labels, project); will retry");
            return Err(WriteError::RefusedEveryEntry(message).into());
        }
        for (batch, status) in outcome.refused {
            self.dead_letter_entries(&batch, vec![(0, status)]).await?;
        }
        Ok(())
    }

    /// What becomes of `batch`'s entries after `answer`: delivered, dead-lettered, or sent
    /// again in parts (`outcome.pending`).
    async fn judge(
        &self,
        batch: &Batch,
        answer: Answer,
        outcome: &mut Outcome,
    ) -> Result<(), SinkError> {
        match answer {
            Answer::Delivered => {
                outcome.delivered_any = true;
                self.delivered(batch.entries.len());
            }
            Answer::PartialErrors(errors) => {
                let rejected: Vec<usize> = errors.iter().map(|(i, _)| *i).collect();
                self.dead_letter_entries(batch, errors).await?;
                let rest: Vec<usize> = (0..batch.entries.len())
                    .filter(|i| !rejected.contains(i))
                    .collect();
                if self.partial_success {
                    outcome.delivered_any |= !rest.is_empty();
                    self.delivered(rest.len());
                } else {
                    // Nothing was written: send the others again, on their own.
                    outcome.pending.push(batch.subset(rest));
                }
            }
            Answer::BadRequest(status) if batch.entries.len() == 1 => {
                outcome.refused.push((batch.subset([0]), status));
            }
            Answer::BadRequest(status) => {
                self.stats.bisections.fetch_add(1, Ordering::Relaxed);
                warn!(entries = batch.entries.len(), error = %status.message,
                    "Cloud Logging refused a whole request as invalid; splitting it to find the bad entries");
                let half = batch.entries.len() / 2;
                outcome
                    .pending
                    .push(batch.subset(half..batch.entries.len()));
                outcome.pending.push(batch.subset(0..half));
            }
        }
        Ok(())
    }

    fn delivered(&self, entries: usize) {
        self.stats
            .entries_delivered
            .fetch_add(entries as u64, Ordering::Relaxed);
        let now = Instant::now();
        let mut last = self
            .last_success_log
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if last.is_none_or(|t| now >= t + SUCCESS_LOG_INTERVAL) {
            let total = GoogleCloudStats::get(&self.stats.entries_delivered);
            info!(
                entries_delivered = total,
                "Successfully sent to Google Cloud Logging API."
            );
            *last = Some(now);
        }
    }

    /// One `entries:write` exchange. The body is lent to the HTTP client rather than copied
    /// (a copy per request doubled the memory of each request in flight) and handed back to
    /// `batch`, which bisection and the dead-letter file still need.
    async fn post(&self, batch: &mut Batch) -> Result<Answer, SinkError> {
        let raw = Bytes::from(std::mem::take(&mut batch.body));
        let answer = self.post_body(&raw, batch.entries.len()).await;
        batch.body = Vec::from(raw);
        answer
    }

    /// One `entries:write` exchange of `raw` (holding `entries` entries), with one forced token
    /// refresh on 401.
    async fn post_body(&self, raw: &Bytes, entries: usize) -> Result<Answer, SinkError> {
        let body = match self.compress {
            Compression::None => raw.clone(),
            Compression::Gzip => Bytes::from(gzip(raw)),
        };
        let mut token = self.tokens.token().await.map_err(|source| {
            warn!(error = %source, "cannot get an access token for Cloud Logging; will retry");
            WriteError::Token {
                context: "no access token",
                source,
            }
        })?;
        let mut refreshed = false;
        loop {
            let started = Instant::now();
            let answer = self.exchange(body.clone(), token.as_ref()).await;
            observe_request(&self.metrics, &answer, started.elapsed(), body.len());
            self.stats.requests_sent.fetch_add(1, Ordering::Relaxed);
            let answer = match answer {
                Ok(answer) => answer,
                Err(source) => {
                    self.stats.requests_failed.fetch_add(1, Ordering::Relaxed);
                    return Err(WriteError::Transport {
                        url: self.url.clone(),
                        source,
                    }
                    .into());
                }
            };
            let status = answer.status;
            if status.is_success() {
                return Ok(Answer::Delivered);
            }
            let error: Option<ErrorBody> = serde_json::from_slice(&answer.body).ok();
            let message = error
                .as_ref()
                .map(|e| e.error.message.clone())
                .unwrap_or_else(|| {
                    String::from_utf8_lossy(&answer.body)
                        .chars()
                        .take(300)
                        .collect()
                });
            if status == StatusCode::UNAUTHORIZED
                && !refreshed
                && let Some(stale) = &token
            {
                refreshed = true;
                self.stats
                    .token_refreshes_forced
                    .fetch_add(1, Ordering::Relaxed);
                warn!(error = %message, "Cloud Logging answered 401 Unauthorized; refreshing the access token");
                token = Some(self.tokens.refresh_after_rejection(stale).await.map_err(
                    |source| WriteError::Token {
                        context: "refreshing the access token after a 401",
                        source,
                    },
                )?);
                continue;
            }
            if status == StatusCode::BAD_REQUEST || status == StatusCode::PAYLOAD_TOO_LARGE {
                let partial = error.as_ref().and_then(ErrorBody::partial_errors);
                if let Some(partial) = partial.filter(|p| !p.log_entry_errors.is_empty()) {
                    let errors = partial
                        .log_entry_errors
                        .into_iter()
                        .filter_map(|(i, s)| {
                            usize::try_from(i)
                                .ok()
                                .filter(|i| *i < entries)
                                .map(|i| (i, s))
                        })
                        .collect();
                    return Ok(Answer::PartialErrors(errors));
                }
                let code = if status == StatusCode::BAD_REQUEST {
                    RpcCode::InvalidArgument
                } else {
                    RpcCode::OutOfRange
                };
                return Ok(Answer::BadRequest(Status::new(code, message)));
            }
            self.stats.requests_failed.fetch_add(1, Ordering::Relaxed);
            let retry_after = retry_after(&answer.headers, error.as_ref());
            match status.as_u16() {
                401 => {
                    error!(error = %message, "Cloud Logging rejected the credentials (401 Unauthorized) even after a token refresh; will retry");
                }
                403 => {
                    error!(error = %message, "Cloud Logging denied permission (403): the service account needs roles/logging.logWriter on the project; will retry");
                }
                404 => {
                    error!(error = %message, url = %self.url, "Cloud Logging answered 404: check `project_id` and `endpoint`; will retry");
                }
                _ => {}
            }
            return Err(
                SinkError::from(WriteError::Status { status, message }).retry_after(retry_after)
            );
        }
    }

    async fn exchange(
        &self,
        body: Bytes,
        token: Option<&AccessToken>,
    ) -> Result<super::http::Answer, HttpError> {
        let mut request = Request::post(&self.url)
            .header("content-type", "application/json")
            .header(
                "user-agent",
                concat!("logferry/", env!("CARGO_PKG_VERSION")),
            );
        if self.compress == Compression::Gzip {
            request = request.header("content-encoding", "gzip");
        }
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {}", token.secret()));
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| HttpError::Connection(format!("building the request: {e}")))?;
        self.http.send(request, self.timeout).await
    }

    async fn dead_letter_entries(
        &self,
        batch: &Batch,
        errors: Vec<(usize, Status)>,
    ) -> Result<(), SinkError> {
        let records: Vec<DeadEntry> = errors
            .into_iter()
            .map(|(i, status)| DeadEntry {
                entry_json: batch.entry(i).to_vec(),
                log_name: batch.log_name.as_deref().map(str::to_owned),
                status,
            })
            .collect();
        let rejected = records.len() as u64;
        self.write_dead(records).await?;
        self.stats
            .entries_rejected
            .fetch_add(rejected, Ordering::Relaxed);
        Ok(())
    }

    /// Entries the encoder could not make fit.
    pub async fn dead_letter_unsendable(&self, entries: Vec<Unsendable>) -> Result<(), SinkError> {
        let records = entries
            .into_iter()
            .map(|u| DeadEntry {
                entry_json: u.entry_json,
                log_name: None,
                status: Status::new(RpcCode::InvalidArgument, u.reason),
            })
            .collect();
        self.write_dead(records).await
    }

    async fn write_dead(&self, records: Vec<DeadEntry>) -> Result<(), SinkError> {
        if records.is_empty() {
            return Ok(());
        }
        let count = records.len();
        for r in &records {
            let first: String = r.status.message.chars().take(200).collect();
            error!(code = r.status.code, error = %first, path = %self.dead_letter.path.display(),
                "Cloud Logging rejected an entry; it was written to the dead-letter file");
        }
        self.dead_letter.append(records).await?;
        self.stats
            .entries_dead_lettered
            .fetch_add(count as u64, Ordering::Relaxed);
        Ok(())
    }
}

struct DeadEntry {
    entry_json: Vec<u8>,
    log_name: Option<String>,
    status: Status,
}

/// The dead-letter file: one JSON object per rejected entry,
/// `{"time":…,"logName":…,"status":{…},"entry":{…}}`, appended and synced.
pub struct DeadLetter {
    pub path: PathBuf,
    lock: tokio::sync::Mutex<()>,
}

impl DeadLetter {
    pub fn new(path: PathBuf) -> DeadLetter {
        DeadLetter {
            path,
            lock: tokio::sync::Mutex::new(()),
        }
    }

    async fn append(&self, records: Vec<DeadEntry>) -> Result<(), SinkError> {
        let now = Timestamp::now().to_rfc3339();
        let mut out = Vec::new();
        for r in records {
            let log_name = r.log_name.or_else(|| {
                serde_json::from_slice::<serde_json::Value>(&r.entry_json)
                    .ok()
                    .and_then(|v| v.get("logName")?.as_str().map(str::to_owned))
            });
            out.extend_from_slice(b"{\"time\":");
            let _ = serde_json::to_writer(&mut out, &now);
            out.extend_from_slice(b",\"logName\":");
            let _ = serde_json::to_writer(&mut out, &log_name);
            out.extend_from_slice(b",\"status\":");
            let _ = serde_json::to_writer(&mut out, &r.status);
            out.extend_from_slice(b",\"entry\":");
            out.extend_from_slice(&r.entry_json);
            out.extend_from_slice(b"}\n");
        }
        let _guard = self.lock.lock().await;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)?;
            file.write_all(&out)?;
            file.sync_data()
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(format!("the writer task failed: {e}"))))
        .map_err(|source| {
            error!(path = %self.path.display(), error = %source, "cannot write the dead-letter file; the chunk will be retried");
            WriteError::DeadLetter {
                path: self.path.clone(),
                source,
            }
            .into()
        })
    }
}

/// `Retry-After: <seconds>`, else a `google.rpc.RetryInfo` detail's `retryDelay`.
pub(crate) fn retry_after(headers: &HeaderMap, error: Option<&ErrorBody>) -> Option<Duration> {
    if let Some(secs) = headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return Some(Duration::from_secs(secs.min(3600)));
    }
    let details = &error?.error.details;
    details.iter().find_map(|d| {
        let is_retry = d.get("@type")?.as_str()?.ends_with("google.rpc.RetryInfo");
        let delay = d.get("retryDelay")?.as_str()?.strip_suffix('s')?;
        let secs: f64 = delay.parse().ok()?;
        (is_retry && secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(3600.0)))
    })
}

/// Request latency and size for the metrics endpoint. A failure is counted in
/// `logferry_errors_total` once, with the chunk it fails (by the output's metering, from
/// [`WriteError::class`]); an answer that does not fail the chunk (a 401 cured by a new token, a
/// 400 bisected) shows in the `code` label here.
fn observe_request(
    metrics: &Metrics,
    answer: &Result<super::http::Answer, HttpError>,
    took: Duration,
    bytes: usize,
) {
    let code = match answer {
        Err(_) => "error",
        Ok(a) => match a.status.as_u16() {
            200..=299 => "2xx",
            400..=499 => "4xx",
            _ => "5xx",
        },
    };
    metrics
        .google_cloud_request_duration
        .with(&[code])
        .observe_duration(took);
    metrics
        .google_cloud_request_bytes
        .with(&[])
        .observe(bytes as f64);
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::fast(),
    );
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(body);
    encoder.finish().unwrap_or_default()
}
