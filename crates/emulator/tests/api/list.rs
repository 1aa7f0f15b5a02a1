//! `entries:list` ordering and paging, `logs.list`/`logs.delete`, numeric enums, and the
//! original system's query.

use serde_json::{Value, json};

use crate::support::{Server, container_resource};

async fn seed(server: &Server, n: usize) {
    // Pairs of entries share a timestamp so insertId must break the tie.
    let entries: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "insertId": format!("id-{:04}", n - i),
                "timestamp": format!("2026-01-01T00:{:02}:{:02}Z", (i / 2) / 60, (i / 2) % 60),
                "textPayload": format!("{i}"),
            })
        })
        .collect();
    let resp = server
        .write(json!({"logName": "projects/p/logs/x", "resource": {"type": "global"}, "entries": entries}))
        .await;
    assert_eq!(resp.status, 200);
}

async fn page_through(server: &Server, order: Option<&str>, page_size: i64) -> Vec<String> {
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({"resourceNames": ["projects/p"], "pageSize": page_size});
        if let Some(o) = order {
            body["orderBy"] = json!(o);
        }
        if let Some(t) = &token {
            body["pageToken"] = json!(t);
        }
        let page = server.list(body).await;
        let entries = page["entries"].as_array().cloned().unwrap_or_default();
        assert!(entries.len() <= page_size as usize);
        seen.extend(
            entries
                .iter()
                .map(|e| e["insertId"].as_str().unwrap().to_string()),
        );
        match page["nextPageToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => return seen,
        }
    }
}

#[tokio::test]
async fn paging_and_order_by_with_insert_id_tie_breaks() {
    let server = Server::start().await;
    seed(&server, 120).await;
    // Ascending: by timestamp, then insertId within a timestamp.
    let mut expected: Vec<(String, String)> = (0..120)
        .map(|i| (format!("{:06}", i / 2), format!("id-{:04}", 120 - i)))
        .collect();
    expected.sort();
    let asc: Vec<String> = expected.iter().map(|(_, id)| id.clone()).collect();
    for size in [1, 7, 50, 1000] {
        assert_eq!(
            page_through(&server, None, size).await,
            asc,
            "asc page {size}"
        );
        assert_eq!(
            page_through(&server, Some("timestamp asc"), size).await,
            asc
        );
        let mut desc = asc.clone();
        desc.reverse();
        assert_eq!(
            page_through(&server, Some("timestamp desc"), size).await,
            desc,
            "desc page {size}"
        );
    }
    // Default page size is 50.
    let page = server.list(json!({"resourceNames": ["projects/p"]})).await;
    assert_eq!(page["entries"].as_array().unwrap().len(), 50);
    assert!(page["nextPageToken"].is_string());
    let page = server
        .list(json!({"resourceNames": ["projects/p"], "pageSize": 0}))
        .await;
    assert_eq!(page["entries"].as_array().unwrap().len(), 50);
    // Out-of-range sizes, bad orders, bad tokens, bad filters, missing resource names: 400.
    for bad in [
        json!({"resourceNames": ["projects/p"], "pageSize": 1001}),
        json!({"resourceNames": ["projects/p"], "pageSize": -1}),
        json!({"resourceNames": ["projects/p"], "orderBy": "severity desc"}),
        json!({"resourceNames": ["projects/p"], "pageToken": "not-a-token"}),
        json!({"resourceNames": ["projects/p"], "filter": "severity>="}),
        json!({"resourceNames": []}),
        json!({"resourceNames": ["users/1"]}),
        json!({"resourceNames": ["projects/p/locations/global/buckets/b/views/v"]}),
    ] {
        let resp = server.post("/v2/entries:list", &bad).await;
        assert_eq!(resp.status, 400, "{bad}");
        assert_eq!(resp.json()["error"]["status"], "INVALID_ARGUMENT", "{bad}");
    }
    // An empty result has no entries key and no token.
    let page = server
        .list(json!({"resourceNames": ["projects/none"]}))
        .await;
    assert_eq!(page, json!({}));
    server.stop().await;
}

#[tokio::test]
async fn enum_encoding_int_answers_numeric_severities() {
    let server = Server::start().await;
    let resp = server
        .write(json!({"logName": "projects/p/logs/x", "resource": {"type": "global"},
            "entries": [{"severity": "ERROR", "textPayload": "e"}, {"severity": 400, "textPayload": "w"}, {"textPayload": "d"}]}))
        .await;
    assert_eq!(resp.status, 200);
    let body = json!({"resourceNames": ["projects/p"], "filter": "severity>=WARNING"});
    let named = server.list(body.clone()).await;
    let sev: Vec<&Value> = named["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["severity"])
        .collect();
    assert_eq!(sev, [&json!("ERROR"), &json!("WARNING")]);
    let resp = server
        .post("/v2/entries:list?$alt=json;enum-encoding=int", &body)
        .await;
    assert_eq!(resp.status, 200);
    let sev: Vec<Value> = resp.json()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["severity"].clone())
        .collect();
    assert_eq!(sev, [json!(500), json!(400)]);
    server.stop().await;
}

#[tokio::test]
async fn logs_list_and_delete() {
    let server = Server::start().await;
    for log in ["app.log", "b%2Fc", "zeta"] {
        let resp = server
            .write(
                json!({"logName": format!("projects/p/logs/{log}"), "resource": {"type": "global"},
                "entries": [{"textPayload": log}]}),
            )
            .await;
        assert_eq!(resp.status, 200);
    }
    let logs = server.client.list_logs("p", None).await.unwrap();
    assert_eq!(
        logs.log_names,
        [
            "projects/p/logs/app.log",
            "projects/p/logs/b%2Fc",
            "projects/p/logs/zeta"
        ]
    );
    // Paging with pageSize.
    let resp = server
        .client
        .request("GET", "/v2/projects/p/logs?pageSize=2", None, &[])
        .await
        .unwrap();
    let first = resp.json();
    assert_eq!(first["logNames"].as_array().unwrap().len(), 2);
    let token = first["nextPageToken"].as_str().unwrap();
    let rest = server.client.list_logs("p", Some(token)).await.unwrap();
    assert_eq!(rest.log_names, ["projects/p/logs/zeta"]);

    let resp = server
        .client
        .request("DELETE", "/v2/projects/p/logs/b%2Fc", None, &[])
        .await
        .unwrap();
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    let resp = server
        .client
        .request("DELETE", "/v2/projects/p/logs/b%2Fc", None, &[])
        .await
        .unwrap();
    assert_eq!(resp.status, 404);
    let left: Vec<Value> = server.list_all("p", "").await;
    assert_eq!(
        left.iter()
            .map(|e| e["textPayload"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["app.log", "zeta"]
    );
    server.stop().await;
}

#[tokio::test]
async fn the_original_systems_query_finds_the_fastapi_containers_lines() {
    let server = Server::start().await;
    let write = |cluster: &str, resource: Value, text: &str| {
        json!({"logName": "projects/p/logs/app.log", "resource": resource,
            "entries": [{"textPayload": text, "labels": {"cluster": cluster}}]})
    };
    for (cluster, resource, text) in [
        (
            "fastapi-cluster",
            container_resource("fastapi-cluster"),
            "GET /items 200",
        ),
        (
            "other",
            container_resource("other-cluster"),
            "other cluster",
        ),
        (
            "k8s",
            json!({"type": "k8s_container", "labels": {"cluster_name": "fastapi-cluster"}}),
            "new resource type",
        ),
        (
            "fastapi-cluster",
            container_resource("fastapi-cluster"),
            "POST /items 201",
        ),
    ] {
        assert_eq!(
            server.write(write(cluster, resource, text)).await.status,
            200
        );
    }
    let got = server
        .list_all(
            "p",
            r#"resource.type="container" resource.labels.cluster_name="fastapi-cluster""#,
        )
        .await;
    let texts: Vec<&str> = got
        .iter()
        .map(|e| e["textPayload"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["GET /items 200", "POST /items 201"]);
    server.stop().await;
}

#[tokio::test]
async fn entries_survive_a_restart_on_the_same_data_dir() {
    let temp = tempfile::tempdir().unwrap();
    let server = Server::start_in(temp.path()).await;
    seed(&server, 10).await;
    server.stop().await;
    let server = Server::start_in(temp.path()).await;
    assert_eq!(server.list_all("p", "").await.len(), 10);
    server.stop().await;
}

#[tokio::test]
async fn retention_deletes_entries_older_than_it() {
    let temp = tempfile::tempdir().unwrap();
    let mut config = emulator::EmulatorConfig::new(temp.path());
    config.retention = Some(std::time::Duration::from_secs(20));
    let server = Server::start_with(config).await;
    let now = gcloud_logging::Timestamp::now().seconds;
    let at = |offset: i64| {
        gcloud_logging::Timestamp::new(now + offset, 0)
            .unwrap()
            .to_string()
    };
    let resp = server
        .write(
            json!({"logName": "projects/p/logs/x", "resource": {"type": "global"}, "entries": [
                {"textPayload": "old", "timestamp": at(-3600)},
                {"textPayload": "kept", "timestamp": at(23 * 3600)},
            ]}),
        )
        .await;
    assert_eq!(resp.status, 200);
    let deadline = tokio::time::Instant::now() + crate::support::DEADLINE;
    loop {
        let left = server.list_all("p", "").await;
        if left.len() == 1 {
            assert_eq!(left[0]["textPayload"], "kept");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "retention never ran"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    server.stop().await;
}

/// The query language's documented semantics hold over the API (see logquery's
/// tests/documented.rs): absent LogEntry fields compare as their defaults, latency by length,
/// booleans in any case, and a field that does not exist is INVALID_ARGUMENT.
#[tokio::test]
async fn documented_filter_semantics_over_rest() {
    let server = Server::start().await;
    let resp = server
        .write(
            json!({"logName": "projects/p/logs/x", "resource": {"type": "global"}, "entries": [
                {"insertId": "plain", "textPayload": "no trace, no request"},
                {"insertId": "traced", "trace": "projects/p/traces/X", "traceSampled": true,
                 "httpRequest": {"status": 200, "latency": "0.200s", "cacheHit": true}},
                {"insertId": "slow", "httpRequest": {"status": 503, "latency": "1.5s"}},
            ]}),
        )
        .await;
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    let ids = |entries: Vec<Value>| -> Vec<String> {
        let mut ids: Vec<String> = entries
            .iter()
            .map(|e| e["insertId"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    for (filter, want) in [
        (r#"trace!="projects/p/traces/X""#, vec!["plain", "slow"]),
        ("httpRequest.status!=200", vec!["plain", "slow"]),
        ("sample(trace, 1)", vec!["plain", "slow", "traced"]),
        (r#"httpRequest.latency>="200ms""#, vec!["slow", "traced"]),
        (r#"httpRequest.latency>"1s""#, vec!["slow"]),
        ("traceSampled=TRUE", vec!["traced"]),
        ("httpRequest.cacheHit=False", vec!["plain", "slow"]),
    ] {
        assert_eq!(ids(server.list_all("p", filter).await), want, "{filter}");
    }
    for (filter, message) in [
        (
            r#"thud = "x""#,
            "filter: 1:1: expected a field of LogEntry, found 'thud'",
        ),
        (
            "httpRequest.foo = 1",
            "filter: 1:13: expected a field of HttpRequest, found 'foo'",
        ),
    ] {
        let resp = server
            .post(
                "/v2/entries:list",
                &json!({"resourceNames": ["projects/p"], "filter": filter}),
            )
            .await;
        assert_eq!(resp.status, 400, "{filter}");
        let error = &resp.json()["error"];
        assert_eq!(error["status"], "INVALID_ARGUMENT", "{filter}");
        assert_eq!(error["message"], message, "{filter}");
    }
    server.stop().await;
}
