//! The lines the parity firmware prints on its semihosting console, which the host reads back.
//!
//! A result is one line `<key> <value>`; other lines are informational (warnings, the timing
//! note) and the host ignores them. A run that worked ends with [`DONE`] on a line of its own;
//! one that failed prints a line starting with [`ERROR_PREFIX`] and exits with a failure status.
//!
//! ```text
//! model-sha256 <64 hex digits>          the checksum Model::from_bytes verified
//! rows <n>                              rows scored
//! instructions-per-inference <n>        average, loop overhead subtracted (-icount shift=0)
//! stack-peak-bytes <n>                  deepest stack of one inference (stack painting)
//! done
//! ```

/// A result line's key (or the closing line) as a string literal, for `concat!` into a format
/// string: the firmware's `hprintln!` takes a literal, and a key spliced in as an argument
/// would cost flash and instructions on every print. The constants below are the same text.
///
/// ```
/// use lockstep_protocol::report_key;
/// assert_eq!(concat!(report_key!(rows), " {}"), "rows {}");
/// ```
#[macro_export]
macro_rules! report_key {
    (model_sha256) => {
        "model-sha256"
    };
    (rows) => {
        "rows"
    };
    (instructions_per_inference) => {
        "instructions-per-inference"
    };
    (stack_peak_bytes) => {
        "stack-peak-bytes"
    };
    (done) => {
        "done"
    };
}

/// Key of the model checksum line.
pub const MODEL_SHA256: &str = report_key!(model_sha256);
/// Key of the scored-rows line.
pub const ROWS: &str = report_key!(rows);
/// Key of the instructions-per-inference line.
pub const INSTRUCTIONS_PER_INFERENCE: &str = report_key!(instructions_per_inference);
/// Key of the stack-peak line.
pub const STACK_PEAK_BYTES: &str = report_key!(stack_peak_bytes);
/// The last line of a successful run.
pub const DONE: &str = report_key!(done);
/// How every failure line starts.
pub const ERROR_PREFIX: &str = "error: ";

/// The value of `line` if it is the result line for `key` (`<key> <value>`), trimmed.
pub fn value<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    Some(line.strip_prefix(key)?.strip_prefix(' ')?.trim())
}

/// Whether `line` is the closing [`DONE`] line.
pub fn is_done(line: &str) -> bool {
    line.trim() == DONE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_value_only_from_its_own_key() {
        assert_eq!(value("rows 12\r", ROWS), Some("12"));
        assert_eq!(value("stack-peak-bytes 408", STACK_PEAK_BYTES), Some("408"));
        assert_eq!(value("rowsx 12", ROWS), None);
        assert_eq!(value("timing: rows 12", ROWS), None);
        assert!(is_done(" done\n"));
        assert!(!is_done("done?"));
    }
}
