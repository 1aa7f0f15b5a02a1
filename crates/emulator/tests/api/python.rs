//! Google's own Python client (`google-cloud-logging`, REST transport) against the emulator.

use crate::support::{DEADLINE, Server};

#[tokio::test]
async fn googles_python_client_writes_and_reads_back() {
    let importable = tokio::process::Command::new("python3")
        .args(["-c", "import google.cloud.logging"])
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
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/client_test.py");
    let out = tokio::time::timeout(
        DEADLINE,
        tokio::process::Command::new("python3")
            .arg(script)
            .arg(&server.url)
            .output(),
    )
    .await
    .expect("the python client finishes")
    .unwrap();
    assert!(
        out.status.success(),
        "client_test.py failed\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("python client: ok"));
    server.stop().await;
}
