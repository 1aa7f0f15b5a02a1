use super::*;
use crate::parsers::multiline::MultilineParser;

fn run(parser: &mut dyn LineParser, text: &str) -> Vec<Parsed> {
    let mut out = Vec::new();
    let mut offset = 0;
    for line in text.split('\n') {
        parser.feed(
            Bytes::copy_from_slice(line.as_bytes()),
            offset,
            Timestamp::new(1, 0).unwrap(),
            &mut out,
        );
        offset += line.len() as u64 + 1;
    }
    parser.flush(&mut out);
    out
}

fn map(p: &Parsed) -> Map<String, Value> {
    match &p.record {
        Record::Map(_) | Record::Json(_) => p.record.to_map(),
        Record::Line(_) => panic!("expected a map"),
    }
}

#[test]
fn python_traceback_is_one_event_with_its_exception_message() {
    let log = "2026-11-25 10:00:00,123 INFO app: starting\n\
2026-11-25 10:00:01,000 ERROR app: boom\n\
Traceback (most recent call last):\n  File \"/app/main.py\", line 10, in handler\n    1 / 0\n\
ZeroDivisionError: division by zero\n\
2026-11-25 10:00:02,000 INFO app: after";
    let mut parser = MultilineParser::python(std::time::Duration::from_secs(1));
    let out = run(&mut parser, log);
    assert_eq!(out.len(), 3, "{out:?}");
    let boom = map(&out[1]);
    assert_eq!(boom["severity"], "ERROR");
    assert_eq!(boom["logger"], "app");
    let message = boom["message"].as_str().unwrap();
    assert!(
        message.starts_with("boom\nTraceback (most recent call last):"),
        "{message}"
    );
    assert!(
        message.ends_with("ZeroDivisionError: division by zero"),
        "{message}"
    );
    assert_eq!(out[1].time.to_rfc3339(), "2026-11-25T10:00:01Z");
    assert_eq!(out[1].offset, 43);
}

#[test]
fn python_chained_exceptions_stay_together() {
    let log = "ERROR:root:failed\nTraceback (most recent call last):\n  File \"a.py\", line 1\nKeyError: 'x'\n\n\
During handling of the above exception, another exception occurred:\n\nTraceback (most recent call last):\n  File \"a.py\", line 3\nValueError: bad\nINFO:root:next";
    let mut parser = MultilineParser::python(std::time::Duration::from_secs(1));
    let out = run(&mut parser, log);
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(
        map(&out[0])["message"]
            .as_str()
            .unwrap()
            .ends_with("ValueError: bad")
    );
    assert_eq!(map(&out[1])["message"], "next");
}

#[test]
fn multiline_holds_the_position_at_the_open_record() {
    let mut parser = MultilineParser::new(
        multiline::Grouping::FirstLine(Regex::new(r"^\d").unwrap()),
        Some(Regex::new(r"(?s)^(?P<n>\d+) (?P<body>.*)$").unwrap()),
        TimeConfig {
            key: None,
            format: None,
            keep: false,
        },
        vec![("n".into(), FieldType::Integer)],
        std::time::Duration::from_secs(5),
    );
    let mut out = Vec::new();
    let now = Timestamp::new(1, 0).unwrap();
    parser.feed(Bytes::from_static(b"1 first"), 0, now, &mut out);
    parser.feed(Bytes::from_static(b"  more"), 8, now, &mut out);
    assert!(out.is_empty());
    assert_eq!(parser.held_since(), Some(0));
    parser.feed(Bytes::from_static(b"2 second"), 15, now, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(map(&out[0])["n"], 1);
    assert_eq!(map(&out[0])["body"], "first\n  more");
    assert_eq!(parser.held_since(), Some(15));
}

#[test]
fn json_time_key_and_mismatch_kept_as_text() {
    let mut parser = JsonParser::new(TimeConfig {
        key: Some("time".into()),
        format: None,
        keep: false,
    });
    let out = run(
        &mut parser,
        "{\"time\":\"2026-11-25T10:00:00Z\",\"a\":1}\nnot json",
    );
    assert_eq!(out[0].time.to_rfc3339(), "2026-11-25T10:00:00Z");
    assert!(!map(&out[0]).contains_key("time"));
    assert_eq!(out[1].mismatch, Some("not a JSON object"));
    assert!(matches!(&out[1].record, Record::Line(l) if &l[..] == b"not json"));
}

/// When the record's own `timestamp` object (or `timestampSeconds`/`timestampNanos`) gives
/// the entry its time, an unused `time` stays in `jsonPayload` (Google's agents lift only the
/// time they use), so `format json` must not consume it; the event time still comes from it.
#[test]
fn json_time_key_stays_when_the_records_own_timestamp_outranks_it() {
    let mut parser = JsonParser::new(TimeConfig {
        key: Some("time".into()),
        format: None,
        keep: false,
    });
    let out = run(
        &mut parser,
        concat!(
            r#"{"time":"2026-11-25T10:00:00Z","timestamp":{"seconds":1795000000,"nanos":5},"a":1}"#,
            "\n",
            r#"{"time":"2026-11-25T10:00:00Z","timestampSeconds":"1795000000","timestampNanos":0}"#,
            "\n",
            r#"{"time":"2026-11-25T10:00:00Z","timestamp":{"seconds":1795000000}}"#,
            "\n",
            // Left to serde by the fast scanner (a repeated key): the same rule.
            r#"{"time":"2026-11-25T10:00:00Z","timestamp":{"seconds":1,"nanos":0},"a":1,"a":2}"#,
        ),
    );
    assert_eq!(out.len(), 4);
    for (i, parsed) in out.iter().enumerate() {
        assert_eq!(parsed.time.to_rfc3339(), "2026-11-25T10:00:00Z", "line {i}");
    }
    assert_eq!(map(&out[0])["time"], "2026-11-25T10:00:00Z");
    assert_eq!(map(&out[1])["time"], "2026-11-25T10:00:00Z");
    // A `timestamp` without `nanos` is no time of its own: `time` is the time, consumed.
    assert!(!map(&out[2]).contains_key("time"));
    assert!(matches!(out[3].record, Record::Map(_)));
    assert_eq!(map(&out[3])["time"], "2026-11-25T10:00:00Z");
}

#[test]
fn regexp_named_captures_types_and_time() {
    let mut parser = RegexpParser {
        regex: Regex::new(r"^(?P<time>\S+) (?P<level>\w+) (?P<ms>\d+)$").unwrap(),
        time: TimeConfig {
            key: Some("time".into()),
            format: Some("%Y-%m-%dT%H:%M:%S%z".into()),
            keep: false,
        },
        types: vec![("ms".into(), FieldType::Integer)],
    };
    let out = run(&mut parser, "2026-11-25T10:00:00+0000 INFO 42");
    assert_eq!(map(&out[0])["ms"], 42);
    assert_eq!(map(&out[0])["level"], "INFO");
    assert_eq!(out[0].time.to_rfc3339(), "2026-11-25T10:00:00Z");
}

#[test]
fn ltsv_fields() {
    let mut parser = LtsvParser {
        time: TimeConfig {
            key: None,
            format: None,
            keep: false,
        },
    };
    let out = run(&mut parser, "host:127.0.0.1\tstatus:200");
    assert_eq!(map(&out[0])["status"], "200");
}
