//! Under load nothing is dropped or torn, and SIGTERM drains: every request that got an answer
//! has its line in the file, in-flight requests finish, the process exits 0.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::support::{Client, Server, access_lines, json_lines, log_lines, wait_until};

const REQUESTS: usize = 20_000;
const CONNECTIONS: usize = 64;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_concurrent_requests_leave_twenty_thousand_whole_lines() {
    // A small buffer makes the writer fall behind often, so requests have to wait for it.
    let server = Server::start(&["--log-buffer", "16k"]).await;
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|conn| {
            let addr = server.addr;
            tokio::spawn(async move {
                let mut c = Client::connect(addr).await.unwrap();
                for n in (conn..REQUESTS).step_by(CONNECTIONS) {
                    let r = c.get(&format!("/?n={n}")).await;
                    assert_eq!(r.status, 200);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }

    let log = server.log_path();
    wait_until("20,000 access lines", || {
        access_lines(&log).len() >= REQUESTS
    })
    .await;
    // Every line in the file is one whole JSON object (json_lines panics otherwise).
    let raw = log_lines(&log);
    let all = json_lines(&log);
    assert_eq!(raw.len(), all.len());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for line in all.iter().filter(|l| l.get("httpRequest").is_some()) {
        *seen
            .entry(
                line["httpRequest"]["requestUrl"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
            .or_default() += 1;
    }
    assert_eq!(seen.len(), REQUESTS, "distinct request URLs logged");
    assert!(seen.values().all(|&n| n == 1), "a request was logged twice");
    for n in 0..REQUESTS {
        assert!(
            seen.contains_key(&format!("/?n={n}")),
            "request {n} has no line"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_load_drains_in_flight_and_keeps_every_answered_line() {
    let mut server = Server::start(&["--shutdown-timeout", "20s"]).await;
    let log = server.log_path();
    let answered: Arc<Mutex<Vec<String>>> = Arc::default();

    // Slow requests that will be in flight when SIGTERM arrives.
    let slow: Vec<_> = (0..3)
        .map(|i| {
            let addr = server.addr;
            tokio::spawn(async move {
                let mut c = Client::connect(addr).await.unwrap();
                let url = format!("/slow?ms=1500&i={i}");
                let r = c.get(&url).await;
                (r.status, url)
            })
        })
        .collect();
    // Steady load on keep-alive connections until the server closes them.
    let load: Vec<_> = (0..16)
        .map(|conn| {
            let addr = server.addr;
            let answered = answered.clone();
            tokio::spawn(async move {
                let Ok(mut c) = Client::connect(addr).await else {
                    return;
                };
                for i in 0.. {
                    let url = format!("/items?c={conn}&i={i}");
                    match c.send(hyper::Method::GET, &url, &[], "").await {
                        Ok(r) => {
                            assert_eq!(r.status, 200);
                            answered.lock().unwrap().push(url);
                        }
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();

    wait_until("slow handlers running and some load answered", || {
        let sleeping = log_lines(&log)
            .iter()
            .filter(|l| l.contains("slow request: sleeping"))
            .count();
        sleeping == 3 && answered.lock().unwrap().len() >= 500
    })
    .await;
    server.signal("TERM");

    for t in slow {
        let (status, url) = t.await.unwrap();
        assert_eq!(status, 200, "in-flight {url} was not finished");
        answered.lock().unwrap().push(url);
    }
    for t in load {
        t.await.unwrap();
    }
    let status = server.wait_exit().await;
    assert!(status.success(), "exit status {status}");
    let marker = std::fs::read_to_string(server.dir.path().join("exited")).expect("exit marker");
    assert!(marker.contains("\"drained\":true"), "{marker}");

    // After exit the file is complete: every answered request has exactly one line.
    let mut logged: HashMap<String, usize> = HashMap::new();
    for line in access_lines(&log) {
        *logged
            .entry(
                line["httpRequest"]["requestUrl"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
            .or_default() += 1;
    }
    let answered = answered.lock().unwrap();
    assert!(answered.len() >= 503);
    for url in answered.iter() {
        assert_eq!(
            logged.get(url),
            Some(&1),
            "{url} answered but not logged once"
        );
    }
    let last = json_lines(&log).pop().unwrap();
    assert_eq!(
        last["message"], "web-api stopped",
        "the shutdown line is the last one"
    );
}
