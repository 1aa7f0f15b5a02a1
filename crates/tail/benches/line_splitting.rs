//! Reading a file into whole-line chunks: `Tailer::poll` over a 4 MiB file of ~180-byte
//! Python-logging lines, acknowledging each chunk as the agent would.

use std::io::Write;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tail::{PathSpec, TailConfig, Tailer};

fn line_splitting(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let mut text = Vec::new();
    let mut seq = 0u64;
    while text.len() < 4 << 20 {
        writeln!(
            text,
            "2026-05-01 12:00:{:02},{:03} INFO [app.api] thread=MainThread seq={seq:010} GET /api/items/{} status=200 duration_ms=12.345 client=10.0.3.7 request_id={seq:032x}",
            seq % 60,
            seq % 1000,
            seq % 10_000
        )
        .unwrap();
        seq += 1;
    }
    std::fs::write(&path, &text).unwrap();
    let spec = PathSpec::new(vec![path.display().to_string()], &[]).unwrap();

    let mut group = c.benchmark_group("tail");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("poll 4 MiB of 180-byte lines", |b| {
        b.iter(|| {
            let mut tailer = Tailer::new(TailConfig::new(spec.clone()), Instant::now()).unwrap();
            let mut read = 0;
            while read < text.len() {
                for chunk in tailer.poll(Instant::now()) {
                    read += chunk.data.len();
                    tailer.ack(chunk.file, chunk.seq, chunk.end());
                }
            }
            read
        })
    });
    group.finish();
}

criterion_group!(benches, line_splitting);
criterion_main!(benches);
