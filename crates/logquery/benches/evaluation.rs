//! Query-language evaluation over one LogEntry: the per-entry cost of `entries:list` filters in
//! the emulator and the CLI.

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

fn evaluation(c: &mut Criterion) {
    let entry = json!({
        "logName": "projects/bench-project/logs/app.log",
        "insertId": "00000000000012340000000000001e24",
        "timestamp": "2026-05-01T12:02:03.456123Z",
        "severity": "WARNING",
        "resource": {"type": "k8s_container", "labels": {"namespace_name": "default", "pod_name": "api-0", "container_name": "api"}},
        "httpRequest": {"requestMethod": "GET", "requestUrl": "/api/items/3456", "status": 200, "latency": "0.023457s"},
        "jsonPayload": {"message": "handled seq=0000123456", "user": {"id": 42, "plan": "pro"}},
        "trace": "projects/bench-project/traces/010db00a103e8f40fef24ff5efc170bf"
    });
    let filters = [
        ("severity", "severity>=WARNING"),
        (
            "fields and",
            r#"resource.type="k8s_container" AND httpRequest.status=200 AND jsonPayload.user.plan:"pro""#,
        ),
        (
            "or list",
            r#"logName=("projects/x/logs/a" OR "projects/bench-project/logs/app.log") -severity=DEBUG"#,
        ),
        ("regex", r#"jsonPayload.message=~"seq=0+12\d+""#),
        ("bare word", "handled"),
        (
            "timestamp",
            r#"timestamp>="2026-05-01T00:00:00Z" AND timestamp<"2026-05-02T00:00:00Z""#,
        ),
    ];
    let mut group = c.benchmark_group("logquery");
    for (name, filter) in filters {
        let query = logquery::parse(filter).unwrap();
        assert!(query.matches(&entry), "{filter}");
        group.bench_function(format!("parse {name}"), |b| {
            b.iter(|| logquery::parse(std::hint::black_box(filter)).unwrap())
        });
        group.bench_function(format!("evaluate {name}"), |b| {
            b.iter(|| query.matches(std::hint::black_box(&entry)))
        });
    }
    group.finish();
}

criterion_group!(benches, evaluation);
criterion_main!(benches);
