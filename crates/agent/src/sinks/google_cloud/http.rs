//! One small HTTP/1.1 client shared by the token providers, the metadata server and
//! `entries:write`: hyper with rustls (ring, Mozilla roots) so TLS to Google verifies
//! certificates, plain HTTP for the endpoints a configuration names explicitly, and a deadline
//! on every exchange.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// A complete answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Why there is no answer; every kind is worth retrying.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Connection(String),
}

/// The TLS configuration (the crypto provider's protocol versions) could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("setting up TLS: {0}")]
pub struct TlsSetupError(#[from] rustls::Error);

/// TCP under an HTTPS (or plain HTTP) client: connects give up after `timeout`, no Nagle.
pub(crate) fn tcp_connector(timeout: Duration) -> HttpConnector {
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_connect_timeout(Some(timeout));
    tcp.set_nodelay(true);
    tcp
}

/// A pooled client over `https`; idle connections are closed after 50 s, before the servers'
/// and load balancers' usual 60 s can close one under a request.
pub(crate) fn pooled<B>(
    https: HttpsConnector<HttpConnector>,
) -> Client<HttpsConnector<HttpConnector>, B>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
{
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(50))
        .build(https)
}

/// A pooled client; cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl HttpClient {
    /// A client whose TCP connects give up after `connect_timeout`.
    pub fn new(connect_timeout: Duration) -> Result<HttpClient, TlsSetupError> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp_connector(connect_timeout));
        Ok(HttpClient {
            client: pooled(https),
        })
    }

    /// Sends `request` and reads the whole answer, all within `timeout`.
    pub async fn send(
        &self,
        request: Request<Full<Bytes>>,
        timeout: Duration,
    ) -> Result<Answer, HttpError> {
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| HttpError::Connection(describe(&e)))?;
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| HttpError::Connection(format!("reading the answer: {e}")))?
                .to_bytes();
            Ok(Answer {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or(Err(HttpError::Timeout(timeout)))
    }
}

/// The error and its causes on one line ("client error (Connect): tcp connect error: …").
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
