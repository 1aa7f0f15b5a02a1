//! Runs the real `logferry emulator` binary for `tests/client.rs` and points Google's Rust
//! client at it, the way a user would: the endpoint overridden to `http://127.0.0.1:PORT` and
//! anonymous credentials (the emulator checks none, and the client then sends none).
//!
//! The binary is `$LOGFERRY_BIN`, else the workspace's `target/debug/logferry`
//! (`cargo build -p logferry` from the repository root builds it; scripts/test.sh does).

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use google_cloud_auth::credentials::anonymous;
use google_cloud_logging_v2::client::LoggingServiceV2;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Generous: CI machines are slow and shared.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// A `logferry emulator` child process on a free port with its own data directory, killed and
/// its directory removed on drop.
pub struct Emulator {
    /// `http://127.0.0.1:PORT`, as the emulator printed it.
    pub url: String,
    child: Child,
    data: PathBuf,
}

impl Emulator {
    /// Starts the emulator and waits until it prints the address it listens on (it binds
    /// before printing, so the port accepts connections from then on).
    pub async fn start() -> Emulator {
        let binary = logferry_binary();
        assert!(
            binary.is_file(),
            "{} does not exist: build it with `cargo build -p logferry` at the repository root, \
             or set LOGFERRY_BIN (scripts/test.sh does both)",
            binary.display()
        );
        let data = fresh_data_dir();
        let mut child = Command::new(&binary)
            .args(["emulator", "--listen", "127.0.0.1:0", "--data"])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let url = within("the emulator to print its address", async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(url) = line.strip_prefix("emulator listening on ") {
                    return url.to_owned();
                }
                eprintln!("emulator: {line}");
            }
            panic!("the emulator exited before listening");
        })
        .await;
        // Keep draining stderr so the child never blocks on a full pipe.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("emulator: {line}");
            }
        });
        Emulator { url, child, data }
    }

    /// Google's client for the logging service, pointed at this emulator.
    pub async fn client(&self) -> LoggingServiceV2 {
        LoggingServiceV2::builder()
            .with_endpoint(&self.url)
            .with_credentials(anonymous::Builder::new().build())
            .build()
            .await
            .expect("the client builds for an http:// endpoint with anonymous credentials")
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// Awaits `future`, failing the test with `what` if it takes longer than [`DEADLINE`].
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

fn logferry_binary() -> PathBuf {
    match std::env::var_os("LOGFERRY_BIN") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../../target/debug/logferry"),
    }
}

/// A path no other emulator of this or another test process uses; the emulator creates it.
fn fresh_data_dir() -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    std::env::temp_dir().join(format!(
        "logferry-rust-client-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}
