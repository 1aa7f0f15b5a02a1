//! The filter against a fake API server on 127.0.0.1 (hyper; list and a chunked watch stream
//! from a resourceVersion, 410 for a compacted one, bookmarks): pods added, relabelled and
//! deleted, the API going down and back, and lines that never wait on it for long.

use std::collections::BTreeMap;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::*;
use crate::event::Record;

const TOKEN: &str = "s3cr3t-token";

/// A response body fed by a channel: the watch stream.
struct Channel(mpsc::UnboundedReceiver<Bytes>);

impl Body for Channel {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

type AnyBody = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;

#[derive(Default)]
struct FakeState {
    /// Per resource ("pods", "namespaces"): objects by key.
    objects: BTreeMap<&'static str, BTreeMap<String, Value>>,
    /// Every event, with its resourceVersion.
    history: Vec<(u64, &'static str, Value)>,
    version: u64,
    /// Watches from a version below this get 410.
    compacted: u64,
    watchers: Vec<(&'static str, Option<String>, mpsc::UnboundedSender<Bytes>)>,
    /// Every request's path and query.
    requests: Vec<String>,
    down: bool,
}

#[derive(Clone)]
struct FakeApi {
    url: String,
    state: Arc<Mutex<FakeState>>,
}

fn node_of(object: &Value) -> Option<&str> {
    object["spec"]["nodeName"].as_str()
}

impl FakeApi {
    async fn start() -> FakeApi {
        FakeApi::serve(None).await
    }

    /// Over TLS, with a certificate for 127.0.0.1 from `testdata/ca.crt` (the cluster's CA).
    async fn start_tls() -> FakeApi {
        let certs = CertificateDer::pem_slice_iter(include_bytes!("testdata/server.crt"))
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_slice(include_bytes!("testdata/server.key")).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        FakeApi::serve(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)))).await
    }

    async fn serve(tls: Option<tokio_rustls::TlsAcceptor>) -> FakeApi {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{}", listener.local_addr().unwrap());
        let fake = FakeApi {
            url,
            state: Arc::default(),
        };
        let served = fake.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let fake = served.clone();
                match &tls {
                    Some(tls) => {
                        let tls = tls.clone();
                        tokio::spawn(async move {
                            if let Ok(stream) = tls.accept(stream).await {
                                fake.serve_connection(TokioIo::new(stream)).await;
                            }
                        });
                    }
                    None => {
                        tokio::spawn(fake.serve_connection(TokioIo::new(stream)));
                    }
                }
            }
        });
        fake
    }

    async fn serve_connection<I>(self, io: I)
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let service = hyper::service::service_fn(move |request| {
            let fake = self.clone();
            async move { Ok::<_, std::convert::Infallible>(fake.answer(request)) }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(io, service)
            .await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().unwrap()
    }

    fn answer(&self, request: Request<Incoming>) -> Response<AnyBody> {
        let full = |status: StatusCode, body: String| {
            Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body)).boxed())
                .unwrap()
        };
        let path = request.uri().path().to_owned();
        let query = request.uri().query().unwrap_or_default().to_owned();
        let mut state = self.lock();
        state.requests.push(format!("{path}?{query}"));
        if state.down {
            return full(StatusCode::SERVICE_UNAVAILABLE, "{}".into());
        }
        let authorized = request
            .headers()
            .get("authorization")
            .is_some_and(|v| v == format!("Bearer {TOKEN}").as_str());
        if !authorized {
            return full(
                StatusCode::UNAUTHORIZED,
                r#"{"kind":"Status","code":401}"#.into(),
            );
        }
        let resource: &'static str = match path.as_str() {
            "/api/v1/pods" => "pods",
            "/api/v1/namespaces" => "namespaces",
            _ => return full(StatusCode::NOT_FOUND, "{}".into()),
        };
        let param = |key: &str| {
            query.split('&').find_map(|kv| {
                kv.strip_prefix(key)
                    .and_then(|rest| rest.strip_prefix('='))
                    .map(str::to_owned)
            })
        };
        let node = param("fieldSelector")
            .and_then(|s| s.strip_prefix("spec.nodeName%3D").map(str::to_owned));
        let fits = |object: &Value| node.is_none() || node_of(object) == node.as_deref();
        if param("watch").as_deref() != Some("1") {
            let items: Vec<Value> = state
                .objects
                .get(resource)
                .into_iter()
                .flat_map(|m| m.values())
                .filter(|o| fits(o))
                .cloned()
                .collect();
            let list = json!({"kind": "List", "metadata": {"resourceVersion": state.version.to_string()}, "items": items});
            return full(StatusCode::OK, list.to_string());
        }
        let from: u64 = param("resourceVersion")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let (tx, rx) = mpsc::unbounded_channel();
        if from < state.compacted {
            let gone = json!({"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old resource version"}});
            let _ = tx.send(Bytes::from(format!("{gone}\n")));
        } else {
            for (version, kind, event) in &state.history {
                if *version > from && *kind == resource && fits(&event["object"]) {
                    let _ = tx.send(Bytes::from(format!("{event}\n")));
                }
            }
            // A bookmark, sent in two chunks: a line may span frames.
            let bookmark = json!({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": state.version.to_string()}}}).to_string();
            let (a, b) = bookmark.split_at(10);
            let _ = tx.send(Bytes::from(a.to_owned()));
            let _ = tx.send(Bytes::from(format!("{b}\n")));
            state.watchers.push((resource, node, tx));
        }
        Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .body(Channel(rx).boxed())
            .unwrap()
    }

    /// Adds, changes (`Some`) or deletes (`None`) an object and tells the watches.
    fn change(&self, resource: &'static str, key: &str, object: Option<Value>) {
        let mut state = self.lock();
        state.version += 1;
        let version = state.version;
        let objects = state.objects.entry(resource).or_default();
        let (kind, mut object) = match object {
            Some(object) if objects.contains_key(key) => ("MODIFIED", object),
            Some(object) => ("ADDED", object),
            None => ("DELETED", objects[key].clone()),
        };
        object["metadata"]["resourceVersion"] = json!(version.to_string());
        if kind == "DELETED" {
            objects.remove(key);
        } else {
            objects.insert(key.to_owned(), object.clone());
        }
        let event = json!({"type": kind, "object": object});
        state.history.push((version, resource, event.clone()));
        let line = Bytes::from(format!("{event}\n"));
        state.watchers.retain(|(r, node, tx)| {
            if *r != resource || (node.is_some() && node.as_deref() != node_of(&object)) {
                return !tx.is_closed();
            }
            tx.send(line.clone()).is_ok()
        });
    }

    fn put_pod(&self, pod: Value) {
        let uid = pod["metadata"]["uid"].as_str().unwrap().to_owned();
        self.change("pods", &uid, Some(pod));
    }

    fn delete_pod(&self, uid: &str) {
        self.change("pods", uid, None);
    }

    /// The server goes away: every watch ends, every request gets 503.
    fn go_down(&self) {
        let mut state = self.lock();
        state.down = true;
        state.watchers.clear();
    }

    /// Back, with the history before now forgotten (a watch from an older version gets 410).
    fn come_back(&self) {
        let mut state = self.lock();
        state.down = false;
        state.compacted = state.version;
    }

    /// Ends the watches without going down (the server's timeout).
    fn end_watches(&self) {
        self.lock().watchers.clear();
    }

    fn lists(&self, resource: &str) -> Vec<String> {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.starts_with(&format!("/api/v1/{resource}?")) && !r.contains("watch=1"))
            .cloned()
            .collect()
    }
}

fn pod(uid: &str, name: &str, node: &str, container_id: &str, app: &str) -> Value {
    json!({
        "kind": "Pod",
        "metadata": {
            "name": name, "namespace": "shop", "uid": uid,
            "labels": {"app": app, "app.kubernetes.io/part-of": "store"},
            "annotations": {"logferry.io/team": "payments", "other": "x"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "s", "controller": true}],
        },
        "spec": {"nodeName": node, "containers": [{"name": "api", "image": "registry/api:1.2"}]},
        "status": {"phase": "Running", "containerStatuses": [{
            "name": "api", "image": "registry/api:1.2", "imageID": "registry/api@sha256:feed",
            "containerID": format!("containerd://{container_id}"), "ready": true,
        }]},
    })
}

fn container_id(n: u8) -> String {
    format!("{n:x}").repeat(64)[..64].to_owned()
}

fn filter_for(fake: &FakeApi, dir: &Path, extra: &str) -> KubernetesMetadata {
    let token = dir.join("token");
    std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
    let text = format!(
        "<filter kubernetes.**>\n @type kubernetes_metadata\n kubernetes_url {}/api\n bearer_token_file {}\n node_name node-a\n watch_retry_interval 0.05\n annotation_match [\"^logferry\"]\n{extra}</filter>\n",
        fake.url,
        token.display()
    );
    let (root, mut diags) = fluent_config::parse_str(&text, Path::new("t.conf")).unwrap();
    let section = root.sections[0].clone();
    let mut r = fluent_config::Reader::new(&section, &mut diags);
    r.plugin_type();
    let empty = |_: &str| None;
    let config = config::read(&mut r, &empty).expect("valid");
    r.finish();
    assert!(diags.is_empty(), "{diags:?}");
    KubernetesMetadata::new(config)
}

/// A line of `pod`'s container, through the filter: its `kubernetes` map.
fn line_of(filter: &KubernetesMetadata, pod: &str, id: &str) -> Value {
    let mut event = Event {
        tag: format!("kubernetes.var.log.containers.{pod}_shop_api-{id}.log").into(),
        time: gcloud_logging::Timestamp::new(0, 0).unwrap(),
        record: Record::Line("hello".into()),
        origin: None,
    };
    assert!(filter.apply(&mut event));
    event.record.make_map()["kubernetes"].clone()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn state_of(filter: &KubernetesMetadata) -> ApiState {
    filter.api.as_ref().unwrap().cache.api_state()
}

#[test]
fn pods_are_followed_through_the_watch() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _entered = runtime.enter();
    let fake = runtime.block_on(FakeApi::start());
    let dir = tempfile::tempdir().unwrap();
    fake.change(
        "namespaces",
        "shop",
        Some(
            json!({"metadata": {"name": "shop", "uid": "ns-uid", "labels": {"team": "payments"}}}),
        ),
    );
    fake.put_pod(pod("u0", "web-0", "node-a", &container_id(1), "web"));
    fake.put_pod(pod("u9", "elsewhere", "node-b", &container_id(9), "other"));

    let filter = filter_for(&fake, dir.path(), " wait_for_pod 3s\n");
    let telemetry = Telemetry::default();
    filter.start("k8s", &telemetry);
    // The first line waited for the pod list; the namespace list may come a moment later.
    assert_eq!(
        line_of(&filter, "web-0", &container_id(1))["labels"]["app"],
        "web"
    );
    let expected = json!({
            "namespace_name": "shop", "pod_name": "web-0", "container_name": "api",
            "pod_id": "u0", "host": "node-a",
            "labels": {"app": "web", "app_kubernetes_io/part-of": "store"},
            "annotations": {"logferry_io/team": "payments"},
            "owner": {"kind": "StatefulSet", "name": "web"},
            "container_image": "registry/api:1.2",
            "container_image_id": "registry/api@sha256:feed",
            "master_url": format!("{}/api", fake.url),
            "namespace_id": "ns-uid",
            "namespace_labels": {"team": "payments"},
    });
    wait_until("the namespace's metadata", || {
        line_of(&filter, "web-0", &container_id(1)) == expected
    });
    assert!(
        fake.lists("pods")
            .iter()
            .all(|r| r.contains("fieldSelector=spec.nodeName%3Dnode-a")),
        "{:?}",
        fake.lists("pods")
    );
    // The metrics page says the watch is up, how many pods it holds, and where each record's
    // metadata came from.
    let page = telemetry.metrics.render();
    assert!(
        page.contains("logferry_kubernetes_api_up{plugin_id=\"k8s\"} 1"),
        "{page}"
    );
    assert!(
        page.contains("logferry_kubernetes_cached_pods{plugin_id=\"k8s\"} 1"),
        "{page}"
    );
    assert!(
        metric(
            &page,
            r#"logferry_kubernetes_metadata_records_total{plugin_id="k8s",source="api"}"#
        ) >= 2.0,
        "{page}"
    );
    assert_eq!(
        metric(
            &page,
            r#"logferry_kubernetes_metadata_records_total{plugin_id="k8s",source="path"}"#
        ),
        0.0,
        "{page}"
    );

    // A pod added just before its first line: the line waits for the watch to deliver it.
    fake.put_pod(pod("u1", "web-1", "node-a", &container_id(2), "web"));
    assert_eq!(
        line_of(&filter, "web-1", &container_id(2))["labels"]["app"],
        "web"
    );

    // Relabelled: the next lines carry the new label.
    fake.put_pod(pod("u0", "web-0", "node-a", &container_id(1), "web-v2"));
    wait_until("the new label", || {
        line_of(&filter, "web-0", &container_id(1))["labels"]["app"] == "web-v2"
    });

    // Deleted: lines written just before, read after, still get its labels.
    fake.delete_pod("u0");
    wait_until("the deletion", || {
        filter.api.as_ref().unwrap().cache.deleted("u0") == Some(true)
    });
    assert_eq!(
        line_of(&filter, "web-0", &container_id(1))["labels"]["app"],
        "web-v2"
    );

    // The server's timeout ends the watch: the next starts where it was, without a list.
    let lists = fake.lists("pods").len();
    fake.end_watches();
    fake.put_pod(pod("u3", "web-3", "node-a", &container_id(3), "web"));
    wait_until("the watch to start again", || {
        line_of(&filter, "web-3", &container_id(3))
            .get("labels")
            .is_some()
    });
    assert_eq!(
        fake.lists("pods").len(),
        lists,
        "no list for a closed watch"
    );

    // Down: an unknown pod's line goes on at once with the path's fields; known pods keep
    // their labels.
    fake.go_down();
    wait_until("the filter to see the API down", || {
        state_of(&filter) == ApiState::Down
    });
    let start = Instant::now();
    let unknown = line_of(&filter, "web-7", &container_id(7));
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        unknown,
        json!({"namespace_name": "shop", "pod_name": "web-7", "container_name": "api",
               "namespace_id": "ns-uid", "namespace_labels": {"team": "payments"}}),
        "the path's fields, and the namespace the cache knows"
    );
    assert_eq!(
        line_of(&filter, "web-1", &container_id(2))["labels"]["app"],
        "web"
    );

    // While it is down: web-1 deleted, web-4 started. Back (its history compacted): the
    // watcher lists again and knows both.
    fake.delete_pod("u1");
    fake.put_pod(pod("u4", "web-4", "node-a", &container_id(4), "web"));
    fake.come_back();
    wait_until("the relist", || state_of(&filter) == ApiState::Up);
    assert!(fake.lists("pods").len() > lists);
    assert_eq!(
        line_of(&filter, "web-4", &container_id(4))["labels"]["app"],
        "web"
    );
    assert_eq!(
        line_of(&filter, "web-1", &container_id(2))["labels"]["app"],
        "web",
        "deleted while the API was down: kept for its last lines"
    );
    let cache = &filter.api.as_ref().unwrap().cache;
    assert_eq!(cache.deleted("u1"), Some(true));

    // A watch from a compacted version gets 410 and lists again.
    let lists = fake.lists("pods").len();
    {
        let mut state = fake.lock();
        state.version += 1;
        state.compacted = state.version;
    }
    fake.end_watches();
    wait_until("a list after 410", || fake.lists("pods").len() > lists);
    wait_until("both watches again", || {
        let state = fake.lock();
        ["pods", "namespaces"]
            .iter()
            .all(|r| state.watchers.iter().any(|(w, _, _)| w == r))
    });

    // Another node's pod is not this node's: not listed, not cached (its line waits
    // `wait_for_pod`, and the next unknown pods do not wait for a while).
    let start = Instant::now();
    let other = line_of(&filter, "elsewhere", &container_id(9));
    assert!(other.get("labels").is_none(), "{other}");
    assert!(start.elapsed() >= Duration::from_secs(3), "it waited");

    let start = Instant::now();
    let unknown = line_of(&filter, "web-8", &container_id(8));
    assert!(unknown.get("labels").is_none(), "{unknown}");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );

    // The filter dropped (the pipeline ended): the watch stops.
    drop(filter);
    let requests = fake.lock().requests.len();
    fake.end_watches();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        fake.lock().requests.len(),
        requests,
        "no request after the drop"
    );
}

/// Unreachable from the start: nothing to wait for once the first attempt failed, and the
/// first lines wait `wait_for_pod` at most in total, however many files there are.
#[test]
fn an_unreachable_api_server_holds_no_line_back() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let _entered = runtime.enter();
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let fake = FakeApi {
        url: format!("http://{}", closed.local_addr().unwrap()),
        state: Arc::default(),
    };
    drop(closed);
    let dir = tempfile::tempdir().unwrap();
    let filter = filter_for(&fake, dir.path(), " wait_for_pod 1s\n");
    let telemetry = Telemetry::default();
    filter.start("k8s", &telemetry);
    let start = Instant::now();
    for n in 0..20 {
        let line = line_of(&filter, &format!("web-{n}"), &container_id(n));
        assert_eq!(line["pod_name"], format!("web-{n}"));
        assert!(line.get("labels").is_none());
    }
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "20 files waited {:?}",
        start.elapsed()
    );
    let page = telemetry.metrics.render();
    assert!(
        page.contains("logferry_kubernetes_api_up{plugin_id=\"k8s\"} 0"),
        "{page}"
    );
    assert_eq!(
        metric(
            &page,
            r#"logferry_kubernetes_metadata_records_total{plugin_id="k8s",source="path"}"#
        ),
        20.0,
        "{page}"
    );
}

/// The value of the series `series` (name and labels as the page writes them) on a metrics
/// page; 0 when it is not there.
fn metric(page: &str, series: &str) -> f64 {
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// The parameters the filter now acts on are read and checked; the rest still warn.
#[test]
fn api_parameters_are_read_and_checked() {
    let read = |body: &str, env: &dyn Fn(&str) -> Option<String>| {
        let text = format!("<filter **>\n @type kubernetes_metadata\n{body}</filter>\n");
        let (root, mut diags) = fluent_config::parse_str(&text, Path::new("t.conf")).unwrap();
        let section = root.sections[0].clone();
        let mut r = fluent_config::Reader::new(&section, &mut diags);
        r.plugin_type();
        let config = config::read(&mut r, env);
        r.finish();
        (config, diags)
    };
    let none = |_: &str| None;
    let (config, diags) = read("", &none);
    assert!(diags.is_empty(), "{diags:?}");
    assert!(
        config.unwrap().api.is_none(),
        "no cluster, no URL: the path only"
    );

    let in_cluster = |key: &str| match key {
        "KUBERNETES_SERVICE_HOST" => Some("10.96.0.1".to_owned()),
        "KUBERNETES_SERVICE_PORT" => Some("443".to_owned()),
        "NODE_NAME" => Some("node-a".to_owned()),
        _ => None,
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "t").unwrap();
    std::fs::write(dir.path().join("ca.crt"), "c").unwrap();
    let (config, diags) = read(
        &format!(" secret_dir {}\n", dir.path().display()),
        &in_cluster,
    );
    assert!(diags.is_empty(), "{diags:?}");
    let api = config.unwrap().api.unwrap();
    assert_eq!(api.settings.base, "https://10.96.0.1:443");
    assert_eq!(api.master_url, "https://10.96.0.1:443/api");
    assert_eq!(api.settings.token_file, Some(dir.path().join("token")));
    assert_eq!(api.settings.ca_file, Some(dir.path().join("ca.crt")));
    assert_eq!(api.watch.node.as_deref(), Some("node-a"));
    assert!(api.watch.namespaces);
    assert_eq!(api.shaping.de_dot.as_deref(), Some("_"));
    assert_eq!(api.shaping.de_slash, None);

    let (config, diags) = read(
        " kubernetes_url https://k8s.example:6443/api\n verify_ssl false\n de_slash true\n skip_namespace_metadata true\n skip_labels true\n cache_ttl 5m\n watch_retry_max_times 3\n",
        &none,
    );
    let api = config.unwrap().api.unwrap();
    assert_eq!(api.settings.base, "https://k8s.example:6443");
    assert!(!api.settings.verify_ssl);
    assert_eq!(api.shaping.de_slash.as_deref(), Some("__"));
    assert!(!api.watch.namespaces && !api.record.pod_labels);
    assert_eq!(api.cache_ttl, Duration::from_secs(300));
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert!(
        diags[0].message.contains("watch_retry_max_times"),
        "{diags:?}"
    );

    for (body, expected) in [
        (" kubernetes_url ftp://x\n", "http:// or https://"),
        (" de_dot_separator .\n", "cannot hold `.`"),
        (" annotation_match [\"(\"]\n", "invalid regular expression"),
        (" apiVersion v2\n", "core API"),
        (
            " client_cert /c.pem\n kubernetes_url http://x\n",
            "go together",
        ),
    ] {
        let (config, diags) = read(body, &none);
        assert!(config.is_none(), "{body}");
        assert!(
            diags
                .iter()
                .any(|d| d.is_error() && d.message.contains(expected)),
            "{body}: {diags:?}"
        );
    }
    let (_, diags) = read(" watch false\n", &none);
    assert!(
        diags
            .iter()
            .any(|d| !d.is_error() && d.message.contains("watch false")),
        "{diags:?}"
    );
}

/// In a cluster the API server's certificate is checked against the cluster's CA (`ca.crt`
/// beside the token); the Mozilla roots do not know that CA; `verify_ssl false` takes any.
#[test]
fn the_api_servers_certificate_is_checked_against_the_cluster_ca() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let fake = runtime.block_on(FakeApi::start_tls());
    fake.put_pod(pod("u0", "web-0", "node-a", &container_id(1), "web"));
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, TOKEN).unwrap();
    let ca = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/filters/kubernetes_metadata/testdata/ca.crt");
    let list = |ca_file: Option<&Path>, verify_ssl: bool| {
        let settings = api::ApiSettings {
            base: fake.url.clone(),
            token_file: Some(token.clone()),
            ca_file: ca_file.map(Path::to_owned),
            verify_ssl,
            client_cert: None,
            client_key: None,
            open_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
        };
        let client = api::ApiClient::new(settings).unwrap();
        runtime.block_on(client.list::<api::Pod>("/api/v1/pods?"))
    };
    let listed = list(Some(&ca), true).unwrap();
    assert_eq!(listed.items[0].metadata.name, "web-0");
    let error = list(None, true).unwrap_err().to_string();
    assert!(error.contains("certificate"), "{error}");
    assert_eq!(list(None, false).unwrap().items.len(), 1);
}
