//! The two calls the filter makes to the Kubernetes API server, list and watch (of the node's
//! pods and of namespaces), over the agent's own hyper + rustls stack. A maintained client
//! (kube-rs with k8s-openapi) would bring a second HTTP stack, tower, every API type of every
//! Kubernetes version and minutes of build time for two GETs whose answers need five fields;
//! these few hundred lines read the same JSON and are tested against a fake API server.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::sinks::google_cloud::http::{pooled, tcp_connector};

/// A list's answer (`PodList`, `NamespaceList`) larger than this is refused: a node's pods
/// are a few hundred kilobytes, a large cluster's namespaces a few megabytes.
const MAX_LIST_BYTES: usize = 64 << 20;
/// One watch event larger than this ends the watch (a pod object is a few kilobytes).
const MAX_EVENT_BYTES: usize = 8 << 20;
/// The server ends a watch after this, and the watcher starts the next from where it was.
pub(crate) const WATCH_SECONDS: u64 = 290;
/// No byte for this long (bookmarks come every minute or so) means the connection is dead.
const WATCH_IDLE: Duration = Duration::from_secs(WATCH_SECONDS + 30);

/// Where the API server is and how to talk to it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiSettings {
    /// `scheme://host:port`, without the plugin's `/api` suffix.
    pub base: String,
    /// Re-read before each request: a projected service account token is renewed by kubelet.
    pub token_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    pub verify_ssl: bool,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    pub open_timeout: Duration,
    /// The deadline of a list.
    pub read_timeout: Duration,
}

/// Why a call failed. Every kind is retried by the watcher.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("setting up TLS for the Kubernetes API: {0}")]
    Tls(String),
    #[error("GET {path}: {message}")]
    Connection { path: String, message: String },
    #[error("GET {path}: HTTP {status}: {body}")]
    Status {
        path: String,
        status: StatusCode,
        body: String,
    },
    #[error("GET {path}: no answer within {timeout:?}")]
    Timeout { path: String, timeout: Duration },
    #[error("GET {path}: {message}")]
    Decode { path: String, message: String },
    /// The resourceVersion a watch started from is too old: list again.
    #[error("the watch's resourceVersion is gone (410): listing again")]
    Gone,
}

/// A pooled client; cheap to clone.
#[derive(Clone)]
pub(crate) struct ApiClient {
    settings: Arc<ApiSettings>,
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
}

impl ApiClient {
    pub fn new(settings: ApiSettings) -> Result<ApiClient, ApiError> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(&settings)?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp_connector(settings.open_timeout));
        Ok(ApiClient {
            settings: Arc::new(settings),
            client: pooled(https),
        })
    }

    /// `GET path` (a list), the whole answer within `read_timeout`.
    pub async fn list<T: DeserializeOwned>(&self, path: &str) -> Result<List<T>, ApiError> {
        let timeout = self.settings.read_timeout;
        let exchange = async {
            let mut body = self.open(path).await?;
            let mut bytes = Vec::new();
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| connection(path, &e))?;
                if let Some(data) = frame.data_ref() {
                    if bytes.len() + data.len() > MAX_LIST_BYTES {
                        return Err(ApiError::Decode {
                            path: path.to_owned(),
                            message: format!("the list is larger than {MAX_LIST_BYTES} bytes"),
                        });
                    }
                    bytes.extend_from_slice(data);
                }
            }
            serde_json::from_slice(&bytes).map_err(|e| ApiError::Decode {
                path: path.to_owned(),
                message: e.to_string(),
            })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(ApiError::Timeout {
                    path: path.to_owned(),
                    timeout,
                })
            })
    }

    /// `GET path` with `watch=1`: the events as they come.
    pub async fn watch(&self, path: &str) -> Result<WatchStream, ApiError> {
        let timeout = self.settings.read_timeout;
        let body = tokio::time::timeout(timeout, self.open(path))
            .await
            .unwrap_or_else(|_| {
                Err(ApiError::Timeout {
                    path: path.to_owned(),
                    timeout,
                })
            })?;
        Ok(WatchStream {
            path: path.to_owned(),
            body,
            pending: Vec::new(),
        })
    }

    /// Sends the request and checks the status; the body is the caller's to read.
    async fn open(&self, path: &str) -> Result<Incoming, ApiError> {
        let mut request = Request::get(format!("{}{path}", self.settings.base))
            .header(header::ACCEPT, "application/json")
            .header(header::USER_AGENT, "logferry");
        if let Some(file) = &self.settings.token_file {
            let token = std::fs::read_to_string(file).map_err(|e| ApiError::Connection {
                path: path.to_owned(),
                message: format!("reading the token {}: {e}", file.display()),
            })?;
            request = request.header(header::AUTHORIZATION, format!("Bearer {}", token.trim()));
        }
        let request = request
            .body(Empty::new())
            .map_err(|e| connection(path, &e))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| connection(path, &e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response.into_body());
        }
        if status == StatusCode::GONE {
            return Err(ApiError::Gone);
        }
        let body = tokio::time::timeout(Duration::from_secs(5), response.into_body().collect())
            .await
            .ok()
            .and_then(Result::ok)
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let mut body = String::from_utf8_lossy(&body).into_owned();
        body.truncate(512);
        Err(ApiError::Status {
            path: path.to_owned(),
            status,
            body,
        })
    }
}

fn connection(path: &str, error: &(dyn std::error::Error + 'static)) -> ApiError {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    ApiError::Connection {
        path: path.to_owned(),
        message,
    }
}

/// A watch's answer: one JSON event a line, for as long as the server keeps it open.
pub(crate) struct WatchStream {
    path: String,
    body: Incoming,
    /// Bytes of the line not complete yet.
    pending: Vec<u8>,
}

impl WatchStream {
    /// The next event; `None` when the server ended the watch.
    pub async fn next<T: DeserializeOwned>(&mut self) -> Result<Option<WatchEvent<T>>, ApiError> {
        loop {
            if let Some(end) = memchr::memchr(b'\n', &self.pending) {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return decode_event(&line)
                    .map(Some)
                    .map_err(|message| ApiError::Decode {
                        path: self.path.clone(),
                        message,
                    });
            }
            if self.pending.len() > MAX_EVENT_BYTES {
                return Err(ApiError::Decode {
                    path: self.path.clone(),
                    message: format!("an event is larger than {MAX_EVENT_BYTES} bytes"),
                });
            }
            let frame = match tokio::time::timeout(WATCH_IDLE, self.body.frame()).await {
                Err(_) => {
                    return Err(ApiError::Timeout {
                        path: self.path.clone(),
                        timeout: WATCH_IDLE,
                    });
                }
                Ok(None) => {
                    // The last event may come without its newline.
                    if self.pending.iter().all(u8::is_ascii_whitespace) {
                        return Ok(None);
                    }
                    self.pending.push(b'\n');
                    continue;
                }
                Ok(Some(frame)) => frame.map_err(|e| connection(&self.path, &e))?,
            };
            if let Some(data) = frame.data_ref() {
                self.pending.extend_from_slice(data);
            }
        }
    }
}

/// What a watch says happened.
#[derive(Debug, PartialEq)]
pub(crate) enum WatchEvent<T> {
    Added(T),
    Modified(T),
    Deleted(T),
    /// Nothing changed; the watch is at this resourceVersion.
    Bookmark(String),
    /// A `Status` with code 410: the resourceVersion is too old, list again.
    Gone,
    /// Another `Status`: the watch is over.
    Error(String),
}

#[derive(Deserialize)]
struct RawEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    object: Value,
}

/// One line of a watch's answer.
pub(crate) fn decode_event<T: DeserializeOwned>(line: &[u8]) -> Result<WatchEvent<T>, String> {
    let raw: RawEvent = serde_json::from_slice(line).map_err(|e| format!("a watch event: {e}"))?;
    let object = |value: Value| {
        T::deserialize(value).map_err(|e| format!("the object of a {} event: {e}", raw.kind))
    };
    Ok(match raw.kind.as_str() {
        "ADDED" => WatchEvent::Added(object(raw.object)?),
        "MODIFIED" => WatchEvent::Modified(object(raw.object)?),
        "DELETED" => WatchEvent::Deleted(object(raw.object)?),
        "BOOKMARK" => WatchEvent::Bookmark(
            raw.object["metadata"]["resourceVersion"]
                .as_str()
                .ok_or("a BOOKMARK without metadata.resourceVersion")?
                .to_owned(),
        ),
        "ERROR" if raw.object["code"].as_u64() == Some(410) => WatchEvent::Gone,
        "ERROR" => WatchEvent::Error(
            raw.object["message"]
                .as_str()
                .map_or_else(|| raw.object.to_string(), str::to_owned),
        ),
        other => return Err(format!("an event of unknown type {other:?}")),
    })
}

/// A list's answer: its items, and where a watch continues from.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct List<T> {
    #[serde(default)]
    pub metadata: ListMeta,
    #[serde(default = "Vec::new")]
    pub items: Vec<T>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListMeta {
    #[serde(default)]
    pub resource_version: String,
}

/// The fields of an object's `metadata` the filter reads.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ObjectMeta {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub resource_version: String,
    pub labels: serde_json::Map<String, Value>,
    pub annotations: serde_json::Map<String, Value>,
    pub owner_references: Vec<OwnerReference>,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct OwnerReference {
    pub kind: String,
    pub name: String,
    pub controller: bool,
}

/// A pod, as far as the filter reads it.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Pod {
    pub metadata: ObjectMeta,
    pub spec: PodSpec,
    pub status: PodStatus,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct PodSpec {
    pub node_name: String,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct PodStatus {
    pub container_statuses: Vec<ContainerStatus>,
    pub init_container_statuses: Vec<ContainerStatus>,
    pub ephemeral_container_statuses: Vec<ContainerStatus>,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ContainerStatus {
    pub name: String,
    pub image: String,
    #[serde(rename = "imageID")]
    pub image_id: String,
    /// `containerd://HEX`, `cri-o://HEX`, `docker://HEX`; empty until it started.
    #[serde(rename = "containerID")]
    pub container_id: String,
}

impl ContainerStatus {
    /// The id as the log file names it (the runtime's prefix left out).
    pub fn bare_id(&self) -> &str {
        self.container_id
            .split_once("://")
            .map_or(self.container_id.as_str(), |(_, id)| id)
    }
}

/// A namespace, as far as the filter reads it.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Namespace {
    pub metadata: ObjectMeta,
}

/// rustls with the cluster's CA (`ca_file`), else the Mozilla roots; `verify_ssl false` accepts
/// any certificate (signatures are still checked); `client_cert`/`client_key` when given.
fn tls_config(settings: &ApiSettings) -> Result<rustls::ClientConfig, ApiError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ApiError::Tls(e.to_string()))?;
    let builder = if !settings.verify_ssl {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        match &settings.ca_file {
            Some(file) => {
                let pem = std::fs::read(file)
                    .map_err(|e| ApiError::Tls(format!("reading {}: {e}", file.display())))?;
                for cert in CertificateDer::pem_slice_iter(&pem) {
                    let cert = cert.map_err(|e| {
                        ApiError::Tls(format!("a certificate in {}: {e}", file.display()))
                    })?;
                    roots.add(cert).map_err(|e| {
                        ApiError::Tls(format!("a certificate in {}: {e}", file.display()))
                    })?;
                }
                if roots.is_empty() {
                    return Err(ApiError::Tls(format!(
                        "no certificate in {}",
                        file.display()
                    )));
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        builder.with_root_certificates(roots)
    };
    match (&settings.client_cert, &settings.client_key) {
        (Some(cert), Some(key)) => {
            let read = |file: &PathBuf| {
                std::fs::read(file)
                    .map_err(|e| ApiError::Tls(format!("reading {}: {e}", file.display())))
            };
            let certs = CertificateDer::pem_slice_iter(&read(cert)?)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ApiError::Tls(format!("{}: {e}", cert.display())))?;
            let key = PrivateKeyDer::from_pem_slice(&read(key)?)
                .map_err(|e| ApiError::Tls(format!("{}: {e}", key.display())))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| ApiError::Tls(e.to_string()))
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

/// `verify_ssl false`: any server certificate is taken (the handshake's signatures are still
/// verified, so the connection is encrypted, just not authenticated).
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(line: &str) -> WatchEvent<Pod> {
        decode_event(line.as_bytes()).unwrap()
    }

    #[test]
    fn watch_events_decode() {
        let added = pod(
            r#"{"type":"ADDED","object":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"web-0","namespace":"shop","uid":"u1","resourceVersion":"7","labels":{"app":"web"},"annotations":{"a":"b"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"StatefulSet","name":"web","uid":"s1","controller":true}]},"spec":{"nodeName":"node-a","containers":[{"name":"api","image":"api:1"}]},"status":{"phase":"Running","containerStatuses":[{"name":"api","image":"api:1","imageID":"sha256:ab","containerID":"containerd://0123","ready":true}]}}}"#,
        );
        let WatchEvent::Added(p) = added else {
            panic!("{added:?}")
        };
        assert_eq!(
            (p.metadata.name.as_str(), p.metadata.namespace.as_str()),
            ("web-0", "shop")
        );
        assert_eq!(p.metadata.labels["app"], "web");
        assert_eq!(p.metadata.owner_references[0].kind, "StatefulSet");
        assert!(p.metadata.owner_references[0].controller);
        assert_eq!(p.spec.node_name, "node-a");
        assert_eq!(p.status.container_statuses[0].bare_id(), "0123");
        assert_eq!(p.status.container_statuses[0].image_id, "sha256:ab");

        let modified = pod(r#"{"type":"MODIFIED","object":{"metadata":{"name":"x"}}}"#);
        assert!(matches!(modified, WatchEvent::Modified(p) if p.metadata.name == "x"));
        let deleted = pod(r#"{"type":"DELETED","object":{"metadata":{"uid":"u"}}}"#);
        assert!(matches!(deleted, WatchEvent::Deleted(p) if p.metadata.uid == "u"));
        assert_eq!(
            pod(
                r#"{"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"12345"}}}"#
            ),
            WatchEvent::Bookmark("12345".into())
        );
        assert_eq!(
            pod(
                r#"{"type":"ERROR","object":{"kind":"Status","status":"Failure","message":"too old resource version: 1 (5)","reason":"Expired","code":410}}"#
            ),
            WatchEvent::Gone
        );
        assert_eq!(
            pod(r#"{"type":"ERROR","object":{"kind":"Status","message":"boom","code":500}}"#),
            WatchEvent::Error("boom".into())
        );
        for bad in [
            "not json",
            r#"{"type":"SOMETHING","object":{}}"#,
            r#"{"type":"BOOKMARK","object":{}}"#,
            r#"{"type":"ADDED","object":{"metadata":{"name":7}}}"#,
        ] {
            assert!(decode_event::<Pod>(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn lists_decode_with_their_resource_version() {
        let list: List<Namespace> = serde_json::from_str(
            r#"{"kind":"NamespaceList","metadata":{"resourceVersion":"99"},"items":[{"metadata":{"name":"shop","uid":"n1","labels":{"team":"a"}}}]}"#,
        )
        .unwrap();
        assert_eq!(list.metadata.resource_version, "99");
        assert_eq!(list.items[0].metadata.labels["team"], "a");
        let empty: List<Pod> = serde_json::from_str(r#"{"kind":"PodList"}"#).unwrap();
        assert!(empty.items.is_empty());
        assert_eq!(empty.metadata.resource_version, "");
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_a_tls_error() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("ca.crt");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        for ca in [dir.path().join("missing.crt"), empty] {
            let settings = ApiSettings {
                base: "https://127.0.0.1:1".into(),
                token_file: None,
                ca_file: Some(ca.clone()),
                verify_ssl: true,
                client_cert: None,
                client_key: None,
                open_timeout: Duration::from_secs(1),
                read_timeout: Duration::from_secs(1),
            };
            let Err(error) = ApiClient::new(settings) else {
                panic!("{ca:?} was taken")
            };
            assert!(matches!(error, ApiError::Tls(_)), "{error}");
        }
    }
}
