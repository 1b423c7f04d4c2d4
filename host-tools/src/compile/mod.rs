//! Compiling models from other frameworks into the engine's format. Each importer turns a source
//! file into a framework-neutral [`ModelSpec`]; [`ModelSpec::to_bytes`] writes and re-validates
//! the bytes. Importers refuse anything they cannot reproduce exactly, saying what it is.

mod json;
pub mod lightgbm;
pub mod ubjson;
pub mod xgboost;

use lockstep_engine::builder::{BuildError, ModelSpec};

/// The model file formats `lockstep compile` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    /// XGBoost `save_model` JSON.
    XgboostJson,
    /// XGBoost `save_model` UBJSON (`.ubj`).
    XgboostUbj,
    /// LightGBM `save_model` text.
    LightgbmText,
}

impl SourceFormat {
    /// A short human name.
    pub fn name(self) -> &'static str {
        match self {
            SourceFormat::XgboostJson => "XGBoost JSON",
            SourceFormat::XgboostUbj => "XGBoost UBJSON",
            SourceFormat::LightgbmText => "LightGBM text",
        }
    }
}

/// Why a source model could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// The bytes are none of the supported formats.
    #[error("unrecognised model file: expected XGBoost JSON or UBJSON (save_model) or a LightGBM text model")]
    UnknownFormat,
    /// The file is of a known format but is malformed.
    #[error("malformed {format} model: {detail}")]
    Malformed {
        /// Which format.
        format: &'static str,
        /// What was wrong, and where.
        detail: String,
    },
    /// The model uses something the engine cannot reproduce exactly.
    #[error("cannot compile exactly: {0}")]
    Unsupported(String),
    /// The assembled model was rejected.
    #[error(transparent)]
    Build(#[from] BuildError),
}

/// A compiled model: what was read, and the bytes to ship.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The detected source format.
    pub format: SourceFormat,
    /// The neutral description the bytes were written from.
    pub spec: ModelSpec,
    /// The engine-format bytes (already validated by loading).
    pub bytes: Vec<u8>,
}

/// Guesses the format from the first bytes: `{` starts JSON, LightGBM text starts with `tree`,
/// and XGBoost's UBJSON starts with an object marker `{` followed by a length or key marker.
pub fn detect(bytes: &[u8]) -> Option<SourceFormat> {
    let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes); // a UTF-8 byte-order mark
    let trimmed = text
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map_or(&[][..], |i| &text[i..]);
    if trimmed.starts_with(b"tree\n") || trimmed.starts_with(b"tree\r\n") {
        return Some(SourceFormat::LightgbmText);
    }
    match bytes.first().zip(bytes.get(1)) {
        // UBJSON objects: '{' then a key length marker (i, U, I, l, L) or a count/type marker.
        Some((b'{', b'i' | b'U' | b'I' | b'l' | b'L' | b'#' | b'$')) => {
            Some(SourceFormat::XgboostUbj)
        }
        _ if trimmed.first() == Some(&b'{') => Some(SourceFormat::XgboostJson),
        _ => None,
    }
}

/// Compiles a source model, detecting its format.
pub fn compile(bytes: &[u8]) -> Result<Compiled, CompileError> {
    let format = detect(bytes).ok_or(CompileError::UnknownFormat)?;
    let spec = match format {
        SourceFormat::XgboostJson => xgboost::import_json(bytes)?,
        SourceFormat::XgboostUbj => xgboost::import_ubj(bytes)?,
        SourceFormat::LightgbmText => lightgbm::import_text(bytes)?,
    };
    let bytes = spec.to_bytes()?;
    Ok(Compiled {
        format,
        spec,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_format_by_its_first_bytes() {
        assert_eq!(
            detect(b"{\"learner\": {}}"),
            Some(SourceFormat::XgboostJson)
        );
        assert_eq!(
            detect(b"  \n{\"learner\": {}}"),
            Some(SourceFormat::XgboostJson)
        );
        assert_eq!(
            detect(b"{L\x00\x00\x00\x00\x00\x00\x00\x07learner"),
            Some(SourceFormat::XgboostUbj)
        );
        assert_eq!(detect(b"{i\x07learner"), Some(SourceFormat::XgboostUbj));
        assert_eq!(
            detect(b"tree\nversion=v4\n"),
            Some(SourceFormat::LightgbmText)
        );
        assert_eq!(
            detect(b"\xef\xbb\xbf{\"learner\": {}}"),
            Some(SourceFormat::XgboostJson)
        );
        assert_eq!(detect(b"PK\x03\x04"), None);
        assert_eq!(detect(b""), None);
    }
}
