//! `kill -9` during a write storm loses no acknowledged entry: the emulator answers a write only
//! after SQLite has fsynced it (WAL, synchronous=FULL).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use emulator::client::Client;
use serde_json::json;

use crate::support::{DEADLINE, list_all, spawn_child};

const WRITERS: usize = 4;
const BATCH: usize = 25;
const KILL_AFTER_ACKED: usize = 1_500;

#[tokio::test]
async fn kill_9_mid_storm_loses_no_acknowledged_entry() {
    let temp = tempfile::tempdir().unwrap();
    let (mut child, url) = spawn_child(temp.path()).await;
    let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let client = Client::new(&url).unwrap();
        let acked = acked.clone();
        writers.push(tokio::spawn(async move {
            for batch in 0.. {
                let ids: Vec<String> = (0..BATCH).map(|i| format!("w{w}-b{batch:05}-{i:02}")).collect();
                let entries: Vec<_> = ids
                    .iter()
                    .map(|id| json!({"insertId": id, "textPayload": format!("storm {id}"),
                        "resource": {"type": "container", "labels": {"cluster_name": "fastapi-cluster"}}}))
                    .collect();
                let body = serde_json::to_vec(&json!({"logName": "projects/p/logs/storm", "entries": entries})).unwrap();
                match client.request("POST", "/v2/entries:write", Some(("application/json", &body)), &[]).await {
                    Ok(r) if r.status == 200 => acked.lock().unwrap().extend(ids),
                    Ok(r) => panic!("write rejected: {} {}", r.status, String::from_utf8_lossy(&r.body)),
                    // The server died mid-request: this batch was never acknowledged.
                    Err(_) => return,
                }
            }
        }));
    }
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while acked.lock().unwrap().len() < KILL_AFTER_ACKED {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the storm made too little progress"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    child.start_kill().unwrap(); // SIGKILL
    child.wait().await.unwrap();
    for w in writers {
        tokio::time::timeout(DEADLINE, w)
            .await
            .expect("writers stop")
            .unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= KILL_AFTER_ACKED);

    let (mut child, url) = spawn_child(temp.path()).await;
    let client = Client::new(&url).unwrap();
    let stored: HashSet<String> = list_all(&client, "p", "")
        .await
        .iter()
        .map(|e| e["insertId"].as_str().unwrap().to_string())
        .collect();
    let missing: Vec<&String> = acked.difference(&stored).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged entries lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    // Whole batches only: a batch is one transaction.
    assert_eq!(stored.len() % BATCH, 0);
    // And the original query finds them.
    let found = list_all(
        &client,
        "p",
        r#"resource.type="container" resource.labels.cluster_name="fastapi-cluster""#,
    )
    .await;
    assert_eq!(found.len(), stored.len());
    child.start_kill().unwrap();
    child.wait().await.unwrap();
}
