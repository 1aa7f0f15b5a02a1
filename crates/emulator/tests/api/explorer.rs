//! The explorer's HTTP surface without a browser: the page and its security headers, filter
//! validation with positions, histogram counts agreeing with `entries:list`, and live tail over
//! server-sent events (including that an open tail does not stop the server from shutting down).

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{DEADLINE, Server};

fn header<'a>(resp: &'a emulator::client::HttpResponse, name: &str) -> &'a str {
    resp.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

#[tokio::test]
async fn the_page_and_its_assets_carry_a_strict_csp() {
    let server = Server::start().await;
    for (path, kind) in [
        ("/", "text/html"),
        ("/ui/app.js", "text/javascript"),
        ("/ui/app.css", "text/css"),
    ] {
        let resp = server.client.request("GET", path, None, &[]).await.unwrap();
        assert_eq!(resp.status, 200, "{path}");
        assert!(header(&resp, "content-type").starts_with(kind), "{path}");
        let csp = header(&resp, "content-security-policy");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(header(&resp, "x-content-type-options"), "nosniff");
    }
    let page = server.client.request("GET", "/", None, &[]).await.unwrap();
    let html = String::from_utf8(page.body).unwrap();
    assert!(html.contains(r#"<script src="/ui/app.js" defer></script>"#));
    assert!(!html.contains("<script>"), "no inline script");
    server.stop().await;
}

#[tokio::test]
async fn validate_points_at_the_parse_error() {
    let server = Server::start().await;
    let resp = server
        .post(
            "/ui/api/validate",
            &json!({"filter": "severity>=ERROR\nAND jsonPayload.x="}),
        )
        .await;
    assert_eq!(resp.status, 400);
    let where_ = &resp.json()["error"]["queryError"];
    assert_eq!(where_["line"], 2);
    assert_eq!(where_["column"], 19);
    assert_eq!(where_["position"], 34);
    let ok = server
        .post("/ui/api/validate", &json!({"filter": "-- only a comment"}))
        .await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["empty"], true);
    server.stop().await;
}

#[tokio::test]
async fn histogram_counts_agree_with_the_list() {
    let server = Server::start().await;
    let severities = ["INFO", "WARNING", "ERROR", "DEBUG"];
    let entries: Vec<Value> = (0..40)
        .map(|i| {
            json!({
                "timestamp": format!("2024-05-01T10:{:02}:{:02}Z", i / 4, (i % 4) * 15),
                "severity": severities[i % 4],
                "textPayload": if i % 3 == 0 { "needle" } else { "hay" },
            })
        })
        .collect();
    let resp = server
        .write(json!({"logName": "projects/p/logs/app", "resource": {"type": "global"}, "entries": entries}))
        .await;
    assert_eq!(resp.status, 200);
    for (filter, min_severity) in [
        ("", ""),
        ("textPayload:needle", ""),
        ("", "WARNING"),
        ("textPayload:needle", "ERROR"),
    ] {
        let hist = server
            .post(
                "/ui/api/histogram",
                &json!({"filter": filter, "minSeverity": min_severity, "buckets": 5,
                    "start": "2024-05-01T10:00:00Z", "end": "2024-05-01T10:10:00Z"}),
            )
            .await;
        assert_eq!(hist.status, 200, "{}", String::from_utf8_lossy(&hist.body));
        let hist = hist.json();
        let mut list_filter = String::from(r#"timestamp<"2024-05-01T10:10:00Z""#);
        if !min_severity.is_empty() {
            list_filter.push_str(&format!(" severity>={min_severity}"));
        }
        if !filter.is_empty() {
            list_filter.push_str(&format!(" ({filter})"));
        }
        let listed = server.list_all("p", &list_filter).await;
        assert_eq!(hist["total"], listed.len(), "{filter} {min_severity}");
        let buckets = hist["buckets"].as_array().unwrap();
        assert_eq!(buckets.len(), 5);
        // Two minutes a bucket, 4 entries a minute: the first bucket holds entries 0..8.
        let first: u64 = buckets[0]["counts"]
            .as_object()
            .unwrap()
            .values()
            .map(|n| n.as_u64().unwrap())
            .sum();
        let expected = listed
            .iter()
            .filter(|e| e["timestamp"].as_str().unwrap() < "2024-05-01T10:02:00Z")
            .count();
        assert_eq!(first as usize, expected, "{filter} {min_severity}");
    }
    server.stop().await;
}

/// Opens `/ui/api/tail` on a raw socket and returns it once the `ready` event arrived.
async fn open_tail(server: &Server, query: &str) -> (tokio::net::TcpStream, String) {
    let addr = server.url.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET /ui/api/tail?{query} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let seen = read_until(&mut socket, String::new(), "event: ready").await;
    (socket, seen)
}

async fn read_until(socket: &mut tokio::net::TcpStream, mut seen: String, want: &str) -> String {
    let mut buf = [0u8; 4096];
    tokio::time::timeout(DEADLINE, async {
        while !seen.contains(want) {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "the stream ended before {want:?}; got {seen}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {want:?} in time; got {seen}"));
    seen
}

#[tokio::test]
async fn live_tail_streams_new_matching_entries() {
    let server = Server::start().await;
    let (mut socket, head) =
        open_tail(&server, "filter=textPayload%3Aneedle&minSeverity=WARNING").await;
    assert!(head.contains("text/event-stream"), "{head}");
    let write = |text: &str, severity: &str| {
        json!({"logName": "projects/p/logs/app", "resource": {"type": "global"},
            "entries": [{"textPayload": text, "severity": severity}]})
    };
    assert_eq!(
        server.write(write("needle too quiet", "INFO")).await.status,
        200
    );
    assert_eq!(server.write(write("just hay", "ERROR")).await.status, 200);
    assert_eq!(
        server.write(write("needle found", "ERROR")).await.status,
        200
    );
    let seen = read_until(&mut socket, String::new(), "needle found").await;
    assert!(seen.contains("event: entry"), "{seen}");
    assert!(
        !seen.contains("too quiet") && !seen.contains("hay"),
        "{seen}"
    );

    // A rewrite of the same entry (same insertId and timestamp) is not a new line.
    let entry = json!({"insertId": "dup-1", "timestamp": "2024-05-01T00:00:00Z",
        "textPayload": "needle dup", "severity": "ERROR"});
    for _ in 0..2 {
        let body = json!({"logName": "projects/p/logs/app", "resource": {"type": "global"}, "entries": [entry]});
        assert_eq!(server.write(body).await.status, 200);
    }
    assert_eq!(
        server.write(write("needle last", "ERROR")).await.status,
        200
    );
    let seen = read_until(&mut socket, String::new(), "needle last").await;
    assert_eq!(seen.matches("needle dup").count(), 1, "{seen}");

    // An open tail must not hold up shutdown.
    tokio::time::timeout(Duration::from_secs(20), server.stop())
        .await
        .expect("the server stops while a tail is open");
}

#[tokio::test]
async fn live_tail_refuses_a_bad_filter() {
    let server = Server::start().await;
    let resp = server
        .client
        .request("GET", "/ui/api/tail?filter=severity%3E%3D", None, &[])
        .await
        .unwrap();
    assert_eq!(resp.status, 400);
    assert_eq!(resp.json()["error"]["queryError"]["position"], 10);
    server.stop().await;
}
