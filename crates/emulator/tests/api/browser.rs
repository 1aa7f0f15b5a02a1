//! The logs explorer in a real browser: seeds an emulator with a small shop's logs (several
//! severities, text and JSON payloads, `k8s_container` and legacy `container` resources, two
//! projects, a large batch log for paging, and hostile payloads), then runs
//! `tests/browser/explorer.test.mjs` in Debian's headless Chromium through playwright-core.
//!
//! Screenshots go to a temp dir; `LOGFERRY_SCREENSHOTS=docs cargo test -p emulator explorer`
//! (from the workspace root) refreshes the README's.

use std::path::{Path, PathBuf};
use std::time::Duration;

use gcloud_logging::Timestamp;
use serde_json::{Value, json};

use crate::support::Server;

const BROWSER_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser");
/// Chromium on a shared 2-core machine is slow to start; the whole script normally takes ~10s.
const BROWSER_DEADLINE: Duration = Duration::from_secs(240);

#[tokio::test]
async fn explorer_works_in_headless_chromium() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "Chromium is not installed at {chromium}; run scripts/test.sh, whose \
         scripts/setup/browser.sh installs Debian's chromium and the test's npm packages"
    );
    ensure_node_modules().await;

    let server = Server::start().await;
    let now = Timestamp::now().seconds;
    for (project, entries) in seed(now) {
        for chunk in entries.chunks(100) {
            let resp = server
                .write(json!({ "logName": format!("projects/{project}/logs/stdout"), "entries": chunk }))
                .await;
            assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
        }
    }

    let temp = tempfile::tempdir().unwrap();
    let screenshots = match std::env::var_os("LOGFERRY_SCREENSHOTS") {
        // Relative to the workspace root, where `cargo test` is usually run from.
        Some(dir) => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(dir),
        None => temp.path().to_path_buf(),
    };
    let out = tokio::time::timeout(
        BROWSER_DEADLINE,
        tokio::process::Command::new("node")
            .arg(Path::new(BROWSER_DIR).join("explorer.test.mjs"))
            .arg(&server.url)
            .arg(&screenshots)
            .env("CHROMIUM", &chromium)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the browser test finishes")
    .expect("node runs (scripts/test.sh expects Node 18+ on the PATH)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("explorer test: ok"),
        "explorer.test.mjs failed\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for shot in ["explorer.png", "explorer-entry.png", "explorer-narrow.png"] {
        assert!(screenshots.join(shot).exists(), "{shot} was not taken");
    }
    server.stop().await;
}

/// `npm ci` when the test's packages are missing (scripts/setup/browser.sh normally did it).
async fn ensure_node_modules() {
    let installed: PathBuf = Path::new(BROWSER_DIR).join("node_modules/playwright-core");
    if installed.exists() {
        return;
    }
    let out = tokio::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(BROWSER_DIR)
        .output()
        .await
        .expect("npm runs (scripts/test.sh expects Node 18+ and npm on the PATH)");
    assert!(
        out.status.success(),
        "npm ci in {BROWSER_DIR} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn at(now: i64, seconds_ago: i64) -> String {
    Timestamp::new(now - seconds_ago, 123_000_000)
        .unwrap()
        .to_string()
}

fn k8s(namespace: &str, pod: &str, container: &str) -> Value {
    json!({"type": "k8s_container", "labels": {
        "project_id": "demo", "location": "asia-northeast1-a", "cluster_name": "shop",
        "namespace_name": namespace, "pod_name": pod, "container_name": container,
    }})
}

/// The seeded entries, per project.
fn seed(now: i64) -> Vec<(&'static str, Vec<Value>)> {
    let pods = ["fastapi-7d9c5b-x2x7q", "fastapi-7d9c5b-k81mf"];
    let nginx = json!({"type": "container", "labels": {
        "cluster_name": "shop", "namespace_id": "default", "instance_id": "4410",
        "pod_id": "nginx-5f6d8-qz7", "container_name": "nginx", "zone": "asia-northeast1-a",
    }});
    let mut demo = Vec::new();
    for i in 0..36i64 {
        let ago = 60 + i * 80;
        let pod = pods[(i % 2) as usize];
        let entry = match i % 9 {
            0 | 3 => json!({
                "severity": "INFO", "resource": k8s("default", pod, "fastapi"),
                "jsonPayload": {"message": format!("GET /api/orders 200 in {}ms", 12 + i), "method": "GET",
                    "path": "/api/orders", "status": 200, "latency_ms": 12 + i, "user_id": format!("u-{}", 1000 + i)},
                "labels": {"app": "fastapi", "version": "1.4.2"},
            }),
            1 => json!({
                "severity": "INFO", "resource": k8s("default", pod, "fastapi"),
                "httpRequest": {"requestMethod": "POST", "requestUrl": "/api/checkout", "status": 201,
                    "latency": "0.084s", "userAgent": "Mozilla/5.0 (X11; Linux x86_64)"},
                "jsonPayload": {"message": "order placed", "order_id": format!("ord-{}", 5000 + i), "total_cents": 4200 + i * 10},
            }),
            2 => json!({
                "severity": "DEBUG", "resource": k8s("default", pod, "fastapi"),
                "textPayload": "GET /healthz 200 (liveness probe)",
            }),
            4 => json!({
                "severity": "WARNING", "resource": k8s("default", pod, "fastapi"),
                "jsonPayload": {"message": format!("slow request: GET /api/search took {}ms", 1800 + i * 7),
                    "path": "/api/search", "latency_ms": 1800 + i * 7},
            }),
            5 => json!({
                "severity": "ERROR", "resource": k8s("default", pod, "fastapi"),
                "textPayload": "Traceback (most recent call last):\n  File \"/app/payments.py\", line 88, in charge\n    resp = client.post(url, json=body, timeout=5)\nhttpx.ReadTimeout: payment gateway did not answer in 5s",
            }),
            6 => json!({
                "severity": "INFO", "resource": nginx.clone(),
                "textPayload": format!("10.4.0.{} - - \"GET /static/app.{}.js HTTP/1.1\" 200 5120 \"-\" \"Mozilla/5.0\"", 10 + i, 7 + i),
            }),
            7 => json!({
                "severity": "NOTICE", "resource": k8s("default", pod, "fastapi"),
                "jsonPayload": {"message": "feature flag checkout_v2 enabled for 10% of users", "flag": "checkout_v2"},
            }),
            _ => json!({
                "resource": nginx.clone(),
                "textPayload": "nginx: worker process 31 started",
            }),
        };
        demo.push(with_time(entry, at(now, ago)));
    }
    demo.push(with_time(
        json!({"severity": "CRITICAL", "resource": k8s("default", pods[0], "fastapi"),
            "jsonPayload": {"message": "database connection pool exhausted (20/20 in use)", "pool": "orders-db"}}),
        at(now, 1500),
    ));
    demo.push(with_time(
        json!({"severity": "ALERT", "resource": k8s("default", pods[1], "fastapi"),
            "textPayload": "disk usage on /var/lib/orders at 97%"}),
        at(now, 2400),
    ));
    // Hostile content, as a client could send it in a user agent or a request path.
    demo.push(with_time(
        json!({"severity": "WARNING", "resource": nginx.clone(),
            "textPayload": "<img src=x onerror=alert(1)>"}),
        at(now, 300),
    ));
    demo.push(with_time(
        json!({"severity": "ERROR", "resource": k8s("default", pods[0], "fastapi"),
            "jsonPayload": {"message": "User agent rejected: <b>bold</b>",
                "userAgent": "<script>window.__xss=1;alert(2)</script>",
                "path": "/search?q=\"><svg onload=alert(3)>"}}),
        at(now, 420),
    ));
    // A log larger than a page, a few hours back (outside the default last hour).
    for i in 0..130i64 {
        demo.push(with_time(
            json!({"logName": "projects/demo/logs/batch", "severity": "INFO",
                "resource": k8s("jobs", "nightly-export-28571", "export"),
                "textPayload": format!("export batch {i:03} written to gs://shop-exports/2024/part-{i:03}.avro")}),
            at(now, 2 * 3600 + i * 30),
        ));
    }

    let billing = (0..6i64)
        .map(|i| {
            let mut resource = k8s("billing", "invoicer-6c4f9-pl2", "invoicer");
            resource["labels"]["project_id"] = json!("billing");
            let severity = if i == 4 { "WARNING" } else { "INFO" };
            with_time(
                json!({"severity": severity, "resource": resource,
                    "jsonPayload": {"message": format!("invoice inv-{} generated", 900 + i), "invoice": 900 + i}}),
                at(now, 200 + i * 400),
            )
        })
        .collect();
    vec![("demo", demo), ("billing", billing)]
}

fn with_time(mut entry: Value, timestamp: String) -> Value {
    entry["timestamp"] = json!(timestamp);
    entry
}
