//! `google.logging.v2.LoggingServiceV2` over gRPC, on the REST port: the router hands over every
//! request whose `content-type` is `application/grpc` (plain-text HTTP/2, as Google's other
//! emulators serve). tonic does the framing, compression and status trailers; each method turns
//! its protobuf request into a `service` call and the answer back, so both protocols share one
//! store, one query engine and the same errors (`google.rpc.Status`, with
//! `WriteLogEntriesPartialErrors` in its details for rejected entries).

mod tail;

use std::future::Future;
use std::pin::Pin;

use axum::extract::Request;
use axum::response::Response;
use gcloud_logging::wire::ListLogEntriesRequest;
use gcloud_logging::{MAX_REQUEST_BYTES, WriteLogEntriesRequest};
use googleapis_tonic_google_logging_v2::google::{api, logging::v2, rpc};
use prost::Message;
use tonic::codec::CompressionEncoding;
use tonic::server::{Grpc, UnaryService};
use tonic_prost::ProstCodec;

use crate::convert::{entry_to_proto, resource_from_proto};
use crate::service::{self, AppState};

const SERVICE: &str = "google.logging.v2.LoggingServiceV2";

/// Requests are decoded up to this size, so an oversized write gets the same error as over
/// REST (checked against [`MAX_REQUEST_BYTES`] in the handler) rather than tonic's own.
const MAX_DECODED_BYTES: usize = 64 * 1024 * 1024;

/// Answers one gRPC call.
pub(crate) async fn call(state: AppState, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let method = path
        .strip_prefix('/')
        .and_then(|p| p.strip_prefix(SERVICE))
        .and_then(|p| p.strip_prefix('/'))
        .unwrap_or("");
    let response = match method {
        "WriteLogEntries" => codec().unary(Unary(state, write), request).await,
        "ListLogEntries" => codec().unary(Unary(state, list_entries), request).await,
        "ListLogs" => codec().unary(Unary(state, list_logs), request).await,
        "DeleteLog" => codec().unary(Unary(state, delete_log), request).await,
        "ListMonitoredResourceDescriptors" => {
            codec().unary(Unary(state, list_descriptors), request).await
        }
        "TailLogEntries" => codec().streaming(tail::Tail(state), request).await,
        _ => tonic::Status::unimplemented(format!("the emulator has no method {path}")).into_http(),
    };
    response.map(axum::body::Body::new)
}

fn codec<Out, In>() -> Grpc<ProstCodec<Out, In>>
where
    Out: Message + Send + 'static,
    In: Message + Default + Send + 'static,
{
    Grpc::new(ProstCodec::default())
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(MAX_DECODED_BYTES)
        .max_encoding_message_size(usize::MAX)
}

type Answer<T> = Result<tonic::Response<T>, tonic::Status>;
type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A unary method: an async function of the shared state and the request message.
struct Unary<F>(AppState, F);

impl<In, Out, F, Fut> UnaryService<In> for Unary<F>
where
    F: Fn(AppState, In) -> Fut,
    Fut: Future<Output = Result<Out, service::Error>> + Send + 'static,
{
    type Response = Out;
    type Future = BoxFuture<Answer<Out>>;

    fn call(&mut self, request: tonic::Request<In>) -> Self::Future {
        let answer = (self.1)(self.0.clone(), request.into_inner());
        Box::pin(async move { answer.await.map(tonic::Response::new).map_err(status) })
    }
}

/// A service error as gRPC status: the same code and message as over REST, and the
/// `google.rpc.Status` in `grpc-status-details-bin` (with the per-entry errors of a write).
pub(crate) fn status(e: service::Error) -> tonic::Status {
    let mut details = Vec::new();
    if let Some(errors) = &e.partial_errors {
        let errors = v2::WriteLogEntriesPartialErrors {
            log_entry_errors: errors
                .log_entry_errors
                .iter()
                .map(|(index, s)| {
                    let status = rpc::Status {
                        code: s.code,
                        message: s.message.clone(),
                        details: Vec::new(),
                    };
                    (*index, status)
                })
                .collect(),
        };
        details.push(prost_types::Any {
            type_url: gcloud_logging::WriteLogEntriesPartialErrors::TYPE_URL.to_owned(),
            value: errors.encode_to_vec(),
        });
    }
    let code = e.code as i32;
    let encoded = rpc::Status {
        code,
        message: e.message.clone(),
        details,
    }
    .encode_to_vec();
    tonic::Status::with_details(tonic::Code::from_i32(code), e.message, encoded.into())
}

async fn write(
    state: AppState,
    request: v2::WriteLogEntriesRequest,
) -> Result<v2::WriteLogEntriesResponse, service::Error> {
    if request.encoded_len() > MAX_REQUEST_BYTES {
        return Err(service::request_too_large());
    }
    let defaults = WriteLogEntriesRequest {
        log_name: (!request.log_name.is_empty()).then_some(request.log_name),
        resource: request.resource.map(resource_from_proto),
        labels: request.labels.into_iter().collect(),
        entries: Vec::new(),
        partial_success: request.partial_success,
        dry_run: request.dry_run,
    };
    let entries = request.entries.into_iter().map(Ok).collect();
    service::write_entries(&state, defaults, entries).await?;
    Ok(v2::WriteLogEntriesResponse {})
}

async fn list_entries(
    state: AppState,
    request: v2::ListLogEntriesRequest,
) -> Result<v2::ListLogEntriesResponse, service::Error> {
    let nonempty = |s: String| (!s.is_empty()).then_some(s);
    let request = ListLogEntriesRequest {
        resource_names: request.resource_names,
        filter: nonempty(request.filter),
        order_by: nonempty(request.order_by),
        page_size: Some(request.page_size),
        page_token: nonempty(request.page_token),
    };
    let page = service::list_entries(&state, request).await?;
    let entries = page
        .entries
        .into_iter()
        .map(stored_to_proto)
        .collect::<Result<_, _>>()?;
    Ok(v2::ListLogEntriesResponse {
        entries,
        next_page_token: page.next_page_token.unwrap_or_default(),
    })
}

/// A stored entry (canonical JSON) as the protobuf message.
fn stored_to_proto(entry: serde_json::Value) -> Result<v2::LogEntry, service::Error> {
    serde_json::from_value(entry)
        .map_err(|e| e.to_string())
        .and_then(entry_to_proto)
        .map_err(|e| {
            service::Error::new(
                gcloud_logging::wire::RpcCode::Internal,
                format!("a stored entry cannot be encoded: {e}"),
            )
        })
}

async fn list_logs(
    state: AppState,
    request: v2::ListLogsRequest,
) -> Result<v2::ListLogsResponse, service::Error> {
    let parent = match (request.parent.as_str(), request.resource_names.as_slice()) {
        (parent, []) => parent.to_owned(),
        ("", [one]) => one.clone(),
        (parent, names) if names.iter().all(|n| n == parent) => parent.to_owned(),
        _ => {
            return Err(service::Error::invalid(
                "resourceNames: the emulator lists the logs of one parent; set only parent",
            ));
        }
    };
    let (log_names, next) =
        service::list_logs(&state, parent, request.page_size, &request.page_token).await?;
    Ok(v2::ListLogsResponse {
        log_names,
        next_page_token: next.unwrap_or_default(),
    })
}

async fn delete_log(state: AppState, request: v2::DeleteLogRequest) -> Result<(), service::Error> {
    service::delete_log(&state, &request.log_name).await
}

async fn list_descriptors(
    _state: AppState,
    request: v2::ListMonitoredResourceDescriptorsRequest,
) -> Result<v2::ListMonitoredResourceDescriptorsResponse, service::Error> {
    let (page, next) = service::list_descriptors(request.page_size, &request.page_token)?;
    let resource_descriptors = page
        .iter()
        .map(|d| api::MonitoredResourceDescriptor {
            r#type: d.r#type.to_owned(),
            display_name: d.display_name.to_owned(),
            description: d.description.to_owned(),
            labels: d
                .labels
                .iter()
                .map(|(key, description)| api::LabelDescriptor {
                    key: (*key).to_owned(),
                    description: (*description).to_owned(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    Ok(v2::ListMonitoredResourceDescriptorsResponse {
        resource_descriptors,
        next_page_token: next.unwrap_or_default(),
    })
}
