//! Errors and warnings about a configuration, rendered like rustc does.
//!
//! A config file usually has more than one mistake; every stage collects
//! diagnostics instead of stopping at the first, and each one quotes the
//! offending line with a caret under the exact token.

use std::fmt;

use crate::ast::Span;

/// How serious a diagnostic is. Errors stop the agent; warnings are logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Error => "error",
            Level::Warning => "warning",
        })
    }
}

/// One problem found in a configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub level: Level,
    pub message: String,
    pub span: Span,
    /// Rendered as `= help: ...`.
    pub hint: Option<String>,
    /// Extra context such as where a section was opened; `= note: ...`.
    pub notes: Vec<String>,
    /// The text of the line `span` points at, when known.
    pub source_line: Option<String>,
    /// How many characters to underline, at least 1.
    pub width: u32,
}

impl Diagnostic {
    /// An error at `span` underlining one character.
    pub fn error(message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic::new(Level::Error, message.into(), span)
    }

    /// A warning at `span` underlining one character.
    pub fn warning(message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic::new(Level::Warning, message.into(), span)
    }

    fn new(level: Level, message: String, span: Span) -> Diagnostic {
        Diagnostic {
            level,
            message,
            span,
            hint: None,
            notes: Vec::new(),
            source_line: None,
            width: 1,
        }
    }

    /// Sets the `= help:` line.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    /// Sets the `= help:` line when there is one.
    pub fn with_opt_hint(mut self, hint: Option<String>) -> Diagnostic {
        self.hint = hint;
        self
    }

    /// Adds a `= note:` line.
    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// Sets how many characters the caret line underlines.
    pub fn with_width(mut self, width: u32) -> Diagnostic {
        self.width = width.max(1);
        self
    }

    /// Attaches the quoted source line.
    pub fn with_source_line(mut self, line: Option<&str>) -> Diagnostic {
        self.source_line = line.map(str::to_owned);
        self
    }

    /// True for [`Level::Error`].
    pub fn is_error(&self) -> bool {
        self.level == Level::Error
    }
}

/// Tabs are shown as this many spaces; the caret is shifted to match.
const TAB_WIDTH: usize = 4;

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let number = self.span.line.to_string();
        let w = number.len() + 1;
        writeln!(f, "{}: {}", self.level, self.message)?;
        writeln!(f, "{:w$}--> {}", "", self.span)?;
        if let Some(line) = &self.source_line {
            let shown = line.replace('\t', &" ".repeat(TAB_WIDTH));
            // Caret offset: characters before the column, tabs expanded.
            let offset: usize = line
                .chars()
                .take(self.span.column.saturating_sub(1) as usize)
                .map(|c| if c == '\t' { TAB_WIDTH } else { 1 })
                .sum();
            writeln!(f, "{:w$} |", "")?;
            writeln!(f, "{number:>w$} | {}", shown.trim_end())?;
            writeln!(
                f,
                "{:w$} | {}{}",
                "",
                " ".repeat(offset),
                "^".repeat(self.width.max(1) as usize)
            )?;
        }
        for note in &self.notes {
            writeln!(f, "{:w$} = note: {note}", "")?;
        }
        if let Some(hint) = &self.hint {
            writeln!(f, "{:w$} = help: {hint}", "")?;
        }
        Ok(())
    }
}

/// Every diagnostic of a failed parse or validation (errors and warnings).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{}", render_all(&self.0))]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Sorts by file, line and column, so syntax errors from the parser and
    /// validation errors from [`crate::Reader`] read top to bottom.
    pub fn sort(&mut self) {
        sort_by_position(&mut self.0);
    }

    /// Number of errors (warnings excluded).
    pub fn error_count(&self) -> usize {
        self.0.iter().filter(|d| d.is_error()).count()
    }
}

/// Sorts diagnostics by file, line and column (stable).
pub fn sort_by_position(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        (&a.span.file, a.span.line, a.span.column).cmp(&(&b.span.file, b.span.line, b.span.column))
    });
}

/// All diagnostics, each followed by a blank line, then a summary such as
/// `error: 5 errors in /etc/fluentd/fluentd.conf`.
pub fn render_all(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        out.push_str(&d.to_string());
        out.push('\n');
    }
    let errors: Vec<&Diagnostic> = diags.iter().filter(|d| d.is_error()).collect();
    let mut files: Vec<&std::path::Path> = errors.iter().map(|d| &*d.span.file).collect();
    files.sort();
    files.dedup();
    let count = match errors.len() {
        1 => "1 error".to_owned(),
        n => format!("{n} errors"),
    };
    match files.as_slice() {
        [] => {}
        [one] => out.push_str(&format!("error: {count} in {}\n", one.display())),
        many => out.push_str(&format!("error: {count} in {} files\n", many.len())),
    }
    out
}

/// The candidate closest to `word` (case-insensitive Damerau-Levenshtein),
/// if it is within `max(1, len/3)` edits; for "did you mean" hints.
pub fn did_you_mean(word: &str, candidates: &[&str]) -> Option<String> {
    let threshold = (word.chars().count() / 3).max(1);
    let lower = word.to_lowercase();
    candidates
        .iter()
        .map(|c| (edit_distance(&lower, &c.to_lowercase()), *c))
        .filter(|(d, _)| *d <= threshold)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_owned())
}

/// Optimal-string-alignment distance: insert, delete, substitute, and swap
/// of two adjacent characters each cost one.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names() {
        let keys = ["path", "pos_file", "tag", "read_from_head"];
        assert_eq!(did_you_mean("pth", &keys).as_deref(), Some("path"));
        assert_eq!(did_you_mean("pos_flie", &keys).as_deref(), Some("pos_file"));
        assert_eq!(did_you_mean("Tag", &keys).as_deref(), Some("tag"));
        assert_eq!(
            did_you_mean("read_form_head", &keys).as_deref(),
            Some("read_from_head")
        );
        assert_eq!(did_you_mean("type", &["@type"]).as_deref(), Some("@type"));
        assert_eq!(did_you_mean("xyz", &keys), None);
        assert_eq!(did_you_mean("anything", &[]), None);
    }

    #[test]
    fn distance_counts_transpositions_once() {
        assert_eq!(edit_distance("ab", "ba"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn renders_caret_under_tab_indented_token() {
        let d = Diagnostic::error(
            "unknown parameter `pth` in <source>",
            Span::new("/f.conf", 5, 4),
        )
        .with_source_line(Some("\t  pth /x"))
        .with_width(3)
        .with_hint("did you mean `path`?");
        // The tab becomes four spaces, so the caret moves by three extra columns.
        assert_eq!(
            d.to_string(),
            "error: unknown parameter `pth` in <source>\n  --> /f.conf:5:4\n   |\n 5 |       pth /x\n   |       ^^^\n   = help: did you mean `path`?\n"
        );
    }
}
