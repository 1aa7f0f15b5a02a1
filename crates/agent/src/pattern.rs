//! fluentd tag patterns: `a.b`, `*` (one part), `**` (zero or more parts), `{a,b}`
//! alternatives, and several space-separated patterns in one `<match>`.

/// A compiled `<match>`/`<filter>` argument.
#[derive(Debug, Clone)]
pub struct TagPattern {
    text: String,
    alternatives: Vec<Vec<Part>>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Literal(String),
    /// Glob within one dot-separated part (`*`, `a*`), with `{x,y}` already expanded.
    Glob(String),
    Any,
}

impl TagPattern {
    pub fn new(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let words: Vec<&str> = if text.is_empty() {
            vec!["**"]
        } else {
            text.split_whitespace().collect()
        };
        let mut alternatives = Vec::new();
        for word in words {
            for expanded in expand_braces(word)? {
                alternatives.push(compile(&expanded));
            }
        }
        Ok(Self {
            text: text.to_string(),
            alternatives,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn matches(&self, tag: &str) -> bool {
        // `<match **>` (the usual catch-all) needs no look at the tag: it is asked per event.
        if self
            .alternatives
            .iter()
            .any(|alt| alt.as_slice() == [Part::Any])
        {
            return true;
        }
        let parts: Vec<&str> = tag.split('.').collect();
        self.alternatives.iter().any(|alt| match_parts(alt, &parts))
    }
}

fn compile(pattern: &str) -> Vec<Part> {
    pattern
        .split('.')
        .map(|p| match p {
            "**" => Part::Any,
            p if p.contains('*') => Part::Glob(p.to_string()),
            p => Part::Literal(p.to_string()),
        })
        .collect()
}

fn match_parts(pattern: &[Part], tag: &[&str]) -> bool {
    match pattern.split_first() {
        None => tag.is_empty(),
        Some((Part::Any, rest)) => (0..=tag.len()).any(|skip| match_parts(rest, &tag[skip..])),
        Some((part, rest)) => match tag.split_first() {
            Some((first, tail)) => match_part(part, first) && match_parts(rest, tail),
            None => false,
        },
    }
}

fn match_part(part: &Part, text: &str) -> bool {
    match part {
        Part::Literal(l) => l == text,
        Part::Glob(g) => glob_match(g.as_bytes(), text.as_bytes()),
        Part::Any => true,
    }
}

fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|i| glob_match(rest, &text[i..])),
        Some((c, rest)) => text.first() == Some(c) && glob_match(rest, &text[1..]),
    }
}

/// `a.{b,c}.d` → `a.b.d`, `a.c.d` (nested braces included).
fn expand_braces(word: &str) -> Result<Vec<String>, String> {
    let Some(open) = word.find('{') else {
        return Ok(vec![word.to_string()]);
    };
    let mut depth = 0;
    let mut close = None;
    for (i, c) in word[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(open + i);
                    break;
                }
            }
            _ => {}
        }
    }
    let close = close.ok_or_else(|| format!("unbalanced `{{` in tag pattern `{word}`"))?;
    let (head, inner, tail) = (&word[..open], &word[open + 1..close], &word[close + 1..]);
    let mut options = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                options.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    options.push(&inner[start..]);
    let mut out = Vec::new();
    for option in options {
        out.extend(expand_braces(&format!("{head}{option}{tail}"))?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, tag: &str) -> bool {
        TagPattern::new(pattern).unwrap().matches(tag)
    }

    #[test]
    fn fluentd_semantics() {
        assert!(m("**", "app.log"));
        assert!(m("**", "x"));
        assert!(m("app.*", "app.log"));
        assert!(!m("app.*", "app.log.x"));
        assert!(!m("app.*", "app"));
        assert!(m("app.**", "app"));
        assert!(m("app.**", "app.a.b"));
        assert!(!m("app.**", "apps.a"));
        assert!(m("a.{b,c}", "a.c"));
        assert!(!m("a.{b,c}", "a.d"));
        assert!(m("x y.*", "y.z"));
        assert!(m("a.b*", "a.bcd"));
        assert!(m("**.log", "api.app.log"));
        assert!(m("{a,b.{c,d}}", "b.d"));
    }

    #[test]
    fn unbalanced_brace_is_an_error() {
        assert!(TagPattern::new("a.{b").is_err());
    }
}
