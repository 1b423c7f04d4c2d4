//! The engine's one error type. Every failure of loading or evaluating a model is a variant
//! here; nothing in the engine panics, and postcard/serde errors never leak through.

use core::fmt;

/// What went wrong while loading a model or evaluating it.
///
/// Loading errors name the first invariant a blob breaks; once a [`crate::Model`] exists, only
/// the caller-supplied slices can be wrong (`FeatureCountMismatch`, `OutputLengthMismatch`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// The blob is shorter than the fixed header plus checksum.
    Truncated,
    /// The first four bytes are not [`crate::format::MAGIC`].
    BadMagic,
    /// The format version is not one this engine reads.
    UnsupportedVersion {
        /// The version found in the header.
        found: u16,
    },
    /// Header bits reserved for future use are set.
    ReservedBitsSet,
    /// The SHA-256 at the end of the blob does not match its contents.
    ChecksumMismatch,
    /// The postcard body could not be decoded.
    MalformedBody,
    /// Bytes follow the body that belong to nothing.
    TrailingBytes,
    /// A table's byte length is not a multiple of its record size, or disagrees with a count.
    TableSize,
    /// A declared count exceeds the engine's fixed capacity (see [`crate::format::limits`]).
    LimitExceeded,
    /// The model declares no trees, no features or no outputs.
    Empty,
    /// A tree's node range does not tile the node table in order.
    TreeRange {
        /// Index of the offending tree.
        tree: u32,
    },
    /// A tree writes to an output index that the model does not have.
    TreeOutputOutOfRange {
        /// Index of the offending tree.
        tree: u32,
    },
    /// A split's children are not where the breadth-first layout requires them, so the tree
    /// could contain a cycle, a shared child or an index past its end.
    BadChildIndex {
        /// Index of the offending tree.
        tree: u32,
        /// Index of the offending node within the tree.
        node: u32,
    },
    /// A split reads a feature index at or above the model's feature count.
    FeatureIndexOutOfRange {
        /// Index of the offending tree.
        tree: u32,
        /// Index of the offending node within the tree.
        node: u32,
    },
    /// A node carries flag bits that mean nothing in this version (or a leaf carries split bits).
    BadNodeFlags {
        /// Index of the offending tree.
        tree: u32,
        /// Index of the offending node within the tree.
        node: u32,
    },
    /// A numeric split has a NaN threshold.
    NanThreshold {
        /// Index of the offending tree.
        tree: u32,
        /// Index of the offending node within the tree.
        node: u32,
    },
    /// A leaf value (or its index into the f64 leaf table) is not a finite number.
    BadLeaf {
        /// Index of the offending tree.
        tree: u32,
        /// Index of the offending node within the tree.
        node: u32,
    },
    /// A categorical split names a category set that does not exist.
    CategorySetOutOfRange {
        /// Index of the offending tree.
        tree: u32,
        /// Index of the offending node within the tree.
        node: u32,
    },
    /// A category set's words lie outside the word table.
    BadCategorySet,
    /// A version 2 split's code lies outside its feature's run of split values.
    SplitValueOutOfRange {
        /// Index of the offending tree.
        tree: u32,
        /// Index of the offending node within the tree.
        node: u32,
    },
    /// A tree is deeper than the model's declared maximum depth.
    DepthExceeded {
        /// Index of the offending tree.
        tree: u32,
    },
    /// A base margin is not finite, or not exactly an f32 in an f32 model.
    BadBaseMargin,
    /// Feature names are not valid UTF-8 strings, or their count is not the feature count.
    BadFeatureNames,
    /// A feature range is NaN or has its low bound above its high bound.
    BadFeatureRange {
        /// The feature whose range is invalid.
        feature: u32,
    },
    /// A LightGBM model's sigmoid scale is not a finite positive number.
    BadSigmoid,
    /// The model's trees do not have the same count per output, as averaging requires.
    UnevenForest,
    /// An optional section record is malformed.
    BadSection,
    /// A section marked as required is one this engine does not know.
    UnsupportedSection {
        /// The section's tag.
        tag: u32,
    },
    /// The linear-terms section is malformed (wrong length, a non-finite coefficient or fill,
    /// repeated) or the model cannot carry one (not an f64 single-output model summing its
    /// trees, or an objective other than binary logistic or regression).
    BadLinearTerms,
    /// The feature slice's length is not the model's feature count.
    FeatureCountMismatch {
        /// The model's feature count.
        expected: u32,
        /// The length that was passed.
        found: u32,
    },
    /// An output slice's length is not the model's output count.
    OutputLengthMismatch {
        /// The model's output count.
        expected: u32,
        /// The length that was passed.
        found: u32,
    },
    /// A feature value lies outside the model's declared valid range.
    InputOutOfRange {
        /// The feature whose value is out of range.
        feature: u32,
    },
    /// The level-terms section is malformed (truncated record, features not strictly
    /// increasing or out of range, no levels, level codes not finite and strictly increasing,
    /// a non-finite coefficient or fill, repeated) or the model cannot carry one (as for
    /// [`Error::BadLinearTerms`]).
    BadLevelTerms,
    /// The model exceeds a limit of the [`crate::Budget`] it was loaded with.
    OverBudget {
        /// The limit exceeded.
        item: crate::BudgetItem,
        /// The model's figure (for bytes, the blob's length).
        found: u64,
        /// The budget's limit.
        limit: u64,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Truncated => f.write_str("model blob is truncated"),
            Error::BadMagic => f.write_str("not a lockstep model (bad magic bytes)"),
            Error::UnsupportedVersion { found } => {
                write!(f, "unsupported model format version {found}")
            }
            Error::ReservedBitsSet => f.write_str("reserved header bits are set"),
            Error::ChecksumMismatch => {
                f.write_str("checksum mismatch: the model bytes are corrupted")
            }
            Error::MalformedBody => f.write_str("model body is malformed"),
            Error::TrailingBytes => f.write_str("unexpected bytes after the model body"),
            Error::TableSize => {
                f.write_str("a table's size disagrees with its record size or count")
            }
            Error::LimitExceeded => f.write_str("model exceeds a fixed engine capacity"),
            Error::Empty => f.write_str("model has no trees, features or outputs"),
            Error::TreeRange { tree } => write!(f, "tree {tree} has an invalid node range"),
            Error::TreeOutputOutOfRange { tree } => {
                write!(f, "tree {tree} writes to a nonexistent output")
            }
            Error::BadChildIndex { tree, node } => {
                write!(f, "tree {tree} node {node} has misplaced children")
            }
            Error::FeatureIndexOutOfRange { tree, node } => {
                write!(f, "tree {tree} node {node} reads a nonexistent feature")
            }
            Error::BadNodeFlags { tree, node } => {
                write!(f, "tree {tree} node {node} has invalid flags")
            }
            Error::NanThreshold { tree, node } => {
                write!(f, "tree {tree} node {node} has a NaN threshold")
            }
            Error::BadLeaf { tree, node } => {
                write!(f, "tree {tree} node {node} has an invalid leaf")
            }
            Error::CategorySetOutOfRange { tree, node } => {
                write!(
                    f,
                    "tree {tree} node {node} names a nonexistent category set"
                )
            }
            Error::BadCategorySet => f.write_str("a category set lies outside the word table"),
            Error::SplitValueOutOfRange { tree, node } => {
                write!(f, "tree {tree} node {node} names a nonexistent split value")
            }
            Error::DepthExceeded { tree } => write!(f, "tree {tree} exceeds the declared depth"),
            Error::BadBaseMargin => f.write_str("invalid base margin"),
            Error::BadFeatureNames => f.write_str("invalid feature names"),
            Error::BadFeatureRange { feature } => {
                write!(f, "feature {feature} has an invalid range")
            }
            Error::BadSigmoid => f.write_str("sigmoid scale is not a finite positive number"),
            Error::UnevenForest => f.write_str("averaged model has uneven tree counts per output"),
            Error::BadSection => f.write_str("malformed optional section"),
            Error::UnsupportedSection { tag } => write!(f, "unsupported required section {tag}"),
            Error::BadLinearTerms => f.write_str("malformed or misplaced linear-terms section"),
            Error::FeatureCountMismatch { expected, found } => {
                write!(f, "expected {expected} features, got {found}")
            }
            Error::OutputLengthMismatch { expected, found } => {
                write!(f, "expected an output slice of {expected}, got {found}")
            }
            Error::InputOutOfRange { feature } => {
                write!(f, "feature {feature} is outside its valid range")
            }
            Error::BadLevelTerms => f.write_str("malformed or misplaced level-terms section"),
            Error::OverBudget { item, found, limit } => {
                write!(
                    f,
                    "model has {found} {item}, over the load budget of {limit}"
                )
            }
        }
    }
}

impl core::error::Error for Error {}
