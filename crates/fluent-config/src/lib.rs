//! Fluentd configuration files → a spanned syntax tree, plus a small toolkit
//! for turning sections into typed plugin configs with rustc-style
//! diagnostics.
//!
//! Stage one ([`parse_file`]) knows only syntax: sections, `key value`
//! parameters, quoting, `#{ENV[...]}`, `@include`. Stage two ([`Reader`]) is
//! used by each plugin's `config.rs` to read typed values; every mistake in
//! either stage points at `file:line:column`. This crate knows no plugins.
#![forbid(unsafe_code)]

mod ast;
mod cursor;
mod diagnostic;
mod json;
pub mod literal;
mod parser;
mod reader;
mod value;

pub use ast::{Param, Section, Span};
pub use diagnostic::{Diagnostic, Diagnostics, Level, did_you_mean, render_all};
pub use literal::LiteralError;
pub use parser::{
    ParseOptions, Parsed, parse_file, parse_file_tolerant, parse_file_with, parse_str,
    parse_str_tolerant, parse_str_with,
};
pub use reader::{Common, LOG_LEVELS, Reader};
pub use value::EnvLookup;
