//! Bounds on what a filter may cost: its length and how deeply it nests. A filter of 5,000
//! nested parentheses once overflowed a tokio worker's stack and aborted the emulator; these
//! are that bug's regression tests.

use logquery::{MAX_FILTER_CHARS, MAX_NESTING, parse};
use serde_json::json;

/// Parses, evaluates and narrows `filter` on a thread with a quarter of a tokio worker's
/// 2 MiB stack, so a bound that only just fits would fail here first.
fn on_small_stack(filter: String) -> Result<bool, logquery::ParseError> {
    std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(move || {
            let query = parse(&filter)?;
            let entry = json!({"severity": "ERROR", "jsonPayload": {"a": "x"}});
            let matched = query.matches(&entry);
            if matched {
                assert!(query.restrictions().admits(&entry));
            }
            Ok(matched)
        })
        .unwrap()
        .join()
        .expect("the parse thread did not panic or overflow")
}

fn nested_parens(levels: usize) -> String {
    format!(
        "{}jsonPayload.a=x{}",
        "(".repeat(levels),
        ")".repeat(levels)
    )
}

#[test]
fn regression_100000_nested_parentheses_overflowed_the_stack() {
    // Over the length limit too: the length is checked first.
    let err = on_small_stack(nested_parens(100_000)).unwrap_err();
    assert_eq!(err.position, MAX_FILTER_CHARS);
    assert!(err.expected.contains("20000 characters"), "{err}");

    // Within the length limit, the depth limit answers, at the first '(' too deep.
    let err = on_small_stack(nested_parens(9_000)).unwrap_err();
    assert_eq!(err.position, MAX_NESTING);
    assert_eq!(
        err.to_string(),
        "1:65: expected at most 64 nested levels of '(', NOT and '-', found '('"
    );
}

#[test]
fn nesting_up_to_the_limit_parses_and_evaluates() {
    assert_eq!(on_small_stack(nested_parens(MAX_NESTING)), Ok(true));
    let err = on_small_stack(nested_parens(MAX_NESTING + 1)).unwrap_err();
    assert_eq!(err.position, MAX_NESTING);

    // Every nesting construct counts toward the same limit: 32 NOT pairs are 64 levels.
    let nots = format!("{}jsonPayload.a=x", "NOT ".repeat(MAX_NESTING));
    assert_eq!(on_small_stack(nots), Ok(true));
    let mixed = format!(
        "{}jsonPayload.a=x{}",
        "-(".repeat(MAX_NESTING / 2),
        ")".repeat(MAX_NESTING / 2)
    );
    assert_eq!(on_small_stack(mixed), Ok(true));
}

#[test]
fn regression_long_not_and_minus_chains_overflowed_the_stack() {
    let nots = format!("{}a=x", "NOT ".repeat(4_000));
    let err = on_small_stack(nots).unwrap_err();
    assert_eq!(err.position, 4 * MAX_NESTING);
    assert_eq!(err.found, "'NOT'");

    // ("--" would start a comment, so each '-' here is followed by a '(' or a space.)
    let minuses = format!("{}a=x", "-(".repeat(9_000));
    let err = on_small_stack(minuses).unwrap_err();
    assert_eq!(err.position, MAX_NESTING);

    let spaced = format!("{}a=x", "- ".repeat(9_000));
    let err = on_small_stack(spaced).unwrap_err();
    assert_eq!(err.position, 2 * MAX_NESTING);

    // Beyond the length limit, whatever it holds.
    let err = on_small_stack(format!("{}a=x", "NOT ".repeat(100_000))).unwrap_err();
    assert_eq!(err.position, MAX_FILTER_CHARS);
}

#[test]
fn value_lists_nest_within_the_same_limit() {
    let list = |levels: usize| {
        format!(
            "jsonPayload.a=({}x{})",
            "(NOT ".repeat(levels),
            ")".repeat(levels)
        )
    };
    // The list's own '(' is one level; each "(NOT " two more.
    assert!(on_small_stack(list((MAX_NESTING - 1) / 2)).is_ok());
    let err = on_small_stack(list(3_000)).unwrap_err();
    assert!(err.expected.contains("nested levels"), "{err}");
}

#[test]
fn the_length_limit_counts_characters_not_bytes() {
    // 'é' is two bytes: 20,000 of them are 40,000 bytes but within the limit.
    let at_limit = format!("\"{}\"", "é".repeat(MAX_FILTER_CHARS - 2));
    assert_eq!(at_limit.chars().count(), MAX_FILTER_CHARS);
    assert!(parse(&at_limit).is_ok());

    let over = format!("\"{}\"", "é".repeat(MAX_FILTER_CHARS - 1));
    let err = parse(&over).unwrap_err();
    assert_eq!(err.position, over.len() - 1, "points at the closing quote");
    assert_eq!((err.line, err.column), (1, MAX_FILTER_CHARS + 1));
    assert_eq!(
        err.found,
        format!("one of {} characters", MAX_FILTER_CHARS + 1)
    );
}

#[test]
fn wide_filters_are_not_limited_by_nesting() {
    // AND and OR chains are flat: thousands of terms are fine within the length limit.
    let wide = vec!["labels.a=x"; 1_400].join(" OR ");
    assert!(wide.len() <= MAX_FILTER_CHARS);
    assert_eq!(on_small_stack(wide), Ok(false));
    let wide = vec!["(jsonPayload.a=x)"; 1_000].join(" ");
    assert_eq!(on_small_stack(wide), Ok(true));
}
