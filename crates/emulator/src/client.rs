//! A deliberately tiny HTTP/1.1 client for the emulator's API (one request per connection,
//! `Connection: close`), shared by `logferry query`, the tests and the benchmark, so none of them
//! pulls in a full HTTP client stack. Plain `http://` only: the emulator serves nothing else.

use gcloud_logging::wire::{ListLogEntriesRequest, ListLogEntriesResponse, ListLogsResponse};
use gcloud_logging::{ErrorBody, WriteLogEntriesRequest};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not `http://HOST:PORT[/PATH]`.
    #[error("invalid emulator URL {url:?}: {why}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong.
        why: &'static str,
    },
    /// Connecting, sending or reading failed.
    #[error("cannot reach {addr}: {source}")]
    Io {
        /// `host:port`.
        addr: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The answer was not HTTP or not the JSON expected.
    #[error("bad response from {addr}: {why}")]
    Protocol {
        /// `host:port`.
        addr: String,
        /// What was wrong.
        why: String,
    },
    /// The API answered with an error body.
    #[error("HTTP {status}: {}", .body.error.message)]
    Api {
        /// The HTTP status.
        status: u16,
        /// Google's error JSON.
        body: ErrorBody,
    },
}

/// A raw HTTP answer.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Where the emulator is: `http://host:port` plus an optional path prefix.
#[derive(Debug, Clone)]
pub struct Client {
    addr: String,
    host_header: String,
    prefix: String,
}

impl Client {
    /// A client for `url` (`http://127.0.0.1:8085`).
    pub fn new(url: &str) -> Result<Client, ClientError> {
        let bad = |why| ClientError::Url {
            url: url.to_string(),
            why,
        };
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| bad("only http:// URLs are supported"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(bad("missing host"));
        }
        let addr = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        Ok(Client {
            addr,
            host_header: authority.to_string(),
            prefix: path.to_string(),
        })
    }

    /// Sends one request; `body` is `(content type, bytes)`; `headers` are extra headers.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, &[u8])>,
        headers: &[(&str, &str)],
    ) -> Result<HttpResponse, ClientError> {
        let io = |source| ClientError::Io {
            addr: self.addr.clone(),
            source,
        };
        let mut stream = TcpStream::connect(&self.addr).await.map_err(io)?;
        let mut req = format!(
            "{method} {}{path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAccept: application/json\r\n",
            self.prefix, self.host_header
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        let body_bytes = match body {
            Some((content_type, bytes)) => {
                req.push_str(&format!(
                    "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                    bytes.len()
                ));
                bytes
            }
            None => {
                req.push_str("Content-Length: 0\r\n");
                &[][..]
            }
        };
        req.push_str("\r\n");
        stream.write_all(req.as_bytes()).await.map_err(io)?;
        stream.write_all(body_bytes).await.map_err(io)?;
        stream.flush().await.map_err(io)?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.map_err(io)?;
        self.parse_response(&raw)
    }

    fn parse_response(&self, raw: &[u8]) -> Result<HttpResponse, ClientError> {
        let bad = |why: &str| ClientError::Protocol {
            addr: self.addr.clone(),
            why: why.to_string(),
        };
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| bad("no end of headers (connection closed early)"))?;
        let head = std::str::from_utf8(&raw[..split]).map_err(|_| bad("headers not UTF-8"))?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("no status code"))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let mut body = raw[split + 4..].to_vec();
        let chunked = headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
        if chunked {
            body = dechunk(&body).ok_or_else(|| bad("malformed chunked body"))?;
        } else if let Some(len) = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse::<usize>().ok())
        {
            if body.len() < len {
                return Err(bad("body shorter than Content-Length"));
            }
            body.truncate(len);
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }

    /// POSTs `body` as JSON and decodes the JSON answer, or the API error.
    pub async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &str,
        body: &Req,
    ) -> Result<Resp, ClientError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ClientError::Protocol {
            addr: self.addr.clone(),
            why: e.to_string(),
        })?;
        let resp = self
            .request("POST", path, Some(("application/json", &bytes)), &[])
            .await?;
        self.decode(resp)
    }

    fn decode<Resp: DeserializeOwned>(&self, resp: HttpResponse) -> Result<Resp, ClientError> {
        if resp.status != 200 {
            let body = serde_json::from_slice(&resp.body).unwrap_or_else(|_| ErrorBody {
                error: gcloud_logging::wire::ApiError {
                    code: i32::from(resp.status),
                    message: String::from_utf8_lossy(&resp.body).into_owned(),
                    ..Default::default()
                },
            });
            return Err(ClientError::Api {
                status: resp.status,
                body,
            });
        }
        serde_json::from_slice(&resp.body).map_err(|e| ClientError::Protocol {
            addr: self.addr.clone(),
            why: format!("unexpected JSON: {e}"),
        })
    }

    /// `entries:write`.
    pub async fn write(&self, request: &WriteLogEntriesRequest) -> Result<(), ClientError> {
        let _: serde_json::Value = self.call("/v2/entries:write", request).await?;
        Ok(())
    }

    /// `entries:list`.
    pub async fn list(
        &self,
        request: &ListLogEntriesRequest,
    ) -> Result<ListLogEntriesResponse, ClientError> {
        self.call("/v2/entries:list", request).await
    }

    /// `logs.list` for one project (one page).
    pub async fn list_logs(
        &self,
        project: &str,
        page_token: Option<&str>,
    ) -> Result<ListLogsResponse, ClientError> {
        let path = match page_token {
            Some(t) => format!("/v2/projects/{project}/logs?pageToken={t}"),
            None => format!("/v2/projects/{project}/logs"),
        };
        let resp = self.request("GET", &path, None, &[]).await?;
        self.decode(resp)
    }
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        let c = Client::new("http://127.0.0.1:8085").unwrap();
        assert_eq!(c.addr, "127.0.0.1:8085");
        let c = Client::new("http://localhost/prefix/").unwrap();
        assert_eq!(
            (c.addr.as_str(), c.prefix.as_str()),
            ("localhost:80", "/prefix")
        );
        assert!(Client::new("https://x").is_err());
        assert!(Client::new("http://").is_err());
    }

    #[test]
    fn chunked_bodies_decode() {
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap(),
            b"abcde"
        );
        assert!(dechunk(b"5\r\nab").is_none());
    }
}
