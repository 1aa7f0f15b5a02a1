//! Typed, validated access to one section's parameters, for plugin config
//! code: each read marks a parameter as used, mistakes become diagnostics
//! pointing at the value, and [`Reader::finish`] reports whatever was left
//! over as unknown (with a "did you mean" over the names that were asked).

use std::time::Duration;

use crate::ast::{Param, Section, Span};
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::literal::{self, LiteralError};

/// Levels accepted by `@log_level`, as in Fluentd.
pub const LOG_LEVELS: &[&str] = &["fatal", "error", "warn", "info", "debug", "trace"];

/// The parameters every Fluentd plugin section accepts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Common {
    /// `@id`: a stable plugin id.
    pub id: Option<String>,
    /// `@label`: route events to `<label @NAME>`; includes the `@`.
    pub label: Option<(String, Span)>,
    /// `@log_level` (or legacy `log_level`), one of [`LOG_LEVELS`].
    pub log_level: Option<String>,
}

/// Reads one [`Section`], collecting diagnostics into a shared list.
///
/// Call [`Reader::finish`] when done so unread parameters and sections are
/// reported as unknown.
#[must_use = "call `finish` to report unknown parameters"]
pub struct Reader<'a> {
    section: &'a Section,
    diags: &'a mut Vec<Diagnostic>,
    used_params: Vec<bool>,
    used_sections: Vec<bool>,
    /// Names asked for, present or not: candidates for "did you mean".
    known_keys: Vec<String>,
    known_sections: Vec<String>,
    /// `(key, old_key)`: `old_key` is accepted as a spelling of `key`.
    aliases: Vec<(String, String)>,
}

impl<'a> Reader<'a> {
    /// Starts reading `section`; diagnostics are appended to `diags`.
    pub fn new(section: &'a Section, diags: &'a mut Vec<Diagnostic>) -> Reader<'a> {
        Reader {
            section,
            diags,
            used_params: vec![false; section.params.len()],
            used_sections: vec![false; section.sections.len()],
            known_keys: Vec::new(),
            known_sections: Vec::new(),
            aliases: Vec::new(),
        }
    }

    /// A reader for a nested section sharing this reader's diagnostics.
    pub fn child<'b>(&'b mut self, section: &'b Section) -> Reader<'b> {
        Reader::new(section, self.diags)
    }

    /// The section being read.
    pub fn section(&self) -> &'a Section {
        self.section
    }

    /// True if any error has been collected so far (by any reader).
    pub fn has_errors(&self) -> bool {
        self.diags.iter().any(Diagnostic::is_error)
    }

    /// Accepts `old_key` as another spelling of `key` (e.g. v0.12 `type` for
    /// `@type`). Call before reading `key`; if both are set, `key` wins and
    /// a warning is emitted.
    pub fn alias(&mut self, key: &str, old_key: &str) -> &mut Self {
        self.aliases.push((key.to_owned(), old_key.to_owned()));
        self
    }

    /// Whether `key` (or an alias) is present; does not consume it.
    pub fn has(&self, key: &str) -> bool {
        let names = self.names_for(key);
        self.section
            .params
            .iter()
            .any(|p| names.contains(&p.key.as_str()))
    }

    fn names_for<'k>(&'k self, key: &'k str) -> Vec<&'k str> {
        let mut names = vec![key];
        names.extend(
            self.aliases
                .iter()
                .filter(|(k, _)| k == key)
                .map(|(_, old)| old.as_str()),
        );
        names
    }

    /// The raw parameter `key` (or an alias), marking it used. If it appears
    /// more than once the last wins and the earlier ones get a warning.
    pub fn param(&mut self, key: &str) -> Option<&'a Param> {
        self.known_keys.push(key.to_owned());
        let names: Vec<String> = self.names_for(key).into_iter().map(str::to_owned).collect();
        let mut hits: Vec<(usize, usize)> = Vec::new(); // (name rank, index)
        for (i, p) in self.section.params.iter().enumerate() {
            if let Some(rank) = names.iter().position(|n| *n == p.key) {
                self.used_params[i] = true;
                hits.push((rank, i));
            }
        }
        let best_rank = hits.iter().map(|(r, _)| *r).min()?;
        let chosen = hits
            .iter()
            .filter(|(r, _)| *r == best_rank)
            .map(|(_, i)| *i)
            .max()?;
        let winner = &self.section.params[chosen];
        for &(rank, i) in &hits {
            let p = &self.section.params[i];
            if i == chosen {
                continue;
            }
            let msg = if rank == best_rank {
                format!(
                    "parameter `{}` is set more than once in {}; the last value wins",
                    p.key,
                    self.context()
                )
            } else {
                format!(
                    "both `{}` and `{}` are set in {}; using `{}`",
                    winner.key,
                    p.key,
                    self.context(),
                    winner.key
                )
            };
            let d = Diagnostic::warning(msg, p.key_span.clone())
                .with_width(width(&p.key))
                .with_note(format!("the value used is at {}", winner.key_span));
            self.push(d);
        }
        Some(winner)
    }

    /// A string parameter.
    pub fn string(&mut self, key: &str) -> Option<String> {
        self.param(key).map(|p| p.value.clone())
    }

    /// A string parameter that must be present.
    pub fn required_string(&mut self, key: &str) -> Option<String> {
        self.required(key, Self::string)
    }

    /// Reads `key` with `read` (e.g. `Reader::size`), reporting
    /// "missing required parameter" at the section when it is absent.
    pub fn required<T>(
        &mut self,
        key: &str,
        read: impl FnOnce(&mut Self, &str) -> Option<T>,
    ) -> Option<T> {
        if !self.has(key) {
            self.known_keys.push(key.to_owned());
            let msg = format!("missing required parameter `{key}` in {}", self.context());
            let d = Diagnostic::error(msg, self.section.span.clone())
                .with_width(width(&self.section.header()))
                .with_hint(format!(
                    "add a line `{key} ...` inside {}",
                    self.section.header()
                ));
            self.push(d);
            return None;
        }
        read(self, key)
    }

    /// Reads `key` and converts it with `parse`; a failure is an error at the
    /// value: "invalid size `8x` for `chunk_limit_size`: expected ...".
    pub fn parsed<T>(
        &mut self,
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, LiteralError>,
    ) -> Option<T> {
        let p = self.param(key)?;
        match parse(&p.value) {
            Ok(v) => Some(v),
            Err(e) => {
                let msg = format!(
                    "invalid {} `{}` for `{key}`: {}",
                    e.kind, e.text, e.expected
                );
                self.value_error(p, msg, None);
                None
            }
        }
    }

    /// A boolean (`true`/`false`/`yes`/`no`; a bare key means true).
    pub fn bool(&mut self, key: &str, default: bool) -> bool {
        self.opt_bool(key).unwrap_or(default)
    }

    /// A boolean with no default.
    pub fn opt_bool(&mut self, key: &str) -> Option<bool> {
        self.parsed(key, literal::parse_bool)
    }

    /// A signed integer.
    pub fn int(&mut self, key: &str) -> Option<i64> {
        self.parsed(key, literal::parse_int)
    }

    /// A non-negative integer.
    pub fn uint(&mut self, key: &str) -> Option<u64> {
        self.parsed(key, literal::parse_uint)
    }

    /// A floating-point number.
    pub fn float(&mut self, key: &str) -> Option<f64> {
        self.parsed(key, literal::parse_float)
    }

    /// A size in bytes (`8m`, `256k`, `512`).
    pub fn size(&mut self, key: &str) -> Option<u64> {
        self.parsed(key, literal::parse_size)
    }

    /// A time (`5s`, `1m`, `0.5`, `100ms`).
    pub fn duration(&mut self, key: &str) -> Option<Duration> {
        self.parsed(key, literal::parse_duration)
    }

    /// An array (`a,b,c` or JSON).
    pub fn list(&mut self, key: &str) -> Option<Vec<String>> {
        self.parsed(key, literal::parse_list)
    }

    /// A hash (`k:v,k2:v2` or JSON object), in written order.
    pub fn hash(&mut self, key: &str) -> Option<Vec<(String, String)>> {
        self.parsed(key, literal::parse_hash)
    }

    /// One of `choices` (exact match); anything else is an error with a
    /// suggestion, and `default` is returned.
    pub fn enum_of<'c>(&mut self, key: &str, choices: &[&'c str], default: &'c str) -> &'c str {
        let Some(p) = self.param(key) else {
            return default;
        };
        if let Some(choice) = choices.iter().find(|c| **c == p.value) {
            return choice;
        }
        let msg = format!(
            "invalid value `{}` for `{key}`: expected one of {}",
            p.value,
            choices
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let hint = did_you_mean(&p.value, choices).map(|s| format!("did you mean `{s}`?"));
        self.value_error(p, msg, hint);
        default
    }

    /// A Fluentd parameter this implementation accepts but does not act on:
    /// if present, a warning saying so.
    pub fn ignored(&mut self, key: &str, why: &str) {
        if let Some(p) = self.param(key) {
            let msg = format!(
                "parameter `{}` is accepted for compatibility but has no effect: {why}",
                p.key
            );
            let d = Diagnostic::warning(msg, p.key_span.clone()).with_width(width(&p.key));
            self.push(d);
        }
    }

    /// A boolean this implementation acts on one way only, as if it were
    /// `acted_on`: the other value is accepted for compatibility, with a
    /// warning saying so (`why`: what happens instead).
    pub fn fixed_bool(&mut self, key: &str, acted_on: bool, why: &str) {
        let Some(p) = self.param(key) else {
            return;
        };
        if self.bool(key, acted_on) != acted_on {
            let msg = format!(
                "`{} {}` is accepted for compatibility but has no effect: {why}",
                p.key,
                p.value.trim()
            );
            let d = Diagnostic::warning(msg, p.value_span.clone()).with_width(p.value_width());
            self.push(d);
        }
    }

    /// Every parameter not read yet, marking them used: for sections whose
    /// keys are free-form, such as `<record>`.
    pub fn rest(&mut self) -> Vec<&'a Param> {
        let section = self.section;
        section
            .params
            .iter()
            .zip(self.used_params.iter_mut())
            .filter(|(_, used)| !**used)
            .map(|(p, used)| {
                *used = true;
                p
            })
            .collect()
    }

    /// `@type` (or legacy `type`) and the span of its value.
    pub fn plugin_type(&mut self) -> Option<(String, Span)> {
        self.alias("@type", "type");
        self.param("@type")
            .map(|p| (p.value.clone(), p.value_span.clone()))
    }

    /// Like [`Reader::plugin_type`] but an error when absent.
    pub fn required_plugin_type(&mut self) -> Option<(String, Span)> {
        self.alias("@type", "type");
        self.required("@type", |r, _| r.plugin_type())
    }

    /// `@id`.
    pub fn id(&mut self) -> Option<String> {
        self.string("@id")
    }

    /// `@label` and its value span; the value must start with `@`.
    pub fn label(&mut self) -> Option<(String, Span)> {
        let p = self.param("@label")?;
        if !p.value.starts_with('@') {
            let msg = format!("invalid label `{}`: label names start with `@`", p.value);
            self.value_error(p, msg, Some(format!("write `@label @{}`", p.value)));
        }
        Some((p.value.clone(), p.value_span.clone()))
    }

    /// `@log_level` (or legacy `log_level`), validated against [`LOG_LEVELS`].
    pub fn log_level(&mut self) -> Option<String> {
        self.alias("@log_level", "log_level");
        if !self.has("@log_level") {
            self.known_keys.push("@log_level".into());
            return None;
        }
        Some(self.enum_of("@log_level", LOG_LEVELS, "info").to_owned())
    }

    /// `@id`, `@label` and `@log_level` at once.
    pub fn common(&mut self) -> Common {
        Common {
            id: self.id(),
            label: self.label(),
            log_level: self.log_level(),
        }
    }

    /// Nested sections called `name`, marking them used.
    pub fn sections(&mut self, name: &str) -> Vec<&'a Section> {
        self.known_sections.push(name.to_owned());
        let section = self.section;
        section
            .sections
            .iter()
            .zip(self.used_sections.iter_mut())
            .filter(|(s, _)| s.name == name)
            .map(|(s, used)| {
                *used = true;
                s
            })
            .collect()
    }

    /// At most one nested section called `name`; extra ones are errors.
    pub fn section_opt(&mut self, name: &str) -> Option<&'a Section> {
        let found = self.sections(name);
        for extra in found.iter().skip(1) {
            let msg = format!("only one <{name}> section is allowed in {}", self.context());
            let d = Diagnostic::error(msg, extra.span.clone())
                .with_width(width(&extra.header()))
                .with_note(format!("the first one is at {}", found[0].span));
            self.push(d);
        }
        found.first().copied()
    }

    /// Records an error at `span`, quoting its source line.
    pub fn error_at(&mut self, span: &Span, message: impl Into<String>, hint: Option<String>) {
        self.push(Diagnostic::error(message, span.clone()).with_opt_hint(hint));
    }

    /// Records a warning at `span`, quoting its source line.
    pub fn warn_at(&mut self, span: &Span, message: impl Into<String>, hint: Option<String>) {
        self.push(Diagnostic::warning(message, span.clone()).with_opt_hint(hint));
    }

    /// Records an error underlining `param`'s whole value (for checks the
    /// plugin does itself, e.g. a regex that does not compile).
    pub fn value_error(&mut self, param: &Param, message: impl Into<String>, hint: Option<String>) {
        let d = Diagnostic::error(message, param.value_span.clone())
            .with_width(param.value_width())
            .with_opt_hint(hint);
        self.push(d);
    }

    /// Appends a diagnostic, filling in its source line.
    pub fn push(&mut self, mut d: Diagnostic) {
        if d.source_line.is_none() {
            d.source_line = self.section.source_line(&d.span).map(str::to_owned);
        }
        self.diags.push(d);
    }

    /// Reports every parameter and nested section that was never read.
    pub fn finish(mut self) {
        let mut candidates: Vec<&str> = self.known_keys.iter().map(String::as_str).collect();
        candidates.extend(self.aliases.iter().map(|(_, old)| old.as_str()));
        let mut found = Vec::new();
        for (p, _) in self
            .section
            .params
            .iter()
            .zip(&self.used_params)
            .filter(|(_, u)| !**u)
        {
            let hint = if let Some((k, _)) = p.key.split_once('=') {
                Some(format!(
                    "parameters are written `{k} value`, not `{k}=value`"
                ))
            } else {
                did_you_mean(&p.key, &candidates).map(|s| format!("did you mean `{s}`?"))
            };
            let msg = format!("unknown parameter `{}` in {}", p.key, self.context());
            found.push(
                Diagnostic::error(msg, p.key_span.clone())
                    .with_width(width(&p.key))
                    .with_opt_hint(hint),
            );
        }
        let known: Vec<&str> = self.known_sections.iter().map(String::as_str).collect();
        for (s, _) in self
            .section
            .sections
            .iter()
            .zip(&self.used_sections)
            .filter(|(_, u)| !**u)
        {
            let hint = did_you_mean(&s.name, &known).map(|n| format!("did you mean <{n}>?"));
            let msg = format!("unknown section <{}> in {}", s.name, self.context());
            found.push(
                Diagnostic::error(msg, s.span.clone())
                    .with_width(width(&s.header()))
                    .with_opt_hint(hint),
            );
        }
        for d in found {
            self.push(d);
        }
    }

    /// How messages name this section: `<source>`, `<match app.**>`.
    fn context(&self) -> String {
        if self.section.name == "ROOT" {
            "the top level".to_owned()
        } else {
            self.section.header()
        }
    }
}

fn width(text: &str) -> u32 {
    text.chars().count() as u32
}
