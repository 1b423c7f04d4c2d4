//! XGBoost's JSON text, read into the same [`Value`] tree as UBJSON (`ubjson`), so one importer
//! reads both. Standard JSON plus the non-finite tokens XGBoost's writer emits; numbers keep
//! their decimal text, so the importer rounds each once, to f32, itself. Containers nest at most
//! [`MAX_DEPTH`] deep, as in UBJSON.
//!
//! Memory stays proportional to the input: an array of integers only is read as
//! [`Value::IntArray`] and one of other numbers only as [`Value::F32Array`] (each element rounded
//! once, as [`Value::as_f32`] would), 8 and 4 bytes an element instead of a 32-byte [`Value`];
//! every other value is charged against the same budget as UBJSON's
//! ([`super::ubjson::value_budget`]: one per 8 input bytes plus 4,096).

use std::collections::HashSet;

use super::ubjson::{
    parse_f32_text, value_budget, DecodeError, Value, BYTES_PER_VALUE, MAX_DEPTH, SMALL_FILE_VALUES,
};

/// Parses XGBoost's JSON text: standard JSON plus the tokens `NaN`, `Infinity` and `-Infinity`
/// that its writer emits for non-finite floats (which is why serde_json cannot read every
/// XGBoost model). Numbers keep their decimal text; integers that fit an i64 become
/// [`Value::Int`], as XGBoost's reader makes them integers.
pub(super) fn parse(bytes: &[u8]) -> Result<Value, DecodeError> {
    let mut reader = TextReader {
        bytes,
        pos: 0,
        values_left: value_budget(bytes.len()),
    };
    if bytes.starts_with(b"\xef\xbb\xbf") {
        reader.pos = 3;
    }
    let value = reader.value(0)?;
    reader.skip_whitespace();
    if reader.pos != bytes.len() {
        return Err(reader.error("unexpected text after the top-level value"));
    }
    Ok(value)
}

struct TextReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Values still allowed (see [`value_budget`]); elements of number arrays are not charged.
    values_left: usize,
}

/// The elements of an array read so far: numbers kept compact until an element of another
/// kind arrives.
enum Items {
    Ints(Vec<i64>),
    Floats(Vec<f32>),
    Values(Vec<Value>),
}

impl TextReader<'_> {
    fn error(&self, reason: impl Into<String>) -> DecodeError {
        DecodeError {
            offset: self.pos,
            reason: reason.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Charges `n` values against the budget.
    fn charge(&mut self, n: usize) -> Result<(), DecodeError> {
        self.values_left = self.values_left.checked_sub(n).ok_or_else(|| {
            self.error(format!(
                "more than {} values in {} bytes (at most one per {BYTES_PER_VALUE} bytes plus \
                 {SMALL_FILE_VALUES}, numbers in arrays of numbers not counted): refused to \
                 bound memory; a model file holds far fewer",
                value_budget(self.bytes.len()),
                self.bytes.len()
            ))
        })?;
        Ok(())
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, DecodeError> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error("unknown token"))
        }
    }

    fn expect(&mut self, byte: u8, what: &str) -> Result<(), DecodeError> {
        self.skip_whitespace();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else if self.peek().is_none() {
            Err(self.error(format!("input ends where {what} should be")))
        } else {
            Err(self.error(format!("expected {what}")))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, DecodeError> {
        self.skip_whitespace();
        let Some(byte) = self.peek() else {
            return Err(self.error("input ends where a value should start"));
        };
        // Numbers are charged where they are stored (see `Items`).
        if !matches!(byte, b'-' | b'0'..=b'9' | b'N' | b'I') {
            self.charge(1)?;
        }
        match byte {
            b'{' | b'[' => {
                if depth >= MAX_DEPTH {
                    return Err(self.error(format!("containers nest deeper than {MAX_DEPTH}")));
                }
                self.pos += 1;
                if byte == b'{' {
                    self.object(depth + 1)
                } else {
                    self.array(depth + 1)
                }
            }
            b'"' => Ok(Value::Str(self.string()?)),
            b't' => self.literal("true", Value::Bool(true)),
            b'f' => self.literal("false", Value::Bool(false)),
            b'n' => self.literal("null", Value::Null),
            b'N' => self.literal("NaN", Value::Number("NaN".into())),
            b'I' => self.literal("Infinity", Value::Number("Infinity".into())),
            b'-' if self.bytes.get(self.pos + 1) == Some(&b'I') => {
                self.literal("-Infinity", Value::Number("-Infinity".into()))
            }
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(self.error("unknown token")),
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, DecodeError> {
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(Vec::new()));
        }
        let mut items: Option<Items> = None;
        loop {
            let value = self.value(depth)?;
            items = Some(self.push(items, value)?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(match items {
                        Some(Items::Ints(mut v)) => {
                            v.shrink_to_fit();
                            Value::IntArray(v)
                        }
                        Some(Items::Floats(mut v)) => {
                            v.shrink_to_fit();
                            Value::F32Array(v)
                        }
                        Some(Items::Values(mut v)) => {
                            v.shrink_to_fit();
                            Value::Array(v)
                        }
                        None => Value::Array(Vec::new()),
                    });
                }
                None => return Err(self.error("input ends inside an array")),
                Some(_) => return Err(self.error("expected ',' or ']' in an array")),
            }
        }
    }

    /// Adds `value` to the array elements `items` (`None` before the first): an integer to
    /// integers, another number (its text rounded once to f32) to floats; any other mix turns
    /// them into values, each then charged. A float kept as [`Value::F32`] reads as its text
    /// did through every accessor ([`Value::as_f32`] rounds the text the same way).
    fn push(&mut self, items: Option<Items>, value: Value) -> Result<Items, DecodeError> {
        let float = match &value {
            Value::Number(text) => parse_f32_text(text),
            _ => None,
        };
        Ok(match (items, value, float) {
            (None, Value::Int(i), _) => Items::Ints(vec![i]),
            (None, Value::Number(_), Some(x)) => Items::Floats(vec![x]),
            (Some(Items::Ints(mut v)), Value::Int(i), _) => {
                v.push(i);
                Items::Ints(v)
            }
            (Some(Items::Floats(mut v)), Value::Number(_), Some(x)) => {
                v.push(x);
                Items::Floats(v)
            }
            (items, value, _) => {
                let mut values = match items {
                    None => Vec::new(),
                    Some(Items::Values(values)) => values,
                    Some(Items::Ints(v)) => {
                        self.charge(v.len())?;
                        v.into_iter().map(Value::Int).collect()
                    }
                    Some(Items::Floats(v)) => {
                        self.charge(v.len())?;
                        v.into_iter().map(Value::F32).collect()
                    }
                };
                if matches!(value, Value::Int(_) | Value::Number(_)) {
                    self.charge(1)?;
                }
                values.push(value);
                Items::Values(values)
            }
        })
    }

    fn object(&mut self, depth: usize) -> Result<Value, DecodeError> {
        let mut members: Vec<(String, Value)> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(if self.peek().is_none() {
                    self.error("input ends inside an object")
                } else {
                    self.error("expected a string key")
                });
            }
            let at = self.pos;
            let key = self.string()?;
            // Hashing keeps the check linear in the object's size (comparing each key with
            // every earlier one took minutes on a 3 MB file).
            if !seen.insert(key.clone()) {
                return Err(DecodeError {
                    offset: at,
                    reason: format!("duplicate key \"{}\"", crate::text::shown(&key)),
                });
            }
            self.expect(b':', "':'")?;
            // The member itself (a key and a value slot).
            self.charge(1)?;
            let value = self.value(depth)?;
            members.push((key, value));
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(members));
                }
                None => return Err(self.error("input ends inside an object")),
                Some(_) => return Err(self.error("expected ',' or '}' in an object")),
            }
        }
    }

    fn number(&mut self) -> Result<Value, DecodeError> {
        let start = self.pos;
        let digits = |reader: &mut Self| -> usize {
            let from = reader.pos;
            while matches!(reader.peek(), Some(b'0'..=b'9')) {
                reader.pos += 1;
            }
            reader.pos - from
        };
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        let n_int = digits(self);
        if n_int == 0 || (n_int > 1 && self.bytes[int_start] == b'0') {
            return Err(DecodeError {
                offset: start,
                reason: "malformed number".into(),
            });
        }
        let mut integral = true;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            integral = false;
            if digits(self) == 0 {
                return Err(DecodeError {
                    offset: start,
                    reason: "malformed number".into(),
                });
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            integral = false;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(DecodeError {
                    offset: start,
                    reason: "malformed number".into(),
                });
            }
        }
        // The slice holds only ASCII digits, signs, '.', 'e' and 'E'.
        let text: String = self.bytes[start..self.pos]
            .iter()
            .map(|&b| b as char)
            .collect();
        if integral {
            if let Ok(i) = text.parse::<i64>() {
                return Ok(Value::Int(i));
            }
        }
        Ok(Value::Number(text))
    }

    fn hex4(&mut self) -> Result<u32, DecodeError> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.error("truncated \\u escape"))?;
        let text = std::str::from_utf8(digits).map_err(|_| self.error("malformed \\u escape"))?;
        let code = u32::from_str_radix(text, 16).map_err(|_| self.error("malformed \\u escape"))?;
        self.pos += 4;
        Ok(code)
    }

    fn string(&mut self) -> Result<String, DecodeError> {
        let start = self.pos;
        self.pos += 1; // opening quote
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(byte) = self.peek() else {
                return Err(DecodeError {
                    offset: start,
                    reason: "unterminated string".into(),
                });
            };
            self.pos += 1;
            match byte {
                b'"' => break,
                b'\\' => {
                    let escape = self
                        .peek()
                        .ok_or_else(|| self.error("unterminated escape"))?;
                    self.pos += 1;
                    let simple = match escape {
                        b'"' => Some(b'"'),
                        b'\\' => Some(b'\\'),
                        b'/' => Some(b'/'),
                        b'b' => Some(0x08),
                        b'f' => Some(0x0c),
                        b'n' => Some(b'\n'),
                        b'r' => Some(b'\r'),
                        b't' => Some(b'\t'),
                        b'u' => None,
                        _ => return Err(self.error("unknown escape")),
                    };
                    let ch = match simple {
                        Some(b) => char::from(b),
                        None => {
                            let mut code = self.hex4()?;
                            if (0xd800..0xdc00).contains(&code) {
                                if !self.bytes[self.pos..].starts_with(b"\\u") {
                                    return Err(self.error("unpaired surrogate in \\u escape"));
                                }
                                self.pos += 2;
                                let low = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&low) {
                                    return Err(self.error("unpaired surrogate in \\u escape"));
                                }
                                code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
                            }
                            char::from_u32(code)
                                .ok_or_else(|| self.error("unpaired surrogate in \\u escape"))?
                        }
                    };
                    let mut buffer = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buffer).as_bytes());
                }
                0x00..=0x1f => return Err(self.error("control character in a string")),
                _ => out.push(byte),
            }
        }
        String::from_utf8(out).map_err(|_| DecodeError {
            offset: start,
            reason: "string is not valid UTF-8".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_xgboost_json_text() {
        let value = parse(br#" {"a": [1, -0, 2.5E-1, NaN, -Infinity, Infinity, 1e400, 123456789012345678901],
            "s": "q\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00", "t": true, "f": false, "n": null, "o": {}} "#)
        .unwrap();
        assert_eq!(
            value.get("a"),
            Some(&Value::Array(vec![
                Value::Int(1),
                Value::Int(0),
                Value::Number("2.5E-1".into()),
                Value::Number("NaN".into()),
                Value::Number("-Infinity".into()),
                Value::Number("Infinity".into()),
                Value::Number("1e400".into()),
                Value::Number("123456789012345678901".into()),
            ]))
        );
        assert_eq!(
            value.get("s").and_then(Value::as_str),
            Some("q\"\\/\u{8}\u{c}\n\r\té😀")
        );
        assert_eq!(value.get("o"), Some(&Value::Object(vec![])));
        for (text, reason) in [
            (&b"{\"a\": 01}"[..], "malformed number"),
            (b"{\"a\": 1.}", "malformed number"),
            (b"{\"a\" 1}", "expected ':'"),
            (b"{\"a\": 1,}", "expected a string key"),
            (b"[1 2]", "expected ',' or ']'"),
            (b"[1", "input ends inside an array"),
            (b"\"abc", "unterminated string"),
            (b"\"\\ud800x\"", "unpaired surrogate"),
            (b"{\"a\": 1, \"a\": 2}", "duplicate key"),
            (b"nul", "unknown token"),
            (b"{} x", "unexpected text"),
            (b"\"\xff\"", "not valid UTF-8"),
        ] {
            let error = parse(text).unwrap_err();
            assert!(
                error.reason.contains(reason),
                "{}: {error}",
                String::from_utf8_lossy(text)
            );
        }
        let deep = "[".repeat(MAX_DEPTH + 1);
        assert!(parse(deep.as_bytes())
            .unwrap_err()
            .reason
            .contains("nest deeper"));
    }

    #[test]
    fn arrays_of_numbers_are_kept_compact_and_read_as_their_text_would() {
        let value = parse(
            br#"{"i": [3, -1, 0], "f": [0.1, 1e400, NaN, 2.5E-1],
            "fi": [0.5, 2], "e": []}"#,
        )
        .unwrap();
        assert_eq!(value.get("i"), Some(&Value::IntArray(vec![3, -1, 0])));
        let floats = [0.1f32, f32::INFINITY, f32::NAN, 0.25];
        match value.get("f") {
            Some(Value::F32Array(v)) => {
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(v), bits(&floats));
            }
            other => panic!("{other:?}"),
        }
        // A float then an integer: kept as values, the float as its f32 (what its text reads as).
        assert_eq!(
            value.get("fi"),
            Some(&Value::Array(vec![Value::F32(0.5), Value::Int(2)]))
        );
        assert_eq!(value.get("fi").unwrap().to_f32_vec(), Ok(vec![0.5, 2.0]));
        assert_eq!(value.get("e"), Some(&Value::Array(vec![])));
    }

    #[test]
    fn memory_is_bounded_by_the_input() {
        // Numbers in number arrays are not counted: 200,000 of them in 400 KB.
        let numbers = vec!["0"; 200_000].join(",");
        assert!(parse(format!("[{numbers}]").as_bytes()).is_ok());
        let floats = vec!["1e1"; 200_000].join(",");
        assert!(parse(format!("[{floats}]").as_bytes()).is_ok());
        // Empty containers and short strings are: 200,000 in 600 KB is over one per 8 bytes.
        for element in ["[]", "{}", "\"\"", "null"] {
            let text = format!("[{}]", vec![element; 200_000].join(","));
            let error = parse(text.as_bytes()).unwrap_err();
            assert!(
                error.reason.contains("refused to bound memory"),
                "{element}: {error}"
            );
        }
        // A mixed array charges its numbers once it turns mixed.
        let mixed = format!("[{numbers},\"x\"]");
        assert!(parse(mixed.as_bytes())
            .unwrap_err()
            .reason
            .contains("values in"));
    }

    #[test]
    fn duplicate_keys_are_found_in_linear_time() {
        // 200,000 distinct keys: comparing each with every earlier one took minutes.
        let members: Vec<String> = (0..200_000).map(|i| format!("\"k{i}\": 0")).collect();
        let text = format!("{{{}}}", members.join(","));
        let start = std::time::Instant::now();
        assert!(parse(text.as_bytes()).is_ok());
        let repeated = format!("{{{}, \"k7\": 1}}", members.join(","));
        let error = parse(repeated.as_bytes()).unwrap_err();
        assert!(error.reason.contains("duplicate key \"k7\""), "{error}");
        assert!(start.elapsed().as_secs() < 20, "{:?}", start.elapsed());
    }
}
