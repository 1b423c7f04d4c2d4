//! Text input for the bedside loop: reading lines from any `embedded_io::Read` byte stream,
//! and parsing a comma-separated line of decimal feature values into f32.
//!
//! A field is parsed exactly as the host's `lockstep predict` parses a CSV cell: a missing cell
//! by the one rule both sides share (`lockstep_protocol::cells::is_missing`: empty, `NA` or
//! `NaN` in any case, whitespace ignored) is NaN; anything else is trimmed and goes through
//! `core`'s `f32` parser, which rounds the decimal text once, correctly, to the nearest f32, and
//! must be finite (`inf`, or a decimal beyond the f32 range, is refused as on the host).

use core::fmt;

/// Reads lines ending in LF, CR or CR LF (a terminal sends CR for Enter; a pipe sends LF).
#[derive(Debug, Default)]
pub struct LineReader {
    after_cr: bool,
}

/// A line that could not be taken whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineError {
    /// The line did not fit the buffer; it was read up to its end and dropped.
    TooLong {
        /// The buffer's size.
        limit: usize,
    },
    /// The line is not UTF-8 text.
    NotText,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LineError::TooLong { limit } => write!(f, "line longer than {limit} bytes"),
            LineError::NotText => f.write_str("line is not UTF-8 text"),
        }
    }
}

impl LineReader {
    /// Reads the next line into `buf` (without its terminator).
    pub fn read_line<'b, R: embedded_io::Read>(
        &mut self,
        input: &mut R,
        buf: &'b mut [u8],
    ) -> Result<Result<&'b str, LineError>, R::Error> {
        let mut len = 0;
        let mut overflow = false;
        loop {
            let mut byte = [0u8];
            if input.read(&mut byte)? == 0 {
                continue;
            }
            let after_cr = core::mem::replace(&mut self.after_cr, byte[0] == b'\r');
            match byte[0] {
                b'\n' if after_cr => continue,
                b'\n' | b'\r' => break,
                other => match buf.get_mut(len) {
                    Some(slot) => {
                        *slot = other;
                        len += 1;
                    }
                    None => overflow = true,
                },
            }
        }
        if overflow {
            return Ok(Err(LineError::TooLong { limit: buf.len() }));
        }
        let line = buf.get(..len).unwrap_or(&[]);
        Ok(core::str::from_utf8(line).map_err(|_| LineError::NotText))
    }
}

/// Why a line is not a row of features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldError<'a> {
    /// The line has the wrong number of comma-separated fields.
    Count {
        /// The model's feature count.
        expected: usize,
        /// Fields on the line.
        found: usize,
    },
    /// A field is neither a missing cell (`cells::is_missing`) nor a finite decimal number.
    NotANumber {
        /// 1-based field position.
        field: usize,
        /// The field's text (trimmed).
        text: &'a str,
    },
}

impl fmt::Display for FieldError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FieldError::Count { expected, found } => {
                write!(f, "expected {expected} comma-separated values, got {found}")
            }
            FieldError::NotANumber { field, text } => {
                write!(
                    f,
                    "value {field} ('{text}') is not a finite number (leave it empty or NA if missing)"
                )
            }
        }
    }
}

/// Parses `line` into `features` (one field per slot, in model order).
pub fn parse_features<'a>(line: &'a str, features: &mut [f32]) -> Result<(), FieldError<'a>> {
    let found = line.split(',').count();
    if found != features.len() {
        return Err(FieldError::Count {
            expected: features.len(),
            found,
        });
    }
    for (index, (text, slot)) in line.split(',').zip(features.iter_mut()).enumerate() {
        let text = text.trim();
        *slot = if lockstep_protocol::cells::is_missing(text) {
            f32::NAN
        } else {
            // Measurements are finite: `inf` or a decimal beyond the f32 range is refused, as
            // the host's readers refuse it.
            match text.parse::<f32>() {
                Ok(value) if value.is_finite() => value,
                _ => {
                    return Err(FieldError::NotANumber {
                        field: index + 1,
                        text,
                    })
                }
            }
        };
    }
    Ok(())
}
