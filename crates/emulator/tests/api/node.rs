//! Google's Node.js client (`@google-cloud/logging`, its default gRPC transport with insecure
//! credentials) against the emulator: `tests/node/client.test.mjs` writes text, JSON and proto
//! payloads, lists with filters and paging, reads them back over REST, lists and deletes logs,
//! follows a tail and compares an error with REST's. `scripts/setup/node-clients.sh` installs
//! the package from npm.

use std::path::Path;

use crate::support::{DEADLINE, Server};

const NODE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/node");

#[tokio::test]
async fn googles_node_client_over_grpc() {
    assert!(
        Path::new(NODE_DIR)
            .join("node_modules/@google-cloud/logging")
            .exists(),
        "@google-cloud/logging is not installed in {NODE_DIR}; run scripts/test.sh, whose \
         scripts/setup/node-clients.sh installs it with npm ci"
    );
    let server = Server::start().await;
    let out = tokio::time::timeout(
        DEADLINE * 2,
        tokio::process::Command::new("node")
            .arg(Path::new(NODE_DIR).join("client.test.mjs"))
            .arg(&server.url)
            // No metadata-server probing for a default resource: every entry names its own.
            .env("METADATA_SERVER_DETECTION", "none")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the Node.js client test finishes")
    .expect("node runs (scripts/test.sh expects Node 18+ on the PATH)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("node client: ok"),
        "client.test.mjs failed\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{stdout}");
    server.stop().await;
}
