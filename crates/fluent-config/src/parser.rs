//! Fluentd configuration text → [`Section`] tree, collecting every error.
//!
//! The parser is line oriented like Fluentd's: a line is a section tag, a
//! `key value` parameter, a comment or blank. After a syntax error it skips
//! to the next line so one run reports all mistakes in a file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::ast::{Param, Section, SourceMap, Span};
use crate::cursor::Cursor;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::value::{EnvLookup, scan_value};

/// Knobs for parsing; the default reads the process environment.
pub struct ParseOptions<'e> {
    env: EnvLookup<'e>,
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl Default for ParseOptions<'static> {
    fn default() -> Self {
        ParseOptions { env: &process_env }
    }
}

impl<'e> ParseOptions<'e> {
    /// Resolves `#{ENV['NAME']}` with `env` instead of the process environment.
    pub fn with_env(env: EnvLookup<'e>) -> ParseOptions<'e> {
        ParseOptions { env }
    }
}

/// The `ROOT` section and diagnostics (only warnings from `parse_file`).
pub type Parsed = (Section, Vec<Diagnostic>);

/// Parses a config file and everything it `@include`s.
pub fn parse_file(path: &Path) -> Result<Parsed, Diagnostics> {
    parse_file_with(path, &ParseOptions::default())
}

/// [`parse_file`] with explicit options.
pub fn parse_file_with(path: &Path, opts: &ParseOptions<'_>) -> Result<Parsed, Diagnostics> {
    split_errors(parse_file_tolerant(path, opts))
}

/// Parses a file and always returns the tree (partial after syntax errors)
/// with every diagnostic, errors included: validate it with
/// [`crate::Reader`] too, then report syntax and validation errors in one go.
pub fn parse_file_tolerant(path: &Path, opts: &ParseOptions<'_>) -> Parsed {
    let file: Arc<Path> = Arc::from(path);
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let mut parser = Parser::new(opts);
            parser.include_stack.push(canonical(path));
            parser.run(&text, file)
        }
        Err(e) => {
            let span = Span {
                file,
                line: 1,
                column: 1,
            };
            let root = Section::new("ROOT", "", span.clone());
            let message = format!("cannot read config file `{}`: {e}", path.display());
            (root, vec![Diagnostic::error(message, span)])
        }
    }
}

/// `Err` with all diagnostics if any is an error, else the tree and warnings.
fn split_errors((root, diags): Parsed) -> Result<Parsed, Diagnostics> {
    if diags.iter().any(Diagnostic::is_error) {
        Err(Diagnostics(diags))
    } else {
        Ok((root, diags))
    }
}

/// Parses config text; `name` is used in spans and to resolve relative
/// `@include` paths (relative to its directory).
pub fn parse_str(text: &str, name: &Path) -> Result<Parsed, Diagnostics> {
    parse_str_with(text, name, &ParseOptions::default())
}

/// [`parse_str`] with explicit options.
pub fn parse_str_with(
    text: &str,
    name: &Path,
    opts: &ParseOptions<'_>,
) -> Result<Parsed, Diagnostics> {
    split_errors(parse_str_tolerant(text, name, opts))
}

/// [`parse_file_tolerant`] for text in memory.
pub fn parse_str_tolerant(text: &str, name: &Path, opts: &ParseOptions<'_>) -> Parsed {
    let mut parser = Parser::new(opts);
    parser.include_stack.push(canonical(name));
    parser.run(text, Arc::from(name))
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

struct Parser<'o, 'e> {
    opts: &'o ParseOptions<'e>,
    diags: Vec<Diagnostic>,
    sources: SourceMap,
    /// Canonical paths of the files being read, outermost first.
    include_stack: Vec<PathBuf>,
}

impl<'o, 'e> Parser<'o, 'e> {
    fn new(opts: &'o ParseOptions<'e>) -> Self {
        Parser {
            opts,
            diags: Vec::new(),
            sources: SourceMap::default(),
            include_stack: Vec::new(),
        }
    }

    fn run(mut self, text: &str, file: Arc<Path>) -> Parsed {
        let mut root = Section::new(
            "ROOT",
            "",
            Span {
                file: Arc::clone(&file),
                line: 1,
                column: 1,
            },
        );
        self.parse_text(text, file, &mut root);
        let sources = Arc::new(self.sources);
        root.set_sources(&sources);
        for d in &mut self.diags {
            if d.source_line.is_none() {
                d.source_line = sources.line(&d.span).map(str::to_owned);
            }
        }
        (root, self.diags)
    }

    /// Parses one file's text, appending its top-level elements to `container`.
    fn parse_text(&mut self, text: &str, file: Arc<Path>, container: &mut Section) {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        self.sources.insert(Arc::clone(&file), text);
        let chars: Vec<char> = text.replace("\r\n", "\n").chars().collect();
        let mut cur = Cursor::new(&chars, file);
        let mut stack: Vec<Section> = Vec::new();
        loop {
            cur.skip_blanks();
            match cur.peek() {
                None => break,
                Some('\n') => {
                    cur.bump();
                }
                Some('#') => cur.skip_line(),
                Some('<') => self.tag(&mut cur, &mut stack, container),
                Some(_) => {
                    let target = stack.last_mut().unwrap_or(&mut *container);
                    self.param(&mut cur, target);
                }
            }
        }
        while let Some(open) = stack.pop() {
            self.diags.push(
                Diagnostic::error(
                    format!("unclosed section {}", open.header()),
                    open.span.clone(),
                )
                .with_width(open.header().chars().count() as u32)
                .with_hint(format!("add `</{}>` to close it", open.name)),
            );
            attach(&mut stack, container, open);
        }
    }

    /// `<name arg>` or `</name>`.
    fn tag(&mut self, cur: &mut Cursor<'_>, stack: &mut Vec<Section>, container: &mut Section) {
        let start = cur.pos;
        let span = cur.span();
        cur.bump();
        let closing = cur.peek() == Some('/');
        if closing {
            cur.bump();
        }
        let mut name = String::new();
        while !cur.at_line_end() && !matches!(cur.peek(), Some(' ' | '\t' | '>')) {
            name.extend(cur.bump());
        }
        cur.skip_blanks();
        let arg_span = cur.span();
        let mut arg = String::new();
        while !cur.at_line_end() && cur.peek() != Some('>') {
            arg.extend(cur.bump());
        }
        if cur.peek() != Some('>') {
            let width = (cur.pos.idx - start.idx) as u32;
            self.diags.push(
                Diagnostic::error("unterminated section tag: expected `>`", span).with_width(width),
            );
            cur.skip_line();
            return;
        }
        cur.bump();
        let width = (cur.pos.idx - start.idx) as u32;
        cur.skip_blanks();
        if !cur.at_line_end() && cur.peek() != Some('#') {
            let rest = cur.rest_of_line().len() as u32;
            self.diags.push(
                Diagnostic::error("unexpected text after `>`", cur.span())
                    .with_width(rest)
                    .with_hint("a section tag must be alone on its line"),
            );
        }
        cur.skip_line();
        let arg = arg.trim_end().to_owned();

        if name.is_empty() {
            self.diags
                .push(Diagnostic::error("missing section name", span).with_width(width));
            return;
        }
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            self.diags.push(
                Diagnostic::error(format!("invalid section name `{name}`"), span.clone())
                    .with_width(width)
                    .with_hint("section names contain only letters, digits and `_`"),
            );
        }
        if !closing {
            let mut section = Section::new(&name, &arg, span);
            section.arg_span = arg_span;
            stack.push(section);
            return;
        }
        if !arg.is_empty() {
            self.diags.push(
                Diagnostic::error(
                    format!("closing tag `</{name}>` takes no argument"),
                    arg_span,
                )
                .with_width(arg.chars().count() as u32),
            );
        }
        // `</match>` while an inner `<buffer>` is still open: the inner one
        // was left unclosed; report that and close both, rather than
        // cascading into a mismatch plus an unclosed `<match>` at EOF.
        let inner_unclosed = match stack.last() {
            Some(top) if top.name != name => stack.iter().rposition(|s| s.name == name),
            _ => None,
        };
        if let Some(depth) = inner_unclosed {
            while stack.len() > depth + 1 {
                let inner = stack.pop().expect("deeper than depth");
                self.diags.push(
                    Diagnostic::error(
                        format!("unclosed section {}", inner.header()),
                        inner.span.clone(),
                    )
                    .with_width(inner.header().chars().count() as u32)
                    .with_hint(format!(
                        "add `</{}>` before the `</{name}>` at {span}",
                        inner.name
                    )),
                );
                attach(stack, container, inner);
            }
        }
        let Some(open) = stack.pop() else {
            self.diags.push(
                Diagnostic::error(format!("unexpected `</{name}>`: no section is open"), span)
                    .with_width(width),
            );
            return;
        };
        if open.name != name {
            self.diags.push(
                Diagnostic::error(
                    format!(
                        "mismatched closing tag: expected `</{}>`, found `</{name}>`",
                        open.name
                    ),
                    span,
                )
                .with_width(width)
                .with_note(format!(
                    "{} was opened at {}",
                    open.header(),
                    open.span
                )),
            );
        }
        attach(stack, container, open);
    }

    /// `key value`, including `@include PATH`.
    fn param(&mut self, cur: &mut Cursor<'_>, target: &mut Section) {
        let key_span = cur.span();
        let mut key = String::new();
        while !cur.at_line_end() && !matches!(cur.peek(), Some(' ' | '\t')) {
            key.extend(cur.bump());
        }
        if key.starts_with(['>', '"', '\'', '{', '}', '[', ']', ',', '=']) {
            self.diags.push(
                Diagnostic::error(
                    format!("expected a parameter or a section, found `{key}`"),
                    key_span,
                )
                .with_width(key.chars().count() as u32),
            );
            cur.skip_line();
            return;
        }
        cur.skip_blanks();
        let value = scan_value(cur, self.opts.env, &mut self.diags);
        if key == "@include" || key == "include" {
            self.include(&value.text, &value.span, value.width, cur.file(), target);
            return;
        }
        target.params.push(Param {
            key,
            value: value.text,
            key_span,
            value_span: value.span,
            value_width: value.width,
        });
    }

    /// Splices the files `pattern` names (relative to `from`'s directory,
    /// glob allowed) into `target`.
    fn include(
        &mut self,
        pattern: &str,
        span: &Span,
        width: u32,
        from: &Path,
        target: &mut Section,
    ) {
        let error = |msg: String| Diagnostic::error(msg, span.clone()).with_width(width);
        if pattern.is_empty() {
            self.diags.push(error("`@include` needs a path".into()));
            return;
        }
        if pattern.contains("://") {
            self.diags.push(error(format!(
                "cannot include `{pattern}`: only local files can be included"
            )));
            return;
        }
        let base = from.parent().filter(|p| !p.as_os_str().is_empty());
        let full = match base {
            Some(dir) if !Path::new(pattern).is_absolute() => dir.join(pattern),
            _ => PathBuf::from(pattern),
        };
        if !pattern.contains(['*', '?', '[']) {
            if full.is_file() {
                self.include_file(&full, span, width, target);
            } else {
                self.diags.push(error(format!(
                    "included file `{}` not found",
                    full.display()
                )));
            }
            return;
        }
        let glob_pattern = match base {
            Some(dir) if !Path::new(pattern).is_absolute() => {
                format!(
                    "{}/{pattern}",
                    glob::Pattern::escape(&dir.to_string_lossy())
                )
            }
            _ => pattern.to_owned(),
        };
        let options = glob::MatchOptions {
            require_literal_leading_dot: true,
            ..glob::MatchOptions::new()
        };
        match glob::glob_with(&glob_pattern, options) {
            Ok(paths) => {
                let mut paths: Vec<PathBuf> = paths.flatten().filter(|p| p.is_file()).collect();
                paths.sort();
                for path in paths {
                    self.include_file(&path, span, width, target);
                }
            }
            Err(e) => self
                .diags
                .push(error(format!("invalid include pattern `{pattern}`: {e}"))),
        }
    }

    fn include_file(&mut self, path: &Path, span: &Span, width: u32, target: &mut Section) {
        let canon = canonical(path);
        if self.include_stack.contains(&canon) {
            let chain: Vec<String> = self
                .include_stack
                .iter()
                .skip_while(|p| **p != canon)
                .chain(std::iter::once(&canon))
                .map(|p| p.display().to_string())
                .collect();
            self.diags.push(
                Diagnostic::error(
                    format!("include cycle: {}", chain.join(" -> ")),
                    span.clone(),
                )
                .with_width(width),
            );
            return;
        }
        match std::fs::read_to_string(path) {
            Ok(text) => {
                self.include_stack.push(canon);
                self.parse_text(&text, Arc::from(path), target);
                self.include_stack.pop();
            }
            Err(e) => self.diags.push(
                Diagnostic::error(
                    format!("cannot read included file `{}`: {e}", path.display()),
                    span.clone(),
                )
                .with_width(width),
            ),
        }
    }
}

/// Appends a finished section to its parent: the enclosing open section or
/// the container the file is being parsed into.
fn attach(stack: &mut [Section], container: &mut Section, section: Section) {
    match stack.last_mut() {
        Some(parent) => parent.sections.push(section),
        None => container.sections.push(section),
    }
}
