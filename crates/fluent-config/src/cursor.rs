//! A character cursor that tracks line and column, shared by the section,
//! parameter and value scanners so every span is computed the same way.

use std::path::Path;
use std::sync::Arc;

use crate::ast::Span;

/// Where the cursor is: index into the characters plus 1-based line/column.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pos {
    pub idx: usize,
    pub line: u32,
    pub col: u32,
}

pub(crate) struct Cursor<'t> {
    chars: &'t [char],
    pub pos: Pos,
    file: Arc<Path>,
}

impl<'t> Cursor<'t> {
    pub fn new(chars: &'t [char], file: Arc<Path>) -> Cursor<'t> {
        Cursor {
            chars,
            pos: Pos {
                idx: 0,
                line: 1,
                col: 1,
            },
            file,
        }
    }

    pub fn peek(&self) -> Option<char> {
        self.chars.get(self.pos.idx).copied()
    }

    /// The character just before the cursor, if any.
    pub fn prev(&self) -> Option<char> {
        self.pos
            .idx
            .checked_sub(1)
            .and_then(|i| self.chars.get(i).copied())
    }

    pub fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos.idx += 1;
        if c == '\n' {
            self.pos.line += 1;
            self.pos.col = 1;
        } else {
            self.pos.col += 1;
        }
        Some(c)
    }

    pub fn at_line_end(&self) -> bool {
        matches!(self.peek(), None | Some('\n'))
    }

    /// Skips spaces and tabs (not newlines).
    pub fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.bump();
        }
    }

    /// Skips to the start of the next line.
    pub fn skip_line(&mut self) {
        while !self.at_line_end() {
            self.bump();
        }
        self.bump();
    }

    /// The rest of the current line, without consuming it.
    pub fn rest_of_line(&self) -> &'t [char] {
        let rest = &self.chars[self.pos.idx..];
        let end = rest.iter().position(|&c| c == '\n').unwrap_or(rest.len());
        &rest[..end]
    }

    pub fn text(&self, from: Pos, to: Pos) -> String {
        self.chars[from.idx..to.idx].iter().collect()
    }

    pub fn span(&self) -> Span {
        self.span_at(self.pos)
    }

    pub fn span_at(&self, pos: Pos) -> Span {
        Span {
            file: Arc::clone(&self.file),
            line: pos.line,
            column: pos.col,
        }
    }

    pub fn file(&self) -> &Arc<Path> {
        &self.file
    }
}
