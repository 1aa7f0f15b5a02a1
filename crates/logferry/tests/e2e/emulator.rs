//! The `logferry emulator` binary against hostile requests: a filter of 5,000 nested
//! parentheses once overflowed a tokio worker's stack and aborted the whole process. Now it is
//! an INVALID_ARGUMENT naming the position, and the emulator goes on serving.

use serde_json::json;

use super::support::*;

#[test]
fn regression_100000_nested_parentheses_killed_the_emulator() {
    let dir = tempfile::tempdir().unwrap();
    let mut emulator = Emulator::start(dir.path());
    let list = |filter: &str| {
        http_post_json(
            &emulator.url,
            "/v2/entries:list",
            &json!({"resourceNames": ["projects/local-project"], "filter": filter}),
        )
    };
    let written = http_post_json(
        &emulator.url,
        "/v2/entries:write",
        &json!({"logName": "projects/local-project/logs/app", "resource": {"type": "global"},
                "entries": [{"textPayload": "still here"}]}),
    );
    assert_eq!(written.map(|(status, _)| status), Some(200));

    let parens = |levels: usize| format!("{}a=x{}", "(".repeat(levels), ")".repeat(levels));
    // Over Cloud Logging's 20,000-character limit.
    let (status, body) = list(&parens(100_000)).expect("an answer, not a dropped connection");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("INVALID_ARGUMENT"), "{body}");
    assert!(
        body.contains("filter: 1:20001: expected a filter of at most 20000 characters"),
        "{body}"
    );
    // Within it, but nested too deep; NOT and '-' chains count the same.
    for (filter, at) in [
        (parens(5_000), "1:65:"),
        (format!("{}a=x", "NOT ".repeat(4_000)), "1:257:"),
        (format!("{}a=x", "-(".repeat(5_000)), "1:65:"),
    ] {
        let (status, body) = list(&filter).expect("an answer");
        assert_eq!(status, 400, "{body}");
        assert!(
            body.contains(&format!(
                "filter: {at} expected at most 64 nested levels of '(', NOT and '-'"
            )),
            "{body}"
        );
    }
    // The explorer's validate endpoint parses with the same code and says where.
    let (status, body) = http_post_json(
        &emulator.url,
        "/ui/api/validate",
        &json!({"filter": parens(5_000)}),
    )
    .expect("an answer");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("\"position\":64"), "{body}");

    // The process is still there and serves the next request.
    assert!(
        emulator.child.try_wait().unwrap().is_none(),
        "the emulator exited"
    );
    let (status, body) = list(&parens(64).replace("a=x", "textPayload:here")).expect("an answer");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("still here"), "{body}");
    assert_eq!(emulator.query("").len(), 1);
}
