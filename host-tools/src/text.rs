//! Showing untrusted text: every message or listing that echoes input (a cell, a column or
//! feature name, a model's label, a path) goes through [`shown`] (or [`shown_path`]), which
//! escapes control and other invisible characters (so a model file or a CSV cannot send escape
//! codes to the terminal) and truncates long text with an ellipsis (so a 50 MB cell is not
//! echoed in full).
//!
//! Also here: [`chain`], which prints an error and its causes with each cause once.

use std::fmt::{self, Write as _};
use std::path::Path;

/// Characters of input shown before the ellipsis.
pub const SHOWN_CHARS: usize = 80;

/// Characters of a path shown before the ellipsis (paths are longer than cells, and cutting
/// them hides which file is meant).
pub const SHOWN_PATH_CHARS: usize = 240;

/// Input text made safe to print; see [`shown`].
#[derive(Clone, Copy)]
pub struct Shown<'a> {
    text: &'a str,
    limit: usize,
}

/// `text` with control and invisible characters escaped (`\n`, `\t`, `\u{1b}`, ...) and, if
/// longer than [`SHOWN_CHARS`] characters once escaped, cut with `…` and the full length.
pub fn shown(text: &str) -> Shown<'_> {
    Shown {
        text,
        limit: SHOWN_CHARS,
    }
}

/// `text` with control and invisible characters escaped like [`shown`], but never cut: for
/// listings whose purpose is to show a value in full (`inspect`'s label and feature names).
pub fn escaped(text: &str) -> Shown<'_> {
    Shown {
        text,
        limit: usize::MAX,
    }
}

/// A path shown like [`shown`] (lossy for non-UTF-8 names), cut at [`SHOWN_PATH_CHARS`].
pub fn shown_path(path: &Path) -> String {
    let lossy = path.to_string_lossy();
    Shown {
        text: &lossy,
        limit: SHOWN_PATH_CHARS,
    }
    .to_string()
}

/// Whether `c` must not reach a terminal as is: control characters, and the invisible
/// formatting characters that reorder or hide text (bidirectional overrides, zero-width).
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

fn escape_into(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\0' => out.push_str("\\0"),
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        let mut shown_chars = 0;
        for (index, c) in self.text.char_indices() {
            let before = out.len();
            if needs_escape(c) {
                escape_into(&mut out, c);
            } else {
                out.push(c);
            }
            shown_chars += out[before..].chars().count();
            if shown_chars > self.limit {
                out.truncate(before);
                let total = self.text.chars().count();
                let _ = write!(
                    out,
                    "… ({} more characters of {total})",
                    total - self.text[..index].chars().count()
                );
                break;
            }
        }
        f.write_str(&out)
    }
}

impl fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `json` (serde_json's output) with every character [`escaped`] would escape and serde_json
/// leaves raw (DEL, the C1 controls U+0080-U+009F, invisible and bidirectional formatting
/// characters) written as a `\uXXXX` escape, so that JSON printed to a terminal cannot carry
/// control codes. Such characters can only stand inside JSON strings, where the escape means
/// the same character; all of them are in the Basic Multilingual Plane.
pub fn json_escaped(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        // Below DEL, serde_json has escaped what strings hold; the rest is layout (newlines).
        if c >= '\u{7f}' && needs_escape(c) {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// `error` and its causes joined by `: `, each cause once: a cause whose text the message
/// before it already ends with (error types that put their source in their own message) is
/// skipped. Control characters the messages carry are escaped; newlines are kept (some
/// messages list items on lines).
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = String::new();
    let mut previous = String::new();
    let mut current = Some(error);
    while let Some(e) = current {
        let text = e.to_string();
        if previous.is_empty() || !previous.ends_with(text.as_str()) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
        previous = text;
        current = e.source();
    }
    let mut safe = String::with_capacity(out.len());
    for c in out.chars() {
        if c != '\n' && needs_escape(c) {
            escape_into(&mut safe, c);
        } else {
            safe.push(c);
        }
    }
    safe
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_control_characters() {
        assert_eq!(shown("a\x1b[31mred\n").to_string(), "a\\u{1b}[31mred\\n");
        assert_eq!(shown("x\u{202e}y").to_string(), "x\\u{202e}y");
        assert_eq!(shown("café, 5 mg/L").to_string(), "café, 5 mg/L");
    }

    #[test]
    fn truncates_long_input_with_an_ellipsis_and_the_length() {
        let long = "9".repeat(50_000_000);
        let text = shown(&long).to_string();
        assert!(
            text.starts_with(&"9".repeat(SHOWN_CHARS)),
            "{}",
            &text[..100]
        );
        assert!(text.contains('…'));
        assert!(
            text.ends_with("(49999920 more characters of 50000000)"),
            "{text}"
        );
        assert!(text.chars().count() < SHOWN_CHARS + 50);
    }

    #[test]
    fn json_escapes_what_serde_json_leaves_raw() {
        let value = serde_json::json!({ "name": "a\u{7f}b\u{85}c\u{9b}31m\u{202e}d\u{1b}é" });
        let json = json_escaped(&serde_json::to_string_pretty(&value).unwrap());
        assert_eq!(
            json,
            "{\n  \"name\": \"a\\u007fb\\u0085c\\u009b31m\\u202ed\\u001bé\"\n}"
        );
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn short_input_is_unchanged() {
        let exact = "x".repeat(SHOWN_CHARS);
        assert_eq!(shown(&exact).to_string(), exact);
    }

    #[test]
    fn chain_prints_a_cause_the_message_already_holds_once() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "s.toml: {}", self.0)
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let io_text = io.to_string();
        let text = chain(&Outer(io));
        assert_eq!(text, format!("s.toml: {io_text}"));
        assert_eq!(text.matches(&io_text).count(), 1);
    }
}
