//! A fake Kubernetes API server for the node tests, on 127.0.0.1: `GET /api/v1/pods` (with
//! `fieldSelector=spec.nodeName=NODE`) and `/api/v1/namespaces`, as lists and as chunked
//! watch streams from a resourceVersion (410 for one older than the last outage), with a bearer
//! token. Pods are added, relabelled and deleted while the agent watches, and the server can go
//! down (every connection closed at once, new ones closed unanswered) and come back.

use std::collections::BTreeMap;
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};

use super::support::read_request_head;

pub const TOKEN: &str = "node-agent-token";

#[derive(Default)]
struct State {
    /// Per resource ("pods", "namespaces"): objects by key (uid, name).
    objects: BTreeMap<&'static str, BTreeMap<String, Value>>,
    /// Every event with its resourceVersion, for the watches.
    history: Vec<(u64, &'static str, Value)>,
    version: u64,
    /// Watches from a version below this get 410 (what an outage forgot).
    compacted: u64,
    down: bool,
    /// Bumped when the server goes down: the open watches end.
    outages: u64,
    /// Lists served, per resource.
    lists: BTreeMap<String, usize>,
}

#[derive(Clone)]
pub struct FakeKubeApi {
    pub addr: SocketAddr,
    state: Arc<(Mutex<State>, Condvar)>,
}

impl FakeKubeApi {
    pub fn start() -> FakeKubeApi {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let api = FakeKubeApi {
            addr: listener.local_addr().unwrap(),
            state: Arc::default(),
        };
        let served = api.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let api = served.clone();
                std::thread::spawn(move || api.serve(stream));
            }
        });
        api
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The token file the agent reads.
    pub fn write_token(&self, dir: &Path) -> std::path::PathBuf {
        let path = dir.join("token");
        std::fs::write(&path, format!("{TOKEN}\n")).unwrap();
        path
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.0.lock().unwrap()
    }

    /// Adds or changes (`Some`) or deletes (`None`) an object; the watches are told.
    fn change(&self, resource: &'static str, key: &str, object: Option<Value>) {
        let mut state = self.lock();
        state.version += 1;
        let version = state.version;
        let objects = state.objects.entry(resource).or_default();
        let (kind, mut object) = match object {
            Some(object) if objects.contains_key(key) => ("MODIFIED", object),
            Some(object) => ("ADDED", object),
            None => ("DELETED", objects.remove(key).expect("a known object")),
        };
        object["metadata"]["resourceVersion"] = json!(version.to_string());
        if kind != "DELETED" {
            objects.insert(key.to_owned(), object.clone());
        }
        state
            .history
            .push((version, resource, json!({"type": kind, "object": object})));
        drop(state);
        self.state.1.notify_all();
    }

    pub fn put_namespace(&self, name: &str, labels: Value) {
        let namespace = json!({"kind": "Namespace", "metadata": {"name": name, "uid": format!("ns-{name}"), "labels": labels}});
        self.change("namespaces", name, Some(namespace));
    }

    /// A pod on `node` whose one container `container` runs as `container_id`.
    #[allow(clippy::too_many_arguments)]
    pub fn put_pod(
        &self,
        namespace: &str,
        name: &str,
        uid: &str,
        node: &str,
        container: &str,
        container_id: &str,
        labels: Value,
    ) {
        let pod = json!({
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "uid": uid, "labels": labels,
                         "ownerReferences": [{"kind": "ReplicaSet", "name": format!("{name}-rs"), "controller": true}]},
            "spec": {"nodeName": node, "containers": [{"name": container, "image": format!("{container}:1")}]},
            "status": {"phase": "Running", "containerStatuses": [{
                "name": container, "image": format!("{container}:1"), "imageID": format!("{container}@sha256:1"),
                "containerID": format!("containerd://{container_id}"), "ready": true}]},
        });
        self.change("pods", uid, Some(pod));
    }

    pub fn delete_pod(&self, uid: &str) {
        self.change("pods", uid, None);
    }

    /// Every connection closed, and new ones closed unanswered, until [`Self::come_back`].
    pub fn go_down(&self) {
        let mut state = self.lock();
        state.down = true;
        state.outages += 1;
        drop(state);
        self.state.1.notify_all();
    }

    /// Up again, having forgotten the history before now (a watch from before gets 410).
    pub fn come_back(&self) {
        let mut state = self.lock();
        state.down = false;
        state.compacted = state.version;
    }

    /// How many times `resource` was listed.
    pub fn lists(&self, resource: &str) -> usize {
        self.lock().lists.get(resource).copied().unwrap_or(0)
    }

    fn serve(&self, stream: TcpStream) {
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        let wanted = format!("authorization: bearer {TOKEN}").to_ascii_lowercase();
        loop {
            let Some((request_line, headers)) = read_request_head(&mut reader) else {
                return;
            };
            let authorized = headers.contains(&wanted);
            if self.lock().down {
                return;
            }
            let target = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_owned();
            let (path, query) = target.split_once('?').unwrap_or((&target, ""));
            let resource: &'static str = match path {
                "/api/v1/pods" => "pods",
                "/api/v1/namespaces" => "namespaces",
                _ => {
                    respond(&mut writer, "404 Not Found", "{}");
                    continue;
                }
            };
            if !authorized {
                respond(
                    &mut writer,
                    "401 Unauthorized",
                    r#"{"kind":"Status","code":401}"#,
                );
                continue;
            }
            let param = |key: &str| {
                query.split('&').find_map(|kv| {
                    kv.strip_prefix(key)
                        .and_then(|r| r.strip_prefix('='))
                        .map(str::to_owned)
                })
            };
            let node = param("fieldSelector")
                .map(|s| s.replace("%3D", "="))
                .and_then(|s| s.strip_prefix("spec.nodeName=").map(str::to_owned));
            if param("watch").as_deref() == Some("1") {
                let from = param("resourceVersion")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                self.watch(writer, resource, node, from);
                return;
            }
            let mut state = self.lock();
            *state.lists.entry(resource.to_owned()).or_default() += 1;
            let items: Vec<&Value> = state
                .objects
                .get(resource)
                .into_iter()
                .flat_map(|m| m.values())
                .filter(|o| fits(o, node.as_deref()))
                .collect();
            let body = json!({"kind": "List", "metadata": {"resourceVersion": state.version.to_string()}, "items": items}).to_string();
            drop(state);
            respond(&mut writer, "200 OK", &body);
        }
    }

    /// A chunked stream of the events after `from`, until an outage or the client leaves.
    fn watch(&self, mut writer: TcpStream, resource: &str, node: Option<String>, from: u64) {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        if writer.write_all(head.as_bytes()).is_err() {
            return;
        }
        let chunk = |writer: &mut TcpStream, text: &str| {
            writer
                .write_all(format!("{:x}\r\n{text}\r\n", text.len()).as_bytes())
                .is_ok()
        };
        let mut state = self.lock();
        if from < state.compacted {
            drop(state);
            let gone = json!({"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old resource version"}});
            chunk(&mut writer, &format!("{gone}\n"));
            let _ = writer.write_all(b"0\r\n\r\n");
            return;
        }
        let outages = state.outages;
        let mut sent = from;
        loop {
            if state.outages != outages {
                let _ = writer.shutdown(std::net::Shutdown::Both);
                return;
            }
            let events: Vec<String> = state
                .history
                .iter()
                .filter(|(v, r, e)| {
                    *v > sent && *r == resource && fits(&e["object"], node.as_deref())
                })
                .map(|(_, _, e)| format!("{e}\n"))
                .collect();
            sent = state.version;
            drop(state);
            for event in events {
                if !chunk(&mut writer, &event) {
                    return;
                }
            }
            state = self.lock();
            if state.version == sent && state.outages == outages {
                state = self
                    .state
                    .1
                    .wait_timeout(state, Duration::from_millis(200))
                    .unwrap()
                    .0;
            }
        }
    }
}

fn fits(object: &Value, node: Option<&str>) -> bool {
    node.is_none() || object["spec"]["nodeName"].as_str() == node
}

fn respond(writer: &mut TcpStream, status: &str, body: &str) {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = writer.write_all(response.as_bytes());
}
