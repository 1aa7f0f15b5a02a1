//! The table-driven suite: every filter in `CASES` runs over the corpus in
//! `filters/corpus.rs` and must match exactly the listed entry ids; every
//! filter in `INVALID` must fail at the listed byte; and for every valid
//! filter the narrowing must admit every entry the filter matches.

#[path = "filters/corpus.rs"]
mod corpus;

use std::collections::BTreeSet;

use logquery::{Narrowing, TimeBound, for_each_searchable_leaf, parse};
use serde_json::Value;

/// `(filter, ids)`: ids are entry numbers ("01 07"), `ALL`, or "" for none.
const CASES: &[(&str, &str)] = &[
    // Empty filters and the original system's query.
    ("", "ALL"),
    ("-- only a comment", "ALL"),
    (
        r#"resource.type="container" resource.labels.cluster_name="fastapi-cluster""#,
        "03 13",
    ),
    (
        r#"resource.type="container" AND resource.labels.cluster_name="fastapi-cluster""#,
        "03 13",
    ),
    // Equality, has, exists, and the missing-field rules on resource fields.
    (
        r#"resource.type="k8s_container""#,
        "01 02 07 08 09 12 14 15 16 18 20",
    ),
    (
        "resource.type=k8s_container",
        "01 02 07 08 09 12 14 15 16 18 20",
    ),
    (
        r#"resource.labels.cluster_name="fastapi-cluster""#,
        "01 02 03 07 09 12 13 14 15 16 18 20",
    ),
    (r#"resource.type="gce_instance""#, "05 11 17"),
    (r#"resource.type="global""#, "06 10"),
    (r#"resource.type="K8S_CONTAINER""#, ""),
    (r#"resource.type:"K8S""#, "01 02 07 08 09 12 14 15 16 18 20"),
    (
        "resource.type:container",
        "01 02 03 04 07 08 09 12 13 14 15 16 18 20",
    ),
    // resource.type is a field of a typed message: absent (e19), it is "" (documented, see
    // tests/documented.rs), so != holds there too.
    (
        r#"resource.type!="k8s_container""#,
        "03 04 05 06 10 11 13 17 19",
    ),
    (
        r#"NOT resource.type="k8s_container""#,
        "03 04 05 06 10 11 13 17 19",
    ),
    (
        r#"-resource.type="k8s_container""#,
        "03 04 05 06 10 11 13 17 19",
    ),
    (
        "resource:*",
        "01 02 03 04 05 06 07 08 09 10 11 12 13 14 15 16 17 18 20",
    ),
    ("-resource:*", "19"),
    (
        "resource.labels.cluster_name:*",
        "01 02 03 04 07 08 09 12 13 14 15 16 18 20",
    ),
    (
        r#"resource.labels.cluster_name!="fastapi-cluster""#,
        "04 08",
    ),
    (
        r#"NOT resource.labels.cluster_name="fastapi-cluster""#,
        "04 05 06 08 10 11 17 19",
    ),
    ("severity = ERROR", "02 04 09 17 19"),
    ("severity = ERROR AND resource.type = gce_instance", "17"),
    (
        r#"resource.type="k8s_container"resource.labels.cluster_name="staging""#,
        "08",
    ),
    // Precedence: NOT > OR > AND; juxtaposition is AND; `-` is NOT.
    (
        r#"severity=ERROR OR severity=CRITICAL resource.type="gce_instance""#,
        "05 17",
    ),
    (
        r#"resource.type="global" AND severity=NOTICE OR severity=CRITICAL"#,
        "10",
    ),
    (
        r#"severity=CRITICAL OR severity=NOTICE AND resource.type="global""#,
        "10",
    ),
    (
        r#"resource.type="global" severity=NOTICE OR severity=CRITICAL"#,
        "10",
    ),
    (
        r#"(resource.type="global" AND severity=NOTICE) OR severity=CRITICAL"#,
        "05 10",
    ),
    (
        r#"NOT severity=ERROR OR resource.type="gce_instance""#,
        "01 03 05 06 07 08 10 11 12 13 14 15 16 17 18 20",
    ),
    (
        r#"NOT (severity=ERROR OR resource.type="gce_instance")"#,
        "01 03 06 07 08 10 12 13 14 15 16 18 20",
    ),
    (
        "-severity=ERROR -severity=INFO resource.type=k8s_container",
        "07 08 12 16",
    ),
    ("NOT NOT severity=ERROR", "02 04 09 17 19"),
    ("(severity=ERROR)", "02 04 09 17 19"),
    ("((severity=ERROR) AND (resource.type=gce_instance))", "17"),
    ("severity=CRITICAL or", "05"),
    (r#"textPayload:"AND""#, "13 18"),
    ("not severity=DEFAULT", "13"),
    ("NOTICE", "10"),
    ("ORPHAN", "19"),
    ("ANDROID", ""),
    // Severity ranks: names in any case, numbers, stored as name, lowercase or number.
    ("severity=ERROR", "02 04 09 17 19"),
    ("severity=error", "02 04 09 17 19"),
    ("severity=500", "02 04 09 17 19"),
    ("severity>=WARNING", "02 03 04 05 08 09 11 12 16 17 19"),
    ("severity>=warning", "02 03 04 05 08 09 11 12 16 17 19"),
    ("severity>WARNING", "02 04 05 09 11 12 17 19"),
    ("severity<INFO", "06 07 13"),
    ("severity<=INFO", "01 06 07 13 14 15 18 20"),
    ("severity=DEFAULT", "06 13"),
    (
        "severity!=INFO",
        "02 03 04 05 06 07 08 09 10 11 12 13 16 17 19",
    ),
    ("severity=WARNING", "03 08 16"),
    ("severity:ERROR", "02 04 09 17 19"),
    ("severity>=400 severity<600", "02 03 04 08 09 16 17 19"),
    ("severity=(ERROR OR CRITICAL)", "02 04 05 09 17 19"),
    (
        "severity:*",
        "01 02 03 04 05 07 08 09 10 11 12 13 14 15 16 17 18 19 20",
    ),
    (r#"severity=~"^ERR""#, "02 04 17 19"),
    (r#"severity=~("^ERR" OR "^CRIT")"#, "02 04 05 17 19"),
    // Timestamps compare as instants whatever the offset or precision.
    (
        r#"timestamp>="2026-11-25T10:00:00Z""#,
        "01 02 03 04 06 07 08 09 11 12 13 15 16 17 18 19 20",
    ),
    (
        r#"timestamp>"2026-11-25T10:00:00Z""#,
        "02 03 04 06 07 08 09 11 12 13 15 16 17 18 19 20",
    ),
    (r#"timestamp="2026-11-25T10:00:00Z""#, "01"),
    (r#"timestamp="2026-11-25T19:00:00+09:00""#, "01"),
    (r#"timestamp="2026-11-25T10:00:00+0000""#, "01"),
    (r#"timestamp="2026-11-25T10:00:00""#, "01"),
    (r#"timestamp="2026-11-25T10:00:00.000Z""#, "01"),
    (
        r#"timestamp>="2026-11-25" timestamp<"2026-11-26""#,
        "01 02 03 04 07 08 09 11 12 13 14 15 16 18 19 20",
    ),
    ("timestamp<2026-11-25", "05 10"),
    (r#"timestamp="2026-11-25T10:30:00Z""#, "03 18"),
    (r#"timestamp="2026-11-25T14:00:00Z""#, "08"),
    (
        r#"timestamp>"2026-11-25T10:00:00Z" timestamp<"2026-11-25T10:00:01Z""#,
        "07 11",
    ),
    (
        r#"timestamp>"2026-11-25T10:00:00.000000001Z" timestamp<"2026-11-25T10:00:01Z""#,
        "07",
    ),
    (
        r#"timestamp>="2026-11-25T10:00:00.123456Z" timestamp<="2026-11-25T10:05:00.123456Z""#,
        "02 07",
    ),
    (
        "timestamp>=2026-11-25T10:00:00Z timestamp<=2026-11-25T10:00:00.999999999999Z",
        "01 07 11",
    ),
    (r#"receiveTimestamp>"2026-11-25T10:50:01Z""#, "17 20"),
    ("receiveTimestamp:*", "17 20"),
    (r#"jsonPayload.timestamp>"2026-11-25T19:00:00+09:00""#, "20"),
    (
        r#"timestamp:"2026-11-25T10""#,
        "01 02 07 09 11 13 15 16 18 19 20",
    ),
    // NULL_VALUE.
    ("jsonPayload.note=NULL_VALUE", "08"),
    ("jsonPayload.note!=NULL_VALUE", ""),
    (
        "NOT jsonPayload.note=NULL_VALUE",
        "01 02 03 04 05 06 07 09 10 11 12 13 14 15 16 17 18 19 20",
    ),
    (
        "jsonPayload.maybe=NULL_VALUE OR jsonPayload.note=NULL_VALUE",
        "08 16",
    ),
    (
        "jsonPayload.message!=NULL_VALUE",
        "02 07 08 10 12 14 15 16 20",
    ),
    ("jsonPayload.note:*", "08"),
    (r#"jsonPayload.note="null""#, ""),
    // Missing fields: comparisons are false, NOT of them true.
    (
        r#"jsonPayload.message!="Healthy""#,
        "02 07 08 10 12 14 15 16",
    ),
    (
        r#"NOT jsonPayload.message="Healthy""#,
        "01 02 03 04 05 06 07 08 09 10 11 12 13 14 15 16 17 18 19",
    ),
    (
        r#"-jsonPayload.message="Healthy""#,
        "01 02 03 04 05 06 07 08 09 10 11 12 13 14 15 16 17 18 19",
    ),
    // textPayload and httpRequest.* are LogEntry fields, defaulted ("" / 0) when absent:
    // `!=`/`!~`/`<` hold on entries without them (documented, see tests/documented.rs).
    (
        r#"textPayload!~"error""#,
        "01 02 03 04 05 06 07 08 09 10 11 12 13 14 15 16 17 18 19 20",
    ),
    (
        r#"textPayload!~"(?i)error""#,
        "01 02 03 04 05 06 07 08 10 11 12 13 14 15 16 17 18 19 20",
    ),
    (
        r#"NOT textPayload=~"(?i)error""#,
        "01 02 03 04 05 06 07 08 10 11 12 13 14 15 16 17 18 19 20",
    ),
    (
        "httpRequest.status<300",
        "01 02 03 05 06 07 08 09 10 11 12 13 15 16 17 19 20",
    ),
    ("httpRequest.status:* httpRequest.status<300", "01 03"),
    (
        "NOT httpRequest.status>=300",
        "01 02 03 05 06 07 08 09 10 11 12 13 15 16 17 19 20",
    ),
    (
        "httpRequest.status!=200",
        "02 03 04 05 06 07 08 09 10 11 12 13 14 15 16 17 18 19 20",
    ),
    ("httpRequest:* httpRequest.status!=200", "03 04 14 18"),
    (r#"jsonPayload.missing.deep="x""#, ""),
    (r#"NOT jsonPayload.missing.deep="x""#, "ALL"),
    // Numbers compare as numbers when both sides are numbers, else as strings.
    ("httpRequest.status>=500", "04 14"),
    ("httpRequest.status=500", "14"),
    (r#"httpRequest.status="500""#, "14"),
    ("httpRequest.status>=400 httpRequest.status<500", "18"),
    ("jsonPayload.status=500", "14"),
    ("jsonPayload.code=7", "12"),
    (r#"jsonPayload.code="007""#, "12"),
    ("jsonPayload.latency_ms>99", "14"),
    (r#"jsonPayload.latency_ms>"99""#, "14"),
    // A Duration compares by length: 0.120s (e14) is longer than 0.1s.
    (r#"httpRequest.latency>"0.1s""#, "03 14"),
    ("jsonPayload.attempt>=2 jsonPayload.attempt<=2", "16"),
    ("jsonPayload.ratio<0.5", "08"),
    ("jsonPayload.ratio>=4.2e-1", "08"),
    ("jsonPayload.duration_ms>1000", "07"),
    ("sourceLocation.line>=80", "09"),
    (r#"jsonPayload.user.id>"u-5""#, "10"),
    ("jsonPayload.count=0", "20"),
    ("traceSampled=true", "02"),
    ("jsonPayload.nested.deep.flag=false", "16"),
    // Arrays: any element may match.
    (r#"jsonPayload.tags="nightly""#, "07"),
    (r#"jsonPayload.tags:"NIGHT""#, "07"),
    (r#"jsonPayload.items.sku="B2""#, "07"),
    ("jsonPayload.items.qty>4", "07"),
    ("jsonPayload.items.qty>10", ""),
    ("jsonPayload.values=5", "16"),
    (r#"jsonPayload.tags!="batch""#, ""),
    (r#"jsonPayload.tags!="weekly""#, "07"),
    (r#"jsonPayload.tags=~"^night""#, "07"),
    ("jsonPayload.values:*", "16"),
    // Quoted and odd keys.
    (r#"labels."k8s-pod/app"="fastapi""#, "01 02 09 15 20"),
    (r#"labels.k8s-pod/app="fastapi""#, "01 02 09 15 20"),
    (r#"labels."k8s-pod/app"!="fastapi""#, "07"),
    (r#"labels."k8s-pod/app":*"#, "01 02 07 09 15 20"),
    (r#"jsonPayload."x.y"="literal dot key""#, "15"),
    (r#"jsonPayload.x.y="nested""#, "15"),
    (r#"jsonPayload.x.y="literal dot key""#, ""),
    (r#"labels."x.y":dotted"#, "15"),
    (
        r#"protoPayload."@type"="type.googleapis.com/google.cloud.audit.AuditLog""#,
        "06",
    ),
    (r#""jsonPayload"."message"="Healthy""#, "20"),
    // `:` on strings, numbers and whole objects.
    (r#"jsonPayload:"econnrefused""#, "02"),
    ("jsonPayload.error:3", "02"),
    (
        r#"protoPayload.authenticationInfo.principalEmail:"ALICE""#,
        "06",
    ),
    (r#"jsonPayload.user.email="bob@example.com""#, ""),
    (r#"jsonPayload.user.email:"bob@example.com""#, "10"),
    (r#"textPayload:"out of memory""#, "05"),
    (r#"jsonPayload.message:"retry""#, "16"),
    ("httpRequest.status:50", "04 14"),
    // Regular expressions (RE2 syntax, unanchored).
    (r#"textPayload=~"^GET /healthz""#, "01"),
    (r#"textPayload=~"\\d{3}""#, "01 05"),
    (
        r#"logName=~"/logs/std(out|err)$""#,
        "01 02 07 08 09 12 14 15 16 18 19 20",
    ),
    (r#"httpRequest.requestUrl=~"id=\\d+""#, "14"),
    (r#"jsonPayload.message=~"(?i)^healthy$""#, "20"),
    (r#"resource.labels.cluster_name!~"fastapi""#, "04 08"),
    (r#"trace=~"traces/[a-f0-9]+$""#, "02 14"),
    (r#"httpRequest.status=~"^5""#, "04 14"),
    // Value lists.
    (
        r#"resource.type=("gce_instance" OR "global")"#,
        "05 06 10 11 17",
    ),
    ("resource.type=(gce_instance OR global)", "05 06 10 11 17"),
    (r#"httpRequest.requestMethod=("GET" OR "POST")"#, "01 03 14"),
    (r#"textPayload:("slow" "request")"#, "03"),
    (r#"textPayload:("slow" AND "orders")"#, ""),
    (r#"textPayload:("timed" OR "memory")"#, "04 05"),
    (
        r#"jsonPayload.message:(NOT "e")"#,
        "01 03 04 05 06 09 11 13 15 17 18 19",
    ),
    (
        "httpRequest.status:* httpRequest.status=(NOT 200 NOT 404)",
        "03 04 14",
    ),
    (
        r#"labels."k8s-pod/app"=("fastapi" OR "worker") resource.type=k8s_container"#,
        "01 02 07 09 15 20",
    ),
    // Global restrictions: any string or number leaf, case-insensitive.
    ("ECONNREFUSED", "02"),
    ("econnrefused", "02"),
    (r#""connection failed""#, "02"),
    (r#""Connection FAILED""#, "02"),
    ("fastapi", "01 02 03 07 09 12 13 14 15 16 18 20"),
    ("fastapi -resource.type=k8s_container", "03 13"),
    ("4242", "05"),
    ("u-42", "02"),
    (r#""quoted \"phrase\"""#, "18"),
    (r#""back\\slash""#, "18"),
    (r#""wörld""#, "17"),
    ("HÉLLO", "17"),
    (r#""\u00e9llo""#, "17"),
    ("10.0.0.12", "01"),
    ("nonexistentword", ""),
    // Quoted keywords are literal; `handler` in e09's sourceLocation contains "and".
    (r#""AND""#, "09 13 18"),
    // Comments.
    (
        "severity=ERROR -- only errors\nresource.type=gce_instance",
        "17",
    ),
    ("-- leading comment\nseverity=NOTICE", "10"),
    ("severity=NOTICE -- trailing", "10"),
    // Functions.
    (r#"SEARCH("connection")"#, "02"),
    (r#"SEARCH("CONNECTION failed")"#, "02"),
    (r#"SEARCH("connect")"#, ""),
    (r#"SEARCH("`connect`")"#, "02"),
    (r#"SEARCH(textPayload, "memory")"#, "05"),
    (r#"SEARCH(jsonPayload.user, "u")"#, "02 10"),
    (r#"SEARCH(textPayload, "connection")"#, ""),
    (r#"log_id("stdout")"#, "01 07 08 14 15 16 18 19 20"),
    (r#"log_id("cloudaudit.googleapis.com/activity")"#, "06"),
    (r#"log_id("my log")"#, "17"),
    (r#"log_id("syslog") resource.type=gce_instance"#, "05 11"),
    (
        r#"log_id("stdout") OR log_id("stderr")"#,
        "01 02 07 08 09 12 14 15 16 18 19 20",
    ),
    (r#"logName="projects/demo/logs/syslog""#, "05"),
    (r#"logName:"syslog""#, "05 11"),
    ("sample(insertId, 1)", "ALL"),
    ("sample(insertId, 0)", ""),
    (
        r#"ip_in_net(httpRequest.remoteIp, "10.0.0.0/8")"#,
        "01 14 18",
    ),
    (r#"ip_in_net(httpRequest.remoteIp, "10.0.0.0/16")"#, "01"),
    (r#"ip_in_net(httpRequest.remoteIp, "192.168.0.0/16")"#, "03"),
    (r#"ip_in_net(jsonPayload.ip, "2001:db8::/32")"#, "10"),
    (
        r#"NOT ip_in_net(httpRequest.remoteIp, "10.0.0.0/8") httpRequest:*"#,
        "03 04",
    ),
    (
        r#"ip_in_net(httpRequest.remoteIp, "0.0.0.0/0")"#,
        "01 03 04 14 18",
    ),
    // Other LogEntry fields.
    (r#"trace="projects/demo/traces/abc123""#, "02"),
    ("spanId:*", "02 20"),
    ("operation.first=true operation.producer=deployer", "12"),
    ("split.totalSplits>1", "17"),
    ("sourceLocation.function=handler", "09"),
    (r#"insertId="e05""#, "05"),
    (r#"insertId<"e03""#, "01 02"),
    ("textPayload:* jsonPayload:*", ""),
    (
        "textPayload:* OR protoPayload:*",
        "01 03 04 05 06 09 11 13 17 18 19",
    ),
];

/// `(filter, byte position, expected)` for filters that must not parse.
const INVALID: &[(&str, usize, &str)] = &[
    ("severity=", 9, "a value after '='"),
    ("(severity=ERROR", 15, "')'"),
    ("severity=ERROR)", 14, "end of input or a restriction"),
    ("AND severity=ERROR", 0, "a restriction"),
    ("severity=ERROR AND", 18, "a restriction after AND"),
    ("severity=ERROR OR OR x", 18, "a restriction after OR"),
    (
        r#"textPayload="unterminated"#,
        25,
        "'\"' to close the string",
    ),
    (
        r#"textPayload="bad \q escape""#,
        17,
        "a valid escape (\\\" \\\\ \\n \\t \\r \\uXXXX)",
    ),
    (r#"textPayload=~"(""#, 13, "a valid RE2 regular expression"),
    (
        r#"ip_in_net(httpRequest.remoteIp, "10.0.0.0/33")"#,
        32,
        "an IPv4 or IPv6 CIDR range",
    ),
    ("sample(insertId, 2)", 17, "a fraction between 0 and 1"),
    ("severity>=LOUD", 10, "a severity name or number"),
    (r#"timestamp>="yesterday""#, 11, "an RFC 3339 timestamp"),
    ("NOT", 3, "a restriction after NOT"),
    ("httpRequest.status=()", 20, "a value after '='"),
    // A path that names no field of LogEntry is an error (documented, see tests/documented.rs).
    (r#"thud="x""#, 0, "a field of LogEntry"),
    ("httpRequest.foo=1", 12, "a field of HttpRequest"),
    (
        r#"resource.type.x="y""#,
        14,
        "no field after 'type', which is not a message",
    ),
    (
        r#"httpRequest.latency<"soon""#,
        20,
        "a duration such as \"1.5s\" or \"200ms\"",
    ),
    (
        r#"frobnicate("x")"#,
        0,
        "a function (SEARCH, log_id, sample, ip_in_net)",
    ),
    (r#"labels."k8s-pod/app"#, 19, "'\"' to close the string"),
    ("jsonPayload.=1", 12, "a field name after '.'"),
    ("=x", 0, "a restriction"),
    (r#"textPayload="\u12""#, 13, "four hex digits after \\u"),
    ("a!b", 2, "'=' or '~' after '!'"),
    ("severity<NULL_VALUE", 9, "'=' or '!=' before NULL_VALUE"),
    ("SEARCH()", 7, "a field name"),
    (r#"jsonPayload.x=("a" OR)"#, 21, "a value after OR"),
    ("severity=ERROR -", 16, "a restriction after '-'"),
    ("severity=AND", 9, "a value after '='"),
];

fn corpus() -> Vec<(String, Value)> {
    corpus::entries()
        .into_iter()
        .map(|e| (e["insertId"].as_str().expect("insertId").to_string(), e))
        .collect()
}

fn expected_ids(spec: &str) -> BTreeSet<String> {
    if spec == "ALL" {
        return (1..=20).map(|n| format!("e{n:02}")).collect();
    }
    spec.split_whitespace().map(|n| format!("e{n}")).collect()
}

#[test]
fn table_has_enough_cases() {
    assert!(CASES.len() >= 150, "only {} cases", CASES.len());
    assert!(INVALID.len() >= 15);
    assert_eq!(corpus().len(), 20);
}

#[test]
fn every_filter_matches_exactly_the_listed_entries() {
    let corpus = corpus();
    let mut failures = Vec::new();
    for (filter, spec) in CASES {
        let query = match parse(filter) {
            Ok(q) => q,
            Err(e) => {
                failures.push(format!("{filter:?}: parse error {e}"));
                continue;
            }
        };
        let got: BTreeSet<String> = corpus
            .iter()
            .filter(|(_, e)| query.matches(e))
            .map(|(id, _)| id.clone())
            .collect();
        let want = expected_ids(spec);
        if got != want {
            failures.push(format!("{filter:?}\n   want {want:?}\n    got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing filters:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn invalid_filters_fail_at_the_listed_position() {
    let mut failures = Vec::new();
    for (filter, position, expected) in INVALID {
        match parse(filter) {
            Ok(_) => failures.push(format!("{filter:?}: parsed, should fail")),
            Err(e) if e.position != *position || e.expected != *expected => failures.push(format!(
                "{filter:?}: want {position} {expected:?}, got {} {:?} ({e})",
                e.position, e.expected
            )),
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn parse_errors_display_line_and_column() {
    let err = parse("severity=ERROR AND").unwrap_err();
    assert_eq!(
        err.to_string(),
        "1:19: expected a restriction after AND, found end of input"
    );
    let err = parse("severity=ERROR\n  AND )").unwrap_err();
    assert_eq!((err.line, err.column, err.position), (2, 7, 21));
    assert_eq!(err.found, "')'");
}

#[test]
fn narrowing_never_excludes_a_match() {
    let corpus = corpus();
    for (filter, _) in CASES {
        let query = parse(filter).expect("table filters parse");
        let narrowing = query.restrictions();
        for (id, entry) in &corpus {
            if query.matches(entry) {
                assert!(
                    narrowing.admits(entry),
                    "{filter:?} matches {id} but {narrowing:?} excludes it"
                );
            }
        }
    }
}

/// The leaves a bare word searches, lowercased as the evaluator compares them.
fn searchable_leaves(entry: &serde_json::Value) -> Vec<String> {
    let mut leaves = Vec::new();
    for_each_searchable_leaf(entry, &mut |leaf| leaves.push(leaf.to_lowercase()));
    leaves
}

#[test]
fn text_narrowing_is_held_by_a_searchable_leaf_of_every_match() {
    let corpus = corpus();
    let mut with_text = 0;
    for (filter, _) in CASES {
        let query = parse(filter).expect("table filters parse");
        let needles = query.restrictions().text_contains;
        with_text += usize::from(!needles.is_empty());
        for (id, entry) in &corpus {
            if query.matches(entry) {
                let leaves = searchable_leaves(entry);
                for needle in &needles {
                    assert!(
                        leaves.iter().any(|leaf| leaf.contains(needle.as_str())),
                        "{filter:?} matches {id} but no searchable leaf holds {needle:?}"
                    );
                }
            }
        }
    }
    assert!(
        with_text > 0,
        "the table has bare words and payload `:` filters"
    );
    let n = parse(r#"unicorn "Disk FULL" textPayload:ABC jsonPayload.user.name:bob labels.x:y"#)
        .unwrap()
        .restrictions();
    assert_eq!(n.text_contains, ["unicorn", "disk full", "abc", "bob"]);
    for filter in [
        "NOT unicorn",
        "unicorn OR zebra",
        "textPayload=abc",
        "labels.x:y",
    ] {
        let n = parse(filter).unwrap().restrictions();
        assert!(n.text_contains.is_empty(), "{filter}");
    }
    let entry = serde_json::json!({
        "textPayload": "GET /Items 200",
        "labels": {"n": 12.5, "ok": true},
        "resource": {"type": "global"}
    });
    assert_eq!(
        searchable_leaves(&entry),
        ["12.5", "true", "global", "get /items 200"]
    );
    // The entry's timestamps are left out of the text, and a needle that could be part of
    // one does not narrow (a payload's own timestamp-like text stays).
    let entry = serde_json::json!({
        "timestamp": "2026-12-03T05:00:00Z",
        "receiveTimestamp": "2026-12-03T05:00:01Z",
        "jsonPayload": {"timestamp": "2026-01-01T00:00:00Z"}
    });
    assert_eq!(searchable_leaves(&entry), ["2026-01-01t00:00:00z"]);
    for filter in ["2026-12-03", r#""05:00""#, r#""2026-12-03T05""#] {
        let query = parse(filter).unwrap();
        assert!(query.matches(&entry), "{filter}");
        assert!(query.restrictions().text_contains.is_empty(), "{filter}");
    }
    assert_eq!(
        parse("jsonPayload.timestamp:2026")
            .unwrap()
            .restrictions()
            .text_contains,
        ["2026"]
    );
}

#[test]
fn narrowing_reads_top_level_restrictions() {
    let n = parse(r#"resource.type="container" resource.labels.cluster_name="fastapi-cluster""#)
        .unwrap()
        .restrictions();
    assert_eq!(n.resource_types, Some(vec!["container".to_string()]));
    assert_eq!(n.log_names, None);

    let n = parse(r#"severity>=WARNING timestamp>="2026-11-25T10:00:00Z" timestamp<"2026-11-26" log_id("stdout")"#)
        .unwrap()
        .restrictions();
    assert_eq!(n.min_severity, Some(400));
    assert_eq!(n.max_severity, None);
    assert_eq!(
        n.timestamp_from,
        Some(TimeBound {
            nanos: 1_795_600_800_000_000_000,
            inclusive: true
        })
    );
    assert_eq!(
        n.timestamp_to,
        Some(TimeBound {
            nanos: 1_795_651_200_000_000_000,
            inclusive: false
        })
    );
    assert_eq!(n.log_ids, Some(vec!["stdout".to_string()]));

    let n = parse("resource.type=(gce_instance OR global) logName=\"projects/demo/logs/syslog\"")
        .unwrap()
        .restrictions();
    assert_eq!(
        n.resource_types,
        Some(vec!["gce_instance".to_string(), "global".to_string()])
    );
    assert_eq!(
        n.log_names,
        Some(vec!["projects/demo/logs/syslog".to_string()])
    );

    // Anything under OR or NOT restricts nothing.
    for filter in [
        "severity>=ERROR OR resource.type=global",
        "NOT resource.type=global",
        "",
        "-severity<ERROR",
    ] {
        assert!(
            parse(filter).unwrap().restrictions().is_unrestricted(),
            "{filter}"
        );
    }
    assert_eq!(parse("").unwrap().restrictions(), Narrowing::default());
}

#[test]
fn empty_filter_is_empty() {
    assert!(parse("").unwrap().is_empty());
    assert!(parse("  -- nothing here\n").unwrap().is_empty());
    assert!(!parse("severity=ERROR").unwrap().is_empty());
}

#[test]
fn sample_is_deterministic_and_nested() {
    let corpus = corpus();
    let picked = |fraction: &str| -> BTreeSet<String> {
        let query = parse(&format!("sample(insertId, {fraction})")).unwrap();
        corpus
            .iter()
            .filter(|(_, e)| query.matches(e))
            .map(|(id, _)| id.clone())
            .collect()
    };
    let half = picked("0.5");
    assert_eq!(half, picked("0.5"));
    assert!(half.is_subset(&picked("0.9")));
    assert!(picked("0.1").is_subset(&half));
    assert!(
        (3..=17).contains(&half.len()),
        "0.5 kept {} of 20",
        half.len()
    );
}
