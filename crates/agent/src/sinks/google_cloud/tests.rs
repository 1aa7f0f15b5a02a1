//! Unit tests of the parts that need no network: parameters, text splitting, request and entry
//! size limits, truncation, and reading a server's retry hint.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use fluent_config::{Diagnostic, ParseOptions, Reader, parse_str_tolerant};
use gcloud_logging::{LogEntry, MonitoredResource, Timestamp, WriteLogEntriesRequest};
use serde_json::json;

use super::config::{AuthMode, Compression, GoogleCloudConfig, OversizeEntries};
use super::encoder::{EncodeSettings, encode_chunk};
use super::metadata::{MachineFacts, resolve};
use super::oversize::split_text;
use crate::event::{Event, JsonLine, Origin, Record};

fn read(params: &str) -> (GoogleCloudConfig, Vec<Diagnostic>) {
    let text = format!("<match **>\n  @type google_cloud\n{params}</match>\n");
    let (root, mut diags) =
        parse_str_tolerant(&text, Path::new("fluent.conf"), &ParseOptions::default());
    let mut top = Reader::new(&root, &mut diags);
    let section = top.sections("match")[0];
    let mut r = top.child(section);
    let _ = r.plugin_type();
    let config = GoogleCloudConfig::from_reader(&mut r);
    r.finish();
    top.finish();
    (config, diags)
}

#[test]
fn parameters_keep_the_ruby_plugin_names() {
    let (c, diags) = read(concat!(
        "  project_id my-project\n  zone asia-northeast1-a\n  vm_id 42\n",
        "  resource_type container\n  resource_labels cluster_name:fastapi-cluster\n",
        "  labels env:prod,team:api\n  use_metadata_service false\n  partial_success false\n",
        "  detect_json true\n  split_logs_by_tag true\n  endpoint http://127.0.0.1:8085/\n",
        "  max_request_bytes 1m\n  max_entry_bytes 100k\n  oversize_entries truncate\n",
        "  compress gzip\n  dead_letter_path /var/log/dead.jsonl\n  request_timeout 5s\n",
        "  k8s_pod_name api-0\n  use_grpc true\n  enable_monitoring false\n",
    ));
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    let warnings: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("`use_grpc`") && warnings[0].contains("no effect"));
    assert_eq!(c.project_id.as_deref(), Some("my-project"));
    assert_eq!(c.zone.as_deref(), Some("asia-northeast1-a"));
    assert_eq!(c.vm_id.as_deref(), Some("42"));
    assert_eq!(c.resource_type.as_deref(), Some("container"));
    assert_eq!(c.resource_labels["cluster_name"], "fastapi-cluster");
    assert_eq!(c.labels.len(), 2);
    assert!(!c.use_metadata_service && !c.partial_success);
    assert!(c.detect_json && c.split_logs_by_tag);
    assert_eq!(c.endpoint, "http://127.0.0.1:8085");
    assert!(c.endpoint_explicit && c.is_local_endpoint());
    assert_eq!(c.max_request_bytes, 1024 * 1024);
    assert_eq!(c.max_entry_bytes, 100 * 1024);
    assert_eq!(c.oversize_entries, OversizeEntries::Truncate);
    assert_eq!(c.compress, Compression::Gzip);
    assert_eq!(c.dead_letter_path, Path::new("/var/log/dead.jsonl"));
    assert_eq!(c.request_timeout, std::time::Duration::from_secs(5));
    assert_eq!(c.k8s_pod_name.as_deref(), Some("api-0"));
}

#[test]
fn defaults_match_the_ruby_plugin() {
    let (c, diags) = read("");
    assert!(diags.is_empty(), "{diags:?}");
    assert!(c.use_metadata_service && c.partial_success);
    assert!(!c.detect_json && !c.split_logs_by_tag);
    assert_eq!(c.endpoint, "https://logging.googleapis.com");
    assert!(!c.is_local_endpoint());
    assert_eq!(c.auth, AuthMode::Auto);
    assert_eq!(c.max_request_bytes, 10_000_000);
    assert_eq!(c.max_entry_bytes, 256 * 1024);
    assert_eq!(c.compress, Compression::None);
}

#[test]
fn bad_values_point_at_the_parameter() {
    for params in [
        "  max_request_bytes 20m\n",
        "  max_entry_bytes 1m\n",
        "  endpoint ftp://example.com\n",
        "  endpoint http://127.0.0.1:8085/v2\n",
        "  oversize_entries chop\n",
        "  auth magic\n",
        "  project_ud p\n",
    ] {
        let (_, diags) = read(params);
        let errors: Vec<_> = diags.iter().filter(|d| d.is_error()).collect();
        assert_eq!(errors.len(), 1, "{params}: {diags:?}");
        assert_eq!(errors[0].span.line, 3, "{params}");
    }
}

#[test]
fn environment_fills_downward_api_names_and_credentials() {
    let env = |k: &str| {
        let value = match k {
            "POD_NAME" => "api-1",
            "POD_NAMESPACE" => "prod",
            "CONTAINER_NAME" => "logferry",
            "GOOGLE_APPLICATION_CREDENTIALS" => "/secrets/key.json",
            "GCE_METADATA_HOST" => "127.0.0.1:9999",
            "HOME" => "/home/u",
            _ => return None,
        };
        Some(value.to_owned())
    };
    let c = GoogleCloudConfig::default().with_env(env);
    assert_eq!(c.k8s_pod_name.as_deref(), Some("api-1"));
    assert_eq!(c.k8s_namespace_name.as_deref(), Some("prod"));
    assert_eq!(c.k8s_container_name.as_deref(), Some("logferry"));
    assert_eq!(
        c.credentials_path.as_deref(),
        Some(Path::new("/secrets/key.json"))
    );
    assert_eq!(c.metadata_host, "127.0.0.1:9999");
    assert_eq!(
        c.adc_well_known_path.as_deref(),
        Some(Path::new(
            "/home/u/.config/gcloud/application_default_credentials.json"
        ))
    );
}

#[test]
fn configured_labels_override_detected_ones() {
    let config = GoogleCloudConfig {
        project_id: Some("p".into()),
        resource_type: Some("k8s_container".into()),
        resource_labels: [("cluster_name".to_owned(), "fastapi-cluster".to_owned())].into(),
        ..GoogleCloudConfig::default()
    };
    let resolved = resolve(&config, &MachineFacts::default(), None).unwrap();
    assert_eq!(
        resolved.resource,
        MonitoredResource::new(
            "k8s_container",
            [("project_id", "p"), ("cluster_name", "fastapi-cluster")]
        )
    );
}

#[test]
fn split_text_cuts_on_character_boundaries_within_the_budget() {
    let text = "aé😀\"\n\u{1}ログ".repeat(50);
    for budget in [6, 7, 10, 33, 100] {
        let parts = split_text(text.as_bytes(), budget);
        let mut joined = String::new();
        for r in &parts {
            let piece = &text[r.clone()];
            assert!(
                serde_json::to_string(piece).unwrap().len() - 2 <= budget,
                "{budget}"
            );
            joined.push_str(piece);
        }
        assert_eq!(joined, text);
    }
    // Invalid UTF-8 is never cut inside a sequence and costs U+FFFD's three bytes.
    let bytes = b"ab\xff\xfecd\xe3\x83";
    let parts = split_text(bytes, 6);
    assert_eq!(parts.iter().map(|r| r.len()).sum::<usize>(), bytes.len());
    assert_eq!(split_text(b"", 10), vec![0..0]);
}

fn settings(max_request: usize, max_entry: usize, oversize: OversizeEntries) -> EncodeSettings {
    EncodeSettings {
        project_id: "p".into(),
        header: WriteLogEntriesRequest {
            resource: Some(MonitoredResource::global()),
            partial_success: true,
            ..WriteLogEntriesRequest::default()
        },
        split_logs_by_tag: false,
        detect_json: false,
        max_request_bytes: max_request,
        max_entry_bytes: max_entry,
        oversize,
        k8s: None,
    }
}

fn text_event(offset: u64, text: Vec<u8>) -> Event {
    Event {
        tag: Arc::from("t"),
        time: Timestamp {
            seconds: 1_800_000_000,
            nanos: 0,
        },
        record: Record::Line(Bytes::from(text)),
        origin: Some(Origin { file: 9, offset }),
    }
}

#[test]
fn requests_stay_under_the_limit_and_keep_every_entry_in_order() {
    let events: Vec<Event> = (0..500)
        .map(|i| {
            text_event(
                i * 1000,
                vec![b'a' + (i % 26) as u8; (i as usize * 37) % 900],
            )
        })
        .collect();
    let encoded = encode_chunk(&settings(8_000, 4_000, OversizeEntries::Split), &events);
    let mut ids = Vec::new();
    for batch in &encoded.batches {
        assert!(batch.body.len() <= 8_000);
        let request: WriteLogEntriesRequest = serde_json::from_slice(&batch.body).unwrap();
        assert_eq!(request.entries.len(), batch.entries.len());
        for (i, entry) in request.entries.iter().enumerate() {
            let alone: LogEntry = serde_json::from_slice(batch.entry(i)).unwrap();
            assert_eq!(&alone, entry);
            ids.push(entry.insert_id.clone().unwrap());
        }
        let half = batch.subset(0..batch.entries.len() / 2);
        let parsed: WriteLogEntriesRequest = serde_json::from_slice(&half.body).unwrap();
        assert_eq!(
            parsed.entries[..],
            request.entries[..batch.entries.len() / 2]
        );
    }
    let want: Vec<String> = (0..500)
        .map(|i| gcloud_logging::insert_id(9, i * 1000, None))
        .collect();
    assert_eq!(ids, want);
    assert_eq!(encoded.entries, 500);
}

#[test]
fn oversize_text_is_truncated_with_a_marker() {
    let events = vec![text_event(0, vec![b'z'; 10_000])];
    let encoded = encode_chunk(
        &settings(100_000, 2_000, OversizeEntries::Truncate),
        &events,
    );
    let request: WriteLogEntriesRequest = serde_json::from_slice(&encoded.batches[0].body).unwrap();
    assert_eq!(request.entries.len(), 1);
    let text = request.entries[0].text_payload.as_deref().unwrap();
    assert!(
        text.starts_with("zzzz") && text.ends_with("of 10000 bytes kept]"),
        "{text}"
    );
    assert!(encoded.batches[0].entry(0).len() <= 2_000);
}

#[test]
fn oversize_json_splits_its_largest_string_field() {
    let big = "x".repeat(5_000);
    let map = json!({"message": "m", "detail": {"stack": big, "small": "s"}, "n": 1});
    let event = Event {
        record: Record::Map(map.as_object().unwrap().clone()),
        ..text_event(7, Vec::new())
    };
    let encoded = encode_chunk(
        &settings(100_000, 2_000, OversizeEntries::Split),
        std::slice::from_ref(&event),
    );
    let request: WriteLogEntriesRequest = serde_json::from_slice(&encoded.batches[0].body).unwrap();
    assert!(request.entries.len() >= 3);
    let mut joined = String::new();
    for (i, entry) in request.entries.iter().enumerate() {
        let payload = entry.json_payload.as_ref().unwrap();
        assert_eq!(payload["message"], "m");
        assert_eq!(payload["detail"]["small"], "s");
        joined.push_str(payload["detail"]["stack"].as_str().unwrap());
        assert_eq!(entry.split.as_ref().unwrap().index as usize, i);
        assert!(encoded.batches[0].entry(i).len() <= 2_000);
    }
    assert_eq!(joined, big);

    // Nothing splittable: the entry is set aside for the dead-letter file, not dropped.
    let numbers: serde_json::Map<String, serde_json::Value> =
        (0..400).map(|i| (format!("k{i}"), json!(i))).collect();
    let event = Event {
        record: Record::Map(numbers),
        ..text_event(8, Vec::new())
    };
    let encoded = encode_chunk(&settings(100_000, 2_000, OversizeEntries::Split), &[event]);
    assert!(encoded.batches.is_empty());
    assert_eq!(encoded.unsendable.len(), 1);
}

/// A JSON line reaches the same entries whichever way it travels: kept as bytes by `format
/// json` (copied into the request), as a parsed map (the general path), or as a `format none`
/// line with `detect_json` — except that what `detect_json` found is always `jsonPayload`, even
/// a lone `message` (Google's agent documentation). Includes a line too large for one entry,
/// which the copy path hands to the general one to split, and a repeated key, which takes the
/// general path on every way.
#[test]
fn json_lines_encode_alike_as_bytes_maps_and_detected_lines() {
    let big = "y".repeat(3_000);
    let lines = [
        r#"{"severity":"WARNING","time":"2026-11-25T10:00:00.5Z","message":"GET / 200","httpRequest":{"requestMethod":"GET","status":200,"latency":"0.001s","extra":true},"logging.googleapis.com/trace":"4bf92f3577b34da6a3ce929d0e0e4736","n":[1,2.5,{"x":null}]}"#.to_owned(),
        r#"{"message":"only a message"}"#.to_owned(),
        r#"{"a":1,"a":2}"#.to_owned(),
        r#"{"message":"first","message":"last"}"#.to_owned(),
        format!(r#"{{"message":"m","detail":{{"stack":"{big}"}},"time":"2026-11-25T10:00:01Z"}}"#),
    ];
    let events = |record: &dyn Fn(&str) -> Record| -> Vec<Event> {
        lines
            .iter()
            .enumerate()
            .map(|(i, line)| Event {
                record: record(line),
                ..text_event(i as u64 * 100, Vec::new())
            })
            .collect()
    };
    let as_json = events(&|line| {
        Record::Json(JsonLine {
            line: Bytes::from(line.to_owned()),
            without: None,
        })
    });
    let as_map = events(&|line| Record::Map(serde_json::from_str(line).unwrap()));
    let as_line = events(&|line| Record::Line(Bytes::from(line.to_owned())));
    let mut with_detect = settings(100_000, 2_000, OversizeEntries::Split);
    with_detect.detect_json = true;
    let entries = |settings: &EncodeSettings, events: &[Event]| -> Vec<serde_json::Value> {
        let encoded = encode_chunk(settings, events);
        assert!(encoded.unsendable.is_empty());
        encoded
            .batches
            .iter()
            .flat_map(|b| (0..b.entries.len()).map(|i| serde_json::from_slice(b.entry(i)).unwrap()))
            .collect()
    };
    let general = entries(&with_detect, &as_map);
    assert!(general.len() > lines.len(), "the big line was split");
    assert_eq!(entries(&with_detect, &as_json), general);
    assert_eq!(general[0]["httpRequest"]["status"], 200);
    assert_eq!(general[0]["timestamp"], "2026-11-25T10:00:00.500Z");
    assert_eq!(general[1]["textPayload"], "only a message");
    assert_eq!(general[2]["jsonPayload"]["a"], 2);
    assert_eq!(general[3]["textPayload"], "last");
    let detected = entries(&with_detect, &as_line);
    assert_eq!(detected.len(), general.len());
    for (i, (d, g)) in detected.iter().zip(&general).enumerate() {
        if let Some(text) = g.get("textPayload") {
            let mut want = g.clone();
            let want = want.as_object_mut().unwrap();
            want.remove("textPayload");
            want.insert("jsonPayload".into(), json!({"message": text}));
            assert_eq!(d, &serde_json::Value::Object(want.clone()), "entry {i}");
        } else {
            assert_eq!(d, g, "entry {i}");
        }
    }
}

/// Events without a file position (the forward input) get insertId function version 1 (see
/// `gcloud_logging::ids::InsertId::from_content` and the README): pinned here through the
/// encoder, so neither the function nor which bytes of a record it covers can drift. A JSON
/// line less its time key is covered as the compact JSON of what is left, as a map is.
#[test]
fn events_without_a_file_position_get_insert_id_version_1() {
    let time = Timestamp {
        seconds: 1_800_000_000,
        nanos: 5,
    };
    let event = |record: Record| Event {
        tag: Arc::from("fwd.app"),
        time,
        record,
        origin: None,
    };
    let map = |v: serde_json::Value| match v {
        serde_json::Value::Object(m) => Record::Map(m),
        _ => unreachable!(),
    };
    let json_line = |line: &'static str, without: Option<&str>| {
        Record::Json(JsonLine {
            line: Bytes::from_static(line.as_bytes()),
            without: without.map(Arc::from),
        })
    };
    let events = [
        event(Record::Line(Bytes::from_static(b"hello"))),
        event(map(json!({"b": "x", "a": 1}))),
        event(json_line(r#"{"b": "x", "a":1}"#, None)),
        event(json_line(
            r#"{"time":"2027-01-15T08:00:00Z","a":1}"#,
            Some("time"),
        )),
        event(map(json!({"a": 1}))),
        event(Record::Line(Bytes::from_static(b"hello"))),
    ];
    let encoded = encode_chunk(&settings(100_000, 10_000, OversizeEntries::Split), &events);
    let ids: Vec<String> = encoded
        .batches
        .iter()
        .flat_map(|b| (0..b.entries.len()).map(|i| b.entry(i).to_vec()))
        .map(|e| {
            let e: LogEntry = serde_json::from_slice(&e).unwrap();
            e.insert_id.unwrap()
        })
        .collect();
    assert_eq!(
        ids,
        [
            "a9653022dc4b34220000000000000000",
            "c370fda17d7d1a570000000000000001",
            "aac61f743dd3a0730000000000000002",
            "8b180303ef1a01f50000000000000003",
            "8b180303ef1a01f50000000000000004",
            "a9653022dc4b34220000000000000005",
        ]
    );
    // Equal records differ by their place in the chunk only.
    assert_eq!(ids[0][..16], ids[5][..16]);
    assert_eq!(ids[3][..16], ids[4][..16]);
}

#[test]
fn retry_hints_come_from_the_header_or_retry_info() {
    use super::service::retry_after;
    use std::time::Duration;
    let mut headers = http::HeaderMap::new();
    headers.insert("retry-after", "7".parse().unwrap());
    assert_eq!(retry_after(&headers, None), Some(Duration::from_secs(7)));
    let body: gcloud_logging::ErrorBody = serde_json::from_value(json!({"error": {
        "code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED",
        "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.500s"}]}}))
    .unwrap();
    assert_eq!(
        retry_after(&http::HeaderMap::new(), Some(&body)),
        Some(Duration::from_millis(1500))
    );
    assert_eq!(retry_after(&http::HeaderMap::new(), None), None);
}

#[test]
fn credentials_files_load_and_never_print_their_secrets() {
    use super::auth::load_credentials_file;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("adc.json");
    std::fs::write(
        &path,
        json!({"type": "authorized_user", "client_id": "cid.apps.googleusercontent.com",
               "client_secret": "s3cret-value", "refresh_token": "1//refresh-value",
               "quota_project_id": "q"})
        .to_string(),
    )
    .unwrap();
    let (credentials, project) = load_credentials_file(&path).unwrap();
    assert_eq!(project, None);
    let shown = format!("{credentials:?}");
    assert!(shown.contains("cid.apps"), "{shown}");
    assert!(
        !shown.contains("s3cret") && !shown.contains("refresh-value"),
        "{shown}"
    );

    std::fs::write(&path, r#"{"type":"service_account","client_email":"a@b","private_key":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}"#).unwrap();
    let error = load_credentials_file(&path).err().unwrap().to_string();
    assert!(
        error.contains("PKCS#8") && !error.contains("AAAA"),
        "{error}"
    );
    std::fs::write(&path, r#"{"type":"external_account"}"#).unwrap();
    assert!(
        load_credentials_file(&path)
            .err()
            .unwrap()
            .to_string()
            .contains("external_account")
    );
}

/// A node's chunk mixes pods: each container entry carries its own `k8s_container` resource
/// and `stdout`/`stderr` log, any other entry takes the request's; requests still never pass
/// `max_request_bytes` (the per-entry resource is counted in the entry), and nothing is lost.
#[test]
fn container_entries_of_many_pods_carry_their_own_resource() {
    let mut settings = settings(6_000, 3_000, OversizeEntries::Split);
    settings.k8s = Some(super::kubernetes::K8sSettings {
        project_id: "p".into(),
        location: Some("asia-northeast1".into()),
        cluster_name: Some("c1".into()),
        node_name: Some("node-a".into()),
    });
    let events: Vec<Event> = (0..300u64)
        .map(|i| {
            let pod = format!("web-{}", i % 3);
            let record = if i % 10 == 9 {
                json!({"message": format!("plain {i}")})
            } else {
                json!({
                    "stream": if i.is_multiple_of(2) { "stdout" } else { "stderr" },
                    "logtag": "F",
                    "message": format!("line {i} {}", "x".repeat((i as usize * 13) % 400)),
                    "docker": {"container_id": "abc"},
                    "kubernetes": {"namespace_name": "shop", "pod_name": pod,
                                   "container_name": "api", "labels": {"app": "web"}},
                })
            };
            Event {
                tag: Arc::from(format!("kubernetes.{pod}")),
                time: Timestamp::new(1_800_000_000, 0).unwrap(),
                record: Record::Map(record.as_object().unwrap().clone()),
                origin: Some(Origin {
                    file: 1 + i % 3,
                    offset: i * 1000,
                }),
            }
        })
        .collect();
    let encoded = encode_chunk(&settings, &events);
    assert!(encoded.batches.len() > 3, "the limit splits the chunk");
    let mut seen = 0;
    for batch in &encoded.batches {
        assert!(batch.body.len() <= 6_000, "{}", batch.body.len());
        let request: WriteLogEntriesRequest = serde_json::from_slice(&batch.body).unwrap();
        assert_eq!(request.resource, Some(MonitoredResource::global()));
        for entry in &request.entries {
            let text = entry.text_payload.as_deref().unwrap();
            let i: u64 = text.split(' ').nth(1).unwrap().parse().unwrap();
            assert_eq!(
                entry.insert_id,
                Some(gcloud_logging::insert_id(1 + i % 3, i * 1000, None))
            );
            seen += 1;
            if i % 10 == 9 {
                assert_eq!(entry.resource, None, "{text}");
                assert_eq!(entry.labels, None);
                continue;
            }
            let resource = entry.resource.as_ref().unwrap();
            assert_eq!(resource.r#type, "k8s_container");
            assert_eq!(resource.labels["pod_name"], format!("web-{}", i % 3));
            assert_eq!(resource.labels["cluster_name"], "c1");
            assert_eq!(resource.labels["location"], "asia-northeast1");
            let stream = if i.is_multiple_of(2) {
                "stdout"
            } else {
                "stderr"
            };
            assert_eq!(
                entry.log_name.as_deref(),
                Some(&*format!("projects/p/logs/{stream}"))
            );
            let labels = entry.labels.as_ref().unwrap();
            assert_eq!(labels["k8s-pod/app"], "web");
            assert_eq!(labels["compute.googleapis.com/resource_name"], "node-a");
            assert!(
                text.starts_with("line "),
                "the bookkeeping fields left the payload"
            );
        }
    }
    assert_eq!(seen, 300);
}

/// `resource_type` forcing another type turns the container shaping off; a configured cluster
/// (or the metadata server's) names the location and cluster.
#[test]
fn cluster_comes_from_parameters_then_the_metadata_server() {
    use super::metadata::cluster_of;
    let facts = MachineFacts {
        on_gce: true,
        cluster_name: Some("from-metadata".into()),
        cluster_location: Some("us-central1".into()),
        zone: Some("us-central1-b".into()),
        ..MachineFacts::default()
    };
    let config = GoogleCloudConfig::default();
    assert_eq!(
        cluster_of(&config, &facts),
        (Some("us-central1".into()), Some("from-metadata".into()))
    );
    let (config, diags) = read("  k8s_cluster_name c2\n  k8s_cluster_location europe-west1\n");
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(
        cluster_of(&config, &facts),
        (Some("europe-west1".into()), Some("c2".into()))
    );
    let zonal = MachineFacts {
        cluster_location: None,
        ..facts
    };
    assert_eq!(
        cluster_of(&GoogleCloudConfig::default(), &zonal).0,
        Some("us-central1-b".into())
    );
}
