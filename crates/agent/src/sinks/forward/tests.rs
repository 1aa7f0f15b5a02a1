//! The forward output's failures against real sockets on 127.0.0.1: each says what failed, and
//! its class tells a server that is not there from one that answers wrongly or wants a
//! handshake.

use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::{ForwardError, ForwardFailure, ForwardSink, ForwardSinkConfig, Server};
use crate::event::{Event, Record};
use crate::msgpack;
use crate::sinks::{Delivery, FailureKind, Sink, SinkError, SinkFailure};
use crate::sources::forward::handshake;

/// Generous: CI machines are slow and shared.
const DEADLINE: Duration = Duration::from_secs(60);

fn config(port: u16) -> ForwardSinkConfig {
    ForwardSinkConfig {
        servers: vec![Server {
            host: "127.0.0.1".into(),
            port,
            name: format!("127.0.0.1:{port}"),
            shared_key: None,
        }],
        require_ack_response: true,
        ack_response_timeout: DEADLINE,
        send_timeout: DEADLINE,
        connect_timeout: DEADLINE,
        gzip: false,
        time_as_integer: false,
        security: None,
    }
}

async fn failed_send(port: u16) -> SinkError {
    let sink = ForwardSink::new(config(port));
    let event = Event {
        tag: "app".into(),
        time: gcloud_logging::Timestamp::now(),
        record: Record::Line(Bytes::from_static(b"hello")),
        origin: None,
    };
    let (_, result) = tokio::time::timeout(DEADLINE, sink.send(Delivery::new(vec![event])))
        .await
        .expect("the send ends");
    result.expect_err("the send should fail")
}

/// The one attempt's error.
fn attempt(error: &SinkError) -> &ForwardError {
    match &error.failure {
        SinkFailure::Forward(ForwardFailure { attempts }) => &attempts[0].1,
        other => panic!("not a forward failure: {other:?}"),
    }
}

/// A server that reads the first message and answers `answer`.
async fn answering(answer: Vec<u8>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = stream.read(&mut buf).await;
        let _ = stream.write_all(&answer).await;
        // Keep the connection open until the client gives up on it.
        let _ = stream.read(&mut buf).await;
    });
    port
}

#[tokio::test]
async fn a_closed_port_a_wrong_ack_and_a_handshake_are_told_apart() {
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let refused = failed_send(port).await;
    assert!(
        matches!(attempt(&refused), ForwardError::Connect(_)),
        "{refused:?}"
    );
    assert_eq!(refused.class(), "forward_connection");
    assert_eq!(refused.kind(), FailureKind::Connection);
    assert!(
        refused
            .to_string()
            .starts_with("no forward server took the chunk: 127.0.0.1:"),
        "{refused}"
    );

    let mut wrong_ack = Vec::new();
    msgpack::write_map_len(&mut wrong_ack, 1);
    msgpack::write_str(&mut wrong_ack, b"ack");
    msgpack::write_str(&mut wrong_ack, b"not-this-chunk");
    let wrong = failed_send(answering(wrong_ack).await).await;
    assert!(
        matches!(attempt(&wrong), ForwardError::WrongAck { got, .. } if got == "not-this-chunk"),
        "{wrong:?}"
    );
    assert_eq!(wrong.class(), "forward_protocol");
    assert_eq!(wrong.kind(), FailureKind::Other);

    let helo = handshake::helo(&handshake::random_bytes(), true);
    let secured = failed_send(answering(helo).await).await;
    assert!(
        matches!(attempt(&secured), ForwardError::HandshakeRequired),
        "{secured:?}"
    );
    assert_eq!(secured.class(), "forward_handshake");
    assert!(secured.to_string().contains("<security>"), "{secured}");
}
