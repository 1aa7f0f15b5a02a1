//! Fake Google endpoints on 127.0.0.1: Cloud Logging's `entries:write` (records every request,
//! decompressing gzip, and answers as scripted), the metadata server, and an OAuth token endpoint
//! that verifies a service account's RS256 JWT with its public key.

use std::collections::{BTreeMap, VecDeque};
use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use gcloud_logging::wire::RpcCode;
use gcloud_logging::{
    ErrorBody, LogEntry, Status, WriteLogEntriesPartialErrors, WriteLogEntriesRequest,
};
use http::{HeaderMap, Response};
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// A request as the server saw it (body decompressed).
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// Bytes on the wire (compressed size when gzip).
    pub wire_len: usize,
}

/// An answer, or a dropped connection.
pub enum Reply {
    Answer(u16, Vec<(String, String)>, String),
    Reset,
}

impl Reply {
    pub fn json(code: u16, body: impl Into<String>) -> Reply {
        Reply::Answer(
            code,
            vec![("content-type".into(), "application/json".into())],
            body.into(),
        )
    }
}

/// How long a server takes to answer, and how many requests it is answering.
#[derive(Default)]
pub struct Pacing {
    /// Each answer leaves this many milliseconds after its request arrived.
    pub latency_ms: AtomicU64,
    in_flight: AtomicU64,
    most_in_flight: AtomicU64,
}

impl Pacing {
    /// The most requests it was answering at once.
    pub fn most_in_flight(&self) -> u64 {
        self.most_in_flight.load(Ordering::SeqCst)
    }
}

/// Serves `handler` on a fresh 127.0.0.1 port until the test ends.
pub async fn serve<F>(handler: F) -> SocketAddr
where
    F: Fn(Seen) -> Reply + Send + Sync + 'static,
{
    serve_paced(handler, Arc::default()).await
}

/// [`serve`], answering as `pacing` says.
pub async fn serve_paced<F>(handler: F, pacing: Arc<Pacing>) -> SocketAddr
where
    F: Fn(Seen) -> Reply + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let handler = handler.clone();
            let pacing = pacing.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let handler = handler.clone();
                    let pacing = pacing.clone();
                    async move {
                        let now = pacing.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                        pacing.most_in_flight.fetch_max(now, Ordering::SeqCst);
                        let latency = pacing.latency_ms.load(Ordering::SeqCst);
                        let answer = tokio::time::sleep(Duration::from_millis(latency));
                        let (parts, body) = req.into_parts();
                        let raw = body.collect().await.map_err(|_| ResetError)?.to_bytes();
                        let gzip = parts
                            .headers
                            .get("content-encoding")
                            .is_some_and(|v| v == "gzip");
                        let body = if gzip {
                            let mut out = Vec::new();
                            flate2::read::GzDecoder::new(&raw[..])
                                .read_to_end(&mut out)
                                .unwrap();
                            out
                        } else {
                            raw.to_vec()
                        };
                        let seen = Seen {
                            method: parts.method.to_string(),
                            path: parts.uri.path().to_owned(),
                            headers: parts.headers,
                            body,
                            wire_len: raw.len(),
                        };
                        let reply = handler(seen);
                        answer.await;
                        pacing.in_flight.fetch_sub(1, Ordering::SeqCst);
                        match reply {
                            Reply::Answer(code, headers, body) => {
                                let mut response = Response::builder().status(code);
                                for (k, v) in headers {
                                    response = response.header(k, v);
                                }
                                Ok::<_, ResetError>(
                                    response.body(Full::new(Bytes::from(body))).unwrap(),
                                )
                            }
                            // An error from the service makes hyper drop the connection.
                            Reply::Reset => Err(ResetError),
                        }
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

#[derive(Debug)]
struct ResetError;
impl std::fmt::Display for ResetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("scripted reset")
    }
}
impl std::error::Error for ResetError {}

/// What the fake Cloud Logging answers next.
#[derive(Debug, Clone)]
pub enum Scripted {
    /// Answer as usual.
    Pass,
    Status(u16, Option<u64>),
    Reset,
}

/// How entries matching `FakeLogging::reject_when` are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectAs {
    /// 400 with `WriteLogEntriesPartialErrors` naming them.
    PartialErrors,
    /// 400 for the whole request, no details.
    WholeRequest,
}

type Predicate = Box<dyn Fn(&LogEntry) -> bool + Send>;

#[derive(Default)]
struct LoggingState {
    requests: Vec<Seen>,
    accepted: Vec<LogEntry>,
    script: VecDeque<Scripted>,
    reject: Option<(Predicate, RejectAs)>,
    /// Answer 401 unless the bearer token is this one.
    require_token: Option<String>,
    /// Answer every other request 429 (quota exhausted) while set.
    throttle: bool,
    /// Requests answered 429 by `throttle`.
    throttled: u64,
}

/// The fake `entries:write`.
#[derive(Clone)]
pub struct FakeLogging {
    pub addr: SocketAddr,
    state: Arc<Mutex<LoggingState>>,
    pub pacing: Arc<Pacing>,
}

impl FakeLogging {
    pub async fn start() -> FakeLogging {
        let state = Arc::new(Mutex::new(LoggingState::default()));
        let shared = state.clone();
        let pacing = Arc::new(Pacing::default());
        let addr = serve_paced(move |seen| answer(&shared, seen), pacing.clone()).await;
        FakeLogging {
            addr,
            state,
            pacing,
        }
    }

    /// Answers every other request 429 while `on`.
    pub fn throttle(&self, on: bool) {
        self.state.lock().unwrap().throttle = on;
    }

    /// Requests answered 429 by [`FakeLogging::throttle`].
    pub fn throttled(&self) -> u64 {
        self.state.lock().unwrap().throttled
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn script(&self, steps: impl IntoIterator<Item = Scripted>) {
        self.state.lock().unwrap().script.extend(steps);
    }

    pub fn reject_when(
        &self,
        as_: RejectAs,
        predicate: impl Fn(&LogEntry) -> bool + Send + 'static,
    ) {
        self.state.lock().unwrap().reject = Some((Box::new(predicate), as_));
    }

    pub fn require_token(&self, token: &str) {
        self.state.lock().unwrap().require_token = Some(token.to_owned());
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Entries written, each with the request's `logName` filled in when it had none.
    pub fn accepted(&self) -> Vec<LogEntry> {
        self.state.lock().unwrap().accepted.clone()
    }
}

fn answer(state: &Mutex<LoggingState>, seen: Seen) -> Reply {
    let mut state = state.lock().unwrap();
    state.requests.push(seen.clone());
    if seen.path != "/v2/entries:write" || seen.method != "POST" {
        return Reply::json(404, r#"{"error":{"code":404,"message":"not found"}}"#);
    }
    if let Some(step) = state
        .script
        .pop_front()
        .filter(|s| !matches!(s, Scripted::Pass))
    {
        return match step {
            Scripted::Pass => unreachable!(),
            Scripted::Reset => Reply::Reset,
            Scripted::Status(code, retry_after) => {
                let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
                if let Some(s) = retry_after {
                    headers.push(("retry-after".into(), s.to_string()));
                }
                Reply::Answer(
                    code,
                    headers,
                    format!(r#"{{"error":{{"code":{code},"message":"scripted {code}"}}}}"#),
                )
            }
        };
    }
    if state.throttle && state.requests.len().is_multiple_of(2) {
        state.throttled += 1;
        let body = ErrorBody::new(RpcCode::ResourceExhausted, "quota exceeded (throttled)");
        return Reply::json(429, serde_json::to_string(&body).unwrap());
    }
    if let Some(want) = &state.require_token {
        let got = seen
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if got != Some(format!("Bearer {want}").as_str()) {
            let body = ErrorBody::new(RpcCode::Unauthenticated, "invalid token");
            return Reply::json(401, serde_json::to_string(&body).unwrap());
        }
    }
    let request: WriteLogEntriesRequest = match serde_json::from_slice(&seen.body) {
        Ok(r) => r,
        Err(e) => {
            let body = ErrorBody::new(RpcCode::InvalidArgument, format!("bad JSON: {e}"));
            return Reply::json(400, serde_json::to_string(&body).unwrap());
        }
    };
    let rejected: Vec<usize> = match &state.reject {
        Some((predicate, _)) => request
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| predicate(e))
            .map(|(i, _)| i)
            .collect(),
        None => Vec::new(),
    };
    let with_name = |mut e: LogEntry| {
        if e.log_name.is_none() {
            e.log_name = request.log_name.clone();
        }
        e
    };
    if rejected.is_empty() {
        let entries: Vec<LogEntry> = request.entries.iter().cloned().map(with_name).collect();
        state.accepted.extend(entries);
        return Reply::json(200, "{}");
    }
    let as_ = state.reject.as_ref().map(|(_, a)| *a).unwrap();
    if as_ == RejectAs::WholeRequest {
        let body = ErrorBody::new(RpcCode::InvalidArgument, "some entry is invalid");
        return Reply::json(400, serde_json::to_string(&body).unwrap());
    }
    let errors = WriteLogEntriesPartialErrors {
        log_entry_errors: rejected
            .iter()
            .map(|&i| {
                (
                    i as i32,
                    Status::new(RpcCode::InvalidArgument, format!("entry {i} is invalid")),
                )
            })
            .collect::<BTreeMap<_, _>>(),
    };
    if request.partial_success {
        let entries: Vec<LogEntry> = request
            .entries
            .iter()
            .enumerate()
            .filter(|(i, _)| !rejected.contains(i))
            .map(|(_, e)| with_name(e.clone()))
            .collect();
        state.accepted.extend(entries);
    }
    let body = ErrorBody::new(RpcCode::InvalidArgument, "some entries are invalid")
        .with_partial_errors(&errors);
    Reply::json(400, serde_json::to_string(&body).unwrap())
}

/// A fake metadata server: fixed values plus a token endpoint handing out `meta-token-N`.
pub struct FakeMetadata {
    pub addr: SocketAddr,
    pub tokens_issued: Arc<AtomicU64>,
}

impl FakeMetadata {
    pub async fn start(values: &[(&str, &str)], token_lifetime: Duration) -> FakeMetadata {
        let values: BTreeMap<String, String> = values
            .iter()
            .map(|(k, v)| (format!("/computeMetadata/v1/{k}"), (*v).to_owned()))
            .collect();
        let issued = Arc::new(AtomicU64::new(0));
        let counter = issued.clone();
        let addr = serve(move |seen| {
            if seen.headers.get("metadata-flavor").is_none_or(|v| v != "Google") {
                return Reply::json(403, "missing Metadata-Flavor");
            }
            if seen.path == "/computeMetadata/v1/instance/service-accounts/default/token" {
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                return Reply::json(
                    200,
                    format!(
                        r#"{{"access_token":"meta-token-{n}","expires_in":{},"token_type":"Bearer"}}"#,
                        token_lifetime.as_secs()
                    ),
                );
            }
            match values.get(&seen.path) {
                Some(v) => Reply::Answer(200, vec![("metadata-flavor".into(), "Google".into())], v.clone()),
                None => Reply::Answer(404, Vec::new(), "not found".into()),
            }
        })
        .await;
        FakeMetadata {
            addr,
            tokens_issued: issued,
        }
    }

    pub fn host(&self) -> String {
        self.addr.to_string()
    }
}

/// A fake OAuth token endpoint that accepts only JWTs signed by `public_key_der`
/// (RSAPublicKey DER) for `email`.
pub struct FakeTokenServer {
    pub addr: SocketAddr,
    pub verified: Arc<AtomicU64>,
}

impl FakeTokenServer {
    pub async fn start(public_key_der: Vec<u8>, email: &str) -> FakeTokenServer {
        let verified = Arc::new(AtomicU64::new(0));
        let counter = verified.clone();
        let email = email.to_owned();
        let addr = serve(move |seen| {
            let form = String::from_utf8_lossy(&seen.body).into_owned();
            let fields: BTreeMap<&str, &str> = form
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .collect();
            if fields.get("grant_type")
                != Some(&"urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer")
            {
                return Reply::json(400, r#"{"error":"unsupported_grant_type"}"#);
            }
            let Some(jwt) = fields.get("assertion") else {
                return Reply::json(400, r#"{"error":"invalid_request"}"#);
            };
            let parts: Vec<&str> = jwt.split('.').collect();
            if parts.len() != 3 {
                return Reply::json(400, r#"{"error":"invalid_grant"}"#);
            }
            let signed = format!("{}.{}", parts[0], parts[1]);
            let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap_or_default();
            let key = ring::signature::UnparsedPublicKey::new(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                &public_key_der,
            );
            if key.verify(signed.as_bytes(), &signature).is_err() {
                return Reply::json(
                    400,
                    r#"{"error":"invalid_grant","error_description":"bad signature"}"#,
                );
            }
            let header: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
            let claims: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
            let aud = format!("http://{}/token", seen.headers["host"].to_str().unwrap());
            let ok = header["alg"] == "RS256"
                && claims["iss"] == email.as_str()
                && claims["aud"] == aud.as_str()
                && claims["scope"] == "https://www.googleapis.com/auth/logging.write"
                && claims["exp"].as_u64() > claims["iat"].as_u64();
            if !ok {
                return Reply::json(
                    400,
                    format!(r#"{{"error":"invalid_grant","claims":{claims}}}"#),
                );
            }
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            Reply::json(
                200,
                format!(
                    r#"{{"access_token":"sa-token-{n}","expires_in":3600,"token_type":"Bearer"}}"#
                ),
            )
        })
        .await;
        FakeTokenServer { addr, verified }
    }
}
