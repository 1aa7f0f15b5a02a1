//! Where entries say they come from: the monitored resource detected from the metadata server
//! (GKE, GCE) or `global` without one.

use super::*;

#[tokio::test]
async fn resource_is_detected_on_gke() {
    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    let metadata = FakeMetadata::start(&gke_values(), Duration::from_secs(3600)).await;
    let mut cfg = config(&logging, dir.path());
    cfg.project_id = None;
    cfg.use_metadata_service = true;
    cfg.metadata_host = metadata.host();
    cfg.k8s_pod_name = Some("api-7d9f".into());
    cfg.k8s_namespace_name = Some("default".into());
    cfg.k8s_container_name = Some("logferry".into());
    let sink = start_sink(cfg.clone()).await;
    let resolved = sink.resolved();
    assert_eq!(resolved.project_id, "gke-project");
    assert_eq!(
        serde_json::to_value(&resolved.resource).unwrap(),
        json!({"type": "k8s_container", "labels": {
            "project_id": "gke-project", "location": "asia-northeast1", "cluster_name": "fastapi-cluster",
            "namespace_name": "default", "pod_name": "api-7d9f", "container_name": "logferry"}})
    );
    send(&sink, lines(1, 10)).await;
    assert_eq!(body_json(&logging, 0)["resource"]["type"], "k8s_container");
    assert_eq!(
        body_json(&logging, 0)["logName"],
        "projects/gke-project/logs/app.log"
    );

    // The legacy type the original fluentd-gcp image wrote.
    cfg.resource_type = Some("container".into());
    let legacy = google_cloud::build_sink(cfg).await.unwrap();
    assert_eq!(
        serde_json::to_value(&legacy.resolved().resource).unwrap(),
        json!({"type": "container", "labels": {
            "project_id": "gke-project", "cluster_name": "fastapi-cluster", "namespace_id": "default",
            "instance_id": "8812345", "pod_id": "api-7d9f", "container_name": "logferry",
            "zone": "asia-northeast1-a"}})
    );
}

#[tokio::test]
async fn resource_is_detected_on_gce() {
    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    let values: Vec<_> = gke_values()
        .into_iter()
        .filter(|(k, _)| !k.contains("cluster"))
        .collect();
    let metadata = FakeMetadata::start(&values, Duration::from_secs(3600)).await;
    let mut cfg = config(&logging, dir.path());
    cfg.project_id = None;
    cfg.use_metadata_service = true;
    cfg.metadata_host = metadata.host();
    let sink = start_sink(cfg).await;
    assert_eq!(
        serde_json::to_value(&sink.resolved().resource).unwrap(),
        json!({"type": "gce_instance", "labels": {
            "project_id": "gke-project", "instance_id": "8812345", "zone": "asia-northeast1-a"}})
    );
}

#[tokio::test]
async fn resource_is_global_without_a_metadata_server() {
    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    let mut cfg = config(&logging, dir.path());
    cfg.use_metadata_service = true;
    cfg.metadata_host = closed_port().await;
    let sink = start_sink(cfg.clone()).await;
    assert_eq!(
        serde_json::to_value(&sink.resolved().resource).unwrap(),
        json!({"type": "global", "labels": {"project_id": "test-project"}})
    );
    cfg.project_id = None;
    let error = google_cloud::build_sink(cfg).await.err().unwrap();
    assert!(
        matches!(
            error,
            google_cloud::BuildError::Metadata(google_cloud::MetadataError::UnknownProject)
        ),
        "{error}"
    );
    assert!(error.to_string().contains("project_id"), "{error}");
}
