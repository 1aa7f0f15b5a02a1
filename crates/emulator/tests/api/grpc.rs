//! The gRPC side of the emulator, driven with tonic's client over plain-text HTTP/2 on the REST
//! port: errors match REST's code and message, per-entry errors come in
//! `grpc-status-details-bin`, and a tail whose client stops reading is told how many entries it
//! missed. Google's own clients are driven in `python.rs` and `node.rs`.

use std::time::Duration;

use googleapis_tonic_google_logging_v2::google::api::MonitoredResource;
use googleapis_tonic_google_logging_v2::google::logging::v2::{
    self, log_entry::Payload, logging_service_v2_client::LoggingServiceV2Client,
};
use googleapis_tonic_google_logging_v2::google::rpc;
use prost::Message;
use serde_json::{Value, json};
use tonic::transport::Channel;

use crate::support::{DEADLINE, Server};

async fn grpc_client(server: &Server) -> LoggingServiceV2Client<Channel> {
    let channel = tonic::transport::Endpoint::from_shared(server.url.clone())
        .unwrap()
        .connect()
        .await
        .expect("gRPC connects on the REST port");
    LoggingServiceV2Client::new(channel)
}

fn text(log: &str, text: &str) -> v2::LogEntry {
    v2::LogEntry {
        log_name: log.into(),
        resource: Some(MonitoredResource {
            r#type: "global".into(),
            labels: Default::default(),
        }),
        payload: Some(Payload::TextPayload(text.into())),
        ..Default::default()
    }
}

/// The same failing call over both protocols: `(grpc, rest path, rest body)`.
fn rest_error(resp: &emulator::client::HttpResponse) -> (String, String) {
    let body = resp.json();
    (
        body["error"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

fn grpc_error(status: &tonic::Status) -> (String, String) {
    let code = gcloud_logging::wire::RpcCode::from_i32(status.code() as i32).unwrap();
    (code.as_str().to_owned(), status.message().to_owned())
}

#[tokio::test]
async fn errors_carry_the_same_status_over_both_protocols() {
    let server = Server::start().await;
    let mut grpc = grpc_client(&server).await;
    let list = |names: Vec<&str>, filter: &str, size: i32, order: &str| v2::ListLogEntriesRequest {
        resource_names: names.into_iter().map(String::from).collect(),
        filter: filter.into(),
        page_size: size,
        order_by: order.into(),
        ..Default::default()
    };
    let cases: Vec<(tonic::Status, emulator::client::HttpResponse)> = vec![
        // A bad filter: the position of the problem is in the message.
        (
            grpc.list_log_entries(list(vec!["projects/p"], "severity>=", 0, ""))
                .await
                .unwrap_err(),
            server
                .post(
                    "/v2/entries:list",
                    &json!({"resourceNames": ["projects/p"], "filter": "severity>="}),
                )
                .await,
        ),
        // Malformed requests.
        (
            grpc.list_log_entries(list(vec!["users/x"], "", 0, ""))
                .await
                .unwrap_err(),
            server
                .post("/v2/entries:list", &json!({"resourceNames": ["users/x"]}))
                .await,
        ),
        (
            grpc.list_log_entries(list(vec!["projects/p"], "", 5000, "severity"))
                .await
                .unwrap_err(),
            server
                .post(
                    "/v2/entries:list",
                    &json!({"resourceNames": ["projects/p"], "pageSize": 5000, "orderBy": "severity"}),
                )
                .await,
        ),
        (
            grpc.write_log_entries(v2::WriteLogEntriesRequest::default())
                .await
                .unwrap_err(),
            server.write(json!({"entries": []})).await,
        ),
        // An unknown project has no log to delete.
        (
            grpc.delete_log(v2::DeleteLogRequest {
                log_name: "projects/no-such-project/logs/app".into(),
            })
            .await
            .unwrap_err(),
            server
                .client
                .request(
                    "DELETE",
                    "/v2/projects/no-such-project/logs/app",
                    None,
                    &[],
                )
                .await
                .unwrap(),
        ),
    ];
    let expected_codes = [
        "INVALID_ARGUMENT",
        "INVALID_ARGUMENT",
        "INVALID_ARGUMENT",
        "INVALID_ARGUMENT",
        "NOT_FOUND",
    ];
    for ((status, resp), code) in cases.iter().zip(expected_codes) {
        let (grpc_code, grpc_message) = grpc_error(status);
        assert_eq!(grpc_code, code, "{status:?}");
        assert_eq!(rest_error(resp), (grpc_code, grpc_message.clone()));
        assert!(!grpc_message.is_empty());
        // The same google.rpc.Status is in the details trailer.
        let detail = rpc::Status::decode(status.details()).unwrap();
        assert_eq!(
            (detail.code, detail.message.as_str()),
            (status.code() as i32, grpc_message.as_str())
        );
    }
    assert!(
        cases[0].0.message().starts_with("filter: 1:11: "),
        "{:?}",
        cases[0].0
    );
    assert_eq!(
        cases[4].0.message(),
        "Log projects/no-such-project/logs/app does not exist"
    );

    // An unknown method gets gRPC's UNIMPLEMENTED, not REST's 404 page.
    let channel = tonic::transport::Endpoint::from_shared(server.url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut raw = tonic::client::Grpc::new(channel);
    raw.ready().await.unwrap();
    let status = raw
        .unary::<(), (), _>(
            tonic::Request::new(()),
            "/google.logging.v2.LoggingServiceV2/Nope".parse().unwrap(),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented);
    server.stop().await;
}

#[tokio::test]
async fn rejected_entries_come_back_as_partial_errors_in_the_status_details() {
    let server = Server::start().await;
    let mut grpc = grpc_client(&server).await;
    let mut entries: Vec<v2::LogEntry> = (0..5)
        .map(|i| text("projects/p/logs/app", &format!("line {i}")))
        .collect();
    entries[1].log_name = "projects/p/logs/bad name".into();
    entries[3].severity = 150;
    let request = v2::WriteLogEntriesRequest {
        entries: entries.clone(),
        partial_success: true,
        ..Default::default()
    };
    let status = grpc.write_log_entries(request).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    let detail = rpc::Status::decode(status.details()).unwrap();
    assert_eq!(detail.details.len(), 1);
    assert_eq!(
        detail.details[0].type_url,
        "type.googleapis.com/google.logging.v2.WriteLogEntriesPartialErrors"
    );
    let partial =
        v2::WriteLogEntriesPartialErrors::decode(detail.details[0].value.as_slice()).unwrap();
    let mut indexes: Vec<i32> = partial.log_entry_errors.keys().copied().collect();
    indexes.sort();
    assert_eq!(indexes, [1, 3]);
    assert!(
        partial.log_entry_errors[&3]
            .message
            .starts_with("severity: 150")
    );
    assert_eq!(partial.log_entry_errors[&1].code, 3);
    // partialSuccess wrote the other three; REST sees them.
    let written = server.list_all("p", "").await;
    let texts: Vec<&str> = written
        .iter()
        .map(|e| e["textPayload"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["line 0", "line 2", "line 4"]);

    // dryRun validates and writes nothing; without partialSuccess nothing is written either.
    for (partial_success, dry_run) in [(false, false), (true, true)] {
        let request = v2::WriteLogEntriesRequest {
            entries: entries.clone(),
            partial_success,
            dry_run,
            ..Default::default()
        };
        assert!(grpc.write_log_entries(request).await.is_err());
    }
    let dry = v2::WriteLogEntriesRequest {
        entries: vec![text("projects/p/logs/app", "dry")],
        dry_run: true,
        ..Default::default()
    };
    grpc.write_log_entries(dry).await.unwrap();
    assert_eq!(server.list_all("p", "").await.len(), 3);

    // A request over 10 MB: the same message as REST's.
    let big = v2::WriteLogEntriesRequest {
        entries: (0..50)
            .map(|i| {
                text(
                    "projects/p/logs/big",
                    &format!("{i}{}", "x".repeat(250_000)),
                )
            })
            .collect(),
        ..Default::default()
    };
    let status = grpc.write_log_entries(big).await.unwrap_err();
    assert_eq!(
        status.message(),
        format!(
            "Request payload size exceeds the limit: {} bytes.",
            gcloud_logging::MAX_REQUEST_BYTES
        )
    );
    server.stop().await;
}

#[tokio::test]
async fn a_tail_that_stops_reading_is_told_how_many_entries_it_missed() {
    let server = Server::start().await;
    let mut grpc = grpc_client(&server).await;
    let (requests, receive) = tokio::sync::mpsc::channel(1);
    requests
        .send(v2::TailLogEntriesRequest {
            resource_names: vec!["projects/p".into()],
            filter: r#"log_id("app")"#.into(),
            buffer_window: Some(prost_types::Duration {
                seconds: 0,
                nanos: 0,
            }),
        })
        .await
        .unwrap();
    let mut stream = grpc
        .tail_log_entries(tokio_stream::wrappers::ReceiverStream::new(receive))
        .await
        .unwrap()
        .into_inner();

    // Write far more than the live-tail buffer (4096) and HTTP/2's flow-control windows hold,
    // without reading; a tenth of it to another log, which the filter leaves out.
    const WRITTEN: usize = 20_000;
    let mut written_to_app = 0;
    for batch in 0..20 {
        let entries: Vec<Value> = (0..WRITTEN / 20)
            .map(|i| {
                let n = batch * (WRITTEN / 20) + i;
                let log = if n % 10 == 9 { "other" } else { "app" };
                json!({"logName": format!("projects/p/logs/{log}"), "textPayload": format!("{n:06} {}", "y".repeat(200))})
            })
            .collect();
        written_to_app += entries
            .iter()
            .filter(|e| e["logName"] == "projects/p/logs/app")
            .count();
        let resp = server
            .write(json!({"resource": {"type": "global"}, "entries": entries}))
            .await;
        assert_eq!(resp.status, 200);
    }
    // A marker written last tells the reader it has seen everything that will come.
    let resp = server
        .write(
            json!({"logName": "projects/p/logs/app", "resource": {"type": "global"},
            "entries": [{"textPayload": "the end"}]}),
        )
        .await;
    assert_eq!(resp.status, 200);

    let mut received = Vec::new();
    let mut suppressed = 0;
    let read_all = async {
        while let Some(response) = stream.message().await.unwrap() {
            for info in &response.suppression_info {
                assert_eq!(
                    info.reason,
                    v2::tail_log_entries_response::suppression_info::Reason::NotConsumed as i32
                );
                suppressed += info.suppressed_count as usize;
            }
            for entry in response.entries {
                match entry.payload {
                    Some(Payload::TextPayload(t)) if t == "the end" => return,
                    Some(Payload::TextPayload(t)) => {
                        received.push(t[..6].parse::<usize>().unwrap())
                    }
                    other => panic!("unexpected payload {other:?}"),
                }
            }
        }
        panic!("the tail ended before the marker");
    };
    tokio::time::timeout(DEADLINE, read_all)
        .await
        .expect("the marker arrives");
    assert!(
        suppressed > 0,
        "the client fell behind, so some entries were suppressed"
    );
    assert!(!received.is_empty());
    // What arrived is in order, matches the filter, and with what was suppressed accounts for
    // every entry (suppressed counts every skipped entry, matching or not).
    assert!(received.windows(2).all(|w| w[0] < w[1]));
    assert!(received.iter().all(|n| n % 10 != 9));
    assert!(received.len() <= written_to_app);
    assert!(
        received.len() + suppressed >= written_to_app,
        "{} received + {suppressed} suppressed < {written_to_app} written",
        received.len()
    );
    assert!(received.len() + suppressed <= WRITTEN + 1);
    drop(requests);
    server.stop().await;
}

#[tokio::test]
async fn a_tail_holds_entries_for_its_buffer_window_and_sorts_them() {
    let server = Server::start().await;
    let mut grpc = grpc_client(&server).await;
    let request = v2::TailLogEntriesRequest {
        resource_names: vec!["projects/p".into()],
        filter: String::new(),
        // Long enough that the two writes below land within one window on a busy machine.
        buffer_window: Some(prost_types::Duration {
            seconds: 5,
            nanos: 0,
        }),
    };
    let mut stream = grpc
        .tail_log_entries(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let started = tokio::time::Instant::now();
    // Two writes, the later one stamped earlier: within the window they come out sorted.
    for (ts, text) in [
        ("2026-01-01T00:00:02Z", "second"),
        ("2026-01-01T00:00:01Z", "first"),
    ] {
        let resp = server
            .write(
                json!({"logName": "projects/p/logs/app", "resource": {"type": "global"},
                "entries": [{"textPayload": text, "timestamp": ts}]}),
            )
            .await;
        assert_eq!(resp.status, 200);
    }
    let mut texts = Vec::new();
    while texts.len() < 2 {
        let response = tokio::time::timeout(DEADLINE, stream.message())
            .await
            .expect("entries arrive")
            .unwrap()
            .expect("the stream stays open");
        texts.extend(response.entries.into_iter().map(|e| match e.payload {
            Some(Payload::TextPayload(t)) => t,
            other => panic!("{other:?}"),
        }));
    }
    assert_eq!(texts, ["first", "second"]);
    // Nothing leaves before it has waited out the window (both arrived after `started`).
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "held for the window"
    );
    server.stop().await;
}

/// A filter of 5,000 nested parentheses once overflowed a tokio worker's stack and aborted
/// the emulator. Over gRPC as over REST it is now INVALID_ARGUMENT with the position, and the
/// server answers the next call.
#[tokio::test]
async fn regression_deeply_nested_filters_are_invalid_argument_over_grpc() {
    let server = Server::start().await;
    let mut grpc = grpc_client(&server).await;
    grpc.write_log_entries(v2::WriteLogEntriesRequest {
        entries: vec![text("projects/p/logs/app", "still here")],
        ..Default::default()
    })
    .await
    .unwrap();
    let list = |filter: String| v2::ListLogEntriesRequest {
        resource_names: vec!["projects/p".into()],
        filter,
        ..Default::default()
    };
    let parens = |levels: usize| format!("{}a=x{}", "(".repeat(levels), ")".repeat(levels));
    for (filter, message) in [
        (
            parens(100_000),
            "filter: 1:20001: expected a filter of at most 20000 characters",
        ),
        (
            parens(5_000),
            "filter: 1:65: expected at most 64 nested levels of '(', NOT and '-', found '('",
        ),
        (
            format!("{}a=x", "NOT -".repeat(3_000)),
            "filter: 1:161: expected at most 64 nested levels",
        ),
    ] {
        let status = grpc.list_log_entries(list(filter)).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
        assert!(status.message().starts_with(message), "{status:?}");
    }
    let found = grpc
        .list_log_entries(list(parens(64).replace("a=x", "textPayload:here")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.entries.len(), 1);
    server.stop().await;
}
