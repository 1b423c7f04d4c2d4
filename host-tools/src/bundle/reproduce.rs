//! `lockstep bundle reproduce`: re-trains a bundle's model from its manifest and the data, and
//! says whether the bytes are the same.
//!
//! The data must be the manifest's (same SHA-256); the schema is the bundled `schema.toml`
//! (checked against the manifest), put under the file name it had when the model was trained
//! (the trainer writes that name into the model's label); the settings are the manifest's
//! settings in effect, read back as a `TrainConfig`. Training is deterministic, so the same
//! inputs give the same model SHA-256 on any machine and thread count.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::manifest::Manifest;
use super::{sha256_hex, MANIFEST, SCHEMA};
use crate::inspect::hex;
use crate::train::pipeline::{self, TrainingError};

/// Why a bundle could not be reproduced (apart from a different model).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReproduceError {
    /// A bundle or data file could not be read.
    #[error("cannot read '{path}': {cause}")]
    Read {
        /// The file, as shown.
        path: String,
        /// Why.
        cause: String,
    },
    /// The manifest or schema is not usable.
    #[error("{file}: {detail}")]
    Bundle {
        /// Which bundle file.
        file: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The data is not the data the model was trained on.
    #[error(
        "the data's SHA-256 is {found}, the bundle was trained on data with SHA-256 {expected}: \
         give the exact data file the pipeline trained on"
    )]
    DataDiffers {
        /// The manifest's.
        expected: String,
        /// The file's.
        found: String,
    },
    /// Training failed.
    #[error("re-training: {0}")]
    Training(#[from] TrainingError),
}

/// What a reproduction found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reproduction {
    /// The manifest's model SHA-256.
    pub expected_sha256: String,
    /// The re-trained model's SHA-256.
    pub found_sha256: String,
}

impl Reproduction {
    /// Whether the re-trained model is byte for byte the bundle's.
    pub fn same(&self) -> bool {
        self.expected_sha256 == self.found_sha256
    }
}

fn read(path: &Path) -> Result<Vec<u8>, ReproduceError> {
    std::fs::read(path).map_err(|e| ReproduceError::Read {
        path: crate::text::shown_path(path),
        cause: crate::output::describe_read(&e),
    })
}

/// Re-trains the model of the bundle in `dir` on `data` and compares the bytes. Reads the
/// manifest without checking its signature: run [`super::verify()`] first to trust it.
pub fn reproduce(dir: &Path, data: &Path) -> Result<Reproduction, ReproduceError> {
    let bundle = |file, detail| ReproduceError::Bundle { file, detail };
    let manifest: Manifest = serde_json::from_slice(&read(&dir.join(MANIFEST))?)
        .map_err(|e| bundle(MANIFEST, format!("not a bundle manifest: {e}")))?;
    let schema = read(&dir.join(SCHEMA))?;
    if sha256_hex(&schema) != manifest.schema.sha256 {
        return Err(bundle(SCHEMA, "its SHA-256 is not the manifest's".into()));
    }
    let name = &manifest.schema.file_name;
    if name.is_empty() || name.contains(['/', '\\']) || name == "." || name == ".." {
        return Err(bundle(
            MANIFEST,
            "schema.file_name is not a plain file name".into(),
        ));
    }
    let found = hex(&Sha256::digest(read(data)?));
    if found != manifest.data.sha256 {
        return Err(ReproduceError::DataDiffers {
            expected: manifest.data.sha256,
            found,
        });
    }
    // The schema under its training-time name, in a private directory removed afterwards.
    struct WorkDir(std::path::PathBuf);
    impl Drop for WorkDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let work = WorkDir(std::env::temp_dir().join(format!(
        "lockstep-reproduce-{}-{}",
        std::process::id(),
        &sha256_hex(dir.as_os_str().as_encoded_bytes())[..16]
    )));
    let schema_path = work.0.join(name);
    std::fs::create_dir(&work.0)
        .and_then(|()| std::fs::write(&schema_path, &schema))
        .map_err(|e| ReproduceError::Read {
            path: crate::text::shown_path(&schema_path),
            cause: format!("cannot write the schema for training: {e}"),
        })?;
    let config = manifest.training.settings.to_train_config();
    let outcome = pipeline::train_model(data, &schema_path, config, |_| {})?;
    drop(work);
    Ok(Reproduction {
        expected_sha256: manifest.model.sha256,
        found_sha256: sha256_hex(&outcome.model),
    })
}
