//! A small reader for UBJSON (<https://ubjson.org>) as XGBoost writes it (`save_model` to
//! `.ubj`), and [`Value`], the exact value tree that both XGBoost encodings (this one and its
//! JSON text, read in `xgboost.rs`) decode into, so one importer serves both.
//!
//! Invariant: numbers are never rounded on the way in. A UBJSON float32 (`d`) stays the f32 it
//! was written as; a JSON text number keeps its decimal text until the importer converts it to
//! the type XGBoost reads it as. Nothing here knows what an XGBoost model means.
//!
//! Layout handled (all multi-byte numbers big-endian): markers `Z` null, `N` no-op, `T`/`F`,
//! `i` i8, `U` u8, `I` i16, `l` i32, `L` i64, `d` f32, `D` f64, `H` high-precision number
//! (length + decimal text), `C` char (read as an integer, as XGBoost does), `S` string
//! (length + UTF-8); containers `[`…`]` and `{`…`}` with the optional `$<type>` and
//! `#<count>` headers. Object keys are a length and UTF-8 bytes without a marker. A length or
//! count is itself an integer value (`i`, `U`, `I`, `l` or `L`); XGBoost always uses `L`.

use std::collections::HashSet;
use std::fmt;

/// Deepest container nesting accepted. XGBoost models nest about eight levels; the bound keeps
/// hostile input from exhausting the stack of this recursive reader.
pub const MAX_DEPTH: usize = 128;

/// A decoded JSON or UBJSON value, with numbers kept exactly as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer: a JSON text number without fraction or exponent that fits an i64, or any
    /// UBJSON integer (`i`, `U`, `I`, `l`, `L`, `C`).
    Int(i64),
    /// A UBJSON float32 (`d`).
    F32(f32),
    /// A UBJSON float64 (`D`).
    F64(f64),
    /// A number kept as its decimal text: JSON text numbers with a fraction or exponent (or
    /// integers beyond i64), XGBoost's `NaN`/`Infinity`/`-Infinity` tokens, UBJSON `H`.
    Number(String),
    /// A string.
    Str(String),
    /// A heterogeneous array.
    Array(Vec<Value>),
    /// A UBJSON typed array of float32 (`[$d#…`).
    F32Array(Vec<f32>),
    /// A UBJSON typed array of float64 (`[$D#…`).
    F64Array(Vec<f64>),
    /// A UBJSON typed array of integers (`[$i#…`, `U`, `I`, `l`, `L`, `C`), widened to i64.
    IntArray(Vec<i64>),
    /// An object: members in file order.
    Object(Vec<(String, Value)>),
}

/// Why an array could not be read as numbers of one type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElementError {
    /// The value is not an array.
    NotArray,
    /// The element at this index has the wrong type (or, read as a boolean, is an integer other
    /// than 0 and 1).
    Element(usize),
}

impl Value {
    /// A short name of the value's type, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::F32(_) | Value::F64(_) | Value::Number(_) => "number",
            Value::Str(_) => "string",
            Value::Array(_) | Value::F32Array(_) | Value::F64Array(_) | Value::IntArray(_) => {
                "array"
            }
            Value::Object(_) => "object",
        }
    }

    /// The member `key` of an object (the first, if repeated); `None` for non-objects.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is one. Numbers with a fraction or exponent are not integers
    /// (XGBoost's own reader makes the same distinction).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The value as the f32 XGBoost reads it as: f32 as is, f64 and integers rounded to
    /// nearest (C's conversion), decimal text rounded once, directly to f32 (never via f64).
    pub fn as_f32(&self) -> Option<f32> {
        match self {
            Value::F32(x) => Some(*x),
            Value::F64(x) => Some(*x as f32),
            Value::Int(i) => Some(*i as f32),
            Value::Number(text) => parse_f32_text(text),
            _ => None,
        }
    }

    /// A boolean, also accepting the integers 0 and 1 (XGBoost writes `default_left` as
    /// booleans in 1.0 to 1.5 and as 0/1 integers later).
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Int(0) => Some(false),
            Value::Int(1) => Some(true),
            _ => None,
        }
    }

    /// The elements of a heterogeneous array; `None` for anything else (typed arrays included).
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// Number of elements of any kind of array.
    pub fn array_len(&self) -> Option<usize> {
        match self {
            Value::Array(v) => Some(v.len()),
            Value::F32Array(v) => Some(v.len()),
            Value::F64Array(v) => Some(v.len()),
            Value::IntArray(v) => Some(v.len()),
            _ => None,
        }
    }

    /// Any array's elements as f32, converted as [`Value::as_f32`] does.
    pub fn to_f32_vec(&self) -> Result<Vec<f32>, ElementError> {
        match self {
            Value::F32Array(v) => Ok(v.clone()),
            Value::F64Array(v) => Ok(v.iter().map(|&x| x as f32).collect()),
            Value::IntArray(v) => Ok(v.iter().map(|&x| x as f32).collect()),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(index, item)| item.as_f32().ok_or(ElementError::Element(index)))
                .collect(),
            _ => Err(ElementError::NotArray),
        }
    }

    /// Any array's elements as integers. Float elements are refused, even integral ones.
    pub fn to_i64_vec(&self) -> Result<Vec<i64>, ElementError> {
        match self {
            Value::IntArray(v) => Ok(v.clone()),
            Value::F32Array(v) if v.is_empty() => Ok(Vec::new()),
            Value::F64Array(v) if v.is_empty() => Ok(Vec::new()),
            Value::F32Array(_) | Value::F64Array(_) => Err(ElementError::Element(0)),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(index, item)| item.as_i64().ok_or(ElementError::Element(index)))
                .collect(),
            _ => Err(ElementError::NotArray),
        }
    }

    /// Any array's elements as booleans, converted as [`Value::as_bool`] does.
    pub fn to_bool_vec(&self) -> Result<Vec<bool>, ElementError> {
        match self {
            Value::IntArray(v) => v
                .iter()
                .enumerate()
                .map(|(index, &x)| match x {
                    0 => Ok(false),
                    1 => Ok(true),
                    _ => Err(ElementError::Element(index)),
                })
                .collect(),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(index, item)| item.as_bool().ok_or(ElementError::Element(index)))
                .collect(),
            Value::F32Array(v) if v.is_empty() => Ok(Vec::new()),
            Value::F64Array(v) if v.is_empty() => Ok(Vec::new()),
            Value::F32Array(_) | Value::F64Array(_) => Err(ElementError::Element(0)),
            _ => Err(ElementError::NotArray),
        }
    }
}

/// Parses decimal text (or XGBoost's `NaN`, `Infinity`, `-Infinity`) to the nearest f32 in
/// one rounding.
pub fn parse_f32_text(text: &str) -> Option<f32> {
    match text {
        "NaN" | "-NaN" => Some(f32::NAN),
        "Infinity" | "+Infinity" => Some(f32::INFINITY),
        "-Infinity" => Some(f32::NEG_INFINITY),
        _ => {
            // Rust's parser also takes "inf", "nan" and friends; a number here must start with a
            // sign, a digit or a point.
            let body = text.strip_prefix(['-', '+']).unwrap_or(text);
            if !body.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
                return None;
            }
            text.parse::<f32>().ok()
        }
    }
}

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset where decoding stopped.
    pub offset: usize,
    /// What was wrong there.
    pub reason: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.reason)
    }
}

impl std::error::Error for DecodeError {}

/// Decodes one UBJSON value that spans all of `bytes` (only no-op markers may follow it).
pub fn decode(bytes: &[u8]) -> Result<Value, DecodeError> {
    let mut reader = Reader {
        bytes,
        pos: 0,
        values_left: value_budget(bytes.len()),
    };
    let value = reader.value(0)?;
    while reader.peek() == Some(b'N') {
        reader.pos += 1;
    }
    if reader.pos != bytes.len() {
        return Err(reader.error("unexpected bytes after the top-level value"));
    }
    Ok(value)
}

/// Values a file of `len` bytes may hold: one per [`BYTES_PER_VALUE`] bytes, plus
/// [`SMALL_FILE_VALUES`]. A decoded value takes 32 bytes; one per input byte (a typed array of
/// nulls, `[ZZZ…]`) asked for 32 times the file's size. XGBoost's models hold one value per 60
/// or more bytes (their numbers are in typed arrays, which are not counted per element).
pub fn value_budget(len: usize) -> usize {
    len / BYTES_PER_VALUE + SMALL_FILE_VALUES
}

/// See [`value_budget`].
pub const BYTES_PER_VALUE: usize = 8;
/// See [`value_budget`].
pub const SMALL_FILE_VALUES: usize = 4096;

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Values still allowed (see [`value_budget`]).
    values_left: usize,
}

/// Printable form of a marker byte for messages.
fn show(byte: u8) -> String {
    if byte.is_ascii_graphic() {
        format!("'{}'", byte as char)
    } else {
        format!("0x{byte:02x}")
    }
}

impl<'a> Reader<'a> {
    fn error(&self, reason: impl Into<String>) -> DecodeError {
        DecodeError {
            offset: self.pos,
            reason: reason.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(self.error(format!("input ends inside a value ({n} bytes needed)")));
        }
        let slice = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// The next marker, skipping no-op markers.
    fn marker(&mut self) -> Result<u8, DecodeError> {
        loop {
            let byte = self
                .peek()
                .ok_or_else(|| self.error("input ends where a value should start"))?;
            self.pos += 1;
            if byte != b'N' {
                return Ok(byte);
            }
        }
    }

    /// Skips no-op markers and reports the byte after them without consuming it.
    fn peek_past_noops(&mut self) -> Option<u8> {
        while self.peek() == Some(b'N') {
            self.pos += 1;
        }
        self.peek()
    }

    /// The payload of integer marker `marker`, or `None` if it is not an integer marker.
    fn int_payload(&mut self, marker: u8) -> Result<Option<i64>, DecodeError> {
        Ok(Some(match marker {
            b'i' => i64::from(i8::from_be_bytes(self.array()?)),
            b'U' | b'C' => i64::from(u8::from_be_bytes(self.array()?)),
            b'I' => i64::from(i16::from_be_bytes(self.array()?)),
            b'l' => i64::from(i32::from_be_bytes(self.array()?)),
            b'L' => i64::from_be_bytes(self.array()?),
            _ => return Ok(None),
        }))
    }

    /// A length or count: an integer value that must not be negative.
    fn length(&mut self) -> Result<usize, DecodeError> {
        let at = self.pos;
        let marker = self.marker()?;
        if marker == b'C' {
            return Err(self.error("a length must be an integer, found 'C'"));
        }
        let n = self.int_payload(marker)?.ok_or_else(|| DecodeError {
            offset: at,
            reason: format!("a length must be an integer, found {}", show(marker)),
        })?;
        usize::try_from(n).map_err(|_| DecodeError {
            offset: at,
            reason: format!("negative length {n}"),
        })
    }

    fn utf8(&mut self, what: &str) -> Result<String, DecodeError> {
        let n = self.length()?;
        let at = self.pos;
        let bytes = self.take(n)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError {
            offset: at,
            reason: format!("{what} is not valid UTF-8"),
        })
    }

    fn value(&mut self, depth: usize) -> Result<Value, DecodeError> {
        let marker = self.marker()?;
        self.value_of(marker, depth)
    }

    /// The value introduced by `marker` (already consumed, or given by a typed container).
    fn value_of(&mut self, marker: u8, depth: usize) -> Result<Value, DecodeError> {
        self.values_left = self.values_left.checked_sub(1).ok_or_else(|| {
            self.error(format!(
                "more than {} values in {} bytes (at most one per {BYTES_PER_VALUE} bytes plus \
                 {SMALL_FILE_VALUES}): refused to bound memory; a model file holds far fewer",
                value_budget(self.bytes.len()),
                self.bytes.len()
            ))
        })?;
        if let Some(i) = self.int_payload(marker)? {
            return Ok(Value::Int(i));
        }
        Ok(match marker {
            b'Z' => Value::Null,
            b'T' => Value::Bool(true),
            b'F' => Value::Bool(false),
            b'd' => Value::F32(f32::from_be_bytes(self.array()?)),
            b'D' => Value::F64(f64::from_be_bytes(self.array()?)),
            b'S' => Value::Str(self.utf8("a string")?),
            b'H' => {
                let at = self.pos;
                let text = self.utf8("a high-precision number")?;
                if parse_f32_text(&text).is_none() {
                    return Err(DecodeError {
                        offset: at,
                        reason: format!("'{text}' is not a number"),
                    });
                }
                Value::Number(text)
            }
            b'[' | b'{' => {
                if depth >= MAX_DEPTH {
                    return Err(self.error(format!("containers nest deeper than {MAX_DEPTH}")));
                }
                if marker == b'[' {
                    self.array_body(depth + 1)?
                } else {
                    self.object_body(depth + 1)?
                }
            }
            other => {
                // Only markers read from the input get here (container types are checked).
                return Err(DecodeError {
                    offset: self.pos - 1,
                    reason: format!("unknown marker {}", show(other)),
                });
            }
        })
    }

    /// The optional `$type` and `#count` header of a container.
    ///
    /// A count may not exceed the bytes left in the input. Every element but a typed null or
    /// boolean takes at least a byte, and no XGBoost model holds typed nulls or booleans, so the
    /// bound refuses nothing real and keeps hostile counts from allocating or looping.
    fn container_header(&mut self) -> Result<(Option<u8>, Option<usize>), DecodeError> {
        let mut element_type = None;
        if self.peek() == Some(b'$') {
            self.pos += 1;
            let t = self
                .peek()
                .ok_or_else(|| self.error("input ends inside a container header"))?;
            if !b"ZTFiUIlLdDHCS[{".contains(&t) {
                return Err(self.error(format!("{} cannot be a container's element type", show(t))));
            }
            self.pos += 1;
            element_type = Some(t);
            if self.peek() != Some(b'#') {
                return Err(self.error("a typed container must give its count ('#')"));
            }
        }
        let mut count = None;
        if self.peek() == Some(b'#') {
            self.pos += 1;
            let at = self.pos;
            let n = self.length()?;
            if n > self.remaining() {
                return Err(DecodeError {
                    offset: at,
                    reason: format!(
                        "container count {n} exceeds the {} bytes left",
                        self.remaining()
                    ),
                });
            }
            count = Some(n);
        }
        Ok((element_type, count))
    }

    fn array_body(&mut self, depth: usize) -> Result<Value, DecodeError> {
        let (element_type, count) = self.container_header()?;
        match (element_type, count) {
            (Some(t), Some(n)) => self.typed_array(t, n, depth),
            (None, Some(n)) => {
                let mut items = Vec::with_capacity(n.min(self.values_left));
                for _ in 0..n {
                    items.push(self.value(depth)?);
                }
                Ok(Value::Array(items))
            }
            _ => {
                let mut items = Vec::new();
                loop {
                    match self.peek_past_noops() {
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Value::Array(items));
                        }
                        Some(_) => items.push(self.value(depth)?),
                        None => return Err(self.error("input ends inside an array")),
                    }
                }
            }
        }
    }

    fn typed_array(
        &mut self,
        element_type: u8,
        n: usize,
        depth: usize,
    ) -> Result<Value, DecodeError> {
        let width = match element_type {
            b'i' | b'U' | b'C' => 1,
            b'I' => 2,
            b'l' | b'd' => 4,
            b'L' | b'D' => 8,
            _ => 0,
        };
        if width == 0 {
            // Strings, booleans, nulls, containers: decode each element with the given marker.
            // Capacity within the value budget: each element is charged as it is read.
            let mut items = Vec::with_capacity(n.min(self.values_left));
            for _ in 0..n {
                items.push(self.value_of(element_type, depth)?);
            }
            return Ok(Value::Array(items));
        }
        let bytes = n
            .checked_mul(width)
            .filter(|&total| total <= self.remaining())
            .ok_or_else(|| {
                self.error(format!(
                    "typed array of {n} elements runs past the end of the input"
                ))
            })?;
        let body = self.take(bytes)?;
        let chunks = body.chunks_exact(width);
        Ok(match element_type {
            b'd' => Value::F32Array(chunks.map(|c| f32::from_be_bytes(be(c))).collect()),
            b'D' => Value::F64Array(chunks.map(|c| f64::from_be_bytes(be(c))).collect()),
            b'i' => Value::IntArray(
                chunks
                    .map(|c| i64::from(i8::from_be_bytes(be(c))))
                    .collect(),
            ),
            b'U' | b'C' => Value::IntArray(
                chunks
                    .map(|c| i64::from(u8::from_be_bytes(be(c))))
                    .collect(),
            ),
            b'I' => Value::IntArray(
                chunks
                    .map(|c| i64::from(i16::from_be_bytes(be(c))))
                    .collect(),
            ),
            b'l' => Value::IntArray(
                chunks
                    .map(|c| i64::from(i32::from_be_bytes(be(c))))
                    .collect(),
            ),
            _ => Value::IntArray(chunks.map(|c| i64::from_be_bytes(be(c))).collect()),
        })
    }

    fn object_body(&mut self, depth: usize) -> Result<Value, DecodeError> {
        let (element_type, count) = self.container_header()?;
        let mut members: Vec<(String, Value)> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut member =
            |reader: &mut Self, members: &mut Vec<(String, Value)>| -> Result<(), DecodeError> {
                let at = reader.pos;
                let key = reader.utf8("an object key")?;
                // Hashing keeps the check linear in the object's size.
                if !seen.insert(key.clone()) {
                    return Err(DecodeError {
                        offset: at,
                        reason: format!("duplicate key \"{}\"", crate::text::shown(&key)),
                    });
                }
                let value = match element_type {
                    Some(t) => reader.value_of(t, depth)?,
                    None => reader.value(depth)?,
                };
                members.push((key, value));
                Ok(())
            };
        match count {
            Some(n) => {
                for _ in 0..n {
                    member(self, &mut members)?;
                }
            }
            None => loop {
                match self.peek_past_noops() {
                    Some(b'}') => {
                        self.pos += 1;
                        break;
                    }
                    Some(_) => member(self, &mut members)?,
                    None => return Err(self.error("input ends inside an object")),
                }
            },
        }
        Ok(Value::Object(members))
    }
}

/// A chunk of exactly `N` bytes as an array (callers chunk by `N`).
fn be<const N: usize>(chunk: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(chunk);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed-seed xorshift generator for the randomised tests (no extra dependency).
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    /// Random damage to a valid document: a byte set to a marker or random value, a cut, a
    /// deleted run or a duplicated run.
    fn mutate(rng: &mut XorShift, bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        if out.is_empty() {
            return out;
        }
        let at = rng.below(out.len());
        match rng.below(4) {
            0 => {
                out[at] = *b"[]{}$#iUIlLdDSHZNTF\x00\xff"
                    .get(rng.below(24))
                    .unwrap_or(&0x80)
            }
            1 => out.truncate(at),
            2 => {
                let n = rng.below(12).min(out.len() - at);
                out.drain(at..at + n);
            }
            _ => {
                let from = rng.below(out.len());
                let n = rng.below(24).min(out.len() - from);
                let run = out[from..from + n].to_vec();
                out.splice(at..at, run);
            }
        }
        out
    }

    /// `L`-prefixed length as XGBoost writes it.
    fn len_l(n: usize) -> Vec<u8> {
        let mut out = vec![b'L'];
        out.extend_from_slice(&(n as i64).to_be_bytes());
        out
    }

    fn key(name: &str) -> Vec<u8> {
        let mut out = len_l(name.len());
        out.extend_from_slice(name.as_bytes());
        out
    }

    #[test]
    fn decodes_every_scalar_marker() {
        let cases: Vec<(Vec<u8>, Value)> = vec![
            (b"Z".to_vec(), Value::Null),
            (b"T".to_vec(), Value::Bool(true)),
            (b"F".to_vec(), Value::Bool(false)),
            (vec![b'i', 0xff], Value::Int(-1)),
            (vec![b'U', 0xff], Value::Int(255)),
            (vec![b'I', 0x80, 0x00], Value::Int(-32768)),
            (vec![b'l', 0x00, 0x01, 0x00, 0x00], Value::Int(65536)),
            (
                [vec![b'L'], (-5i64).to_be_bytes().to_vec()].concat(),
                Value::Int(-5),
            ),
            (vec![b'C', b'A'], Value::Int(65)),
            (
                [vec![b'd'], 0.5f32.to_be_bytes().to_vec()].concat(),
                Value::F32(0.5),
            ),
            (
                [vec![b'D'], 0.1f64.to_be_bytes().to_vec()].concat(),
                Value::F64(0.1),
            ),
            (
                [vec![b'S', b'i', 2], b"hi".to_vec()].concat(),
                Value::Str("hi".into()),
            ),
            (
                [vec![b'H', b'U', 4], b"1e-3".to_vec()].concat(),
                Value::Number("1e-3".into()),
            ),
        ];
        for (bytes, expected) in cases {
            assert_eq!(decode(&bytes), Ok(expected), "{bytes:?}");
        }
    }

    #[test]
    fn keeps_float32_bits_exactly() {
        for bits in [
            0x3f80_0001u32,
            0x0000_0001,
            0x8000_0000,
            0x7f7f_ffff,
            0x3dcc_cccd,
        ] {
            let bytes = [vec![b'd'], bits.to_be_bytes().to_vec()].concat();
            let value = decode(&bytes).unwrap();
            assert_eq!(value.as_f32().unwrap().to_bits(), bits);
        }
        // A typed f32 array keeps every element's bits, including -0.0 and subnormals.
        let bits = [0x8000_0000u32, 1, 0x4049_0fdb];
        let mut bytes = vec![b'[', b'$', b'd', b'#'];
        bytes.extend(len_l(3));
        for b in bits {
            bytes.extend_from_slice(&b.to_be_bytes());
        }
        let values = decode(&bytes).unwrap().to_f32_vec().unwrap();
        assert_eq!(values.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), bits);
    }

    #[test]
    fn decodes_typed_arrays_of_each_numeric_type() {
        let mut bytes = vec![b'[', b'$', b'i', b'#', b'i', 2, 0xff, 0x01];
        assert_eq!(decode(&bytes), Ok(Value::IntArray(vec![-1, 1])));
        bytes = vec![b'[', b'$', b'U', b'#', b'U', 2, 0xff, 0x01];
        assert_eq!(decode(&bytes), Ok(Value::IntArray(vec![255, 1])));
        bytes = vec![b'[', b'$', b'I', b'#', b'i', 1, 0xff, 0xfe];
        assert_eq!(decode(&bytes), Ok(Value::IntArray(vec![-2])));
        bytes = vec![
            b'[', b'$', b'l', b'#', b'i', 2, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 7,
        ];
        assert_eq!(decode(&bytes), Ok(Value::IntArray(vec![-1, 7])));
        bytes = [
            vec![b'[', b'$', b'L', b'#'],
            len_l(1),
            (1i64 << 40).to_be_bytes().to_vec(),
        ]
        .concat();
        assert_eq!(decode(&bytes), Ok(Value::IntArray(vec![1 << 40])));
        bytes = [
            vec![b'[', b'$', b'D', b'#', b'i', 1],
            0.1f64.to_be_bytes().to_vec(),
        ]
        .concat();
        assert_eq!(decode(&bytes), Ok(Value::F64Array(vec![0.1])));
        // Typed booleans take no bytes; they sit inside an open array here so that the count
        // stays within the bytes left (see `container_header`).
        bytes = vec![b'[', b'[', b'$', b'T', b'#', b'i', 2, b'Z', b']'];
        assert_eq!(
            decode(&bytes),
            Ok(Value::Array(vec![
                Value::Array(vec![Value::Bool(true), Value::Bool(true)]),
                Value::Null
            ]))
        );
        bytes = [vec![
            b'[', b'$', b'S', b'#', b'i', 2, b'i', 1, b'a', b'i', 1, b'b',
        ]]
        .concat();
        assert_eq!(
            decode(&bytes),
            Ok(Value::Array(vec![
                Value::Str("a".into()),
                Value::Str("b".into())
            ]))
        );
    }

    #[test]
    fn decodes_counted_open_and_noop_padded_containers() {
        let counted = [vec![b'[', b'#'], len_l(2), vec![b'i', 1, b'T']].concat();
        assert_eq!(
            decode(&counted),
            Ok(Value::Array(vec![Value::Int(1), Value::Bool(true)]))
        );
        let open = vec![b'[', b'N', b'i', 1, b'N', b'Z', b'N', b']', b'N'];
        assert_eq!(
            decode(&open),
            Ok(Value::Array(vec![Value::Int(1), Value::Null]))
        );
        let object = [
            vec![b'{'],
            key("a"),
            vec![b'i', 3],
            key("b"),
            vec![b'[', b']'],
            vec![b'}'],
        ]
        .concat();
        assert_eq!(
            decode(&object),
            Ok(Value::Object(vec![
                ("a".into(), Value::Int(3)),
                ("b".into(), Value::Array(vec![]))
            ]))
        );
        let counted_object = [vec![b'{', b'#', b'i', 1], key("k"), vec![b'F']].concat();
        assert_eq!(
            decode(&counted_object),
            Ok(Value::Object(vec![("k".into(), Value::Bool(false))]))
        );
        let typed_object = [vec![b'{', b'$', b'i', b'#', b'i', 1], key("k"), vec![9]].concat();
        assert_eq!(
            decode(&typed_object),
            Ok(Value::Object(vec![("k".into(), Value::Int(9))]))
        );
    }

    #[test]
    fn decodes_an_xgboost_shaped_document() {
        let mut bytes = vec![b'{'];
        bytes.extend(key("version"));
        bytes.extend([vec![b'[', b'#'], len_l(3), vec![b'i', 3, b'i', 2, b'i', 0]].concat());
        bytes.extend(key("learner"));
        bytes.push(b'{');
        bytes.extend(key("base_score"));
        bytes.push(b'S');
        bytes.extend(key("[5E-1]"));
        bytes.extend(key("default_left"));
        bytes.extend([vec![b'[', b'$', b'U', b'#'], len_l(3), vec![0, 1, 0]].concat());
        bytes.extend(b"}}");
        let value = decode(&bytes).unwrap();
        let learner = value.get("learner").unwrap();
        assert_eq!(
            learner.get("base_score").and_then(Value::as_str),
            Some("[5E-1]")
        );
        assert_eq!(
            learner.get("default_left").unwrap().to_bool_vec(),
            Ok(vec![false, true, false])
        );
        assert_eq!(
            value.get("version").unwrap().to_i64_vec(),
            Ok(vec![3, 2, 0])
        );
    }

    #[test]
    fn rejects_malformed_input_with_its_offset() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "input ends"),
            (vec![b'x'], "unknown marker 'x'"),
            (vec![b'i', 1, b'i', 2], "unexpected bytes"),
            (vec![b'l', 0, 0], "input ends inside a value"),
            (vec![b'[', b'i', 1], "input ends inside an array"),
            (
                vec![b'{', b'i', 1, b'a', b'T'],
                "input ends inside an object",
            ),
            (vec![b'[', b'#', b'i', 0xff], "negative length -1"),
            (
                vec![b'[', b'#', b'd', 0, 0, 0, 0],
                "a length must be an integer",
            ),
            (
                [vec![b'[', b'$', b'l', b'#'], len_l(3), vec![0; 8]].concat(),
                "typed array of 3 elements runs past the end",
            ),
            (
                [vec![b'[', b'$', b'Z', b'#'], len_l(1 << 60)].concat(),
                "container count 1152921504606846976 exceeds the 0 bytes left",
            ),
            (
                [vec![b'{', b'#'], len_l(9), vec![b'}']].concat(),
                "container count 9 exceeds the 1 bytes left",
            ),
            (
                vec![b'[', b'$', b'x', b'#', b'i', 0],
                "'x' cannot be a container's element type",
            ),
            (
                vec![b'[', b'$', b'N', b'#', b'i', 0],
                "'N' cannot be a container's element type",
            ),
            (vec![b'[', b'$', b'i', b'i', 1], "must give its count"),
            (vec![b'S', b'i', 1, 0xff], "not valid UTF-8"),
            (vec![b'H', b'i', 3, b'a', b'b', b'c'], "is not a number"),
            (
                [vec![b'{'], key("a"), vec![b'T'], key("a"), vec![b'F', b'}']].concat(),
                "duplicate key",
            ),
        ];
        for (bytes, expected) in cases {
            let error = decode(&bytes).unwrap_err();
            assert!(error.reason.contains(expected), "{bytes:?}: {error}");
        }
    }

    #[test]
    fn round_trips_random_float32_bits() {
        let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
        for _ in 0..20_000 {
            let bits = rng.next() as u32;
            let mut bytes = vec![b'[', b'$', b'd', b'#', b'i', 1];
            bytes.extend_from_slice(&bits.to_be_bytes());
            let scalar = decode(&[&[b'd'][..], &bits.to_be_bytes()].concat()).unwrap();
            assert_eq!(scalar.as_f32().map(f32::to_bits), Some(bits));
            let array = decode(&bytes).unwrap().to_f32_vec().unwrap();
            assert_eq!(
                array.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                vec![bits]
            );
            // XGBoost's JSON writer prints the shortest round-trip decimal ("1.5E-1"); it must
            // come back as the same f32.
            let x = f32::from_bits(bits);
            if x.is_finite() {
                let text = format!("{x:E}");
                assert_eq!(
                    parse_f32_text(&text).map(f32::to_bits),
                    Some(bits),
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn never_panics_on_damaged_documents() {
        let mut document = vec![b'{'];
        document.extend(key("trees"));
        document.extend([b'[', b'#', b'i', 2]);
        document.extend([
            b'[', b'$', b'd', b'#', b'i', 2, 0x3f, 0x80, 0, 0, 0x40, 0, 0, 0,
        ]);
        document.extend([b'{', b'i', 1, b'k', b'S', b'U', 2, b'h', b'i', b'}']);
        document.extend(key("n"));
        document.extend([
            b'[', b'H', b'i', 3, b'1', b'.', b'5', b'D', 0x3f, 0xf0, 0, 0, 0, 0, 0, 0,
        ]);
        document.extend([b'I', 0x12, 0x34, b'N', b']', b'}']);
        assert!(decode(&document).is_ok());
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..20_000 {
            let mut damaged = mutate(&mut rng, &document);
            if rng.below(2) == 0 {
                damaged = mutate(&mut rng, &damaged);
            }
            let _ = decode(&damaged);
        }
    }

    #[test]
    fn duplicate_keys_are_found_in_linear_time() {
        // 200,000 distinct keys: comparing each with every earlier one took minutes.
        let n = 200_000;
        let mut bytes = vec![b'{'];
        for i in 0..n {
            bytes.extend(key(&format!("k{i}")));
            bytes.push(b'Z');
        }
        bytes.push(b'}');
        let start = std::time::Instant::now();
        assert!(decode(&bytes).is_ok());
        let mut repeated = bytes.clone();
        repeated.pop();
        repeated.extend(key("k0"));
        repeated.extend([b'Z', b'}']);
        let error = decode(&repeated).unwrap_err();
        assert!(error.reason.contains("duplicate key \"k0\""), "{error}");
        assert!(start.elapsed().as_secs() < 20, "{:?}", start.elapsed());
    }

    #[test]
    fn memory_stays_within_a_small_multiple_of_the_input() {
        let n = 200_000;
        // A typed array of n nulls (no bytes each), in an otherwise valid file of ~n bytes.
        let mut typed = vec![b'{'];
        typed.extend(key("a"));
        typed.extend([b'[', b'$', b'Z', b'#']);
        typed.extend(len_l(n));
        typed.extend(key("b"));
        typed.push(b'S');
        typed.extend(len_l(n));
        typed.extend(std::iter::repeat_n(b'x', n));
        typed.push(b'}');
        // An untyped array of n nulls (one byte each).
        let mut untyped = vec![b'['];
        untyped.extend(std::iter::repeat_n(b'Z', n));
        untyped.push(b']');
        for bytes in [typed, untyped] {
            let error = decode(&bytes).unwrap_err();
            assert!(error.reason.contains("refused to bound memory"), "{error}");
        }
        // Numbers in typed arrays are not counted one by one.
        let mut floats = vec![b'[', b'$', b'd', b'#'];
        floats.extend(len_l(n));
        floats.extend(std::iter::repeat_n(0u8, 4 * n));
        assert_eq!(decode(&floats).unwrap().array_len(), Some(n));
    }

    #[test]
    fn refuses_nesting_beyond_the_depth_bound() {
        let deep = vec![b'['; MAX_DEPTH + 1];
        let error = decode(&deep).unwrap_err();
        assert!(error.reason.contains("nest deeper"), "{error}");
        let mut ok = vec![b'['; MAX_DEPTH];
        ok.extend(vec![b']'; MAX_DEPTH]);
        assert!(decode(&ok).is_ok());
    }

    #[test]
    fn converts_elements_as_xgboost_reads_them() {
        let mixed = Value::Array(vec![
            Value::Int(3),
            Value::Number("0.1".into()),
            Value::F64(0.1),
        ]);
        assert_eq!(mixed.to_f32_vec(), Ok(vec![3.0, 0.1f32, 0.1f64 as f32]));
        assert_eq!(
            Value::Array(vec![Value::Str("x".into())]).to_f32_vec(),
            Err(ElementError::Element(0))
        );
        assert_eq!(Value::Null.to_f32_vec(), Err(ElementError::NotArray));
        assert_eq!(
            Value::Array(vec![Value::Int(1), Value::Number("1.5".into())]).to_i64_vec(),
            Err(ElementError::Element(1))
        );
        assert_eq!(
            Value::IntArray(vec![0, 2]).to_bool_vec(),
            Err(ElementError::Element(1))
        );
        assert_eq!(
            Value::Array(vec![Value::Bool(true), Value::Int(0)]).to_bool_vec(),
            Ok(vec![true, false])
        );
        // Decimal text is rounded once, straight to f32: this value is just above the midpoint
        // between two f32s but rounds below it via f64 (double rounding).
        let text = "1.00000005960464477539062500000000001";
        assert_eq!(parse_f32_text(text).unwrap().to_bits(), 0x3f80_0001);
        assert_eq!((text.parse::<f64>().unwrap() as f32).to_bits(), 0x3f80_0000);
        assert_eq!(parse_f32_text("-Infinity"), Some(f32::NEG_INFINITY));
        assert!(parse_f32_text("NaN").unwrap().is_nan());
        assert_eq!(parse_f32_text("inf"), None);
        assert_eq!(parse_f32_text("-0E0").map(f32::to_bits), Some(0x8000_0000));
    }
}
