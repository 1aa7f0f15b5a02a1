//! The emulator as a standalone process, for tests that must `kill -9` it and for the
//! benchmark. The real binary is `logferry emulator`; this is the same `cli::run`.

use clap::Parser;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    emulator: emulator::cli::EmulatorArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    emulator::cli::run(Args::parse().emulator).await
}
