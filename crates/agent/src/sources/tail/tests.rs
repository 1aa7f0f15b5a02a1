//! The tail source in process, on real files: what it keeps per path is forgotten once the
//! tailer no longer knows the path, so a glob over rotating names does not grow the metrics
//! page (or the source's maps) without bound.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{SourceControl, TailSourceConfig, spawn_tail_source};
use crate::metrics;
use crate::router::Router;

/// Generous: CI machines are slow and shared.
const DEADLINE: Duration = Duration::from_secs(60);

fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn tail_config(dir: &Path) -> TailSourceConfig {
    let text = format!(
        "<source>\n @type tail\n path {}/*.log\n tag app\n refresh_interval 0.02\n rotate_wait 0\n poll_interval 0.01\n <parse>\n  @type none\n </parse>\n</source>\n",
        dir.display()
    );
    let (root, mut diags) = fluent_config::parse_str(&text, Path::new("t.conf")).unwrap();
    let section = root.sections[0].clone();
    let mut r = fluent_config::Reader::new(&section, &mut diags);
    r.plugin_type();
    let config = TailSourceConfig::from_reader(&mut r);
    r.finish();
    config.unwrap_or_else(|| panic!("{diags:?}"))
}

/// Series of `family` that belong to the plugin `name`.
fn series<M>(family: &metrics::Family<M>, name: &str) -> Vec<Vec<String>> {
    family
        .snapshot()
        .into_iter()
        .map(|(labels, _)| labels)
        .filter(|labels| labels[0] == name)
        .collect()
}

#[test]
fn series_of_files_no_longer_followed_are_removed() {
    let name = "tail-forget-test";
    let dir = tempfile::tempdir().unwrap();
    let router = Arc::new(Router::new(HashMap::new(), Vec::new()));
    let control = SourceControl::default();
    let thread = spawn_tail_source(
        name.into(),
        tail_config(dir.path()),
        router,
        None,
        control.clone(),
    )
    .unwrap();

    // One file at a time, as a logger rotating to a new name: written, read, deleted.
    let files = 60;
    for i in 0..files {
        let path = dir.path().join(format!("app-{i:03}.log"));
        std::fs::write(&path, "one line\n").unwrap();
        let path_label = path.display().to_string();
        wait_until(&format!("{path_label} to be read"), || {
            control
                .metrics
                .tail_lines_read
                .snapshot()
                .iter()
                .any(|(labels, counter)| {
                    labels[0] == name && labels[1] == path_label && counter.get() == 1
                })
        });
        std::fs::remove_file(&path).unwrap();
    }

    // The tailer remembers the last 16 closed files (so a restart does not read them again);
    // their series may stay, the other 44 must go. (Which 16 is the tailer's business: a
    // deleted file's inode is reused by the next file, and positions are kept by inode.)
    let remembered = 16;
    wait_until("the series of forgotten files to go", || {
        let m = &control.metrics;
        series(&m.tail_lines_read, name).len() <= remembered
            && series(&m.tail_bytes_read, name).len() <= remembered
            && series(&m.tail_file_position, name).len() <= remembered
    });
    control.stop.store(true, Ordering::Release);
    thread.join().unwrap();
}
