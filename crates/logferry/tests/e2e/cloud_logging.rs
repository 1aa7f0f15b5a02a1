//! The original ConfigMap, plus an `endpoint` and `project_id`, ships a log file to the local
//! Cloud Logging emulator, and the original system's query finds every line.

use std::fs;

use super::support::*;

#[test]
fn the_original_configmap_ships_to_the_emulator_and_the_original_query_finds_it() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = Emulator::start(dir.path());
    let d = dir.path().display();
    // The original ConfigMap (old `type` syntax, tabs) with the lines that point it here.
    let config = dir.path().join("fluentd.conf");
    fs::write(
        &config,
        format!(
            "\t<source>\n\t  type tail\n\t  format none\n\t  path {d}/app.log\n\t  pos_file {d}/app.log.pos\n\t  tag app.log\n\t</source>\n\n\t<match **>\n\t  type google_cloud\n\t  endpoint {url}\n\t  project_id local-project\n\t  use_metadata_service false\n\t  resource_type container\n\t  resource_labels cluster_name:fastapi-cluster,namespace_id:default,pod_id:fast-api-pod-0,container_name:fast-api-container,zone:asia-northeast1-a\n\t  dead_letter_path {d}/dead-letter.jsonl\n\t</match>\n",
            url = emulator.url
        ),
    )
    .unwrap();
    let log = dir.path().join("app.log");
    let total = 2_000;
    let mut text = String::new();
    for i in 0..total {
        text.push_str(&format!(
            "2026-11-25 10:00:00,{:03} INFO app: request {i} \"quoted\" \\ backslash\n",
            i % 1000
        ));
    }
    append(&log, &text);
    let agent = Agent::start(&config);
    wait_until("every line in the emulator", || {
        emulator.query("").len() >= total
    });
    let log_text = agent.stop();
    assert!(
        log_text.contains("Successfully sent to Google Cloud Logging API."),
        "{log_text}"
    );
    let entries = emulator
        .query(r#"resource.type="container" resource.labels.cluster_name="fastapi-cluster""#);
    assert_eq!(entries.len(), total);
    for (i, entry) in entries.iter().enumerate() {
        let text = entry["textPayload"]
            .as_str()
            .unwrap_or_else(|| panic!("no textPayload in {entry}"));
        assert!(
            text.ends_with(&format!("request {i} \"quoted\" \\ backslash")),
            "{text}"
        );
        assert_eq!(entry["logName"], "projects/local-project/logs/app.log");
        assert_eq!(
            entry["resource"]["labels"]["cluster_name"],
            "fastapi-cluster"
        );
        assert!(entry["insertId"].as_str().is_some_and(|id| !id.is_empty()));
    }
    // A restart re-reads nothing: the pos_file moved past every delivered line.
    let agent = Agent::start(&config);
    wait_until("the restarted agent to follow the file", || {
        agent.log().contains("following tail")
    });
    agent.stop();
    assert_eq!(emulator.query("").len(), total);
}
