//! Starting servers (in-process or as a child process) and small helpers.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use emulator::client::{Client, HttpResponse};
use emulator::{EmulatorConfig, serve};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::oneshot;

/// Generous: CI machines are slow and shared.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// An in-process emulator on a free port.
pub struct Server {
    pub url: String,
    pub client: Client,
    pub dir: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _temp: Option<tempfile::TempDir>,
}

impl Server {
    pub async fn start() -> Server {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().to_path_buf();
        let mut server = Server::start_in(&dir).await;
        server._temp = Some(temp);
        server
    }

    pub async fn start_in(dir: &Path) -> Server {
        Server::start_with(EmulatorConfig::new(dir)).await
    }

    pub async fn start_with(config: EmulatorConfig) -> Server {
        let dir = config.data_dir.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, config, async {
            let _ = rx.await;
        }));
        let client = Client::new(&url).unwrap();
        wait_healthy(&client).await;
        Server {
            url,
            client,
            dir,
            shutdown: Some(tx),
            task: Some(task),
            _temp: None,
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(DEADLINE, task)
                .await
                .expect("server stops")
                .unwrap()
                .unwrap();
        }
    }

    pub async fn post(&self, path: &str, body: &Value) -> HttpResponse {
        let bytes = serde_json::to_vec(body).unwrap();
        self.client
            .request("POST", path, Some(("application/json", &bytes)), &[])
            .await
            .unwrap()
    }

    pub async fn write(&self, body: Value) -> HttpResponse {
        self.post("/v2/entries:write", &body).await
    }

    /// `entries:list`, asserting success.
    pub async fn list(&self, body: Value) -> Value {
        let resp = self.post("/v2/entries:list", &body).await;
        assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
        resp.json()
    }

    /// Every entry matching `filter` in project `p`, following page tokens.
    pub async fn list_all(&self, project: &str, filter: &str) -> Vec<Value> {
        list_all(&self.client, project, filter).await
    }
}

pub async fn list_all(client: &Client, project: &str, filter: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({
            "resourceNames": [format!("projects/{project}")],
            "filter": filter,
            "pageSize": 1000,
        });
        if let Some(t) = &token {
            body["pageToken"] = json!(t);
        }
        let resp: Value = client.call("/v2/entries:list", &body).await.unwrap();
        out.extend(resp["entries"].as_array().cloned().unwrap_or_default());
        match resp["nextPageToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => return out,
        }
    }
}

pub async fn wait_healthy(client: &Client) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Ok(r) = client.request("GET", "/healthz", None, &[]).await
            && r.status == 200
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "emulator never became healthy"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The emulator as a child process (for kill -9); returns the child and its URL.
pub async fn spawn_child(dir: &Path) -> (tokio::process::Child, String) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_emulator-test-server"))
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let url = tokio::time::timeout(DEADLINE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(url) = line.strip_prefix("emulator listening on ") {
                return url.to_string();
            }
        }
        panic!("emulator exited before listening");
    })
    .await
    .expect("emulator prints its address");
    // Keep draining stderr so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    wait_healthy(&Client::new(&url).unwrap()).await;
    (child, url)
}

/// A container entry as the original fluentd setup would have sent it.
pub fn container_resource(cluster: &str) -> Value {
    json!({"type": "container", "labels": {
        "cluster_name": cluster, "namespace_id": "default", "instance_id": "1234",
        "pod_id": "fastapi-7d9c", "container_name": "fastapi", "zone": "asia-northeast1-a"
    }})
}
