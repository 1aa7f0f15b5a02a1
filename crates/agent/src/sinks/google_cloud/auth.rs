//! Access tokens for Cloud Logging: from the metadata server (GCE, GKE, Workload Identity), from a
//! service-account key (a JWT signed with RS256, exchanged at the key's `token_uri`), from gcloud's
//! `authorized_user` credentials (refresh-token flow), or none (the emulator).
//!
//! A token is refreshed in the background once it has less than [`REFRESH_MARGIN`] left, so sends
//! never wait for it; only a missing or expired token is fetched inline. A 401 forces one refresh.
//! Tokens and keys never reach a log line or an error: their `Debug` impls redact them.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use ring::signature::RsaKeyPair;
use serde::Deserialize;
use tokio::time::Instant;

use super::config::{AuthMode, GoogleCloudConfig};
use super::http::{HttpClient, HttpError};
use super::metadata::MetadataClient;
use crate::metrics::{Metrics, class};

/// The OAuth scope for writing logs.
pub const LOGGING_WRITE_SCOPE: &str = "https://www.googleapis.com/auth/logging.write";
/// Refresh when less than this is left.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);
/// Below this a token is not used at all: fetch a new one first.
const EXPIRY_SLACK: Duration = Duration::from_secs(10);
const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
const TOKEN_TIMEOUT: Duration = Duration::from_secs(15);

/// Why no access token could be had. The variants tell a token server that could not be reached
/// from one that refused the credentials, for the retry log and the metrics' error class.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Credentials::None was asked for a token (a bug: requests without credentials carry none).
    #[error("no credentials")]
    NoCredentials,
    /// The token request could not be made (a `token_uri` that is not a URI).
    #[error("building the token request: {0}")]
    Request(#[source] http::Error),
    /// The service account's key could not sign the JWT.
    #[error("signing the token request failed")]
    Signing,
    /// The token server could not be reached, broke the exchange off or did not answer in time.
    #[error("token request to {uri}: {source}")]
    Transport {
        uri: String,
        #[source]
        source: HttpError,
    },
    /// The token server refused: `invalid_grant`, a revoked key, a node without a service
    /// account. `body` is the start of its answer (a token error names the problem and holds no
    /// secret).
    #[error("token request to {uri} answered {status}: {body}")]
    Refused {
        uri: String,
        status: http::StatusCode,
        body: String,
    },
    /// It answered success with something that is not a token.
    #[error("token answer from {uri} is not the expected JSON")]
    BadAnswer { uri: String },
}

impl AuthError {
    /// The error class of `logferry_errors_total`.
    pub fn class(&self) -> &'static str {
        match self {
            AuthError::Transport {
                source: HttpError::Timeout(_),
                ..
            } => class::TOKEN_TIMEOUT,
            AuthError::Transport { .. } => class::TOKEN_CONNECTION,
            AuthError::Refused { .. } => class::TOKEN_REFUSED,
            AuthError::NoCredentials
            | AuthError::Request(_)
            | AuthError::Signing
            | AuthError::BadAnswer { .. } => class::TOKEN_INVALID,
        }
    }
}

/// Why a credentials file (or the choice of credentials) cannot be used; found at start.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("reading credentials {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Only the position: serde's message could quote a value of the file.
    #[error("credentials {} are not valid JSON (line {line}, column {column})", path.display())]
    NotJson {
        path: PathBuf,
        line: usize,
        column: usize,
    },
    #[error("credentials {}: `private_key` is not a PEM private key", path.display())]
    NotPem { path: PathBuf },
    #[error("credentials {}: `private_key` is not a PKCS#8 RSA key ({reason})", path.display())]
    BadKey { path: PathBuf, reason: String },
    #[error("credentials {}: `client_email` is missing", path.display())]
    NoClientEmail { path: PathBuf },
    #[error("credentials {}: type `{kind}` is not supported (expected `service_account` or `authorized_user`)", path.display())]
    UnsupportedType { path: PathBuf, kind: String },
    #[error("`auth service_account` needs `credentials_path` or GOOGLE_APPLICATION_CREDENTIALS")]
    NoPath,
}

/// A bearer token (redacted in `Debug`).
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(Arc<str>);

impl AccessToken {
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

/// Where tokens come from.
pub enum Credentials {
    None,
    Metadata(MetadataClient),
    ServiceAccount {
        client_email: String,
        key: Arc<RsaKeyPair>,
        token_uri: String,
    },
    AuthorizedUser {
        client_id: String,
        client_secret: String,
        refresh_token: String,
        token_uri: String,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::None => f.write_str("None"),
            Credentials::Metadata(client) => write!(f, "Metadata({})", client.url("")),
            Credentials::ServiceAccount {
                client_email,
                token_uri,
                ..
            } => write!(
                f,
                "ServiceAccount({client_email} via {token_uri}, key <redacted>)"
            ),
            Credentials::AuthorizedUser { client_id, .. } => {
                write!(f, "AuthorizedUser({client_id}, secrets <redacted>)")
            }
        }
    }
}

/// A credentials JSON file as gcloud and the IAM console write it.
#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    project_id: Option<String>,
    #[serde(default)]
    client_email: String,
    #[serde(default)]
    private_key: String,
    #[serde(default)]
    token_uri: Option<String>,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    refresh_token: String,
}

/// Reads a credentials file: a `service_account` key or `authorized_user` credentials. Returns
/// the project the file names, if any.
pub fn load_credentials_file(
    path: &Path,
) -> Result<(Credentials, Option<String>), CredentialsError> {
    let text = std::fs::read(path).map_err(|source| CredentialsError::Read {
        path: path.to_owned(),
        source,
    })?;
    let file: KeyFile = serde_json::from_slice(&text).map_err(|e| {
        // serde's message quotes no values for a type mismatch, but be safe: position only.
        CredentialsError::NotJson {
            path: path.to_owned(),
            line: e.line(),
            column: e.column(),
        }
    })?;
    let project = file.project_id.clone().filter(|p| !p.is_empty());
    match file.kind.as_str() {
        "service_account" => {
            let der = pem_body(&file.private_key).ok_or_else(|| CredentialsError::NotPem {
                path: path.to_owned(),
            })?;
            let key = RsaKeyPair::from_pkcs8(&der).map_err(|e| CredentialsError::BadKey {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
            if file.client_email.is_empty() {
                return Err(CredentialsError::NoClientEmail {
                    path: path.to_owned(),
                });
            }
            Ok((
                Credentials::ServiceAccount {
                    client_email: file.client_email,
                    key: Arc::new(key),
                    token_uri: file
                        .token_uri
                        .unwrap_or_else(|| GOOGLE_TOKEN_URI.to_owned()),
                },
                project,
            ))
        }
        "authorized_user" => Ok((
            Credentials::AuthorizedUser {
                client_id: file.client_id,
                client_secret: file.client_secret,
                refresh_token: file.refresh_token,
                token_uri: file
                    .token_uri
                    .unwrap_or_else(|| GOOGLE_TOKEN_URI.to_owned()),
            },
            project,
        )),
        other => Err(CredentialsError::UnsupportedType {
            path: path.to_owned(),
            kind: other.to_owned(),
        }),
    }
}

/// The DER bytes inside a PEM block.
fn pem_body(pem: &str) -> Option<Vec<u8>> {
    let start = pem.find("-----BEGIN")?;
    let body_start = start + pem[start..].find('\n')? + 1;
    let body_end = body_start + pem[body_start..].find("-----END")?;
    let b64: String = pem[body_start..body_end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD.decode(b64).ok()
}

/// Picks the credentials `config.auth` asks for; see [`AuthMode::Auto`] for the order.
pub fn choose_credentials(
    config: &GoogleCloudConfig,
    metadata: &MetadataClient,
) -> Result<(Credentials, Option<String>), CredentialsError> {
    let from_file = |path: &PathBuf| load_credentials_file(path);
    match config.auth {
        AuthMode::None => Ok((Credentials::None, None)),
        AuthMode::Metadata => Ok((Credentials::Metadata(metadata.clone()), None)),
        AuthMode::ServiceAccount => match &config.credentials_path {
            Some(path) => from_file(path),
            None => Err(CredentialsError::NoPath),
        },
        AuthMode::Auto => {
            if config.is_local_endpoint() {
                return Ok((Credentials::None, None));
            }
            if let Some(path) = &config.credentials_path {
                return from_file(path);
            }
            if let Some(path) = config.adc_well_known_path.as_ref().filter(|p| p.is_file()) {
                return from_file(path);
            }
            Ok((Credentials::Metadata(metadata.clone()), None))
        }
    }
}

struct Cached {
    token: AccessToken,
    expires_at: Instant,
}

/// Hands out tokens, refreshing them ahead of expiry.
pub struct TokenSource {
    credentials: Credentials,
    http: HttpClient,
    cached: Mutex<Option<Cached>>,
    /// Held while a fetch runs, so concurrent senders wait for one fetch instead of each doing one.
    fetching: tokio::sync::Mutex<()>,
    refreshing: std::sync::atomic::AtomicBool,
    /// Where fetches are counted.
    metrics: Arc<Metrics>,
}

impl TokenSource {
    pub fn new(
        credentials: Credentials,
        http: HttpClient,
        metrics: Arc<Metrics>,
    ) -> Arc<TokenSource> {
        Arc::new(TokenSource {
            credentials,
            http,
            metrics,
            cached: Mutex::new(None),
            fetching: tokio::sync::Mutex::new(()),
            refreshing: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Whether requests carry a token at all.
    pub fn is_none(&self) -> bool {
        matches!(self.credentials, Credentials::None)
    }

    fn current(&self) -> Option<(AccessToken, Instant)> {
        let cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        cached.as_ref().map(|c| (c.token.clone(), c.expires_at))
    }

    /// A usable token (`None` for [`Credentials::None`]).
    pub async fn token(self: &Arc<Self>) -> Result<Option<AccessToken>, AuthError> {
        if self.is_none() {
            return Ok(None);
        }
        let now = Instant::now();
        if let Some((token, expires_at)) = self.current() {
            if expires_at > now + REFRESH_MARGIN {
                return Ok(Some(token));
            }
            if expires_at > now + EXPIRY_SLACK {
                self.refresh_in_background();
                return Ok(Some(token));
            }
        }
        self.refresh(None, EXPIRY_SLACK).await.map(Some)
    }

    /// Fetches a new token after the API answered 401 to `stale`, unless another caller already
    /// replaced it.
    pub async fn refresh_after_rejection(
        self: &Arc<Self>,
        stale: &AccessToken,
    ) -> Result<AccessToken, AuthError> {
        self.refresh(Some(stale), Duration::ZERO).await
    }

    /// Fetches a new token, unless (after waiting for a fetch in progress) the cached one differs
    /// from `stale` or, without `stale`, still has `min_remaining` left.
    async fn refresh(
        &self,
        stale: Option<&AccessToken>,
        min_remaining: Duration,
    ) -> Result<AccessToken, AuthError> {
        let _guard = self.fetching.lock().await;
        if let Some((token, expires_at)) = self.current() {
            let replaced = stale.is_some_and(|s| *s != token);
            let fresh = stale.is_none() && expires_at > Instant::now() + min_remaining;
            if replaced || fresh {
                return Ok(token);
            }
        }
        let fetched = self.fetch().await;
        self.metrics
            .google_cloud_token_refreshes
            .with(&[if fetched.is_ok() { "ok" } else { "error" }])
            .inc();
        let (token, lifetime) = fetched?;
        let expires_at = Instant::now() + lifetime;
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = Some(Cached {
            token: token.clone(),
            expires_at,
        });
        tracing::debug!(expires_in = ?lifetime, "fetched an access token");
        Ok(token)
    }

    fn refresh_in_background(self: &Arc<Self>) {
        use std::sync::atomic::Ordering;
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(e) = this.refresh(None, REFRESH_MARGIN).await {
                // A failed inline fetch fails a send and is counted with it; this one fails none.
                this.metrics.error(e.class());
                tracing::warn!(error = %e, "refreshing the access token failed; the current one is used until it expires");
            }
            this.refreshing.store(false, Ordering::Release);
        });
    }

    async fn fetch(&self) -> Result<(AccessToken, Duration), AuthError> {
        let request = match &self.credentials {
            Credentials::None => return Err(AuthError::NoCredentials),
            Credentials::Metadata(client) => Request::get(
                client.url("instance/service-accounts/default/token"),
            )
            .header("Metadata-Flavor", "Google")
            .body(Full::new(Bytes::new())),
            Credentials::ServiceAccount {
                client_email,
                key,
                token_uri,
            } => {
                let assertion = signed_jwt(client_email, key, token_uri)?;
                let form = format!(
                    "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}"
                );
                form_post(token_uri, form)
            }
            Credentials::AuthorizedUser {
                client_id,
                client_secret,
                refresh_token,
                token_uri,
            } => {
                let form = format!(
                    "grant_type=refresh_token&client_id={}&client_secret={}&refresh_token={}",
                    form_encode(client_id),
                    form_encode(client_secret),
                    form_encode(refresh_token)
                );
                form_post(token_uri, form)
            }
        }
        .map_err(AuthError::Request)?;
        let uri = request.uri().to_string();
        let answer = match self.http.send(request, TOKEN_TIMEOUT).await {
            Ok(answer) => answer,
            Err(source) => return Err(AuthError::Transport { uri, source }),
        };
        if !answer.status.is_success() {
            // The body of a token error names the problem (`invalid_grant`…) and holds no secret.
            let body = String::from_utf8_lossy(&answer.body);
            return Err(AuthError::Refused {
                uri,
                status: answer.status,
                body: body.chars().take(300).collect(),
            });
        }
        #[derive(Deserialize)]
        struct TokenAnswer {
            access_token: String,
            #[serde(default)]
            expires_in: Option<u64>,
        }
        let parsed: TokenAnswer =
            serde_json::from_slice(&answer.body).map_err(|_| AuthError::BadAnswer { uri })?;
        let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(3600));
        Ok((AccessToken(parsed.access_token.into()), lifetime))
    }
}

fn form_post(uri: &str, form: String) -> http::Result<Request<Full<Bytes>>> {
    Request::post(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(form)))
}

/// `application/x-www-form-urlencoded` value encoding.
fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The RS256-signed JWT a service account trades for an access token.
pub fn signed_jwt(
    client_email: &str,
    key: &RsaKeyPair,
    audience: &str,
) -> Result<String, AuthError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let claims = serde_json::json!({
        "iss": client_email,
        "scope": LOGGING_WRITE_SCOPE,
        "aud": audience,
        "iat": now,
        "exp": now + 3600,
    });
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    let message = format!("{header}.{claims}");
    let mut signature = vec![0u8; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        message.as_bytes(),
        &mut signature,
    )
    .map_err(|_| AuthError::Signing)?;
    Ok(format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature)))
}
