//! Shared helpers for the cross-crate suites: small models built in code, re-sealing mutated
//! blobs, and reading the committed framework fixtures.

use std::path::{Path, PathBuf};

use lockstep_engine::builder::{Condition, ModelSpec, NodeSpec, TreeSpec};
use lockstep_engine::format::{
    Aggregation, BaseOrder, Framework, MissingMode, Numerics, Objective, CHECKSUM_LEN,
};
use sha2::{Digest, Sha256};

/// The fixtures directory.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Recomputes the trailing checksum of a (possibly mutated) blob so that the loader's
/// structural checks, not the checksum, decide whether it is accepted.
pub fn reseal(bytes: &mut [u8]) {
    if bytes.len() < CHECKSUM_LEN {
        return;
    }
    let split = bytes.len() - CHECKSUM_LEN;
    let digest = Sha256::digest(&bytes[..split]);
    bytes[split..].copy_from_slice(&digest);
}

/// A numeric split node, NaN to the default side.
pub fn split(
    feature: usize,
    threshold: f32,
    default_left: bool,
    left: usize,
    right: usize,
) -> NodeSpec {
    split_on(
        feature,
        Condition::Less(threshold),
        MissingMode::NanDefault,
        default_left,
        left,
        right,
    )
}

/// Any split node.
pub fn split_on(
    feature: usize,
    condition: Condition,
    missing: MissingMode,
    default_left: bool,
    left: usize,
    right: usize,
) -> NodeSpec {
    NodeSpec::Split {
        feature,
        condition,
        missing,
        default_left,
        left,
        right,
    }
}

/// A leaf node.
pub fn leaf(value: f64) -> NodeSpec {
    NodeSpec::Leaf { value }
}

/// A small binary XGBoost-style model over 3 features: two trees, one categorical split.
pub fn small_spec() -> ModelSpec {
    let tree0 = TreeSpec {
        output: 0,
        nodes: vec![
            split(0, 0.5, true, 1, 2),
            split(1, -1.25, false, 3, 4),
            leaf(0.75),
            leaf(-0.5),
            leaf(0.125),
        ],
    };
    let tree1 = TreeSpec {
        output: 0,
        nodes: vec![
            NodeSpec::Split {
                feature: 2,
                condition: Condition::Categories(vec![1, 3, 40]),
                missing: MissingMode::NanDefault,
                default_left: true,
                left: 1,
                right: 2,
            },
            leaf(-0.25),
            leaf(0.375),
        ],
    };
    ModelSpec {
        n_outputs: 1,
        objective: Objective::BinaryLogistic,
        numerics: Numerics::Xgboost,
        base_order: BaseOrder::First,
        aggregation: Aggregation::Sum,
        base_margins: vec![0.25],
        feature_names: vec!["age".into(), "bmi".into(), "asa".into()],
        feature_ranges: Some(vec![(0.0, 120.0), (10.0, 80.0), (0.0, 63.0)]),
        trees: vec![tree0, tree1],
        source_framework: Framework::Lockstep,
        source_version: "test".into(),
        label: "small".into(),
        sections: vec![(2, vec![1, 2, 3])],
    }
}

/// Parses 8 hex digits into f32 bits.
pub fn f32_from_hex(text: &str) -> f32 {
    f32::from_bits(
        u32::from_str_radix(text.trim(), 16).unwrap_or_else(|_| panic!("bad f32 hex '{text}'")),
    )
}

/// Parses 16 hex digits into f64 bits.
pub fn f64_from_hex(text: &str) -> f64 {
    f64::from_bits(
        u64::from_str_radix(text.trim(), 16).unwrap_or_else(|_| panic!("bad f64 hex '{text}'")),
    )
}

/// A CSV of hex cells: its header and rows of cells.
pub struct HexTable {
    /// Column names.
    pub header: Vec<String>,
    /// Rows of raw cell text.
    pub rows: Vec<Vec<String>>,
}

impl HexTable {
    /// Reads a comma-separated file without quoting.
    pub fn read(path: &Path) -> HexTable {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let mut lines = text.lines().filter(|line| !line.trim().is_empty());
        let header = lines
            .next()
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_string())
            .collect();
        let rows = lines
            .map(|line| line.split(',').map(|s| s.trim().to_string()).collect())
            .collect();
        HexTable { header, rows }
    }

    /// The index of `name` in the header.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }
}
