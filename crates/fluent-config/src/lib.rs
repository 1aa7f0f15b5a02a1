//! Fluentd configuration files → a spanned syntax tree, plus a small toolkit
//! for turning sections into typed plugin configs with rustc-style
//! diagnostics.
//!
//! Stage one ([`parse_file`]) knows only syntax: sections, `key value`
//! parameters, quoting, `#{ENV[...]}`, `@include`. Stage two ([`Reader`]) is
//! used by each plugin's `config.rs` to read typed values; every mistake in
//! either stage points at `file:line:column`. This crate knows no plugins.
//!
//! ```
//! use std::path::Path;
//! use fluent_config::{ParseOptions, Reader, parse_str_tolerant, render_all};
//!
//! let text = "<source>\n  @type tail\n  pth /var/log/app.log\n</source>\n";
//! let (root, mut diags) = parse_str_tolerant(text, Path::new("fluent.conf"), &ParseOptions::default());
//! let mut top = Reader::new(&root, &mut diags);
//! for source in top.sections("source") {
//!     let mut r = top.child(source);
//!     let _kind = r.required_plugin_type();
//!     let _path = r.required_string("path");
//!     let _read_from_head = r.bool("read_from_head", false);
//!     r.finish(); // `pth` → "unknown parameter", help: did you mean `path`?
//! }
//! top.finish();
//! fluent_config::sort_by_position(&mut diags);
//! assert_eq!(diags.iter().filter(|d| d.is_error()).count(), 2);
//! assert!(render_all(&diags).ends_with("error: 2 errors in fluent.conf\n"));
//! ```
#![forbid(unsafe_code)]

mod ast;
mod cursor;
mod diagnostic;
#[doc(hidden)]
pub mod fuzzing;
mod json;
pub mod literal;
mod parser;
mod reader;
mod value;

pub use ast::{Param, Section, Span};
pub use diagnostic::{Diagnostic, Diagnostics, Level, did_you_mean, render_all, sort_by_position};
pub use literal::LiteralError;
pub use parser::{
    ParseOptions, Parsed, parse_file, parse_file_tolerant, parse_file_with, parse_str,
    parse_str_tolerant, parse_str_with,
};
pub use reader::{Common, LOG_LEVELS, Reader};
pub use value::EnvLookup;
