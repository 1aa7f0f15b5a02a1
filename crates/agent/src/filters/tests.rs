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
