//! Input vectors for parity runs: generated from a model's own split points (each threshold,
//! the f32 on either side, category members and their neighbours; the level codes of
//! per-level linear terms and their neighbours), IEEE special values, and
//! seeded random rows inside the features' ranges; or read from a user's CSV.

use std::collections::BTreeSet;
use std::path::Path;

use lockstep_engine::format::{next_f32_down, next_f32_up};
use lockstep_engine::view::{NodeView, SplitTest};
use lockstep_engine::Model;
use lockstep_protocol::exchange::{self, Header, HEADER_BYTES, VALUE_BYTES};

use crate::rng::SplitMix64;

/// Values every feature is probed with: missing, infinities, both zeros, subnormals, extremes.
pub const SPECIAL_VALUES: [f32; 12] = [
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
    0.0,
    -0.0,
    1e-45,
    -1e-45,
    1.1754942e-38, // largest subnormal
    -1.1754942e-38,
    f32::MIN_POSITIVE,
    f32::MAX,
    f32::MIN,
];

/// A set of input rows, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSet {
    /// Features per row.
    pub n_features: usize,
    /// Row-major values.
    pub values: Vec<f32>,
}

impl VectorSet {
    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.values.len().checked_div(self.n_features).unwrap_or(0)
    }

    /// Row `index`.
    pub fn row(&self, index: usize) -> &[f32] {
        &self.values[index * self.n_features..(index + 1) * self.n_features]
    }

    /// The vector file the firmware reads (`LSVC`, see `lockstep_protocol::exchange`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = Header::vectors(self.n_features as u32, self.n_rows() as u32);
        let mut out = Vec::with_capacity(HEADER_BYTES + self.values.len() * VALUE_BYTES);
        out.extend_from_slice(&header.to_bytes());
        for &v in &self.values {
            out.extend_from_slice(&exchange::encode_value(v));
        }
        out
    }
}

/// How many rows of each kind to generate.
#[derive(Debug, Clone, Copy)]
pub struct GenerateOptions {
    /// Random rows inside the features' ranges.
    pub random_rows: usize,
    /// Seed of the random rows.
    pub seed: u64,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            random_rows: 1000,
            seed: 0x010c_57e9,
        }
    }
}

/// The values each feature's splits distinguish, per feature, in increasing bit order.
fn boundary_values(model: &Model<'_>) -> Vec<BTreeSet<u32>> {
    let mut per_feature = vec![BTreeSet::new(); model.n_features()];
    for tree in model.trees() {
        for node in tree.nodes() {
            let NodeView::Split { feature, test, .. } = node else {
                continue;
            };
            let set = &mut per_feature[feature];
            match test {
                SplitTest::Less(t) => {
                    for v in [t, step_down(t), step_up(t)] {
                        set.insert(v.to_bits());
                    }
                }
                SplitTest::Categories(members) => {
                    for c in members.members() {
                        let c = c as f32;
                        for v in [c, c + 0.5, c + 1.0, c - 1.0, step_down(c), -0.5] {
                            set.insert(v.to_bits());
                        }
                    }
                }
            }
        }
    }
    // A dummy-coded categorical's level codes, their neighbours and a value between two codes
    // (an unknown level, scored as missing).
    for (feature, set) in per_feature.iter_mut().enumerate() {
        if let Some(terms) = model.level_terms(feature) {
            for (code, _) in terms.levels() {
                for v in [code, step_down(code), step_up(code), code + 0.5, code + 1.0] {
                    set.insert(v.to_bits());
                }
            }
        }
    }
    per_feature
}

fn step_down(x: f32) -> f32 {
    if x == f32::NEG_INFINITY {
        x
    } else {
        next_f32_down(x)
    }
}

fn step_up(x: f32) -> f32 {
    if x == f32::INFINITY {
        x
    } else {
        next_f32_up(x)
    }
}

/// The range random values for each feature are drawn from: the declared range if the model
/// has one, else the span of its thresholds widened by a quarter, else (a feature no tree
/// splits on) twice the distance from zero to its linear term's fill, so a linear model is
/// probed at the scale of its data, and [-1, 1] when there is nothing to go by.
fn sampling_ranges(model: &Model<'_>, boundaries: &[BTreeSet<u32>]) -> Vec<(f32, f32)> {
    (0..model.n_features())
        .map(|feature| {
            if let Some(range) = model.feature_range(feature) {
                return range;
            }
            let finite: Vec<f32> = boundaries[feature]
                .iter()
                .map(|&b| f32::from_bits(b))
                .filter(|v| v.is_finite())
                .collect();
            let low = finite.iter().copied().fold(f32::INFINITY, f32::min);
            let high = finite.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            if low > high {
                match model.linear_term(feature) {
                    Some((_, fill)) if fill != 0.0 => {
                        let reach = (2.0 * fill.abs()).min(f64::from(f32::MAX)) as f32;
                        (-reach, reach)
                    }
                    _ => (-1.0, 1.0),
                }
            } else {
                let pad = ((high - low) * 0.25).max(1.0);
                (low - pad, high + pad)
            }
        })
        .collect()
}

/// Generates the boundary, special and random vectors for `model`.
pub fn generate(model: &Model<'_>, options: GenerateOptions) -> VectorSet {
    let n = model.n_features();
    let boundaries = boundary_values(model);
    let ranges = sampling_ranges(model, &boundaries);
    let mut rng = SplitMix64(options.seed);
    let random_row = |rng: &mut SplitMix64| -> Vec<f32> {
        ranges
            .iter()
            .map(|&(low, high)| low + (high - low) * rng.unit_f32())
            .collect()
    };
    let mut values = Vec::new();
    // Whole rows of one special value.
    for special in SPECIAL_VALUES {
        values.extend(std::iter::repeat_n(special, n));
    }
    // Each feature at each of its boundary values and each special, the others random.
    for (feature, set) in boundaries.iter().enumerate() {
        let probes = set.iter().map(|&b| f32::from_bits(b)).chain(SPECIAL_VALUES);
        for value in probes {
            let mut row = random_row(&mut rng);
            row[feature] = value;
            values.extend(row);
        }
    }
    for _ in 0..options.random_rows {
        values.extend(random_row(&mut rng));
    }
    VectorSet {
        n_features: n,
        values,
    }
}

/// Reads vectors from a CSV with a header, matching columns to the model's features by name
/// exactly as `lockstep predict --allow-infinite` does: vectors are conformance inputs, not
/// measurements, so `inf` and `1e999` read as infinities (as generated vectors carry them).
pub fn read_csv(model: &Model<'_>, path: &Path) -> Result<VectorSet, crate::predict::PredictError> {
    let file = std::fs::File::open(path).map_err(crate::predict::PredictError::Open)?;
    let rows = crate::predict::read_feature_rows_with(model, file, true)?;
    Ok(VectorSet {
        n_features: model.n_features(),
        values: rows.into_iter().flatten().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockstep_engine::builder::{Condition, ModelSpec, NodeSpec, TreeSpec};
    use lockstep_engine::format::{
        Aggregation, BaseOrder, Framework, MissingMode, Numerics, Objective,
    };

    fn stump_model() -> Vec<u8> {
        let split = |feature, condition| NodeSpec::Split {
            feature,
            condition,
            missing: MissingMode::NanDefault,
            default_left: true,
            left: 1,
            right: 2,
        };
        let leaves = |a: f64, b: f64| [NodeSpec::Leaf { value: a }, NodeSpec::Leaf { value: b }];
        let trees = vec![
            TreeSpec {
                output: 0,
                nodes: [
                    vec![split(0, Condition::Less(0.5))],
                    leaves(1.0, 2.0).to_vec(),
                ]
                .concat(),
            },
            TreeSpec {
                output: 0,
                nodes: [
                    vec![split(1, Condition::Categories(vec![2, 5]))],
                    leaves(3.0, 4.0).to_vec(),
                ]
                .concat(),
            },
        ];
        ModelSpec {
            n_outputs: 1,
            objective: Objective::BinaryLogistic,
            numerics: Numerics::Xgboost,
            base_order: BaseOrder::First,
            aggregation: Aggregation::Sum,
            base_margins: vec![0.0],
            feature_names: vec!["a".into(), "b".into()],
            feature_ranges: None,
            trees,
            source_framework: Framework::Lockstep,
            source_version: String::new(),
            label: String::new(),
            sections: vec![],
        }
        .to_bytes()
        .unwrap()
    }

    #[test]
    fn probes_each_threshold_and_its_neighbours() {
        let bytes = stump_model();
        let model = Model::from_bytes(&bytes).unwrap();
        let set = generate(
            &model,
            GenerateOptions {
                random_rows: 10,
                seed: 1,
            },
        );
        let feature0: BTreeSet<u32> = (0..set.n_rows()).map(|r| set.row(r)[0].to_bits()).collect();
        for v in [
            0.5f32,
            next_f32_down(0.5),
            next_f32_up(0.5),
            f32::NAN,
            -0.0,
            1e-45,
        ] {
            assert!(feature0.contains(&v.to_bits()), "feature 0 lacks {v:e}");
        }
        let feature1: BTreeSet<u32> = (0..set.n_rows()).map(|r| set.row(r)[1].to_bits()).collect();
        for v in [2.0f32, 5.0, 5.5, 6.0, 4.0, -0.5] {
            assert!(feature1.contains(&v.to_bits()), "feature 1 lacks {v}");
        }
        assert_eq!(
            set.n_rows(),
            SPECIAL_VALUES.len() + feature0_probe_rows(&model) + 10
        );
    }

    fn feature0_probe_rows(model: &Model<'_>) -> usize {
        boundary_values(model)
            .iter()
            .map(|s| s.len() + SPECIAL_VALUES.len())
            .sum()
    }

    #[test]
    fn generation_is_deterministic_and_serialises_with_a_header() {
        let bytes = stump_model();
        let model = Model::from_bytes(&bytes).unwrap();
        let a = generate(&model, GenerateOptions::default());
        let b = generate(&model, GenerateOptions::default());
        assert_eq!(a.to_bytes(), b.to_bytes());
        let raw = a.to_bytes();
        assert_eq!(&raw[..4], b"LSVC");
        assert_eq!(u32::from_le_bytes(raw[4..8].try_into().unwrap()), 2);
        assert_eq!(
            u32::from_le_bytes(raw[8..12].try_into().unwrap()) as usize,
            a.n_rows()
        );
        assert_eq!(raw.len(), 12 + a.values.len() * 4);
    }
}
