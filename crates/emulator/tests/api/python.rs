//! Google's own Python client (`google-cloud-logging`) against the emulator: over REST
//! (`client_test.py`), and over gRPC beside REST (`grpc_client_test.py`: the same write/list
//! suite both ways, GAPIC calls, live tail, and the same errors on both protocols).

use crate::support::{DEADLINE, Server};

#[tokio::test]
async fn googles_python_client_writes_and_reads_back() {
    run_script("client_test.py", "python client: ok").await;
}

#[tokio::test]
async fn googles_python_client_over_grpc_matches_rest() {
    run_script("grpc_client_test.py", "python grpc client: ok").await;
}

/// Runs `tests/python/SCRIPT` against a fresh emulator and expects `ok_line` in its output.
async fn run_script(script: &str, ok_line: &str) {
    let importable = tokio::process::Command::new("python3")
        .args(["-c", "import google.cloud.logging, grpc"])
        .output()
        .await;
    match importable {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "the Python client is not installed: {}\ninstall it as the README's test command does: pip install google-cloud-logging",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => panic!(
            "python3 is not available ({e}); the README's test command installs google-cloud-logging with pip"
        ),
    }
    let server = Server::start().await;
    let path = format!("{}/tests/python/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = tokio::time::timeout(
        DEADLINE * 2,
        tokio::process::Command::new("python3")
            .arg(&path)
            .arg(&server.url)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap_or_else(|_| panic!("{script} finishes"))
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(ok_line),
        "{script} failed\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{stdout}");
    server.stop().await;
}
