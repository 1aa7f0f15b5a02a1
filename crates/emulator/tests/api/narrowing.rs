//! The store narrows candidate rows in SQL from the query's necessary conditions, then runs the
//! exact evaluator. Every filter here must give the same entries with and without narrowing.

use emulator::store::{ListQuery, Store};
use serde_json::{Value, json};

use crate::support::Server;

const FILTERS: &[&str] = &[
    "",
    r#"resource.type="container""#,
    r#"resource.type="k8s_container""#,
    r#"resource.type=("container" OR "global")"#,
    r#"resource.type="container" OR resource.type="global""#,
    r#"resource.type!="container""#,
    r#"NOT resource.type="container""#,
    r#"-resource.type="global""#,
    r#"resource.type:"contain""#,
    r#"resource.type=~"^k8s""#,
    r#"resource.type="container" resource.labels.cluster_name="fastapi-cluster""#,
    r#"resource.type="container" AND resource.labels.cluster_name="other""#,
    r#"resource.type="CONTAINER""#,
    r#"resource.type="123""#,
    r#"logName="projects/p/logs/app.log""#,
    r#"logName="projects/p/logs/a%2Fb""#,
    r#"logName=("projects/p/logs/app.log" OR "projects/p/logs/stderr")"#,
    r#"logName:"app""#,
    r#"logName="projects/q/logs/app.log""#,
    r#"log_id("app.log")"#,
    r#"log_id("a/b")"#,
    r#"log_id("a%2Fb")"#,
    r#"log_id("app.log") OR log_id("stderr")"#,
    r#"NOT log_id("app.log")"#,
    "severity=ERROR",
    "severity>=WARNING",
    "severity>WARNING",
    "severity<=INFO",
    "severity<INFO",
    "severity=DEFAULT",
    "severity!=DEFAULT",
    "severity>=warning",
    "severity>=400",
    "severity:ERROR",
    "severity>=WARNING severity<=ERROR",
    "severity>=ERROR OR severity=DEBUG",
    r#"severity=~"ERR""#,
    "NOT severity>=ERROR",
    r#"timestamp>="2026-01-01T00:30:00Z""#,
    r#"timestamp>"2026-01-01T00:30:00Z""#,
    r#"timestamp<"2026-01-01T00:30:00Z""#,
    r#"timestamp<="2026-01-01T00:30:00Z""#,
    r#"timestamp="2026-01-01T00:30:00Z""#,
    r#"timestamp>="2026-01-01T09:30:00+09:00""#,
    r#"timestamp>="2026-01-01T09:30:00+0900""#,
    r#"timestamp>="2026-01-01""#,
    r#"timestamp<"2026-01-02""#,
    r#"timestamp>="2026-01-01T00:10:00Z" timestamp<"2026-01-01T00:20:00Z""#,
    r#"timestamp>="2026-01-01T00:20:00Z" timestamp<"2026-01-01T00:10:00Z""#,
    r#"timestamp:"2026-01-01T00:1""#,
    r#"timestamp>="1900-01-01" timestamp<="9999-12-31""#,
    r#"NOT timestamp<"2026-01-01T00:30:00Z""#,
    r#"timestamp>="2026-01-01T00:30:00Z" OR severity=ERROR"#,
    r#"labels.env="prod""#,
    r#"labels.env="prod" severity>=ERROR resource.type="container""#,
    r#"labels.env:*"#,
    r#"NOT labels.env:*"#,
    r#"labels.env!="prod""#,
    r#"jsonPayload.n>10"#,
    r#"jsonPayload.n>=10 jsonPayload.n<20"#,
    r#"jsonPayload.message:"hello""#,
    r#"jsonPayload.message=~"hello [0-9]+$""#,
    r#"textPayload:"line""#,
    r#"textPayload="line 7""#,
    r#""line 7""#,
    "hello",
    "hello OR line",
    r#"hello resource.type="global""#,
    r#"(severity>=ERROR OR labels.env="dev") resource.type="container""#,
    r#"resource.type="container" (log_id("app.log") OR severity>=ERROR)"#,
    r#"resource.type="container" -- a comment
       severity>=WARNING"#,
    r#"SEARCH("hello")"#,
    r#"sample(insertId, 0.5)"#,
    r#"insertId>"id-0100""#,
    r#"insertId="id-0042""#,
    r#"httpRequest.status>=500"#,
    r#"httpRequest.status=200 resource.type="k8s_container""#,
    r#"resource.labels.cluster_name=("fastapi-cluster" OR "other")"#,
    r#"receiveTimestamp>="2000-01-01""#,
    r#"severity>=ERROR severity<=WARNING"#,
    r#"log_id("app.log") log_id("stderr")"#,
    r#"resource.type="container" resource.type="global""#,
    // Text searches: the trigram index narrows needles of three characters or more.
    "HELLO",
    r#""hello 29""#,
    r#""Line 1" severity>=INFO"#,
    r#"jsonPayload.message:"LLO 2""#,
    r#"textPayload:"ne 1""#,
    r#"textPayload:"ne 1" NOT severity=ERROR"#,
    "li",
    r#""2026-01-01T00:1""#,
    r#""T00:1" hello"#,
    r#""line 7" hello"#,
    "prod",
    "fastapi-cluster",
    "503",
    r#""\"quoted\"""#,
    "größe",
    "ÅNGSTRÖM",
    "ångström",
    r#"jsonPayload.note:"e \"q""#,
    r#"hello -"hello 2""#,
    r#"unicorn OR "line 4""#,
    // Defaulted LogEntry fields: absent, they compare as "" / 0 / false / 0s.
    r#"trace!="projects/p/traces/1""#,
    r#"trace="""#,
    "httpRequest.status!=200",
    "httpRequest.status<300",
    "httpRequest.cacheHit=FALSE",
    r#"httpRequest.latency<"1s""#,
    r#"textPayload!~"line""#,
    r#"resource.type!="""#,
    r#"resource.type="" OR severity=ERROR"#,
    r#"logName!="""#,
    "sample(trace, 1)",
    "traceSampled=false",
];

fn corpus() -> Vec<Value> {
    let logs = ["app.log", "stderr", "a%2Fb"];
    let severities = [
        None,
        Some("DEBUG"),
        Some("INFO"),
        Some("WARNING"),
        Some("ERROR"),
        Some("CRITICAL"),
    ];
    (0..300)
        .map(|i| {
            let mut e = json!({
                "logName": format!("projects/p/logs/{}", logs[i % 3]),
                "insertId": format!("id-{i:04}"),
                "timestamp": format!("2026-01-01T00:{:02}:{:02}.{:03}Z", (i / 5) % 60, (i * 7) % 60, i % 1000),
            });
            e["resource"] = match i % 4 {
                0 => json!({"type": "container", "labels": {"cluster_name": "fastapi-cluster"}}),
                1 => json!({"type": "container", "labels": {"cluster_name": "other"}}),
                2 => json!({"type": "k8s_container", "labels": {"cluster_name": "fastapi-cluster"}}),
                _ => json!({"type": "global"}),
            };
            if let Some(s) = severities[i % 6] {
                e["severity"] = json!(s);
            }
            if i % 5 != 0 {
                e["labels"] = json!({"env": if i % 2 == 0 { "prod" } else { "dev" }});
            }
            if i % 2 == 0 {
                e["textPayload"] = json!(format!("line {i}"));
            } else {
                e["jsonPayload"] = json!({"message": format!("hello {i}"), "n": i % 30});
            }
            if i % 11 == 0 && i % 2 == 1 {
                e["jsonPayload"]["note"] = json!("Größe \"quoted\" ÅNGSTRÖM İstanbul");
            }
            if i % 7 == 0 {
                e["httpRequest"] = json!({"status": if i % 14 == 0 { 200 } else { 503 }});
            }
            e
        })
        .collect()
}

#[tokio::test]
async fn every_filter_gives_the_same_entries_with_and_without_narrowing() {
    let server = Server::start().await;
    let resp = server.write(json!({"entries": corpus()})).await;
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    let store = Store::open(&server.dir).unwrap();
    let mut nonempty = 0;
    let mut matched = Vec::new();
    for filter in FILTERS {
        let query = logquery::parse(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
        for descending in [false, true] {
            let run = |narrow| {
                store
                    .list(&ListQuery {
                        parents: vec!["projects/p".into()],
                        query: query.clone(),
                        narrow,
                        descending,
                        page_size: 10_000,
                        after: None,
                    })
                    .unwrap()
                    .entries
            };
            let (narrowed, full) = (run(true), run(false));
            assert_eq!(
                narrowed.iter().map(|e| &e["insertId"]).collect::<Vec<_>>(),
                full.iter().map(|e| &e["insertId"]).collect::<Vec<_>>(),
                "filter {filter:?} (descending: {descending})"
            );
            // The exact evaluator is the reference: narrowing never adds or drops a match.
            let reference = full.iter().filter(|e| query.matches(e)).count();
            assert_eq!(full.len(), reference);
            if descending && !full.is_empty() {
                nonempty += 1;
                matched.push(*filter);
            }
        }
    }
    // The text searches the index serves find what they should (case and Unicode folded by
    // the evaluator's rules, quotes inside the needle).
    for filter in [
        "HELLO",
        "größe",
        "ÅNGSTRÖM",
        r#""\"quoted\"""#,
        r#"jsonPayload.note:"e \"q""#,
        "503",
    ] {
        assert!(matched.contains(&filter), "{filter:?} matched nothing");
    }
    assert!(FILTERS.len() >= 80);
    assert!(
        nonempty >= 60,
        "most filters should match something ({nonempty})"
    );
    server.stop().await;
}
