use super::*;
use serde_json::json;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn lift(value: Value) -> LogEntry {
    let Value::Object(record) = value else {
        panic!("test records are objects")
    };
    lift_record(record, "my-project")
}

fn payload(value: Value) -> Option<Map<String, Value>> {
    match value {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

#[test]
fn plain_record_stays_json_payload() {
    let e = lift(json!({"message": "hi", "user": "u1", "n": 3}));
    assert_eq!(
        e.json_payload,
        payload(json!({"message": "hi", "user": "u1", "n": 3}))
    );
    assert_eq!(e.text_payload, None);
    assert_eq!(e.severity, None);
    assert_eq!(e.timestamp, None);
}

#[test]
fn severity_is_lifted_leniently() {
    let e = lift(json!({"severity": "warn", "message": "m", "x": 1}));
    assert_eq!(e.severity, Some(Severity::Warning));
    assert_eq!(e.json_payload, payload(json!({"message": "m", "x": 1})));
    assert_eq!(
        lift(json!({"severity": 450, "x": 1})).severity,
        Some(Severity::Warning)
    );
    assert_eq!(
        lift(json!({"severity": "F", "x": 1})).severity,
        Some(Severity::Critical)
    );
}

/// fluent-plugin-google-cloud's `compute_severity` deletes `severity` from the record whatever
/// it holds and `parse_severity` falls back to `DEFAULT`: a string or number the plugin does not
/// know is lifted as `DEFAULT` here too (`CONFIG` is one it knows: java.util.logging's level).
#[test]
fn unknown_severity_strings_and_fractional_numbers_are_default() {
    for (value, want) in [
        (json!("CONFIG"), Severity::Debug),
        (json!("loud"), Severity::Default),
        (json!("450.5"), Severity::Default),
        (json!(450.5), Severity::Default),
        (json!(400.0), Severity::Default),
        (json!(-100), Severity::Default),
        (json!(""), Severity::Default),
    ] {
        let e = lift(json!({"severity": value.clone(), "x": 1}));
        assert_eq!(e.severity, Some(want), "{value}");
        assert_eq!(e.json_payload, payload(json!({"x": 1})), "{value}");
    }
}

/// Not a string or a number: no severity at all, so it is left where the application put it
/// (the plugin would drop it; logferry keeps what it cannot read).
#[test]
fn a_severity_that_is_not_text_or_a_number_stays_in_the_payload() {
    for bad in [
        json!({"level": 3}),
        json!(true),
        json!(null),
        json!(["ERROR"]),
    ] {
        let e = lift(json!({"severity": bad.clone(), "x": 1}));
        assert_eq!(e.severity, None);
        assert_eq!(e.json_payload, payload(json!({"severity": bad, "x": 1})));
    }
}

#[test]
fn lone_string_message_becomes_text_payload() {
    let e = lift(json!({"message": "hello", "severity": "ERROR", "time": "2026-11-25T10:00:00Z"}));
    assert_eq!(e.text_payload.as_deref(), Some("hello"));
    assert_eq!(e.json_payload, None);
    assert_eq!(e.severity, Some(Severity::Error));
    // Not a string, or not alone: stays structured.
    assert_eq!(
        lift(json!({"message": {"a": 1}})).json_payload,
        payload(json!({"message": {"a": 1}}))
    );
    assert_eq!(lift(json!({"message": 5})).text_payload, None);
    assert_eq!(lift(json!({"message": "m", "k": "v"})).text_payload, None);
}

/// Google's agent documentation: JSON that `detect_json` parsed out of a text line is always
/// ingested as `jsonPayload` (fluent-plugin-google-cloud's `set_payload` checks `is_json`
/// before the lone-`message` rule).
#[test]
fn a_record_detect_json_found_is_always_json_payload() {
    let Value::Object(record) =
        json!({"message": "hello", "severity": "ERROR", "time": "2026-11-25T10:00:00Z"})
    else {
        unreachable!()
    };
    let e = lift_detected_json(record, "p");
    assert_eq!(e.text_payload, None);
    assert_eq!(e.json_payload, payload(json!({"message": "hello"})));
    assert_eq!(e.severity, Some(Severity::Error));
    assert_eq!(e.timestamp.unwrap().to_string(), "2026-11-25T10:00:00Z");
}

#[test]
fn empty_record_is_an_empty_json_payload() {
    assert_eq!(lift(json!({})).json_payload, Some(Map::new()));
    assert_eq!(
        lift(json!({"severity": "INFO"})).json_payload,
        Some(Map::new())
    );
}

#[test]
fn time_rfc3339_is_lifted() {
    let e = lift(json!({"time": "2026-11-25T19:00:00.5+09:00", "x": 1}));
    assert_eq!(e.timestamp.unwrap().to_string(), "2026-11-25T10:00:00.500Z");
    assert_eq!(e.json_payload, payload(json!({"x": 1})));
}

#[test]
fn bad_time_stays_in_the_payload() {
    for bad in [
        json!("yesterday"),
        json!("2026-11-25 10:00"),
        json!(1_795_000_000),
        json!({"seconds": 1}),
    ] {
        let e = lift(json!({"time": bad.clone()}));
        assert_eq!(e.timestamp, None, "{bad}");
        assert_eq!(e.json_payload, payload(json!({"time": bad})));
    }
}

#[test]
fn timestamp_object_is_lifted() {
    let e = lift(json!({"timestamp": {"seconds": 1_795_000_000, "nanos": 120_000_000}, "x": 1}));
    assert_eq!(
        e.timestamp,
        Some(Timestamp {
            seconds: 1_795_000_000,
            nanos: 120_000_000
        })
    );
    assert_eq!(e.json_payload, payload(json!({"x": 1})));
    let e = lift(json!({"timestamp": {"seconds": "1795000000", "nanos": "0"}}));
    assert_eq!(
        e.timestamp,
        Some(Timestamp {
            seconds: 1_795_000_000,
            nanos: 0
        })
    );
}

/// Google's pages do not say what a `timestamp` with `seconds` and no `nanos` is;
/// fluent-plugin-google-cloud's `compute_timestamp` lifts the object only with both keys, so
/// one without `nanos` stays in the payload and the next time key (or the read time) is used.
#[test]
fn mistyped_timestamp_object_stays() {
    for bad in [
        json!({"seconds": 1_795_000_000}),
        json!({"seconds": "1795000000"}),
        json!({"seconds": 1, "nanos": 1_000_000_000}),
        json!({"seconds": 1, "nanos": -1}),
        json!({"nanos": 5}),
        json!({"seconds": 1.5, "nanos": 0}),
        json!({"seconds": 1, "nanos": 0, "extra": true}),
        json!({"seconds": i64::MAX, "nanos": 0}),
        json!("2026-11-25T10:00:00Z"),
    ] {
        let e = lift(json!({"timestamp": bad.clone()}));
        assert_eq!(e.timestamp, None, "{bad}");
        assert_eq!(e.json_payload, payload(json!({"timestamp": bad})));
    }
    let e = lift(json!({"timestamp": {"seconds": 1_795_000_000}, "time": "2026-11-25T10:00:00Z"}));
    assert_eq!(e.timestamp.unwrap().to_string(), "2026-11-25T10:00:00Z");
    assert_eq!(
        e.json_payload,
        payload(json!({"timestamp": {"seconds": 1_795_000_000}}))
    );
}

#[test]
fn timestamp_seconds_and_nanos_are_lifted_together() {
    let e = lift(json!({"timestampSeconds": 1_795_000_000, "timestampNanos": 7, "x": 1}));
    assert_eq!(
        e.timestamp,
        Some(Timestamp {
            seconds: 1_795_000_000,
            nanos: 7
        })
    );
    assert_eq!(e.json_payload, payload(json!({"x": 1})));
    let e = lift(json!({"timestampSeconds": "1795000000", "timestampNanos": "0"}));
    assert_eq!(
        e.timestamp,
        Some(Timestamp {
            seconds: 1_795_000_000,
            nanos: 0
        })
    );
    // Either half alone, or a mistyped half, is no time (the plugin wants both keys).
    for bad in [
        json!({"timestampSeconds": 1_795_000_000, "timestampNanos": "lots"}),
        json!({"timestampSeconds": "1795000000"}),
        json!({"timestampNanos": 5}),
    ] {
        let e = lift(bad.clone());
        assert_eq!(e.timestamp, None, "{bad}");
        assert_eq!(e.json_payload, payload(bad));
    }
}

#[test]
fn timestamp_precedence_leaves_the_unused_keys() {
    let e = lift(json!({
        "timestamp": {"seconds": 100, "nanos": 0},
        "timestampSeconds": 200,
        "timestampNanos": 0,
        "time": "2026-11-25T10:00:00Z"
    }));
    assert_eq!(
        e.timestamp,
        Some(Timestamp {
            seconds: 100,
            nanos: 0
        })
    );
    assert_eq!(
        e.json_payload,
        payload(
            json!({"timestampSeconds": 200, "timestampNanos": 0, "time": "2026-11-25T10:00:00Z"})
        )
    );
    let e =
        lift(json!({"timestampSeconds": 200, "timestampNanos": 5, "time": "2026-11-25T10:00:00Z"}));
    assert_eq!(
        e.timestamp,
        Some(Timestamp {
            seconds: 200,
            nanos: 5
        })
    );
    assert_eq!(
        e.json_payload,
        payload(json!({"time": "2026-11-25T10:00:00Z"}))
    );
    let e = lift(json!({"timestamp": "bad", "time": "2026-11-25T10:00:00Z"}));
    assert_eq!(e.timestamp.unwrap().to_string(), "2026-11-25T10:00:00Z");
    assert_eq!(e.json_payload, payload(json!({"timestamp": "bad"})));
}

#[test]
fn own_timestamp_is_what_would_win_over_time() {
    let record = |v: Value| match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    };
    let at = |s| {
        Some(Timestamp {
            seconds: s,
            nanos: 0,
        })
    };
    assert_eq!(
        own_timestamp(&record(
            json!({"timestamp": {"seconds": 5, "nanos": 0}, "time": "x"})
        )),
        at(5)
    );
    assert_eq!(
        own_timestamp(&record(
            json!({"timestamp": "bad", "timestampSeconds": 6, "timestampNanos": 0})
        )),
        at(6)
    );
    for none in [
        json!({"time": "2026-11-25T10:00:00Z"}),
        json!({"timestamp": {"seconds": 5}}),
        json!({"timestampSeconds": 6}),
        json!({}),
    ] {
        assert_eq!(own_timestamp(&record(none.clone())), None, "{none}");
    }
}

#[test]
fn http_request_is_lifted() {
    let e = lift(json!({"httpRequest": {
        "requestMethod": "GET", "requestUrl": "https://example.com/a?b=c", "requestSize": "123",
        "status": 200, "responseSize": 4567, "userAgent": "curl/8", "remoteIp": "10.0.0.1",
        "serverIp": "10.0.0.2", "referer": "https://r/", "latency": "0.120s", "cacheLookup": true,
        "cacheHit": false, "cacheValidatedWithOriginServer": true, "cacheFillBytes": "9", "protocol": "HTTP/1.1"
    }, "message": "GET /a"}));
    let want = HttpRequest {
        request_method: Some("GET".into()),
        request_url: Some("https://example.com/a?b=c".into()),
        request_size: Some(123),
        status: Some(200),
        response_size: Some(4567),
        user_agent: Some("curl/8".into()),
        remote_ip: Some("10.0.0.1".into()),
        server_ip: Some("10.0.0.2".into()),
        referer: Some("https://r/".into()),
        latency: Some(Duration {
            seconds: 0,
            nanos: 120_000_000,
        }),
        cache_lookup: Some(true),
        cache_hit: Some(false),
        cache_validated_with_origin_server: Some(true),
        cache_fill_bytes: Some(9),
        protocol: Some("HTTP/1.1".into()),
    };
    assert_eq!(e.http_request, Some(want));
    assert_eq!(e.text_payload.as_deref(), Some("GET /a"));
}

/// A malformed field inside an otherwise valid `httpRequest` (Google's pages do not say): the
/// other fields are lifted one by one, as fluent-plugin-google-cloud's `set_log_entry_fields`
/// does; the malformed one stays in `jsonPayload.httpRequest` where the plugin would coerce it
/// (`"OK".to_i` is status 0) or drop it (a latency its regexp does not match).
#[test]
fn mistyped_http_request_fields_stay_in_the_payload() {
    let e = lift(
        json!({"httpRequest": {"status": "OK", "requestMethod": "GET", "latency": 0.1, "custom": 1}}),
    );
    assert_eq!(
        e.http_request.unwrap().request_method.as_deref(),
        Some("GET")
    );
    assert_eq!(
        e.json_payload,
        payload(json!({"httpRequest": {"status": "OK", "latency": 0.1, "custom": 1}}))
    );
    for bad in [json!("GET /"), json!({"status": "OK"}), json!({})] {
        let e = lift(json!({"httpRequest": bad.clone()}));
        assert_eq!(e.http_request, None, "{bad}");
        assert_eq!(e.json_payload, payload(json!({"httpRequest": bad})));
    }
}

#[test]
fn special_fields_are_lifted() {
    let e = lift(json!({
        "logging.googleapis.com/insertId": "id-1",
        "logging.googleapis.com/labels": {"team": "api", "env": "prod"},
        "logging.googleapis.com/operation": {"id": "op", "producer": "p", "first": true},
        "logging.googleapis.com/sourceLocation": {"file": "main.py", "line": "42", "function": "handle"},
        "logging.googleapis.com/spanId": "000000000000004a",
        "logging.googleapis.com/trace": TRACE_ID,
        "logging.googleapis.com/trace_sampled": true,
        "message": "done"
    }));
    assert_eq!(e.insert_id.as_deref(), Some("id-1"));
    let labels = BTreeMap::from([
        ("team".to_owned(), "api".to_owned()),
        ("env".to_owned(), "prod".to_owned()),
    ]);
    assert_eq!(e.labels, Some(labels));
    let op = e.operation.unwrap();
    assert_eq!(
        (op.id.as_deref(), op.producer.as_deref(), op.first, op.last),
        (Some("op"), Some("p"), Some(true), None)
    );
    let loc = e.source_location.unwrap();
    assert_eq!(
        (loc.file.as_deref(), loc.line, loc.function.as_deref()),
        (Some("main.py"), Some(42), Some("handle"))
    );
    assert_eq!(e.span_id.as_deref(), Some("000000000000004a"));
    assert_eq!(
        e.trace,
        Some(format!("projects/my-project/traces/{TRACE_ID}"))
    );
    assert_eq!(e.trace_sampled, Some(true));
    assert_eq!(e.text_payload.as_deref(), Some("done"));
    assert_eq!(e.json_payload, None);
}

#[test]
fn trace_is_qualified_only_when_bare() {
    let qualified = format!("projects/other/traces/{TRACE_ID}");
    assert_eq!(
        lift(json!({TRACE_KEY: qualified.clone()})).trace,
        Some(qualified)
    );
    assert_eq!(
        lift(json!({TRACE_KEY: "abc"})).trace.as_deref(),
        Some("abc")
    );
    let Value::Object(record) = json!({TRACE_KEY: TRACE_ID}) else {
        unreachable!()
    };
    assert_eq!(lift_record(record, "").trace.as_deref(), Some(TRACE_ID));
    assert_eq!(
        lift(json!({TRACE_SAMPLED_CAMEL_KEY: false})).trace_sampled,
        Some(false)
    );
}

#[test]
fn mistyped_special_fields_stay_in_the_payload() {
    let bad = json!({
        "logging.googleapis.com/insertId": 5,
        "logging.googleapis.com/labels": {"n": 1},
        "logging.googleapis.com/operation": {"id": "op", "unknown": 1},
        "logging.googleapis.com/sourceLocation": {"line": "forty-two"},
        "logging.googleapis.com/spanId": ["x"],
        "logging.googleapis.com/trace": {"id": TRACE_ID},
        "logging.googleapis.com/trace_sampled": "yes"
    });
    let e = lift(bad.clone());
    assert_eq!(e.insert_id, None);
    assert_eq!(e.labels, None);
    assert_eq!(e.operation, None);
    assert_eq!(e.source_location, None);
    assert_eq!(e.span_id, None);
    assert_eq!(e.trace, None);
    assert_eq!(e.trace_sampled, None);
    assert_eq!(e.json_payload, payload(bad));
    let e = lift(json!({OPERATION_KEY: {"id": 7}}));
    assert_eq!(e.operation, None);
    assert_eq!(e.json_payload, payload(json!({OPERATION_KEY: {"id": 7}})));
}

#[test]
fn lifted_entry_serializes_to_the_wire_shape() {
    let e = lift(
        json!({"severity": "error", "message": "boom", "code": 7, "time": "2026-11-25T10:00:00.123Z"}),
    );
    assert_eq!(
        serde_json::to_value(&e).unwrap(),
        json!({"severity": "ERROR", "timestamp": "2026-11-25T10:00:00.123Z", "jsonPayload": {"message": "boom", "code": 7}})
    );
}

/// The record of Google's structured-logging page ("Special JSON fields in messages",
/// cloud.google.com/logging/docs/structured-logging) lifts to the entry the page shows:
/// `"first": "true"` in `logging.googleapis.com/operation` becomes `first: true`, the string
/// line `"142"` an int64, and what is not special (`message`, `times`) stays in `jsonPayload`.
#[test]
fn googles_structured_logging_example_lifts_to_its_entry() {
    let e = lift(json!({
        "severity": "ERROR",
        "message": "There was an error in the application.",
        "httpRequest": {"requestMethod": "GET"},
        "times": "2020-10-12T07:20:50.52Z",
        "logging.googleapis.com/insertId": "42",
        "logging.googleapis.com/labels": {"user_label_1": "value_1", "user_label_2": "value_2"},
        "logging.googleapis.com/operation": {
            "id": "get_data",
            "producer": "github.com/MyProject/MyApplication",
            "first": "true"
        },
        "logging.googleapis.com/sourceLocation": {
            "file": "get_data.py",
            "line": "142",
            "function": "getData"
        },
        "logging.googleapis.com/spanId": "000000000000004a",
        "logging.googleapis.com/trace": "projects/my-projectid/traces/06796866738c859f2f19b7cfb3214824",
        "logging.googleapis.com/trace_sampled": false
    }));
    assert_eq!(
        serde_json::to_value(&e).unwrap(),
        json!({
            "insertId": "42",
            "jsonPayload": {
                "message": "There was an error in the application.",
                "times": "2020-10-12T07:20:50.52Z"
            },
            "httpRequest": {"requestMethod": "GET"},
            "severity": "ERROR",
            "labels": {"user_label_1": "value_1", "user_label_2": "value_2"},
            "operation": {
                "id": "get_data",
                "producer": "github.com/MyProject/MyApplication",
                "first": true
            },
            "trace": "projects/my-projectid/traces/06796866738c859f2f19b7cfb3214824",
            "sourceLocation": {"file": "get_data.py", "line": "142", "function": "getData"},
            "spanId": "000000000000004a",
            "traceSampled": false
        })
    );
}

/// One reading of a boolean for every lifted flag: `true`/`false` or the same as a string
/// (fluent-plugin-google-cloud's `parse_bool` accepts `'true'`); anything else leaves the field
/// where it was.
#[test]
fn booleans_may_be_written_as_strings() {
    let e = lift(json!({
        OPERATION_KEY: {"id": "op", "first": "false", "last": "true"},
        TRACE_SAMPLED_KEY: "true",
        "httpRequest": {"cacheHit": "true", "cacheLookup": "false", "cacheValidatedWithOriginServer": true}
    }));
    let op = e.operation.unwrap();
    assert_eq!((op.first, op.last), (Some(false), Some(true)));
    assert_eq!(e.trace_sampled, Some(true));
    let http = e.http_request.unwrap();
    assert_eq!(
        (
            http.cache_hit,
            http.cache_lookup,
            http.cache_validated_with_origin_server
        ),
        (Some(true), Some(false), Some(true))
    );
    assert_eq!(e.json_payload, Some(Map::new()));
    for bad in [json!("yes"), json!("TRUE"), json!(1), json!(null)] {
        let e = lift(json!({OPERATION_KEY: {"id": "op", "first": bad.clone()}, "x": 1}));
        if bad.is_null() {
            assert_eq!(e.operation.unwrap().first, None, "a null member is absent");
            continue;
        }
        assert_eq!(e.operation, None, "{bad}");
        assert_eq!(
            e.json_payload,
            payload(json!({OPERATION_KEY: {"id": "op", "first": bad}, "x": 1}))
        );
        assert_eq!(
            lift(json!({TRACE_SAMPLED_KEY: bad.clone()})).trace_sampled,
            None
        );
    }
}
