//! Test harness: starts the real `web-api` binary on `127.0.0.1:0` in a temp dir, a small
//! keep-alive HTTP/1.1 client (hyper), and helpers to wait on conditions and read the log.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{HeaderMap, Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Generous: CI machines are shared and slow; conditions usually hold within milliseconds.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Polls `cond` until it holds or the deadline passes (then panics with `what`).
pub async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + DEADLINE;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A running `web-api` process with its own temp dir; killed on drop if still running.
pub struct Server {
    pub dir: TempDir,
    pub addr: SocketAddr,
    child: Child,
}

impl Server {
    /// Starts with `--log-file DIR/app.log` plus `extra` flags and waits for the port file.
    pub async fn start(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port_file = dir.path().join("port");
        let stderr = std::fs::File::create(dir.path().join("stderr")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_web-api"))
            .args(["--bind", "127.0.0.1:0", "--workers", "2"])
            .arg("--port-file")
            .arg(&port_file)
            .arg("--log-file")
            .arg(dir.path().join("app.log"))
            .arg("--exit-marker")
            .arg(dir.path().join("exited"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawning web-api");
        let mut server = Server {
            dir,
            addr: "127.0.0.1:0".parse().unwrap(),
            child,
        };
        let stderr_path = server.dir.path().join("stderr");
        wait_until("the port file", || {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "web-api exited early with {status}: {}",
                    std::fs::read_to_string(&stderr_path).unwrap_or_default()
                );
            }
            port_file.exists()
        })
        .await;
        server.addr = std::fs::read_to_string(&port_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        server
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("app.log")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to exit on its own.
    pub async fn wait_exit(&mut self) -> ExitStatus {
        let mut status = None;
        let child = &mut self.child;
        wait_until("web-api to exit", || {
            status = child.try_wait().unwrap();
            status.is_some()
        })
        .await;
        status.unwrap()
    }

    pub async fn client(&self) -> Client {
        Client::connect(self.addr).await.expect("connecting")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Complete lines of a log file (a line still being written has no `\n` yet).
pub fn log_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = match text.rfind('\n') {
        Some(end) => &text[..=end],
        None => "",
    };
    complete.lines().map(str::to_owned).collect()
}

/// Every line parsed as JSON; panics naming the line that is not an object.
pub fn json_lines(path: &Path) -> Vec<Value> {
    log_lines(path)
        .iter()
        .map(|l| {
            let v: Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}"));
            assert!(v.is_object(), "not an object: {l}");
            v
        })
        .collect()
}

/// Access lines (those with `httpRequest`).
pub fn access_lines(path: &Path) -> Vec<Value> {
    json_lines(path)
        .into_iter()
        .filter(|v| v.get("httpRequest").is_some())
        .collect()
}

/// A response, fully read.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.body))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One keep-alive HTTP/1.1 connection.
pub struct Client {
    addr: SocketAddr,
    sender: SendRequest<Full<Bytes>>,
}

impl Client {
    pub async fn connect(
        addr: SocketAddr,
    ) -> Result<Client, Box<dyn std::error::Error + Send + Sync>> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Client { addr, sender })
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        self.send(Method::GET, path, &[], "")
            .await
            .expect("GET failed")
    }

    pub async fn post(&mut self, path: &str, body: &str) -> Reply {
        self.send(
            Method::POST,
            path,
            &[("content-type", "application/json")],
            body,
        )
        .await
        .expect("POST failed")
    }

    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Result<Reply, hyper::Error> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.addr.to_string());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(Bytes::from(body.to_owned()))).unwrap();
        self.sender.ready().await?;
        let resp = self.sender.send_request(req).await?;
        let (parts, body) = resp.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    }
}
