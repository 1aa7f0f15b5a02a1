//! Credentials: metadata-server tokens refreshed in the background and after a 401, service
//! account keys signing a JWT, and failures whose error class says what failed.

use super::*;

#[tokio::test]
async fn metadata_token_is_fetched_refreshed_in_the_background_and_after_a_401() {
    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    // A token with a minute left is inside the refresh margin: used, and replaced in the background.
    let metadata = FakeMetadata::start(&gke_values(), Duration::from_secs(60)).await;
    let mut cfg = config(&logging, dir.path());
    cfg.auth = AuthMode::Metadata;
    cfg.metadata_host = metadata.host();
    let sink = start_sink(cfg).await;
    send(&sink, lines(1, 10)).await;
    let auth = |i: usize| {
        logging.requests()[i].headers["authorization"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(auth(0), "Bearer meta-token-1");
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        send(&sink, lines(1, 10)).await;
        let last = logging.requests().len() - 1;
        if auth(last) != "Bearer meta-token-1" {
            assert_eq!(auth(last), "Bearer meta-token-2");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no background refresh"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A long-lived token is kept until the API rejects it; one 401 forces one refresh.
    let logging = FakeLogging::start().await;
    let metadata = FakeMetadata::start(&gke_values(), Duration::from_secs(3600)).await;
    let mut cfg = config(&logging, dir.path());
    cfg.auth = AuthMode::Metadata;
    cfg.metadata_host = metadata.host();
    let sink = start_sink(cfg).await;
    send(&sink, lines(1, 10)).await;
    send(&sink, lines(1, 10)).await;
    assert_eq!(metadata.tokens_issued.load(Ordering::SeqCst), 1);
    logging.require_token("meta-token-2");
    send(&sink, lines(1, 10)).await;
    let requests = logging.requests();
    assert_eq!(requests.len(), 4);
    assert_eq!(requests[2].headers["authorization"], "Bearer meta-token-1");
    assert_eq!(requests[3].headers["authorization"], "Bearer meta-token-2");
    assert_eq!(stat(&sink.stats().token_refreshes_forced), 1);
    assert_eq!(stat(&sink.stats().entries_delivered), 3);
}

fn openssl(args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn service_account_key_signs_a_jwt_the_token_endpoint_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    let public = dir.path().join("public.der");
    let key_s = key.to_str().unwrap();
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        key_s,
    ]);
    openssl(&[
        "rsa",
        "-in",
        key_s,
        "-RSAPublicKey_out",
        "-outform",
        "DER",
        "-out",
        public.to_str().unwrap(),
    ]);
    let email = "logferry@key-project.iam.gserviceaccount.com";
    let tokens = FakeTokenServer::start(std::fs::read(&public).unwrap(), email).await;
    let key_file = dir.path().join("sa.json");
    let key_json = json!({
        "type": "service_account",
        "project_id": "key-project",
        "private_key_id": "abc",
        "private_key": std::fs::read_to_string(&key).unwrap(),
        "client_email": email,
        "token_uri": format!("http://{}/token", tokens.addr),
    });
    std::fs::write(&key_file, key_json.to_string()).unwrap();

    let logging = FakeLogging::start().await;
    let mut cfg = config(&logging, dir.path());
    cfg.project_id = None;
    cfg.auth = AuthMode::ServiceAccount;
    cfg.credentials_path = Some(key_file.clone());
    let sink = start_sink(cfg.clone()).await;
    assert_eq!(sink.resolved().project_id, "key-project");
    send(&sink, lines(2, 10)).await;
    assert_eq!(tokens.verified.load(Ordering::SeqCst), 1);
    assert_eq!(
        logging.requests()[0].headers["authorization"],
        "Bearer sa-token-1"
    );

    // `auth auto` sends no token to an explicit http:// endpoint (the emulator), key file or not.
    cfg.auth = AuthMode::Auto;
    cfg.project_id = Some("test-project".into());
    let sink = google_cloud::build_sink(cfg).await.unwrap();
    send(&sink, lines(1, 10)).await;
    assert!(logging.requests()[1].headers.get("authorization").is_none());
}

/// Each failure says what failed, and the metrics' error class comes from that: a token server
/// that refuses the credentials, one nobody listens on, an `entries:write` that refuses them and
/// one nobody listens on are four classes, and none is an auth failure by its text alone.
#[tokio::test]
async fn a_refused_credential_and_an_unreachable_server_fail_with_different_classes() {
    use agent::sinks::google_cloud::{AuthError, WriteError};
    use agent::sinks::{FailureKind, SinkError, SinkFailure};

    async fn failed_send(cfg: GoogleCloudConfig) -> SinkError {
        let sink = start_sink(cfg).await;
        tokio::time::timeout(DEADLINE, sink.send(Delivery::new(lines(2, 20))))
            .await
            .expect("send timed out")
            .1
            .expect_err("the send should fail")
    }

    let dir = tempfile::tempdir().unwrap();
    let logging = FakeLogging::start().await;
    let refusing = fake::serve(|_| fake::Reply::json(401, r#"{"error":"invalid_grant"}"#)).await;

    let mut cfg = config(&logging, dir.path());
    cfg.auth = AuthMode::Metadata;
    cfg.metadata_host = refusing.to_string();
    let refused = failed_send(cfg.clone()).await;
    assert!(
        matches!(
            &refused.failure,
            SinkFailure::GoogleCloud(WriteError::Token {
                source: AuthError::Refused { status, body, .. },
                ..
            }) if status.as_u16() == 401 && body.contains("invalid_grant")
        ),
        "{refused:?}"
    );
    assert_eq!(refused.class(), "token_refused");
    assert!(refused.to_string().contains("invalid_grant"), "{refused}");

    cfg.metadata_host = closed_port().await;
    let unreachable = failed_send(cfg).await;
    assert!(
        matches!(
            &unreachable.failure,
            SinkFailure::GoogleCloud(WriteError::Token {
                source: AuthError::Transport { .. },
                ..
            })
        ),
        "{unreachable:?}"
    );
    assert_eq!(unreachable.class(), "token_connection");
    assert!(
        logging.requests().is_empty(),
        "nothing is sent without a token"
    );

    logging.script([Scripted::Status(403, None)]);
    let denied = failed_send(config(&logging, dir.path())).await;
    assert_eq!(denied.class(), "google_cloud_auth", "{denied}");
    assert_eq!(denied.kind(), FailureKind::Other);
    assert!(
        denied.to_string().contains("403 Permission denied"),
        "{denied}"
    );

    let mut cfg = config(&logging, dir.path());
    cfg.endpoint = format!("http://{}", closed_port().await);
    let down = failed_send(cfg).await;
    assert_eq!(down.class(), "google_cloud_connection", "{down}");
    assert_eq!(down.kind(), FailureKind::Connection);
}
