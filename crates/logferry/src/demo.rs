//! `logferry demo`: the pod of the original system on one machine (not built yet: see the
//! deployment-kit issue).

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct DemoArgs {}

pub fn run(_args: DemoArgs) -> ExitCode {
    eprintln!("logferry demo is not available yet");
    ExitCode::FAILURE
}
