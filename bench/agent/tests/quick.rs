//! The harness in its small mode, so it cannot rot: every row of the table comes out with
//! numbers in it. Uses the `logferry` binary the workspace build left in `target/`.

use std::path::PathBuf;
use std::process::Command;

use logferry_bench::{Options, run, scenarios};

fn logferry_bin() -> PathBuf {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = workspace.join("target");
    if let Ok(bin) = std::env::var("LOGFERRY_BIN") {
        return workspace.join(bin); // a relative path is the workspace's
    }
    for profile in ["release", "debug"] {
        let bin = target.join(profile).join("logferry");
        if bin.exists() {
            return bin;
        }
    }
    let status = Command::new(env!("CARGO"))
        .args(["build", "-p", "logferry"])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building logferry failed");
    target.join("debug/logferry")
}

#[test]
fn quick_mode_prints_every_row() {
    let work = tempfile::tempdir().unwrap();
    let options = Options {
        bin: logferry_bin(),
        lines: 20_000,
        runs: 1,
        live_seconds: 1.0,
        only: None,
        work_dir: work.path().to_owned(),
        verbose: false,
        output_params: Vec::new(),
        sink_latency_ms: None,
    };
    let table = run(&options).unwrap();
    println!("{table}");
    let rows: Vec<&str> = table.lines().skip(2).collect();
    assert_eq!(rows.len(), scenarios().len(), "{table}");
    for (row, scenario) in rows.iter().zip(scenarios()) {
        assert!(
            row.starts_with(&format!("| {} |", scenario.label())),
            "{row}"
        );
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        // lines/s and peak RSS are numbers on every row that moves lines.
        if !matches!(scenario.mode, logferry_bench::Mode::Idle) {
            assert!(cells[4].parse::<f64>().is_ok_and(|x| x > 0.0), "{row}");
        }
        assert!(cells[11].parse::<f64>().is_ok_and(|x| x > 0.0), "{row}");
    }
}
