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
//!
//! A firmware built with a sealing key (firmware-demo's `LOCKSTEP_SEAL_PUBLIC_KEY`) opens the
//! sealed model (`lockstep-seal`) before anything else and adds:
//!
//! ```text
//! seal-version <n>                      the verified model's version (anti-rollback)
//! seal-key-id <16 hex digits>           the signer's key id
//! seal-verify-instructions <n>          instructions of one `lockstep_seal::open` (-icount)
//! seal-refused <code>                   the seal was refused (then `error: ...`); see seal_code
//! seal-verdict <i> accepted <version>   seal-check mode: blob i opened
//! seal-verdict <i> refused <code>       seal-check mode: blob i refused, and why
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
    (seal_version) => {
        "seal-version"
    };
    (seal_key_id) => {
        "seal-key-id"
    };
    (seal_verify_instructions) => {
        "seal-verify-instructions"
    };
    (seal_refused) => {
        "seal-refused"
    };
    (seal_verdict) => {
        "seal-verdict"
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
/// Key of the verified seal's version line.
pub const SEAL_VERSION: &str = report_key!(seal_version);
/// Key of the verified seal's key id line.
pub const SEAL_KEY_ID: &str = report_key!(seal_key_id);
/// Key of the seal verification cost line.
pub const SEAL_VERIFY_INSTRUCTIONS: &str = report_key!(seal_verify_instructions);
/// Key of the line naming why the seal was refused.
pub const SEAL_REFUSED: &str = report_key!(seal_refused);
/// Key of a seal-check verdict line.
pub const SEAL_VERDICT: &str = report_key!(seal_verdict);
/// The word of a seal-check verdict for a blob that opened.
pub const ACCEPTED: &str = "accepted";
/// The word of a seal-check verdict for a blob that was refused.
pub const REFUSED: &str = "refused";

/// Every seal refusal code [`seal_code`] prints, one per `lockstep_seal::SealError` variant.
pub const SEAL_CODES: [&str; 11] = [
    "too-short",
    "bad-magic",
    "unsupported-format",
    "unknown-flags",
    "length-mismatch",
    "wrong-key",
    "bad-signature",
    "bad-public-key",
    "rollback",
    "buffer-too-small",
    "model-too-large",
];

/// The stable one-word code of a seal refusal, as the firmware prints it after
/// [`SEAL_REFUSED`] and in seal-check verdicts (the host compares codes, never prose).
#[cfg(feature = "seal")]
pub fn seal_code(error: &lockstep_seal::SealError) -> &'static str {
    use lockstep_seal::SealError as E;
    let index = match error {
        E::TooShort => 0,
        E::BadMagic => 1,
        E::UnsupportedFormat(_) => 2,
        E::UnknownFlags(_) => 3,
        E::LengthMismatch => 4,
        E::WrongKey => 5,
        E::BadSignature => 6,
        E::BadPublicKey => 7,
        E::Rollback { .. } => 8,
        E::BufferTooSmall => 9,
        E::ModelTooLarge => 10,
    };
    SEAL_CODES.get(index).copied().unwrap_or("unknown")
}

/// A seal-check verdict line, read back: the blob's index and its verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealVerdict<'a> {
    /// The blob opened; its version.
    Accepted(u32),
    /// The blob was refused; the [`seal_code`].
    Refused(&'a str),
}

/// Reads a `seal-verdict <i> accepted <version>` or `seal-verdict <i> refused <code>` line.
pub fn seal_verdict(line: &str) -> Option<(usize, SealVerdict<'_>)> {
    let mut words = value(line, SEAL_VERDICT)?.split_whitespace();
    let index = words.next()?.parse().ok()?;
    let verdict = match (words.next()?, words.next()?) {
        (ACCEPTED, version) => SealVerdict::Accepted(version.parse().ok()?),
        (REFUSED, code) if SEAL_CODES.contains(&code) => SealVerdict::Refused(code),
        _ => return None,
    };
    words.next().is_none().then_some((index, verdict))
}

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

    #[test]
    fn reads_seal_verdicts() {
        assert_eq!(
            seal_verdict("seal-verdict 3 accepted 7\r"),
            Some((3, SealVerdict::Accepted(7)))
        );
        assert_eq!(
            seal_verdict("seal-verdict 0 refused bad-signature"),
            Some((0, SealVerdict::Refused("bad-signature")))
        );
        assert_eq!(seal_verdict("seal-verdict 0 refused nonsense"), None);
        assert_eq!(seal_verdict("seal-verdict 0 accepted 1 extra"), None);
        assert_eq!(seal_verdict("seal-verdict x accepted 1"), None);
    }

    #[cfg(feature = "seal")]
    #[test]
    fn every_seal_error_has_its_own_code() {
        use lockstep_seal::SealError as E;
        let all = [
            E::TooShort,
            E::BadMagic,
            E::UnsupportedFormat(2),
            E::UnknownFlags(1),
            E::LengthMismatch,
            E::WrongKey,
            E::BadSignature,
            E::BadPublicKey,
            E::Rollback {
                version: 1,
                minimum: 2,
            },
            E::BufferTooSmall,
            E::ModelTooLarge,
        ];
        let codes: Vec<&str> = all.iter().map(seal_code).collect();
        assert_eq!(codes, SEAL_CODES);
    }
}
