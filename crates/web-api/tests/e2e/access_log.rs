//! One access line per request with Cloud Logging's `httpRequest` and the incoming trace; app
//! lines with severity, source location and the trace of the request that wrote them.

use hyper::Method;
use serde_json::Value;

use crate::support::{Server, access_lines, json_lines, wait_until};

fn by_url<'a>(lines: &'a [Value], url: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|l| l["httpRequest"]["requestUrl"] == url)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_leaves_one_access_line_with_http_request_and_trace() {
    let server = Server::start(&[]).await;
    let mut c = server.client().await;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let r = c
        .send(
            Method::GET,
            "/items/7?src=w3c",
            &[
                (
                    "traceparent",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                ),
                ("user-agent", "e2e-test/1.0"),
            ],
            "",
        )
        .await
        .unwrap();
    assert_eq!(r.status, 404);
    let body = r#"{"severity":"NOTICE","message":"traced note"}"#;
    c.send(
        Method::POST,
        "/log",
        &[(
            "x-cloud-trace-context",
            "105445aa7843bc8bf206b12000100000/74;o=0",
        )],
        body,
    )
    .await
    .unwrap();
    c.get("/?plain=1").await;
    c.get("/error").await;

    let log = server.log_path();
    wait_until("four access lines", || access_lines(&log).len() >= 4).await;
    let lines = access_lines(&log);
    assert_eq!(
        lines.len(),
        4,
        "exactly one access line per request: {lines:#?}"
    );

    let w3c = by_url(&lines, "/items/7?src=w3c");
    assert_eq!(w3c.len(), 1);
    let h = &w3c[0]["httpRequest"];
    assert_eq!(h["requestMethod"], "GET");
    assert_eq!(h["status"], 404);
    assert_eq!(h["requestSize"], "0");
    assert_eq!(
        h["responseSize"],
        r#"{"detail":"Item not found"}"#.len().to_string()
    );
    assert_eq!(h["remoteIp"], "127.0.0.1");
    assert_eq!(h["userAgent"], "e2e-test/1.0");
    assert_eq!(h["protocol"], "HTTP/1.1");
    let latency = h["latency"].as_str().unwrap();
    assert!(latency.ends_with('s') && latency[..latency.len() - 1].parse::<f64>().unwrap() < 5.0);
    assert_eq!(w3c[0]["severity"], "WARNING");
    assert_eq!(w3c[0]["logging.googleapis.com/trace"], trace);
    assert_eq!(w3c[0]["logging.googleapis.com/spanId"], "00f067aa0ba902b7");
    assert_eq!(w3c[0]["logging.googleapis.com/trace_sampled"], true);
    assert!(w3c[0]["time"].as_str().unwrap().ends_with('Z'));

    let posted = by_url(&lines, "/log");
    assert_eq!(posted.len(), 1);
    assert_eq!(
        posted[0]["httpRequest"]["requestSize"],
        body.len().to_string()
    );
    assert_eq!(
        posted[0]["logging.googleapis.com/trace"],
        "105445aa7843bc8bf206b12000100000"
    );
    assert_eq!(
        posted[0]["logging.googleapis.com/spanId"],
        "000000000000004a"
    );
    assert_eq!(posted[0]["logging.googleapis.com/trace_sampled"], false);

    let plain = by_url(&lines, "/?plain=1");
    assert_eq!(plain[0]["severity"], "INFO");
    assert!(plain[0].get("logging.googleapis.com/trace").is_none());
    assert_eq!(by_url(&lines, "/error")[0]["severity"], "ERROR");

    // App lines: the /log line carries the request's trace; /error logs its cause chain.
    let all = json_lines(&log);
    let note = all
        .iter()
        .find(|l| l["message"] == "traced note")
        .expect("the /log line");
    assert_eq!(note["severity"], "NOTICE");
    assert_eq!(
        note["logging.googleapis.com/trace"],
        "105445aa7843bc8bf206b12000100000"
    );
    let src = &note["logging.googleapis.com/sourceLocation"];
    assert!(src["file"].as_str().unwrap().ends_with(".rs"));
    assert!(src["line"].as_str().unwrap().parse::<u32>().unwrap() > 0);
    assert!(!src["function"].as_str().unwrap().is_empty());
    let err = all
        .iter()
        .find(|l| l["severity"] == "ERROR" && l.get("httpRequest").is_none())
        .expect("the /error app line");
    let msg = err["message"].as_str().unwrap();
    assert!(msg.contains("could not build the demo report"), "{msg}");
    assert!(
        msg.contains("connection refused (simulated failure)"),
        "cause chain missing: {msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_flag_writes_full_trace_resource_names() {
    let server = Server::start(&["--project", "demo-proj"]).await;
    let mut c = server.client().await;
    c.send(
        Method::GET,
        "/health",
        &[(
            "x-cloud-trace-context",
            "105445aa7843bc8bf206b12000100000/1;o=1",
        )],
        "",
    )
    .await
    .unwrap();
    let log = server.log_path();
    wait_until("the access line", || access_lines(&log).len() == 1).await;
    assert_eq!(
        access_lines(&log)[0]["logging.googleapis.com/trace"],
        "projects/demo-proj/traces/105445aa7843bc8bf206b12000100000"
    );
}
