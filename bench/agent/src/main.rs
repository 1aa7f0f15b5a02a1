//! `cargo run --release -p logferry-bench -- [--quick] [--runs N] [--lines N] [--only TEXT]
//! [--sink-latency-ms MS]`:
//! builds the release `logferry` (unless `--bin` names one), runs every scenario and prints the
//! Markdown table of medians on stdout (progress on stderr).

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use logferry_bench::{Options, run};

fn main() -> ExitCode {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut options = Options {
        bin: workspace.join("target/release/logferry"),
        lines: 1_000_000,
        runs: 3,
        live_seconds: 10.0,
        only: None,
        work_dir: std::env::temp_dir().join("logferry-bench"),
        verbose: true,
        output_params: Vec::new(),
        sink_latency_ms: None,
    };
    let mut bin_given = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_default();
        match arg.as_str() {
            "--quick" => {
                options.lines = 20_000;
                options.runs = 1;
                options.live_seconds = 1.0;
            }
            "--runs" => options.runs = value().parse().unwrap_or(3),
            "--lines" => options.lines = value().parse().unwrap_or(1_000_000),
            "--live-seconds" => options.live_seconds = value().parse().unwrap_or(10.0),
            "--only" => options.only = Some(value()),
            "--output-param" => options.output_params.push(value()),
            "--sink-latency-ms" => options.sink_latency_ms = value().parse().ok(),
            "--work-dir" => options.work_dir = value().into(),
            "--bin" => {
                options.bin = value().into();
                bin_given = true;
            }
            other => {
                eprintln!(
                    "unknown argument {other}\nusage: logferry-bench [--quick] [--runs N] [--lines N] [--live-seconds S] [--only TEXT] [--output-param LINE]... [--sink-latency-ms MS] [--work-dir DIR] [--bin PATH]"
                );
                return ExitCode::from(2);
            }
        }
    }
    if !bin_given {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--release", "-p", "logferry"])
            .current_dir(&workspace)
            .status();
        if !status.is_ok_and(|s| s.success()) {
            eprintln!("building the release logferry failed");
            return ExitCode::FAILURE;
        }
    }
    match run(&options) {
        Ok(table) => {
            print!("{table}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
