//! The fixed corpus the filter table runs against: twenty LogEntry values in
//! the Cloud Logging REST JSON shape, chosen so that each rule of the query
//! language (missing fields, nulls, arrays, offsets, numeric strings, odd
//! keys, severities as names, lowercase names and numbers) has an entry that
//! tells a right answer from a wrong one. Each entry's id is its `insertId`.

use serde_json::{Value, json};

fn k8s(cluster: &str) -> Value {
    json!({"type": "k8s_container", "labels": {
        "project_id": "demo", "location": "us-central1", "cluster_name": cluster,
        "namespace_name": "default", "pod_name": "api-7d9f", "container_name": "api"}})
}

fn legacy_container(cluster: &str) -> Value {
    json!({"type": "container", "labels": {
        "cluster_name": cluster, "namespace_id": "default", "container_name": "web"}})
}

fn gce() -> Value {
    json!({"type": "gce_instance", "labels": {"instance_id": "1234567890", "zone": "us-central1-a"}})
}

fn log(id: &str) -> String {
    format!("projects/demo/logs/{id}")
}

/// The corpus, in id order `e01`..`e20`.
pub fn entries() -> Vec<Value> {
    vec![
        json!({"insertId": "e01", "resource": k8s("fastapi-cluster"), "severity": "INFO",
            "timestamp": "2026-11-25T10:00:00Z", "logName": log("stdout"),
            "labels": {"k8s-pod/app": "fastapi", "k8s-pod/tier": "backend"},
            "textPayload": "GET /healthz 200 OK",
            "httpRequest": {"requestMethod": "GET", "requestUrl": "/healthz", "status": 200,
                "remoteIp": "10.0.0.12", "userAgent": "kube-probe/1.29", "latency": "0.002s"}}),
        json!({"insertId": "e02", "resource": k8s("fastapi-cluster"), "severity": "ERROR",
            "timestamp": "2026-11-25T10:05:00.123456Z", "logName": log("stderr"),
            "labels": {"k8s-pod/app": "fastapi"},
            "jsonPayload": {"message": "Database connection failed",
                "error": {"code": "ECONNREFUSED", "retries": 3}, "user": {"id": "u-42"}},
            "trace": "projects/demo/traces/abc123", "spanId": "000000000000004a", "traceSampled": true}),
        json!({"insertId": "e03", "resource": legacy_container("fastapi-cluster"), "severity": "WARNING",
            "timestamp": "2026-11-25T19:30:00+09:00", "logName": log("web"),
            "textPayload": "Slow request: took 1.5s",
            "httpRequest": {"requestMethod": "POST", "requestUrl": "/api/orders", "status": 201,
                "latency": "1.500s", "remoteIp": "192.168.1.20"}}),
        json!({"insertId": "e04", "resource": legacy_container("other-cluster"), "severity": "ERROR",
            "timestamp": "2026-11-25T11:00:00+0000", "logName": log("web"),
            "textPayload": "upstream timed out",
            "httpRequest": {"status": 504, "remoteIp": "203.0.113.7"}}),
        json!({"insertId": "e05", "resource": gce(), "severity": "CRITICAL",
            "timestamp": "2026-11-24T23:59:59.999Z", "logName": log("syslog"),
            "textPayload": "kernel: Out of memory: Killed process 4242 (python)"}),
        json!({"insertId": "e06", "resource": {"type": "global", "labels": {"project_id": "demo"}},
            "timestamp": "2026-11-26T00:00:00Z", "logName": log("cloudaudit.googleapis.com%2Factivity"),
            "protoPayload": {"@type": "type.googleapis.com/google.cloud.audit.AuditLog",
                "methodName": "v1.compute.instances.insert",
                "authenticationInfo": {"principalEmail": "alice@example.com"}, "status": {}}}),
        json!({"insertId": "e07", "resource": k8s("fastapi-cluster"), "severity": "DEBUG",
            "timestamp": "2026-11-25T10:00:00.5Z", "logName": log("stdout"),
            "labels": {"k8s-pod/app": "worker"},
            "jsonPayload": {"message": "job done", "tags": ["batch", "nightly"],
                "items": [{"sku": "A1", "qty": 2}, {"sku": "B2", "qty": 5}], "duration_ms": 1250}}),
        json!({"insertId": "e08", "resource": k8s("staging"), "severity": "warning",
            "timestamp": "2026-11-25T09:00:00-05:00", "logName": log("stdout"),
            "jsonPayload": {"message": "Cache miss ratio high", "ratio": 0.42, "note": null}}),
        json!({"insertId": "e09", "resource": k8s("fastapi-cluster"), "severity": 500,
            "timestamp": "2026-11-25T10:15:00Z", "logName": log("stderr"),
            "labels": {"k8s-pod/app": "fastapi"},
            "textPayload": "Traceback (most recent call last): ValueError: invalid literal",
            "sourceLocation": {"file": "app/main.py", "line": "88", "function": "handler"}}),
        json!({"insertId": "e10", "resource": {"type": "global", "labels": {"project_id": "demo"}},
            "severity": "NOTICE", "timestamp": "2026-11-23T08:00:00Z", "logName": log("app"),
            "jsonPayload": {"message": "User login",
                "user": {"id": "u-7", "email": "Bob@Example.com"}, "ip": "2001:db8::17"}}),
        json!({"insertId": "e11", "resource": gce(), "severity": "ALERT",
            "timestamp": "2026-11-25T10:00:00.000000001Z", "logName": "projects/other/logs/syslog",
            "textPayload": "disk /dev/sda1 95% full"}),
        json!({"insertId": "e12", "resource": k8s("fastapi-cluster"), "severity": "EMERGENCY",
            "timestamp": "2026-11-25T12:00:00Z", "logName": log("stderr"),
            "jsonPayload": {"message": "panic: runtime error", "code": "007"},
            "operation": {"id": "op-1", "producer": "deployer", "first": true}}),
        json!({"insertId": "e13", "resource": legacy_container("fastapi-cluster"), "severity": "DEFAULT",
            "timestamp": "2026-11-25T10:20:00Z", "logName": log("web"),
            "labels": {"env": "prod"}, "textPayload": "AND OR NOT are keywords"}),
        json!({"insertId": "e14", "resource": k8s("fastapi-cluster"), "severity": "INFO",
            "timestamp": "2026-11-25T00:00:00Z", "logName": log("stdout"),
            "jsonPayload": {"message": "request", "status": "500", "latency_ms": "120"},
            "httpRequest": {"requestMethod": "GET", "status": 500, "requestUrl": "/api/items?id=5",
                "remoteIp": "10.1.2.3", "latency": "0.120s"},
            "trace": "projects/demo/traces/def456"}),
        json!({"insertId": "e15", "resource": k8s("fastapi-cluster"), "severity": "INFO",
            "timestamp": "2026-11-25T10:10:00Z", "logName": log("stdout"),
            "labels": {"k8s-pod/app": "fastapi", "x.y": "dotted"},
            "jsonPayload": {"x.y": "literal dot key", "x": {"y": "nested"}, "message": "dots"}}),
        json!({"insertId": "e16", "resource": k8s("fastapi-cluster"), "severity": "WARNING",
            "timestamp": "2026-11-25T10:25:00Z", "logName": log("stdout"),
            "jsonPayload": {"message": "Retrying", "attempt": 2, "values": [1, 5, 10],
                "maybe": null, "nested": {"deep": {"flag": false}}}}),
        json!({"insertId": "e17", "resource": gce(), "severity": "ERROR",
            "timestamp": "2026-11-27T00:00:00Z", "receiveTimestamp": "2026-11-27T00:00:05Z",
            "logName": log("my%20log"), "textPayload": "héllo wörld unicode ✓",
            "split": {"uid": "s1", "index": 0, "totalSplits": 2}}),
        json!({"insertId": "e18", "resource": k8s("fastapi-cluster"), "severity": "INFO",
            "timestamp": "2026-11-25T10:30:00Z", "logName": log("stdout"),
            "textPayload": "quoted \"phrase\" inside and back\\slash",
            "httpRequest": {"requestMethod": "DELETE", "status": 404, "remoteIp": "10.255.255.255"}}),
        json!({"insertId": "e19", "severity": "ERROR", "timestamp": "2026-11-25T10:45:00Z",
            "logName": log("stdout"), "textPayload": "orphan entry without resource"}),
        json!({"insertId": "e20", "resource": k8s("fastapi-cluster"), "severity": "INFO",
            "timestamp": "2026-11-25T10:50:00Z", "receiveTimestamp": "2026-11-25T10:50:01.5Z",
            "logName": log("stdout"), "labels": {"k8s-pod/app": "fastapi"}, "spanId": "00000000000000ff",
            "jsonPayload": {"message": "Healthy", "timestamp": "2026-11-25T10:49:59Z", "count": 0}}),
    ]
}
