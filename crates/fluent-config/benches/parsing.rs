//! Parsing a fluentd configuration: the original ConfigMap and a larger one with labels,
//! filters and buffers, as `logferry run` and `logferry check` do at start.

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const ORIGINAL: &str = "<source>\n  type tail\n  format none\n  path /api/log/app.log\n  pos_file /api/log/app.log.pos\n  tag app.log\n</source>\n\n<match **>\n  type google_cloud\n</match>\n";

fn larger() -> String {
    let mut text = String::from("<system>\n  log_level info\n</system>\n");
    for i in 0..20 {
        text.push_str(&format!(
            "<source>\n  @type tail\n  path /var/log/app{i}/*.log\n  pos_file /var/log/app{i}.pos\n  tag app{i}.*\n  <parse>\n    @type json\n    time_key time\n  </parse>\n</source>\n\
             <filter app{i}.**>\n  @type record_transformer\n  <record>\n    host \"#{{Socket.gethostname}}\"\n    index {i}\n  </record>\n</filter>\n"
        ));
    }
    text.push_str("<match **>\n  @type google_cloud\n  project_id p\n  <buffer>\n    flush_interval 1s\n    chunk_limit_size 4m\n  </buffer>\n</match>\n");
    text
}

fn parsing(c: &mut Criterion) {
    let mut group = c.benchmark_group("fluent-config");
    let larger = larger();
    for (name, text) in [
        ("original ConfigMap", ORIGINAL),
        ("20 sources with filters", larger.as_str()),
    ] {
        fluent_config::parse_str(text, Path::new("fluent.conf")).unwrap();
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                fluent_config::parse_str(std::hint::black_box(text), Path::new("fluent.conf"))
                    .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, parsing);
criterion_main!(benches);
