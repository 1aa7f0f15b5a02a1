//! The documented edge cases of the Logging query language, one test each, with the section of
//! <https://cloud.google.com/logging/docs/view/logging-query-language> that says so:
//! defaulted and missing fields, durations, booleans, unknown fields, and the length limit.
//! Every matching case also checks that the narrowing admits what the query matches.

use logquery::{MAX_FILTER_CHARS, parse};
use serde_json::{Value, json};

/// Whether `filter` matches `entry`; the narrowing must admit every entry the filter matches.
fn matches(filter: &str, entry: &Value) -> bool {
    let query = parse(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
    let matched = query.matches(entry);
    if matched {
        assert!(
            query.restrictions().admits(entry),
            "{filter}: the narrowing rejects a match"
        );
    }
    matched
}

/// An entry as the emulator stores one, without any optional LogEntry field.
fn bare_entry() -> Value {
    json!({
        "logName": "projects/demo/logs/app",
        "resource": {"type": "global", "labels": {"project_id": "demo"}},
        "timestamp": "2026-11-25T10:00:00Z",
        "receiveTimestamp": "2026-11-25T10:00:01Z",
        "insertId": "a1",
        "jsonPayload": {"message": "hello"},
    })
}

fn with_http(http_request: Value) -> Value {
    let mut entry = bare_entry();
    entry["httpRequest"] = http_request;
    entry
}

// "Missing fields": a field defined in the LogEntry type (or in one of its typed messages) that
// is absent is *defaulted*: comparisons are made as if it were present with its default value.

#[test]
fn absent_trace_compares_as_the_empty_string() {
    let entry = bare_entry();
    assert!(matches(r#"trace!="X""#, &entry));
    assert!(matches(r#"trace="""#, &entry));
    assert!(!matches(r#"trace="X""#, &entry));
    assert!(matches(r#"spanId!="000000000000004a""#, &entry));
    assert!(matches(r#"trace!~"abc""#, &entry));
    // `:*` still asks whether the field is present.
    assert!(!matches("trace:*", &entry));
    assert!(matches("NOT trace:*", &entry));
}

#[test]
fn absent_http_request_fields_compare_as_their_defaults() {
    // The documentation lists httpRequest.remoteIp as defaulted when not present: the whole
    // httpRequest message may be absent, its fields still compare as 0 / "" / false.
    let entry = bare_entry();
    assert!(matches("httpRequest.status!=200", &entry));
    assert!(matches("httpRequest.status=0", &entry));
    assert!(matches("httpRequest.status<400", &entry));
    assert!(!matches("httpRequest.status>=400", &entry));
    assert!(matches(r#"httpRequest.remoteIp="""#, &entry));
    assert!(matches(r#"httpRequest.requestMethod!="GET""#, &entry));
    assert!(matches("httpRequest.cacheHit=false", &entry));
    assert!(matches(r#"httpRequest.latency="0s""#, &entry));
    assert!(matches(r#"httpRequest.latency<"1ms""#, &entry));
    // Present but without a status: the same default.
    let entry = with_http(json!({"requestMethod": "GET"}));
    assert!(matches("httpRequest.status!=200", &entry));
    assert!(!matches("httpRequest.status:*", &entry));
    assert!(matches("httpRequest:*", &entry));
}

#[test]
fn absent_operation_and_source_location_fields_compare_as_their_defaults() {
    let entry = bare_entry();
    assert!(matches(r#"operation.producer!="deployer""#, &entry));
    assert!(matches(r#"operation.id="""#, &entry));
    assert!(matches("operation.first=false", &entry));
    assert!(matches("sourceLocation.line=0", &entry));
    assert!(matches(r#"sourceLocation.file!="main.py""#, &entry));
    assert!(matches("traceSampled=false", &entry));
    assert!(matches("split.index=0", &entry));
}

#[test]
fn absent_entry_fields_compare_as_their_defaults() {
    let entry = json!({"jsonPayload": {"message": "hello"}});
    assert!(matches(r#"resource.type!="gce_instance""#, &entry));
    assert!(matches(r#"resource.type="""#, &entry));
    assert!(matches(r#"logName="""#, &entry));
    assert!(matches(r#"insertId!="a1""#, &entry));
    assert!(matches(r#"textPayload!="x""#, &entry));
    // Severity was already defaulted: an entry without one is DEFAULT.
    assert!(matches("severity=DEFAULT", &entry));
}

#[test]
fn sample_of_an_absent_defaulted_field_keeps_every_entry_at_fraction_one() {
    let entries = [
        bare_entry(),
        json!({"jsonPayload": {"n": 1}}),
        json!({"trace": "projects/demo/traces/abc"}),
    ];
    for entry in &entries {
        assert!(matches("sample(trace, 1)", entry), "{entry}");
        assert!(matches("sample(httpRequest.status, 1.0)", entry), "{entry}");
    }
}

#[test]
fn free_form_fields_stay_missing() {
    // jsonPayload, protoPayload, labels and resource.labels can be missing: every comparison
    // on a missing field is false, `!=` included; NOT inverts that.
    let entry = bare_entry();
    for filter in [
        r#"jsonPayload.nearest_store!="x""#,
        r#"labels.env!="prod""#,
        r#"resource.labels.zone!="us-east1-b""#,
        r#"protoPayload.methodName!="delete""#,
        "sample(jsonPayload.absent, 1)",
    ] {
        assert!(!matches(filter, &entry), "{filter}");
    }
    assert!(matches(r#"NOT labels.env="prod""#, &entry));
}

// "Values and conversions": a Duration compares by its length, whatever the units written.

#[test]
fn latency_compares_by_length_whatever_the_unit() {
    let entry = with_http(json!({"latency": "0.200s"}));
    for filter in [
        r#"httpRequest.latency="0.2s""#,
        r#"httpRequest.latency="200ms""#,
        r#"httpRequest.latency=0.2s"#,
        r#"httpRequest.latency>"0.1s""#,
        r#"httpRequest.latency>"100ms""#,
        r#"httpRequest.latency<"1s""#,
        r#"httpRequest.latency<"1000ms""#,
        r#"httpRequest.latency<"1.5s""#,
        r#"httpRequest.latency>="200000us""#,
        r#"httpRequest.latency!="1s""#,
    ] {
        assert!(matches(filter, &entry), "{filter}");
    }
    for filter in [
        r#"httpRequest.latency>"1s""#,
        r#"httpRequest.latency="1000ms""#,
        r#"httpRequest.latency<"0.15s""#,
    ] {
        assert!(!matches(filter, &entry), "{filter}");
    }
    let slow = with_http(json!({"latency": "1.500s"}));
    assert!(matches(r#"httpRequest.latency>"1s""#, &slow));
    assert!(matches(r#"httpRequest.latency="1500ms""#, &slow));
    // 10s is longer than 9s although "10s" < "9s" as strings.
    let ten = with_http(json!({"latency": "10s"}));
    assert!(matches(r#"httpRequest.latency>"9s""#, &ten));
}

#[test]
fn a_latency_that_is_not_a_duration_is_a_parse_error() {
    let err = parse(r#"httpRequest.latency>"fast""#).unwrap_err();
    assert_eq!(err.position, 20);
    assert!(err.expected.contains("duration"), "{err}");
    // `:` is a substring test on the text and takes any value.
    assert!(matches(
        r#"httpRequest.latency:"0.2""#,
        &with_http(json!({"latency": "0.200s"}))
    ));
}

// "Values and conversions": booleans are `true` and `false` in any letter case.

#[test]
fn booleans_match_in_any_letter_case() {
    let mut entry = with_http(json!({"cacheHit": true, "cacheLookup": false}));
    entry["traceSampled"] = json!(true);
    entry["operation"] = json!({"id": "op", "last": true});
    for filter in [
        "traceSampled=true",
        "traceSampled=TRUE",
        "traceSampled=True",
        r#"traceSampled="tRuE""#,
        "httpRequest.cacheHit=TRUE",
        "httpRequest.cacheLookup=FALSE",
        "httpRequest.cacheLookup!=True",
        "httpRequest.cacheValidatedWithOriginServer=False",
        "operation.last=TRUE",
        "operation.first=FALSE",
    ] {
        assert!(matches(filter, &entry), "{filter}");
    }
    for filter in ["traceSampled=FALSE", "httpRequest.cacheHit=False"] {
        assert!(!matches(filter, &entry), "{filter}");
    }
}

// "Missing fields": a path that is neither in LogEntry nor in a free-form field is *undefined*,
// an error detected before the query runs (the emulator answers INVALID_ARGUMENT).

#[test]
fn unknown_fields_are_parse_errors_at_the_unknown_segment() {
    for (filter, position, expected) in [
        (r#"thud = "x""#, 0, "a field of LogEntry"),
        ("httpRequest.foo = 1", 12, "a field of HttpRequest"),
        (r#"operation.x = "y""#, 10, "a field of LogEntryOperation"),
        (r#"operation.thud:*"#, 10, "a field of LogEntryOperation"),
        (r#"logName.foo = "x""#, 8, "no field after 'logName'"),
        (
            r#"textPayload.thud = "x""#,
            12,
            "no field after 'textPayload'",
        ),
        (
            r#"sourceLocation.nope="x""#,
            15,
            "a field of LogEntrySourceLocation",
        ),
        (r#"resource.zone="x""#, 9, "a field of MonitoredResource"),
        (r#"a AND NOT (b OR thud:x)"#, 16, "a field of LogEntry"),
        (r#"sample(thud, 0.5)"#, 7, "a field of LogEntry"),
        (
            r#"SEARCH(httpRequest.bogus, "x")"#,
            19,
            "a field of HttpRequest",
        ),
        (
            r#"ip_in_net(remoteIp, "10.0.0.0/8")"#,
            10,
            "a field of LogEntry",
        ),
    ] {
        let err = parse(filter).expect_err(filter);
        assert_eq!(err.position, position, "{filter}: {err}");
        assert!(err.expected.contains(expected), "{filter}: {err}");
    }
}

#[test]
fn free_form_fields_and_bare_words_take_any_name() {
    for filter in [
        r#"jsonPayload.anything.deep = "x""#,
        r#"protoPayload.methodName = "x""#,
        r#"labels."k8s-pod/app" = "x""#,
        r#"resource.labels.whatever = "x""#,
        // A bare word is a global restriction, not a field.
        "thud",
        r#""thud""#,
    ] {
        assert!(parse(filter).is_ok(), "{filter}");
    }
}

#[test]
fn proto_field_names_are_the_json_names() {
    let mut entry = with_http(json!({"status": 404, "remoteIp": "10.1.2.3"}));
    entry["trace"] = json!("projects/demo/traces/abc");
    assert!(matches("http_request.status=404", &entry));
    assert!(matches(r#"http_request.remote_ip="10.1.2.3""#, &entry));
    assert!(matches(r#"log_name="projects/demo/logs/app""#, &entry));
    assert!(matches(r#"resource.type="global" insert_id="a1""#, &entry));
}

// "Syntax notation": a query is at most 20,000 characters.

#[test]
fn a_filter_over_twenty_thousand_characters_is_rejected() {
    let within = format!("jsonPayload.message:{}", "x".repeat(MAX_FILTER_CHARS - 20));
    assert_eq!(within.chars().count(), MAX_FILTER_CHARS);
    assert!(parse(&within).is_ok());
    let over = format!("{within}x");
    let err = parse(&over).unwrap_err();
    assert_eq!(err.position, MAX_FILTER_CHARS);
}
