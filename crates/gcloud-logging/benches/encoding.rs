//! The per-line work of the `google_cloud` output: a text line written straight into a request
//! buffer, a JSON record lifted (severity, httpRequest, trace…) and serialized, and severity
//! parsing on its own.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gcloud_logging::encode::{EntryEncoder, TextEntry, encode_entry};
use gcloud_logging::{InsertId, Severity, Timestamp, lift_record};
use serde_json::{Map, Value};

const TEXT: &[u8] = b"2026-05-01 12:00:07,123 INFO [app.api] thread=MainThread seq=0000123456 GET /api/items/3456 status=200 duration_ms=12.345 client=10.0.3.7 request_id=6f1c2a3b4d5e6f708192a3b4c5d6e7f8";
const JSON: &str = r#"{"severity":"WARNING","message":"handled seq=0000123456","time":"2026-05-01T12:02:03.456123Z","httpRequest":{"requestMethod":"GET","requestUrl":"/api/items/3456","status":200,"remoteIp":"10.0.3.207","latency":"0.023457s"},"logging.googleapis.com/trace":"projects/bench-project/traces/010db00a103e8f40fef24ff5efc170bf","logging.googleapis.com/spanId":"0021b6014207d1e8"}"#;

fn encoding(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    let ts = Timestamp {
        seconds: 1_777_636_807,
        nanos: 123_456_789,
    };

    group.throughput(Throughput::Elements(1000));
    group.bench_function("1000 text lines → LogEntry JSON", |b| {
        let mut encoder = EntryEncoder::new();
        let mut out = Vec::with_capacity(1 << 20);
        b.iter(|| {
            out.clear();
            for i in 0..1000u64 {
                let id = InsertId::new(0x1234, i * 180, None);
                let entry = TextEntry {
                    text: TEXT,
                    timestamp: ts,
                    insert_id: id.as_str(),
                    severity: None,
                    labels_json: None,
                    log_name: None,
                    split: None,
                };
                encoder.encode_text(&mut out, &entry);
                out.push(b',');
            }
            out.len()
        })
    });

    let record: Map<String, Value> = serde_json::from_str(JSON).unwrap();
    group.throughput(Throughput::Elements(1));
    group.bench_function("JSON line → parsed map", |b| {
        b.iter(|| serde_json::from_str::<Map<String, Value>>(std::hint::black_box(JSON)).unwrap())
    });
    group.bench_function("JSON record → lifted LogEntry", |b| {
        b.iter(|| lift_record(record.clone(), "bench-project"))
    });
    let entry = lift_record(record.clone(), "bench-project");
    group.bench_function("lifted LogEntry → JSON", |b| {
        let mut out = Vec::with_capacity(1024);
        b.iter(|| {
            out.clear();
            encode_entry(&mut out, &entry).unwrap();
            out.len()
        })
    });
    group.bench_function("severity names", |b| {
        let names = [
            "INFO", "warning", "Err", "CRITICAL", "debug", "notice", "E", "fatal",
        ];
        b.iter(|| {
            names
                .iter()
                .filter_map(|n| Severity::parse_lenient(std::hint::black_box(n)))
                .count()
        })
    });
    group.finish();
}

criterion_group!(benches, encoding);
criterion_main!(benches);
