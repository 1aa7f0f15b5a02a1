use std::path::Path;

use super::*;
use crate::event::Record;

fn reader_of<T>(
    text: &str,
    build: impl FnOnce(&mut fluent_config::Reader<'_>) -> T,
) -> (T, Vec<fluent_config::Diagnostic>) {
    let (root, mut diags) = fluent_config::parse_str(text, Path::new("t.conf")).unwrap();
    let section = root.sections[0].clone();
    let mut r = fluent_config::Reader::new(&section, &mut diags);
    r.plugin_type();
    let value = build(&mut r);
    r.finish();
    (value, diags)
}

fn event(record: serde_json::Value) -> Event {
    Event {
        tag: "app.web.log".into(),
        time: gcloud_logging::Timestamp::new(0, 0).unwrap(),
        record: Record::Map(record.as_object().unwrap().clone()),
        origin: None,
    }
}

/// A `format json` line kept as bytes: grep reads single fields of it, the consumed time key is
/// not one of them, and a key written with escapes is still found.
#[test]
fn grep_reads_fields_of_json_lines() {
    let (grep, _) = reader_of(
        "<filter **>\n @type grep\n <regexp>\n  key severity\n  pattern /ERROR/\n </regexp>\n <exclude>\n  key time\n  pattern /./\n </exclude>\n</filter>\n",
        |r| GrepFilter::from_reader(r).unwrap(),
    );
    let json = |line: &'static str, without: Option<&str>| Event {
        record: Record::Json(crate::event::JsonLine {
            line: bytes::Bytes::from_static(line.as_bytes()),
            without: without.map(std::sync::Arc::from),
        }),
        ..event(serde_json::json!({}))
    };
    let line = r#"{"severity":"ERROR","time":"2026-11-25T10:00:00Z","message":"m"}"#;
    assert!(
        grep.apply(&mut json(line, Some("time"))),
        "time was consumed by the parser"
    );
    assert!(
        !grep.apply(&mut json(line, None)),
        "time is part of the record"
    );
    let escaped = r#"{"sever\u0069ty":"ERROR"}"#;
    assert!(grep.apply(&mut json(escaped, None)));
    assert!(!grep.apply(&mut json(r#"{"severity":"INFO"}"#, None)));
}

#[test]
fn grep_keeps_and_excludes() {
    let (grep, diags) = reader_of(
        "<filter **>\n @type grep\n <regexp>\n  key message\n  pattern /error|warn/\n </regexp>\n <exclude>\n  key path\n  pattern /health/\n </exclude>\n</filter>\n",
        |r| GrepFilter::from_reader(r).unwrap(),
    );
    assert!(diags.is_empty(), "{diags:?}");
    assert!(grep.apply(&mut event(
        serde_json::json!({"message": "an error", "path": "/x"})
    )));
    assert!(!grep.apply(&mut event(
        serde_json::json!({"message": "an error", "path": "/health"})
    )));
    assert!(!grep.apply(&mut event(serde_json::json!({"message": "fine"}))));
}

#[test]
fn grep_v012_form() {
    let (grep, diags) = reader_of(
        "<filter **>\n type grep\n exclude1 message debug\n</filter>\n",
        |r| GrepFilter::from_reader(r).unwrap(),
    );
    assert!(diags.is_empty(), "{diags:?}");
    assert!(!grep.apply(&mut event(serde_json::json!({"message": "a debug line"}))));
    assert!(grep.apply(&mut event(serde_json::json!({"message": "info"}))));
}

#[test]
fn record_transformer_placeholders() {
    let (rt, diags) = reader_of(
        "<filter **>\n @type record_transformer\n remove_keys secret\n <record>\n  service ${tag_parts[1]}\n  copy ${record[\"n\"]}\n  text tag=${tag} n=${record[\"n\"]}\n  host ${hostname}\n </record>\n</filter>\n",
        |r| RecordTransformer::from_reader(r).unwrap(),
    );
    assert!(diags.is_empty(), "{diags:?}");
    let mut e = event(serde_json::json!({"n": 5, "secret": "x"}));
    assert!(rt.apply(&mut e));
    let Record::Map(map) = &e.record else {
        panic!()
    };
    assert_eq!(map["service"], "web");
    assert_eq!(map["copy"], 5);
    assert_eq!(map["text"], "tag=app.web.log n=5");
    assert!(!map.contains_key("secret"));
    assert!(map["host"].as_str().is_some_and(|h| !h.is_empty()));
}

#[test]
fn record_transformer_on_a_plain_line() {
    let (rt, _) = reader_of(
        "<filter **>\n @type record_transformer\n <record>\n  pod a\n </record>\n</filter>\n",
        |r| RecordTransformer::from_reader(r).unwrap(),
    );
    let mut e = Event {
        tag: "t".into(),
        time: gcloud_logging::Timestamp::new(0, 0).unwrap(),
        record: Record::Line("hello".into()),
        origin: None,
    };
    rt.apply(&mut e);
    let Record::Map(map) = &e.record else {
        panic!()
    };
    assert_eq!(map["message"], "hello");
    assert_eq!(map["pod"], "a");
}

const CONTAINER_ID: &str = "5f6e1d3c2b4a59687766554433221100ffeeddccbbaa99887766554433221100";

fn kubernetes_of(e: &Event) -> (serde_json::Value, Option<serde_json::Value>) {
    let Record::Map(map) = &e.record else {
        panic!("the filter makes a map")
    };
    (map["kubernetes"].clone(), map.get("docker").cloned())
}

/// The tag `tail` gives `/var/log/containers/POD_NAMESPACE_CONTAINER-ID.log` with
/// `tag kubernetes.*`: the record gets the plugin's `kubernetes` and `docker` maps, and keeps
/// what it had.
#[test]
fn kubernetes_metadata_from_a_containers_path() {
    let filter = KubernetesMetadata::with_defaults();
    let tag =
        format!("kubernetes.var.log.containers.web-7d9f8b6c5d-x2x4z_shop_api-{CONTAINER_ID}.log");
    let mut e = event(serde_json::json!({"message": "hi", "stream": "stdout"}));
    e.tag = tag.into();
    assert!(filter.apply(&mut e));
    let (kubernetes, docker) = kubernetes_of(&e);
    assert_eq!(
        kubernetes,
        serde_json::json!({
            "namespace_name": "shop",
            "pod_name": "web-7d9f8b6c5d-x2x4z",
            "container_name": "api",
        })
    );
    assert_eq!(
        docker,
        Some(serde_json::json!({"container_id": CONTAINER_ID}))
    );
    assert_eq!(e.record.get("message").unwrap(), "hi");
    assert_eq!(e.record.get("stream").unwrap(), "stdout");
}

/// Pod names may hold dots and container names dashes; the dots of the path before the pod
/// name are not taken for part of it.
#[test]
fn kubernetes_metadata_dotted_pod_and_dashed_container() {
    let filter = KubernetesMetadata::with_defaults();
    let mut e = event(serde_json::json!({"message": "x"}));
    e.tag = format!("k.var.log.containers.db.replica-0_kube-system_side-car-2-{CONTAINER_ID}.log")
        .into();
    filter.apply(&mut e);
    let (kubernetes, _) = kubernetes_of(&e);
    assert_eq!(kubernetes["pod_name"], "db.replica-0");
    assert_eq!(kubernetes["namespace_name"], "kube-system");
    assert_eq!(kubernetes["container_name"], "side-car-2");
}

/// `/var/log/pods/NAMESPACE_POD_UID/CONTAINER/N.log` (and its rotated copies) give the pod's
/// uid as `pod_id` and no container id.
#[test]
fn kubernetes_metadata_from_a_pods_path() {
    let filter = KubernetesMetadata::with_defaults();
    for suffix in ["0.log", "3.log", "0.log.20261203-040000"] {
        let mut e = event(serde_json::json!({"message": "x"}));
        e.tag = format!(
            "kubernetes.var.log.pods.shop_web-0_6a1c0e4e-7f0b-4c55-9d2a-0c4b8e1f2a3b.api.{suffix}"
        )
        .into();
        filter.apply(&mut e);
        let (kubernetes, docker) = kubernetes_of(&e);
        assert_eq!(
            kubernetes,
            serde_json::json!({
                "namespace_name": "shop",
                "pod_name": "web-0",
                "container_name": "api",
                "pod_id": "6a1c0e4e-7f0b-4c55-9d2a-0c4b8e1f2a3b",
            }),
            "{suffix}"
        );
        assert_eq!(docker, None);
    }
}

/// A tag that names no container passes unchanged (a line record stays a line).
#[test]
fn kubernetes_metadata_leaves_other_tags_alone() {
    let filter = KubernetesMetadata::with_defaults();
    for tag in [
        "app.log",
        "kubernetes.var.log.containers.not-a-container.log",
        "kubernetes.var.log.syslog",
    ] {
        let mut e = Event {
            tag: tag.into(),
            time: gcloud_logging::Timestamp::new(0, 0).unwrap(),
            record: Record::Line("hello".into()),
            origin: None,
        };
        assert!(filter.apply(&mut e));
        assert!(matches!(e.record, Record::Line(_)), "{tag}");
    }
}

/// `lookup_from_k8s_field` (on by default): a record that already says its pod keeps it.
#[test]
fn kubernetes_metadata_keeps_a_records_own_pod() {
    let filter = KubernetesMetadata::with_defaults();
    let own = serde_json::json!({"namespace_name": "a", "pod_name": "b", "container_name": "c"});
    let mut e = event(serde_json::json!({"kubernetes": own.clone()}));
    e.tag = format!("kubernetes.var.log.containers.p_n_c-{CONTAINER_ID}.log").into();
    filter.apply(&mut e);
    assert_eq!(kubernetes_of(&e), (own, None));
}

/// The config: a custom regexp with the plugin's group names is used; `watch false` is a
/// warning (the filter always watches); a regexp without the groups and `use_journal` are
/// errors; a typo is an unknown parameter.
#[test]
fn kubernetes_metadata_config() {
    let (filter, diags) = reader_of(
        "<filter kubernetes.**>\n @type kubernetes_metadata\n tag_to_kubernetes_name_regexp /^k\\.(?<namespace>[^.]+)\\.(?<pod_name>[^.]+)\\.(?<container_name>[^.]+)$/\n kubernetes_url https://10.0.0.1:443\n watch false\n skip_labels true\n cache_size 10\n</filter>\n",
        KubernetesMetadata::from_reader,
    );
    let filter = filter.expect("valid");
    let warnings: Vec<_> = diags.iter().filter(|d| !d.is_error()).collect();
    assert_eq!(warnings.len(), 1, "{diags:?}");
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    assert!(warnings[0].message.contains("watch false"), "{warnings:?}");
    let mut e = event(serde_json::json!({}));
    e.tag = "k.ns.pod.ctr".into();
    filter.apply(&mut e);
    assert_eq!(
        kubernetes_of(&e).0,
        serde_json::json!({"namespace_name": "ns", "pod_name": "pod", "container_name": "ctr"})
    );

    for (text, expected) in [
        (
            " tag_to_kubernetes_name_regexp /(?<pod_name>.+)/\n",
            "named groups",
        ),
        (
            " tag_to_kubernetes_name_regexp /(/\n",
            "invalid regular expression",
        ),
        (" use_journal true\n", "journald"),
        (" cache_sise 10\n", "unknown parameter `cache_sise`"),
    ] {
        let (_, diags) = reader_of(
            &format!("<filter **>\n @type kubernetes_metadata\n{text}</filter>\n"),
            KubernetesMetadata::from_reader,
        );
        assert!(
            diags
                .iter()
                .any(|d| d.is_error() && d.message.contains(expected)),
            "{text}: {diags:?}"
        );
    }
}

/// A node's config (every container's log in the `cri` format, the filter, Cloud Logging)
/// loads without a diagnostic, the filter in its place.
#[test]
fn a_node_config_with_kubernetes_metadata_loads_clean() {
    let text = "<source>\n  @type tail\n  path /var/log/containers/*.log\n  pos_file /var/lib/logferry/containers.pos\n  tag kubernetes.*\n  <parse>\n    @type cri\n  </parse>\n</source>\n<filter kubernetes.**>\n  @type kubernetes_metadata\n</filter>\n<match **>\n  @type google_cloud\n  project_id p\n  use_metadata_service false\n</match>\n";
    let (pipeline, warnings) =
        crate::config::load_str(text, Path::new("node.conf")).unwrap_or_else(|d| panic!("{d:?}"));
    assert!(warnings.is_empty(), "{warnings:?}");
    let steps = &pipeline.scopes[&None];
    assert!(
        matches!(steps.first(), Some(crate::config::StepDef::Filter(_, name, _)) if name == "filter0"),
        "the filter comes before the output, named by its place"
    );
    // With an `@id`, the metrics name it so.
    let named = text.replace(
        "@type kubernetes_metadata",
        "@type kubernetes_metadata\n  @id k8s",
    );
    let (pipeline, _) =
        crate::config::load_str(&named, Path::new("node.conf")).unwrap_or_else(|d| panic!("{d:?}"));
    assert!(matches!(
        pipeline.scopes[&None].first(),
        Some(crate::config::StepDef::Filter(_, name, _)) if name == "k8s"
    ));
}
