//! The spanned syntax tree of a Fluentd configuration file.
//!
//! Plugin config code walks these types (usually through [`crate::Reader`]);
//! every element remembers where it came from so a diagnostic can point at
//! `file:line:column`, even when the element was spliced in by `@include`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// A position in a configuration file. `line` and `column` are 1-based;
/// `column` counts characters, and a tab counts as one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: Arc<Path>,
    pub line: u32,
    pub column: u32,
}

impl Span {
    /// Builds a span; mostly useful in tests.
    pub fn new(file: impl AsRef<Path>, line: u32, column: u32) -> Span {
        Span {
            file: Arc::from(file.as_ref()),
            line,
            column,
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// One `key value` line. `value` is already unquoted, unescaped and
/// interpolated; a key without a value has an empty `value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub key: String,
    pub value: String,
    pub key_span: Span,
    pub value_span: Span,
    /// How many characters the value occupies on its first source line;
    /// used to underline it in diagnostics.
    pub(crate) value_width: u32,
}

impl Param {
    /// Builds a parameter by hand (tests, synthesized config).
    pub fn new(key: &str, value: &str, key_span: Span, value_span: Span) -> Param {
        Param {
            key: key.to_owned(),
            value: value.to_owned(),
            key_span,
            value_span,
            value_width: value.chars().count().max(1) as u32,
        }
    }

    /// Number of characters to underline when pointing at the value.
    pub fn value_width(&self) -> u32 {
        self.value_width
    }
}

/// A `<name arg> ... </name>` section. The whole file is a section named
/// `ROOT` with an empty argument.
#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    pub name: String,
    pub arg: String,
    pub span: Span,
    pub arg_span: Span,
    pub params: Vec<Param>,
    pub sections: Vec<Section>,
    /// The text of every file the tree was read from, so diagnostics made
    /// later (by [`crate::Reader`]) can quote the offending line.
    pub(crate) sources: Arc<SourceMap>,
}

impl Section {
    /// Builds an empty section by hand (tests, synthesized config).
    pub fn new(name: &str, arg: &str, span: Span) -> Section {
        Section {
            name: name.to_owned(),
            arg: arg.to_owned(),
            arg_span: span.clone(),
            span,
            params: Vec::new(),
            sections: Vec::new(),
            sources: Arc::default(),
        }
    }

    /// The opening tag as a user wrote it: `<source>`, `<match app.**>`.
    pub fn header(&self) -> String {
        if self.arg.is_empty() {
            format!("<{}>", self.name)
        } else {
            format!("<{} {}>", self.name, self.arg)
        }
    }

    /// The last value of `key`, if present (Fluentd lets a later line win).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|p| p.key == key)
            .map(|p| p.value.as_str())
    }

    /// Nested sections called `name`, in file order.
    pub fn children<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Section> + 's {
        self.sections.iter().filter(move |s| s.name == name)
    }

    /// The source line a span points at, if the tree knows that file.
    pub fn source_line(&self, span: &Span) -> Option<&str> {
        self.sources.line(span)
    }

    /// Renders the tree the way Fluentd logs it at startup
    /// (`<ROOT> ... </ROOT>`, two spaces per level).
    pub fn to_fluentd_string(&self) -> String {
        self.to_fluentd_string_masked(|_, _| false)
    }

    /// Like [`Section::to_fluentd_string`], but prints `xxxxxx` for every
    /// parameter `is_secret(section, param)` selects (Fluentd masks secrets).
    pub fn to_fluentd_string_masked(&self, is_secret: impl Fn(&Section, &Param) -> bool) -> String {
        let mut out = String::new();
        self.dump(0, &is_secret, &mut out);
        out
    }

    fn dump(&self, depth: usize, is_secret: &dyn Fn(&Section, &Param) -> bool, out: &mut String) {
        let pad = "  ".repeat(depth);
        out.push_str(&pad);
        out.push_str(&self.header());
        out.push('\n');
        for p in &self.params {
            let value = if is_secret(self, p) {
                "xxxxxx"
            } else {
                &p.value
            };
            out.push_str(&format!("{pad}  {} {}\n", p.key, value));
        }
        for s in &self.sections {
            s.dump(depth + 1, is_secret, out);
        }
        out.push_str(&format!("{pad}</{}>\n", self.name));
    }

    /// Gives every section in the tree the same source map.
    pub(crate) fn set_sources(&mut self, sources: &Arc<SourceMap>) {
        self.sources = Arc::clone(sources);
        for s in &mut self.sections {
            s.set_sources(sources);
        }
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_fluentd_string())
    }
}

/// Lines of every file read while parsing, keyed by path.
#[derive(Default)]
pub(crate) struct SourceMap {
    files: BTreeMap<Arc<Path>, Vec<String>>,
}

impl SourceMap {
    pub(crate) fn insert(&mut self, file: Arc<Path>, text: &str) {
        let lines = text
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l).to_owned())
            .collect();
        self.files.insert(file, lines);
    }

    pub(crate) fn line(&self, span: &Span) -> Option<&str> {
        let lines = self.files.get(&span.file)?;
        lines
            .get((span.line as usize).checked_sub(1)?)
            .map(String::as_str)
    }
}

impl fmt::Debug for SourceMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SourceMap({} files)", self.files.len())
    }
}

/// Source text is context for diagnostics, not part of a section's identity.
impl PartialEq for SourceMap {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
