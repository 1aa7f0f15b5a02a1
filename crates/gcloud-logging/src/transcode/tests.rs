use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::*;
use crate::encode::encode_entry;
use crate::lift::{
    LABELS_KEY, OPERATION_KEY, SOURCE_LOCATION_KEY, TIMESTAMP_KEY, TIMESTAMP_NANOS_KEY,
    TIMESTAMP_SECONDS_KEY, TRACE_SAMPLED_CAMEL_KEY, TRACE_SAMPLED_KEY,
};

const PROJECT: &str = "my-project";
const DEFAULT_ID: &str = "default-insert-id";

fn default_time() -> Timestamp {
    Timestamp::new(1_780_000_000, 123_000_000).unwrap()
}

/// The general path: parse the map, drop the consumed key, lift, fill the defaults, serialize.
fn reference(line: &[u8], without: Option<&str>, log_name: Option<&str>, detected: bool) -> Value {
    let mut map: Map<String, Value> = serde_json::from_slice(line).unwrap();
    if let Some(key) = without {
        map.remove(key);
    }
    let mut entry = if detected {
        lift_detected_json(map, PROJECT)
    } else {
        lift_record(map, PROJECT)
    };
    entry.timestamp.get_or_insert(default_time());
    entry.insert_id.get_or_insert_with(|| DEFAULT_ID.to_owned());
    entry.log_name = log_name.map(str::to_owned);
    let mut out = Vec::new();
    encode_entry(&mut out, &entry).unwrap();
    serde_json::from_slice(&out).unwrap()
}

fn fast(line: &[u8], without: Option<&str>, log_name: Option<&str>) -> Result<Value, ScanError> {
    fast_as(line, without, log_name, false)
}

fn fast_as(
    line: &[u8],
    without: Option<&str>,
    log_name: Option<&str>,
    detected_json: bool,
) -> Result<Value, ScanError> {
    let mut members = Vec::new();
    scan_object(line, &mut members)?;
    let mut out = Vec::new();
    JsonEntry {
        line,
        members: &members,
        without_key: without,
        project_id: PROJECT,
        timestamp: default_time(),
        insert_id: DEFAULT_ID,
        log_name,
        detected_json,
    }
    .encode(&mut out);
    Ok(serde_json::from_slice(&out).unwrap_or_else(|e| {
        panic!(
            "fast path wrote invalid JSON ({e}): {}",
            String::from_utf8_lossy(&out)
        )
    }))
}

/// Agreement on one line: same verdict as serde, and the same entry when both accept it, for
/// a `format json` record and for a line `detect_json` found.
fn check(line: &str, without: Option<&str>) {
    let serde_ok = serde_json::from_slice::<Map<String, Value>>(line.as_bytes()).is_ok();
    for detected in [false, true] {
        match fast_as(
            line.as_bytes(),
            without,
            Some("projects/p/logs/l"),
            detected,
        ) {
            Ok(entry) => {
                assert!(serde_ok, "fast path accepted what serde rejects: {line}");
                let expected = reference(
                    line.as_bytes(),
                    without,
                    Some("projects/p/logs/l"),
                    detected,
                );
                assert!(
                    same(&entry, &expected),
                    "line: {line} (detect_json: {detected})\n fast: {entry}\n general: {expected}"
                );
            }
            Err(ScanError::NotAnObject) => assert!(!serde_ok, "fast path rejected valid {line}"),
            Err(ScanError::Unsupported) => assert!(serde_ok, "unsupported but invalid: {line}"),
        }
    }
}

fn same(a: &Value, b: &Value) -> bool {
    crate::fuzzing::same_json(a, b)
}

#[test]
fn access_line_of_the_web_api_is_lifted() {
    let line = r#"{"severity":"INFO","time":"2026-11-25T10:00:00.123456Z","message":"GET /items 200","logger":"access","httpRequest":{"requestMethod":"GET","requestUrl":"/items","status":200,"responseSize":"25","latency":"0.000123s","remoteIp":"127.0.0.1","userAgent":"curl/8"},"logging.googleapis.com/trace":"4bf92f3577b34da6a3ce929d0e0e4736","logging.googleapis.com/spanId":"00f067aa0ba902b7","logging.googleapis.com/sourceLocation":{"file":"src/access.rs","line":"42","function":"web_api::access"}}"#;
    let entry = fast(line.as_bytes(), None, None).unwrap();
    assert_eq!(entry["severity"], "INFO");
    assert_eq!(entry["timestamp"], "2026-11-25T10:00:00.123456Z");
    assert_eq!(entry["httpRequest"]["status"], 200);
    assert_eq!(
        entry["trace"],
        "projects/my-project/traces/4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(
        entry["jsonPayload"],
        json!({"message": "GET /items 200", "logger": "access"})
    );
    check(line, None);
}

#[test]
fn lone_message_becomes_text_payload_and_defaults_fill_in() {
    let entry = fast(br#"{"message":"hello","severity":"ERROR"}"#, None, None).unwrap();
    assert_eq!(entry["textPayload"], "hello");
    assert_eq!(entry["insertId"], DEFAULT_ID);
    assert!(entry.get("jsonPayload").is_none());
    check(r#"{"message":"hello","severity":"ERROR"}"#, None);
    check(r#"{"message":{"a":1}}"#, None);
    check(r#"{"message":"m","severity":{"bad":1}}"#, None);
    check(r#"{}"#, None);
    check(r#"  { "severity" : "INFO" }  "#, None);
}

#[test]
fn a_line_detect_json_found_keeps_its_lone_message_structured() {
    let line = br#"{"message":"hello","severity":"ERROR"}"#;
    let entry = fast_as(line, None, None, true).unwrap();
    assert_eq!(entry["jsonPayload"], json!({"message": "hello"}));
    assert_eq!(entry["severity"], "ERROR");
    assert!(entry.get("textPayload").is_none());
}

#[test]
fn severities_the_plugin_reads_agree_on_both_paths() {
    for value in [
        r#""CONFIG""#,
        r#""loud""#,
        r#"" 450 ""#,
        r#""450.5""#,
        r#""\u0045RROR""#,
        "450",
        "450.5",
        "4e2",
        "-0",
        "-100",
        "9223372036854775807",
        "9223372036854775808",
        "18446744073709551616",
        "true",
        "null",
        "{}",
    ] {
        check(&format!(r#"{{"severity":{value},"message":"m"}}"#), None);
        check(&format!(r#"{{"severity":{value},"k":1}}"#), None);
    }
    let entry = fast(br#"{"severity":"CONFIG","k":1}"#, None, None).unwrap();
    assert_eq!(entry["severity"], "DEBUG");
    let entry = fast(br#"{"severity":450.5,"k":1}"#, None, None).unwrap();
    assert_eq!(entry["severity"], "DEFAULT");
    assert_eq!(entry["jsonPayload"], json!({"k": 1}));
}

#[test]
fn the_consumed_time_key_is_left_out() {
    let line = r#"{"time":"2026-11-25T10:00:00Z","message":"m","k":1}"#;
    let entry = fast(line.as_bytes(), Some("time"), None).unwrap();
    assert_eq!(entry["timestamp"], "2026-05-28T20:26:40.123Z");
    assert_eq!(entry["jsonPayload"], json!({"message": "m", "k": 1}));
    check(line, Some("time"));
    check(line, Some("k"));
}

#[test]
fn what_the_fast_path_leaves_to_serde() {
    let mut m = Vec::new();
    for line in [
        r#"{"a":1,"a":2}"#,
        r#"{"a\u0062":1}"#,
        r#"{"x":{"b":1,"b":2}}"#,
        r#"{"x":{"\n":1}}"#,
    ] {
        assert_eq!(
            scan_object(line.as_bytes(), &mut m),
            Err(ScanError::Unsupported),
            "{line}"
        );
        check(line, None);
    }
    let many: String = format!(
        "{{{}}}",
        (0..MAX_MEMBERS + 1)
            .map(|i| format!("\"k{i}\":{i}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    assert_eq!(
        scan_object(many.as_bytes(), &mut m),
        Err(ScanError::Unsupported)
    );
    let deep = format!("{{\"d\":{}1{}}}", "[".repeat(100), "]".repeat(100));
    assert_eq!(
        scan_object(deep.as_bytes(), &mut m),
        Err(ScanError::Unsupported)
    );
    let too_deep = format!("{{\"d\":{}1{}}}", "[".repeat(200), "]".repeat(200));
    assert_eq!(
        scan_object(too_deep.as_bytes(), &mut m),
        Err(ScanError::NotAnObject),
        "serde's own depth limit"
    );
}

#[test]
fn broken_lines_are_rejected_like_serde_does() {
    for line in [
        "",
        "{",
        "}",
        "[]",
        "\"s\"",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\":1,}",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":.5}",
        "{\"a\":-}",
        "{\"a\":1e}",
        "{\"a\":1e400}",
        "{\"a\":-1e400}",
        "{\"a\":1e-400}",
        "{\"a\":123456789012345678901234567890}",
        "{\"a\":tru}",
        "{\"a\":nul}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\ud800\"}",
        "{\"a\":\"\\udc00\"}",
        "{\"a\":\"\\ud800\\u0041\"}",
        "{\"a\":\"\\ud83d\\ude00\"}",
        "{\"a\":\"tab\there\"}",
        "{\"a\":1} x",
        "{\"a\":1}{}",
        "\u{feff}{\"a\":1}",
        "{\"a\":[1,2,]}",
        "{\"a\":{\"b\":1,}}",
        "{\"a\":{\"b\" 1}}",
        "{\"a\":\"\\u00e9\\/\"}",
    ] {
        check(line, None);
    }
    let mut m = Vec::new();
    assert_eq!(
        scan_object(b"{\"a\":\"\xff\"}", &mut m),
        Err(ScanError::NotAnObject)
    );
}

/// JSON text of a value, with some of the spellings serde_json would not write itself.
fn value_text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        (-1e9f64..1e9).prop_map(|f| format!("{f:e}")),
        Just("0.5".to_owned()),
        Just("-0".to_owned()),
        Just("1E+2".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        Just("null".to_owned()),
        "[a-zA-Z0-9 /:._-]{0,12}".prop_map(|s| format!("\"{s}\"")),
        Just(r#""esc \" \\ \/ \n \u00e9 \ud83d\ude00 é""#.to_owned()),
        Just(r#""2026-11-25T10:00:00.5+09:00""#.to_owned()),
        Just(r#""4bf92f3577b34da6a3ce929d0e0e4736""#.to_owned()),
        Just(r#""warn""#.to_owned()),
        Just(r#""0.25s""#.to_owned()),
        Just("450".to_owned()),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec((key(), inner), 0..4).prop_map(|members| {
                // Keys of a nested object are unique here; duplicates are tested above.
                let mut seen = std::collections::BTreeSet::new();
                let body: Vec<String> = members
                    .into_iter()
                    .filter(|(k, _)| seen.insert(k.clone()))
                    .map(|(k, v)| format!("\"{k}\" : {v}"))
                    .collect();
                format!("{{ {} }}", body.join(", "))
            }),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(LIFTED_KEYS.to_vec()).prop_map(str::to_owned),
        Just("message".to_owned()),
        Just("seconds".to_owned()),
        Just("nanos".to_owned()),
        Just("requestMethod".to_owned()),
        Just("status".to_owned()),
        Just("latency".to_owned()),
        Just("file".to_owned()),
        Just("line".to_owned()),
        "[a-z]{1,6}",
    ]
}

/// A well-shaped value for a key Google's agents lift, so lifting is exercised, not only
/// the mistyped cases.
fn shaped(key: &str) -> BoxedStrategy<String> {
    match key {
        SEVERITY_KEY => prop::sample::select(vec![
            r#""ERROR""#,
            r#""warn""#,
            "300",
            r#""bogus""#,
            r#""config""#,
            "450.5",
            "-3",
        ])
            .prop_map(str::to_owned)
            .boxed(),
        HTTP_REQUEST_KEY => prop::sample::select(vec![
            r#"{"requestMethod":"GET","status":"404","latency":"1.5s","cacheHit":true,"extra":1}"#,
            r#"{"requestMethod":"GET","requestUrl":"/a?b=1","status":200,"responseSize":"25","requestSize":0,"latency":" 0.000123s ","remoteIp":"127.0.0.1","serverIp":"10.0.0.1","userAgent":"curl/8 é","referer":"","protocol":"HTTP/1.1","cacheLookup":false,"cacheHit":true,"cacheValidatedWithOriginServer":false,"cacheFillBytes":"-3"}"#,
            r#"{"status":-0}"#,
            r#"{"status":200.0}"#,
            r#"{"status":2147483648}"#,
            r#"{"responseSize":9223372036854775808}"#,
            r#"{"responseSize":" +12 "}"#,
            r#"{"requestUrl":"\/a"}"#,
            r#"{"latency":"soon"}"#,
            r#"{"cacheHit":"true"}"#,
            r#"{"cacheHit":"false","cacheLookup":"yes"}"#,
            r#"{ "requestMethod" : "POST" , "status" : 201 }"#,
            r#"{}"#,
            r#"{"requestMethod":null}"#,
        ])
        .prop_map(str::to_owned)
        .boxed(),
        TIMESTAMP_KEY => prop::sample::select(vec![
            r#"{"seconds":"1780000000","nanos":5}"#,
            r#"{"seconds":1780000000}"#,
        ])
        .prop_map(str::to_owned)
        .boxed(),
        TIMESTAMP_SECONDS_KEY => Just("1780000001".to_owned()).boxed(),
        TIMESTAMP_NANOS_KEY => Just("7".to_owned()).boxed(),
        LABELS_KEY => Just(r#"{"a":"b","c":"d"}"#.to_owned()).boxed(),
        SOURCE_LOCATION_KEY => Just(r#"{"file":"a.rs","line":"3"}"#.to_owned()).boxed(),
        OPERATION_KEY => prop::sample::select(vec![
            r#"{"id":"op","first":true}"#,
            r#"{"id":"op","producer":"p","first":"true","last":"false"}"#,
            r#"{"id":"op","first":"yes"}"#,
        ])
        .prop_map(str::to_owned)
        .boxed(),
        TRACE_SAMPLED_KEY | TRACE_SAMPLED_CAMEL_KEY => {
            prop::sample::select(vec!["true", r#""false""#])
                .prop_map(str::to_owned)
                .boxed()
        }
        TRACE_KEY | SPAN_ID_KEY | INSERT_ID_KEY => prop::sample::select(vec![
            r#""4bf92f3577b34da6a3ce929d0e0e4736""#,
            r#""projects/x/traces/abc""#,
            r#""""#,
            r#""\u0061b""#,
            "7",
        ])
        .prop_map(str::to_owned)
        .boxed(),
        _ => value_text().boxed(),
    }
}

fn record() -> impl Strategy<Value = (String, Option<String>)> {
    let member = key().prop_flat_map(|k| {
        let v = prop_oneof![3 => shaped(&k), 1 => value_text()];
        (Just(k), v)
    });
    (
        prop::collection::vec(member, 0..10),
        prop::option::of(prop::sample::select(vec!["time", "message", "k"])),
        prop::sample::select(vec!["", " ", "\t", "\r\n "]),
    )
        .prop_map(|(members, without, ws)| {
            let mut seen = std::collections::BTreeSet::new();
            let body: Vec<String> = members
                .into_iter()
                .filter(|(k, _)| seen.insert(k.clone()))
                .map(|(k, v)| format!("{ws}\"{k}\"{ws}:{ws}{v}{ws}"))
                .collect();
            (
                format!("{ws}{{{}}}{ws}", body.join(",")),
                without.map(str::to_owned),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn plain_prefix_finds_the_first_special_byte(
        bytes in prop::collection::vec(prop_oneof![any::<u8>(), Just(b'"'), Just(b'\\'), 0x18u8..0x22], 0..40),
        plain in 0usize..40,
    ) {
        let mut text = vec![b'a'; plain];
        text.extend_from_slice(&bytes);
        let naive = text.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
        prop_assert_eq!(super::plain_prefix(&text), naive);
    }

    #[test]
    fn fast_path_gives_the_general_paths_entry((line, without) in record()) {
        check(&line, without.as_deref());
    }

    /// Mangled records: every verdict matches serde's, and accepted ones encode the same.
    #[test]
    fn mangled_lines_get_serdes_verdict(
        (line, _) in record(),
        cut in any::<prop::sample::Index>(),
        junk in prop::sample::select(vec!["", "\"", "\\", ",", "}", "{", "]", ":", "1", "e", "\u{1}", "\\u", "é"]),
    ) {
        let at = cut.index(line.len() + 1);
        let at = (0..=at).rev().find(|&i| line.is_char_boundary(i)).unwrap_or(0);
        let mangled = format!("{}{junk}{}", &line[..at], &line[at..]);
        check(&mangled, None);
        let truncated = &line[..at];
        check(truncated, None);
    }
}
