//! Pins the engine's evaluation semantics and load-time validation on models built in code.

use lockstep_engine::builder::{
    level_terms_section, linear_section, BuildError, Condition, LevelTermSpec, ModelSpec, NodeSpec,
    TreeSpec,
};
use lockstep_engine::format::{
    next_f32_down, next_f32_up, Aggregation, BaseOrder, MissingMode, Numerics, Objective,
    FORMAT_VERSION_1, FORMAT_VERSION_2, HEADER_LEN,
};
use lockstep_engine::{
    math, Budget, BudgetItem, Error, Model, PREDICT_STACK_BYTES_CORTEX_M,
    PREDICT_STACK_BYTES_CORTEX_M_COMMON,
};
use lockstep_tests::{leaf, reseal, small_spec, split};

fn margin_and_prob(model: &Model<'_>, features: &[f32]) -> (f32, f32) {
    let (mut margin, mut prob) = ([0.0f32], [0.0f32]);
    model
        .predict(features, &mut margin, &mut prob)
        .expect("predict");
    (margin[0], prob[0])
}

#[test]
fn sums_trees_from_base_margin_and_applies_sigmoid() {
    let bytes = small_spec().to_bytes().expect("build");
    let model = Model::from_bytes(&bytes).expect("load");
    let (margin, prob) = margin_and_prob(&model, &[0.4, 0.0, 3.0]);
    assert_eq!(margin.to_bits(), (0.25f32 + 0.125 + 0.375).to_bits());
    assert_eq!(prob.to_bits(), math::sigmoid_xgboost(margin).to_bits());
}

#[test]
fn numeric_split_sends_values_below_threshold_left_and_nan_to_default() {
    let bytes = small_spec().to_bytes().expect("build");
    let model = Model::from_bytes(&bytes).expect("load");
    // Tree 0 root: age < 0.5 goes to the bmi split (-0.5 or 0.125), else leaf 0.75.
    let at = |age: f32, bmi: f32| margin_and_prob(&model, &[age, bmi, f32::NAN]).0 - 0.25 + 0.25;
    let tree1_nan = -0.25f32;
    assert_eq!(at(0.5, 0.0), 0.25 + 0.75 + tree1_nan);
    assert_eq!(at(next_f32_down(0.5), 0.0), 0.25 + 0.125 + tree1_nan);
    assert_eq!(at(next_f32_up(0.5), 0.0), 0.25 + 0.75 + tree1_nan);
    // NaN age: default left; NaN bmi at the second split: default right (0.125).
    assert_eq!(at(f32::NAN, f32::NAN), 0.25 + 0.125 + tree1_nan);
    assert_eq!(at(f32::NAN, -2.0), 0.25 - 0.5 + tree1_nan);
    assert_eq!(at(f32::NEG_INFINITY, -0.0), 0.25 + 0.125 + tree1_nan);
    assert_eq!(at(f32::INFINITY, 0.0), 0.25 + 0.75 + tree1_nan);
}

#[test]
fn xgboost_categories_in_set_go_right_and_invalid_values_go_left() {
    let bytes = small_spec().to_bytes().expect("build");
    let model = Model::from_bytes(&bytes).expect("load");
    let tree1 = |asa: f32| margin_and_prob(&model, &[1.0, 0.0, asa]).0 - (0.25 + 0.75);
    for member in [1.0, 3.0, 40.0, 40.9, 3.5] {
        assert_eq!(tree1(member), 0.375, "category {member}");
    }
    for other in [
        0.0,
        -0.0,
        2.0,
        39.0,
        41.0,
        64.0,
        1000.0,
        -0.5,
        -1.0,
        16777216.0,
        f32::INFINITY,
    ] {
        assert_eq!(tree1(other), -0.25, "value {other}");
    }
    assert_eq!(tree1(f32::NAN), -0.25, "missing follows default-left");
}

fn lightgbm_variant(spec: &ModelSpec) -> ModelSpec {
    let mut spec = spec.clone();
    spec.numerics = Numerics::Lightgbm { sigmoid: 1.0 };
    spec.base_margins = vec![0.0];
    spec
}

#[test]
fn lightgbm_categories_in_set_go_left_and_negative_truncation_counts() {
    let bytes = lightgbm_variant(&small_spec()).to_bytes().expect("build");
    let model = Model::from_bytes(&bytes).expect("load");
    let tree1 = |asa: f32| model.score(&[1.0, 0.0, asa]).expect("score").margins()[0] - 0.75;
    for member in [1.0, 3.0, 40.0, 40.9] {
        assert_eq!(tree1(member), -0.25, "category {member}");
    }
    // -0.5 truncates to category 0 (not in the set); values at or beyond 2^31 are not categories.
    for other in [
        0.0,
        -0.5,
        -0.0,
        2.0,
        -1.0,
        -3.0,
        2147483648.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
    ] {
        assert_eq!(tree1(other), 0.375, "value {other}");
    }
}

fn one_split_model(missing: MissingMode, default_left: bool, threshold: f32) -> Vec<u8> {
    one_split_spec(missing, default_left, threshold)
        .to_bytes()
        .expect("build")
}

fn one_split_spec(missing: MissingMode, default_left: bool, threshold: f32) -> ModelSpec {
    let tree = TreeSpec {
        output: 0,
        nodes: vec![
            NodeSpec::Split {
                feature: 0,
                condition: Condition::Less(threshold),
                missing,
                default_left,
                left: 1,
                right: 2,
            },
            leaf(-1.0),
            leaf(1.0),
        ],
    };
    let mut spec = lightgbm_variant(&small_spec());
    spec.trees = vec![tree];
    spec.objective = Objective::Regression;
    spec
}

#[test]
fn missing_modes_follow_lightgbm_rules() {
    let value = |bytes: &[u8], x: f32| {
        let model = Model::from_bytes(bytes).expect("load");
        model.score(&[x, 0.0, 0.0]).expect("score").outputs()[0]
    };
    // Missing type Zero: NaN and |x| <= 1e-35 take the default side, even though x < t.
    let zero = one_split_model(MissingMode::ZeroOrNanDefault, false, 0.5);
    assert_eq!(value(&zero, f32::NAN), 1.0);
    assert_eq!(value(&zero, 0.0), 1.0);
    assert_eq!(value(&zero, -1e-35), 1.0);
    assert_eq!(value(&zero, 1e-45), 1.0);
    assert_eq!(value(&zero, next_f32_up(1e-35)), -1.0);
    assert_eq!(value(&zero, -2.0), -1.0);
    // Missing type None: NaN is compared as 0.0.
    let none_left = one_split_model(MissingMode::NanAsZero, false, 0.5);
    assert_eq!(value(&none_left, f32::NAN), -1.0);
    let none_right = one_split_model(MissingMode::NanAsZero, true, -0.5);
    assert_eq!(value(&none_right, f32::NAN), 1.0);
}

/// A NaN-as-zero split whose default side is the one zero takes walks as a plain numeric
/// split (the numeric walk, chosen at load); one whose default bit says otherwise keeps the
/// general walk. Both must send NaN where 0.0 goes and every other value by `x < t`, through
/// a single row and through the batch's blocks, in both format versions.
#[test]
fn nan_as_zero_splits_send_nan_where_zero_goes_on_every_walk() {
    let thresholds = [0.5f32, -0.5, 0.0, -0.0, 1e-45, -1e-45, f32::MIN_POSITIVE];
    for &t in &thresholds {
        let xs = [
            f32::NAN,
            0.0,
            -0.0,
            t,
            next_f32_down(t),
            next_f32_up(t),
            1.0,
            -1.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ];
        for default_left in [false, true] {
            let spec = one_split_spec(MissingMode::NanAsZero, default_left, t);
            for version in [FORMAT_VERSION_1, FORMAT_VERSION_2] {
                let bytes = spec.to_bytes_with_version(version).expect("build");
                let model = Model::from_bytes(&bytes).expect("load");
                // 19 rows: two blocks' worth and a partial one, every x in turn.
                let rows: Vec<f32> = (0..19).flat_map(|i| [xs[i % xs.len()], 0.0, 0.0]).collect();
                let mut margins = vec![0.0f32; 19];
                let mut outputs = vec![0.0f32; 19];
                model
                    .predict_batch(&rows, &mut margins, &mut outputs)
                    .expect("batch");
                for (i, &out) in outputs.iter().enumerate() {
                    let x = xs[i % xs.len()];
                    let compared = if x.is_nan() { 0.0 } else { x };
                    let expected: f32 = if compared < t { -1.0 } else { 1.0 };
                    let single = model.score(&[x, 0.0, 0.0]).expect("score").outputs()[0];
                    assert_eq!(
                        (single.to_bits(), out.to_bits()),
                        (f64::from(expected).to_bits(), expected.to_bits()),
                        "t={t:e} default_left={default_left} x={x:e} v{}",
                        model.format_version()
                    );
                }
            }
        }
    }
}

#[test]
fn softmax_matches_xgboost_formula() {
    let mut spec = small_spec();
    spec.objective = Objective::MulticlassSoftmax;
    spec.n_outputs = 3;
    spec.base_margins = vec![0.5; 3];
    spec.trees = (0..6)
        .map(|i| TreeSpec {
            output: i % 3,
            nodes: vec![
                split(0, 1.0, true, 1, 2),
                leaf(f64::from((0.1 * i as f64) as f32)),
                leaf(-0.375),
            ],
        })
        .collect();
    let bytes = spec.to_bytes().expect("build");
    let model = Model::from_bytes(&bytes).expect("load");
    let (mut margins, mut probs) = ([0.0f32; 3], [0.0f32; 3]);
    model
        .predict(&[0.0, 0.0, 0.0], &mut margins, &mut probs)
        .expect("predict");
    let leaves: Vec<f32> = (0..6).map(|i| (0.1 * i as f64) as f32).collect();
    let expected: Vec<f32> = (0..3).map(|k| 0.5f32 + leaves[k] + leaves[k + 3]).collect();
    assert_eq!(
        margins.map(f32::to_bits).to_vec(),
        expected.iter().map(|m| m.to_bits()).collect::<Vec<_>>()
    );
    let max = expected.iter().copied().fold(f32::MIN, f32::max);
    let exps: Vec<f32> = expected.iter().map(|&m| math::expf(m - max)).collect();
    let sum = exps.iter().map(|&e| f64::from(e)).sum::<f64>() as f32;
    for k in 0..3 {
        assert_eq!(probs[k].to_bits(), (exps[k] / sum).to_bits());
    }
}

#[test]
fn averaged_forest_divides_by_trees_per_output() {
    let mut spec = lightgbm_variant(&small_spec());
    spec.aggregation = Aggregation::Mean;
    spec.objective = Objective::Regression;
    let bytes = spec.to_bytes().expect("build");
    let model = Model::from_bytes(&bytes).expect("load");
    let scores = model.score(&[0.4, 0.0, 0.0]).expect("score");
    // Tree 0 reaches 0.125; category 0 is not in tree 1's set, so LightGBM sends it right (0.375).
    assert_eq!(
        scores.margins()[0],
        0.125 + 0.375,
        "the margin is the raw sum"
    );
    assert_eq!(
        scores.outputs()[0],
        (0.125 + 0.375) / 2.0,
        "the output is the average"
    );
}

#[test]
fn base_margin_last_is_added_after_the_trees() {
    let mut spec = small_spec();
    spec.base_order = BaseOrder::Last;
    spec.base_margins = vec![1e8];
    spec.trees[0].nodes[2] = leaf(1.0);
    spec.trees[1].nodes[2] = leaf(1.0);
    let bytes = spec.to_bytes().expect("build");
    let model = Model::from_bytes(&bytes).expect("load");
    // 1 + 1 = 2 added to 1e8 is exact; 1e8 + 1 + 1 rounds each step back to 1e8.
    let scores = model.score(&[1.0, 0.0, 3.0]).expect("score");
    assert_eq!(scores.margins()[0] as f32, 1e8f32 + 2.0);
    spec.base_order = BaseOrder::First;
    let bytes = spec.to_bytes().expect("build");
    let model = Model::from_bytes(&bytes).expect("load");
    assert_eq!(
        model.score(&[1.0, 0.0, 3.0]).expect("score").margins()[0] as f32,
        1e8f32
    );
}

#[test]
fn rejects_wrong_feature_and_output_lengths() {
    let bytes = small_spec().to_bytes().expect("build");
    let model = Model::from_bytes(&bytes).expect("load");
    let (mut m, mut p) = ([0.0f32], [0.0f32]);
    assert_eq!(
        model.predict(&[0.0; 2], &mut m, &mut p),
        Err(Error::FeatureCountMismatch {
            expected: 3,
            found: 2
        })
    );
    let mut wide = [0.0f32; 2];
    assert_eq!(
        model.predict(&[0.0; 3], &mut wide, &mut p),
        Err(Error::OutputLengthMismatch {
            expected: 1,
            found: 2
        })
    );
    assert_eq!(
        model.check_ranges(&[121.0, 20.0, 1.0]),
        Err(Error::InputOutOfRange { feature: 0 })
    );
    assert_eq!(model.check_ranges(&[f32::NAN, 20.0, 1.0]), Ok(()));
}

#[test]
fn exposes_metadata_and_sections() {
    let bytes = small_spec().to_bytes().expect("build");
    let model = Model::from_bytes(&bytes).expect("load");
    assert_eq!(
        model.feature_names().collect::<Vec<_>>(),
        ["age", "bmi", "asa"]
    );
    assert_eq!(model.section(2), Some(&[1u8, 2, 3][..]));
    assert_eq!(model.section(4), None);
    assert_eq!(
        (
            model.n_trees(),
            model.n_nodes(),
            model.n_leaves(),
            model.measured_depth()
        ),
        (2, 8, 5, 2)
    );
    assert_eq!(model.feature_range(1), Some((10.0, 80.0)));
}

/// Byte offset of node `index` of `small_spec`'s version 1 node table. The table opens with tree 0's
/// root, `x0 < 0.5` with NaN going left, whose 8 bytes occur once in the blob.
fn node_offset(bytes: &[u8], index: usize) -> usize {
    let root = [0x00, 0x00, 0x00, 0x3f, 0x00, 0x10, 0x01, 0x00];
    let mut found = (0..bytes.len().saturating_sub(7)).filter(|&at| bytes[at..at + 8] == root);
    let start = found.next().expect("root node bytes");
    assert_eq!(found.next(), None, "root node bytes are not unique");
    start + index * 8
}

#[test]
fn rejects_child_index_before_parent() {
    let mut bytes = small_spec()
        .to_bytes_with_version(FORMAT_VERSION_1)
        .expect("build");
    let at = node_offset(&bytes, 1) + 6; // node 1's left-child field
    bytes[at..at + 2].copy_from_slice(&1u16.to_le_bytes());
    reseal(&mut bytes);
    assert_eq!(
        Model::from_bytes(&bytes).err(),
        Some(Error::BadChildIndex { tree: 0, node: 1 })
    );
}

#[test]
fn rejects_feature_index_beyond_feature_count() {
    let mut bytes = small_spec()
        .to_bytes_with_version(FORMAT_VERSION_1)
        .expect("build");
    let at = node_offset(&bytes, 0) + 4;
    bytes[at..at + 2].copy_from_slice(&7u16.to_le_bytes());
    reseal(&mut bytes);
    assert_eq!(
        Model::from_bytes(&bytes).err(),
        Some(Error::FeatureIndexOutOfRange { tree: 0, node: 0 })
    );
}

#[test]
fn rejects_nan_threshold_and_non_finite_leaf() {
    let mut bytes = small_spec()
        .to_bytes_with_version(FORMAT_VERSION_1)
        .expect("build");
    let at = node_offset(&bytes, 0);
    bytes[at..at + 4].copy_from_slice(&f32::NAN.to_bits().to_le_bytes());
    reseal(&mut bytes);
    assert_eq!(
        Model::from_bytes(&bytes).err(),
        Some(Error::NanThreshold { tree: 0, node: 0 })
    );
    let mut bytes = small_spec()
        .to_bytes_with_version(FORMAT_VERSION_1)
        .expect("build");
    let at = node_offset(&bytes, 2);
    bytes[at..at + 4].copy_from_slice(&f32::INFINITY.to_bits().to_le_bytes());
    reseal(&mut bytes);
    assert_eq!(
        Model::from_bytes(&bytes).err(),
        Some(Error::BadLeaf { tree: 0, node: 2 })
    );
}

#[test]
fn rejects_header_damage_with_typed_errors() {
    let bytes = small_spec().to_bytes().expect("build");
    let mut bad = bytes.clone();
    bad[0] = b'X';
    assert_eq!(Model::from_bytes(&bad).err(), Some(Error::BadMagic));
    let mut bad = bytes.clone();
    bad[4] = 3;
    assert_eq!(
        Model::from_bytes(&bad).err(),
        Some(Error::UnsupportedVersion { found: 3 })
    );
    let mut bad = bytes.clone();
    bad[HEADER_LEN + 1] ^= 1;
    assert_eq!(Model::from_bytes(&bad).err(), Some(Error::ChecksumMismatch));
    assert_eq!(
        Model::from_bytes(&bytes[..20]).err(),
        Some(Error::Truncated)
    );
    let mut long = bytes.clone();
    long.insert(bytes.len() - 32, 0);
    reseal(&mut long);
    assert_eq!(Model::from_bytes(&long).err(), Some(Error::TrailingBytes));
}

#[test]
fn rejects_unknown_required_section_but_skips_optional_ones() {
    let mut spec = small_spec();
    spec.sections = vec![(8, vec![9]), (5, vec![])];
    let bytes = spec.to_bytes();
    assert_eq!(
        bytes.err(),
        Some(BuildError::Invalid(Error::UnsupportedSection { tag: 5 }))
    );
}

/// A logistic regression on the three features of [`small_spec`]: no trees, the intercept as
/// the base margin, feature 1 unused (zero coefficient).
fn linear_spec(terms: &[(f64, f64)]) -> ModelSpec {
    let mut spec = lightgbm_variant(&small_spec());
    spec.trees.clear();
    spec.base_margins = vec![-2.5];
    spec.sections = vec![linear_section(terms)];
    spec
}

const TERMS: [(f64, f64); 3] = [(0.031, 65.5), (0.0, 27.0), (-0.7, 2.0)];

#[test]
fn linear_terms_add_coefficient_times_value_in_feature_order() {
    let bytes = linear_spec(&TERMS).to_bytes().expect("build");
    let model = Model::from_bytes(&bytes).expect("load");
    assert!(model.has_linear_terms());
    assert_eq!(model.n_trees(), 0);
    assert_eq!(model.linear_term(2), Some((-0.7, 2.0)));
    for row in [
        [71.0f32, 30.0, 3.0],
        [f32::NAN, f32::INFINITY, 1.0],
        [18.5, -1.0, f32::NAN],
        [0.0, f32::NAN, 0.0],
    ] {
        let value = |j: usize| {
            if row[j].is_nan() {
                TERMS[j].1
            } else {
                f64::from(row[j])
            }
        };
        // Feature 1 has a zero coefficient, so even an infinite value there is not read.
        let expected = -2.5 + 0.031 * value(0) + -0.7 * value(2);
        let scores = model.score(&row).expect("score");
        assert_eq!(scores.margins()[0].to_bits(), expected.to_bits(), "{row:?}");
        assert_eq!(
            scores.outputs()[0].to_bits(),
            math::sigmoid_lightgbm(expected, 1.0).to_bits()
        );
    }
}

#[test]
fn a_nan_result_is_always_the_canonical_nan() {
    // +inf * 0.031 and +inf * -0.7 meet as inf - inf: x86 makes a negative NaN, Arm a
    // positive one; the engine reports the same bits everywhere.
    let bytes = linear_spec(&TERMS).to_bytes().expect("build");
    let model = Model::from_bytes(&bytes).expect("load");
    for row in [
        [f32::INFINITY, 0.0, f32::INFINITY],
        [f32::NEG_INFINITY, 0.0, f32::NEG_INFINITY],
    ] {
        let (margin, prob) = margin_and_prob(&model, &row);
        assert_eq!(margin.to_bits(), 0x7fc0_0000);
        assert_eq!(prob.to_bits(), 0x7fc0_0000);
        let scores = model.score(&row).expect("score");
        assert_eq!(scores.margins()[0].to_bits(), 0x7ff8_0000_0000_0000);
        assert_eq!(scores.outputs()[0].to_bits(), 0x7ff8_0000_0000_0000);
    }
}

#[test]
fn linear_terms_follow_the_trees() {
    let mut spec = linear_spec(&TERMS);
    spec.trees = lightgbm_variant(&small_spec()).trees;
    let bytes = spec.to_bytes().expect("build");
    let model = Model::from_bytes(&bytes).expect("load");
    let trees_only = {
        let mut plain = lightgbm_variant(&small_spec());
        plain.base_margins = vec![-2.5];
        plain.sections.clear();
        plain.to_bytes().expect("build")
    };
    let trees_only = Model::from_bytes(&trees_only).expect("load");
    let row = [0.4f32, 0.0, 3.0];
    let tree_margin = trees_only.score(&row).expect("score").margins()[0];
    let expected = tree_margin + 0.031 * 0.4f32 as f64 + -0.7 * 3.0;
    assert_eq!(
        model.score(&row).expect("score").margins()[0].to_bits(),
        expected.to_bits()
    );
}

#[test]
fn rejects_malformed_or_misplaced_linear_terms() {
    let bad = BuildError::Invalid(Error::BadLinearTerms);
    // One record short.
    assert_eq!(linear_spec(&TERMS[..2]).to_bytes().err(), Some(bad.clone()));
    // Non-finite coefficient or fill.
    for term in [(f64::NAN, 0.0), (f64::INFINITY, 0.0), (1.0, f64::NAN)] {
        let terms = [TERMS[0], term, TERMS[2]];
        assert_eq!(linear_spec(&terms).to_bytes().err(), Some(bad.clone()));
    }
    // Twice.
    let mut twice = linear_spec(&TERMS);
    twice.sections.push(linear_section(&TERMS));
    assert_eq!(twice.to_bytes().err(), Some(bad.clone()));
    // An f32 (XGBoost-numerics) model.
    let mut f32_model = linear_spec(&TERMS);
    f32_model.numerics = Numerics::Xgboost;
    f32_model.trees = small_spec().trees;
    f32_model.base_margins = vec![0.25];
    assert_eq!(f32_model.to_bytes().err(), Some(bad.clone()));
    // A multiclass model.
    let mut multi = linear_spec(&TERMS);
    multi.n_outputs = 2;
    multi.objective = Objective::MulticlassSoftmax;
    multi.base_margins = vec![0.0, 0.0];
    assert_eq!(multi.to_bytes().err(), Some(bad));
    // Without trees and without linear terms there is nothing to evaluate.
    let mut empty = linear_spec(&TERMS);
    empty.sections.clear();
    assert_eq!(
        empty.to_bytes().err(),
        Some(BuildError::Invalid(Error::Empty))
    );
}

/// Level terms on feature 1 of [`linear_spec`]: codes 0, 1, 2 (0 the reference).
fn stage_terms() -> LevelTermSpec {
    LevelTermSpec {
        feature: 1,
        fill: 0.3125,
        levels: vec![(0.0, 0.0), (1.0, -1.25), (2.0, 0.8)],
    }
}

#[test]
fn level_terms_add_the_inputs_level_coefficient_after_the_features_linear_term() {
    let mut spec = linear_spec(&TERMS);
    spec.sections.push(level_terms_section(&[stage_terms()]));
    let bytes = spec.to_bytes().expect("build");
    let model = Model::from_bytes(&bytes).expect("load");
    assert!(model.has_level_terms());
    let terms = model.level_terms(1).expect("feature 1 has level terms");
    assert_eq!(terms.fill(), 0.3125);
    assert_eq!(
        terms.levels().collect::<Vec<_>>(),
        [(0.0, 0.0), (1.0, -1.25), (2.0, 0.8)]
    );
    assert!(model.level_terms(0).is_none() && model.level_terms(2).is_none());
    // (stage input, its term): a level's coefficient; the reference adds nothing; missing,
    // unlisted and non-integer codes take the fill.
    let cases = [
        (1.0f32, -1.25),
        (2.0, 0.8),
        (0.0, 0.0),
        (-0.0, 0.0),
        (f32::NAN, 0.3125),
        (3.0, 0.3125),
        (1.5, 0.3125),
        (f32::INFINITY, 0.3125),
    ];
    for (stage, term) in cases {
        let row = [71.0f32, stage, 3.0];
        // Feature order: x0's linear term, x1's (zero: skipped) then its level term, x2's.
        let mut expected: f64 = -2.5 + 0.031 * 71.0;
        if term != 0.0 {
            expected += term;
        }
        expected += -0.7 * 3.0;
        let scores = model.score(&row).expect("score");
        assert_eq!(scores.margins()[0].to_bits(), expected.to_bits(), "{stage}");
        assert_eq!(
            scores.outputs()[0].to_bits(),
            math::sigmoid_lightgbm(expected, 1.0).to_bits()
        );
    }
    // Level terms alone (no trees, no linear section) are a model too.
    let mut alone = linear_spec(&TERMS);
    alone.sections = vec![level_terms_section(&[stage_terms()])];
    let bytes = alone.to_bytes().expect("build");
    let model = Model::from_bytes(&bytes).expect("load");
    let margin = model.score(&[9.0, 1.0, 9.0]).expect("score").margins()[0];
    assert_eq!(margin.to_bits(), (-2.5f64 + -1.25).to_bits());
}

#[test]
fn rejects_malformed_or_misplaced_level_terms() {
    let bad = Some(BuildError::Invalid(Error::BadLevelTerms));
    let build = |terms: &[LevelTermSpec]| {
        let mut spec = linear_spec(&TERMS);
        spec.sections.push(level_terms_section(terms));
        spec.to_bytes().err()
    };
    let with = |edit: &dyn Fn(&mut LevelTermSpec)| {
        let mut terms = stage_terms();
        edit(&mut terms);
        build(&[terms])
    };
    assert_eq!(build(&[stage_terms()]), None);
    assert_eq!(build(&[]), bad.clone(), "an empty section");
    assert_eq!(
        with(&|t| t.feature = 3),
        bad.clone(),
        "feature out of range"
    );
    assert_eq!(with(&|t| t.levels.clear()), bad.clone(), "no levels");
    assert_eq!(with(&|t| t.fill = f64::NAN), bad.clone(), "NaN fill");
    assert_eq!(with(&|t| t.levels[1].1 = f64::INFINITY), bad.clone());
    assert_eq!(with(&|t| t.levels[2].0 = f32::NAN), bad.clone());
    assert_eq!(with(&|t| t.levels[2].0 = f32::INFINITY), bad.clone());
    assert_eq!(with(&|t| t.levels[2].0 = 1.0), bad.clone(), "repeated code");
    assert_eq!(
        with(&|t| t.levels.swap(0, 1)),
        bad.clone(),
        "unsorted codes"
    );
    let mut first = stage_terms();
    first.feature = 0;
    assert_eq!(build(&[first.clone(), stage_terms()]), None);
    assert_eq!(
        build(&[stage_terms(), first]),
        bad.clone(),
        "features out of order"
    );
    assert_eq!(
        build(&[stage_terms(), stage_terms()]),
        bad.clone(),
        "a feature twice"
    );
    // A truncated record.
    let mut spec = linear_spec(&TERMS);
    let (tag, mut payload) = level_terms_section(&[stage_terms()]);
    payload.pop();
    spec.sections.push((tag, payload));
    assert_eq!(spec.to_bytes().err(), bad.clone());
    // Twice.
    let mut twice = linear_spec(&TERMS);
    twice.sections.push(level_terms_section(&[stage_terms()]));
    twice.sections.push(level_terms_section(&[stage_terms()]));
    assert_eq!(twice.to_bytes().err(), bad.clone());
    // Models a linear predictor cannot mean: f32 numerics, several outputs.
    let mut f32_model = small_spec();
    f32_model.sections = vec![level_terms_section(&[stage_terms()])];
    assert_eq!(f32_model.to_bytes().err(), bad.clone());
    let mut multi = linear_spec(&TERMS);
    multi.sections = vec![level_terms_section(&[stage_terms()])];
    multi.n_outputs = 2;
    multi.objective = Objective::MulticlassSoftmax;
    multi.base_margins = vec![0.0, 0.0];
    assert_eq!(multi.to_bytes().err(), bad);
}

#[test]
fn binary_probability_models_report_their_margin_as_the_probability() {
    // A forest of probability trees: the output is the mean, untransformed.
    let mut spec = small_spec();
    spec.objective = Objective::BinaryProbability;
    spec.aggregation = Aggregation::Mean;
    spec.base_margins = vec![0.0];
    let bytes = spec.to_bytes().expect("build");
    let model = Model::from_bytes(&bytes).expect("load");
    let mut regression = spec.clone();
    regression.objective = Objective::Regression;
    let regression_bytes = regression.to_bytes().expect("build");
    let regression = Model::from_bytes(&regression_bytes).expect("load");
    for row in [[0.0f32, 0.0, 0.0], [1.0, -1.0, f32::NAN], [f32::NAN; 3]] {
        let ours = model.score(&row).expect("score");
        let theirs = regression.score(&row).expect("score");
        assert_eq!(ours.margins()[0].to_bits(), theirs.margins()[0].to_bits());
        assert_eq!(ours.outputs()[0].to_bits(), theirs.outputs()[0].to_bits());
        let mean = ours.margins()[0] as f32 / model.n_trees() as f32;
        assert_eq!(ours.outputs()[0].to_bits(), f64::from(mean).to_bits());
    }
    // One output only.
    let mut two = spec;
    two.n_outputs = 2;
    two.base_margins = vec![0.0, 0.0];
    assert_eq!(
        two.to_bytes().err(),
        Some(BuildError::Invalid(Error::TableSize))
    );
}

#[test]
fn builder_refuses_graphs_that_are_not_trees() {
    let mut spec = small_spec();
    spec.trees[0].nodes[1] = split(1, 0.0, true, 0, 4); // cycle back to the root
    assert_eq!(
        spec.to_bytes().err(),
        Some(BuildError::NotATree { tree: 0 })
    );
    let mut spec = small_spec();
    spec.trees[0].nodes.push(leaf(1.0)); // unreachable node
    assert_eq!(
        spec.to_bytes().err(),
        Some(BuildError::NotATree { tree: 0 })
    );
    let mut spec = small_spec();
    spec.trees[0].nodes[3] = leaf(0.1); // not an f32 value in an f32 model
    assert!(matches!(
        spec.to_bytes(),
        Err(BuildError::LeafNotRepresentable { tree: 0, .. })
    ));
}

#[test]
fn tree_views_decode_what_the_builder_wrote() {
    use lockstep_engine::view::{NodeView, SplitTest};
    let bytes = small_spec().to_bytes().expect("build");
    let model = Model::from_bytes(&bytes).expect("load");
    let tree0: Vec<NodeView<'_>> = model.tree(0).expect("tree 0").nodes().collect();
    assert_eq!(tree0.len(), 5);
    assert!(
        matches!(tree0[0], NodeView::Split { feature: 0, test: SplitTest::Less(t), default_left: true, left: 1, .. } if t == 0.5)
    );
    assert_eq!(tree0[2], NodeView::Leaf { value: 0.75 });
    let root1 = model.tree(1).expect("tree 1").node(0).expect("root");
    match root1 {
        NodeView::Split {
            test: SplitTest::Categories(set),
            ..
        } => {
            assert_eq!(set.members().collect::<Vec<_>>(), [1, 3, 40]);
        }
        other => panic!("expected a categorical split, got {other:?}"),
    }
    assert!(model.tree(2).is_none());
}

#[test]
fn builder_refuses_two_features_with_one_name() {
    let mut spec = small_spec();
    let name = spec.feature_names[0].clone();
    spec.feature_names[1] = name.clone();
    let error = spec.to_bytes().err();
    assert_eq!(
        error,
        Some(BuildError::DuplicateFeatureName {
            name: name.clone(),
            first: 0,
            second: 1
        })
    );
    let message = error.map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains(&format!("\"{name}\"")), "{message}");
    // Control characters in the name are escaped in the message.
    let mut spec = small_spec();
    spec.feature_names[0] = "a\u{1b}[2J".into();
    spec.feature_names[1] = "a\u{1b}[2J".into();
    let message = spec
        .to_bytes()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(!message.contains('\u{1b}'), "{message}");
}

#[test]
fn loader_refuses_a_sigmoid_scale_that_is_not_finite_and_positive() {
    for scale in [0.0, -0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut spec = small_spec();
        spec.numerics = Numerics::Lightgbm { sigmoid: scale };
        assert_eq!(
            spec.to_bytes().err(),
            Some(BuildError::Invalid(Error::BadSigmoid)),
            "sigmoid {scale}"
        );
    }
    let mut spec = small_spec();
    spec.numerics = Numerics::Lightgbm { sigmoid: 0.5 };
    assert!(spec.to_bytes().is_ok());
}

/// A tree of `depth` splits on feature 0, each sending values below `k` left to a leaf: the
/// longest path visits `depth + 1` of its `2 * depth + 1` nodes.
fn chain_tree(depth: usize) -> TreeSpec {
    let mut nodes = Vec::new();
    for k in 0..depth {
        // Breadth-first: the k-th split sits at 2k, its children at 2k+1 and 2k+2.
        nodes.push(split(0, k as f32, true, 2 * k + 1, 2 * k + 2));
        nodes.push(leaf(k as f64));
    }
    nodes.push(leaf(-1.0));
    TreeSpec { output: 0, nodes }
}

#[test]
fn cost_counts_each_trees_longest_path_and_every_term() {
    let bytes = small_spec().to_bytes().expect("build");
    let cost = Model::from_bytes(&bytes).expect("load").cost();
    // Tree 0: depth 2 (5 nodes); tree 1: depth 1 (3 nodes).
    assert_eq!((cost.trees, cost.nodes, cost.depth_max), (2, 8, 2));
    assert_eq!(cost.node_visits_max, 3 + 2);
    assert_eq!((cost.linear_terms, cost.level_codes), (0, 0));
    assert_eq!(cost.work_items_max, 5);
    assert_eq!(cost.stack_bytes_max, PREDICT_STACK_BYTES_CORTEX_M_COMMON);
    // The stack bound follows the model's kind: only an f64 model with several outputs keeps
    // an array of f64 sums.
    let kind = |lightgbm: bool, n_outputs: usize| {
        let mut spec = if lightgbm {
            lightgbm_variant(&small_spec())
        } else {
            small_spec()
        };
        spec.objective = Objective::MulticlassSoftmax;
        spec.n_outputs = n_outputs;
        spec.base_margins = vec![0.0; n_outputs];
        spec.trees = (0..2 * n_outputs)
            .map(|i| TreeSpec {
                output: i % n_outputs,
                ..small_spec().trees[0].clone()
            })
            .collect();
        if n_outputs == 1 {
            spec.objective = Objective::Regression;
        }
        let bytes = spec.to_bytes().expect("build");
        Model::from_bytes(&bytes)
            .expect("load")
            .cost()
            .stack_bytes_max
    };
    assert_eq!(kind(true, 3), PREDICT_STACK_BYTES_CORTEX_M);
    for (lightgbm, n_outputs) in [(true, 1), (false, 3), (false, 1)] {
        assert_eq!(
            kind(lightgbm, n_outputs),
            PREDICT_STACK_BYTES_CORTEX_M_COMMON,
            "lightgbm {lightgbm}, {n_outputs} outputs"
        );
    }

    // A lopsided tree costs its longest path, not its node count or a balanced guess.
    let mut deep = small_spec();
    deep.trees.push(chain_tree(9));
    let bytes = deep.to_bytes().expect("build");
    let model = Model::from_bytes(&bytes).expect("load");
    let cost = model.cost();
    assert_eq!((cost.trees, cost.nodes, cost.depth_max), (3, 8 + 19, 9));
    assert_eq!(cost.node_visits_max, 3 + 2 + 10);
    assert_eq!(model.measured_depth(), 9);
    // The chain really is that deep: a large age walks all 9 splits to the last leaf.
    let margin = model.score(&[100.0, 0.0, 1.0]).expect("score").margins()[0];
    assert_eq!(margin, f64::from(0.25f32 + 0.75 + 0.375 - 1.0));

    // Linear and level terms: the linear pass visits every feature, each level code once.
    let mut terms = linear_spec(&TERMS);
    terms.sections.push(level_terms_section(&[stage_terms()]));
    let bytes = terms.to_bytes().expect("build");
    let cost = Model::from_bytes(&bytes).expect("load").cost();
    assert_eq!((cost.trees, cost.node_visits_max), (0, 0));
    assert_eq!((cost.linear_terms, cost.level_codes), (3, 3));
    assert_eq!(cost.work_items_max, 6);
}

#[test]
fn a_budget_refuses_models_beyond_each_of_its_limits() {
    let mut spec = small_spec();
    spec.trees.push(chain_tree(9));
    let bytes = spec.to_bytes().expect("build");
    let cost = Model::from_bytes(&bytes).expect("load").cost();
    let exact = Budget {
        max_bytes: bytes.len() as u64,
        max_trees: cost.trees,
        max_nodes: cost.nodes,
        max_work_items: cost.work_items_max,
    };
    assert!(Model::from_bytes_with_budget(&bytes, &exact).is_ok());
    assert!(Model::from_bytes_with_budget(&bytes, &Budget::UNLIMITED).is_ok());
    let over = |item, found: u64| {
        Some(Error::OverBudget {
            item,
            found,
            limit: found - 1,
        })
    };
    let cases = [
        (
            Budget {
                max_bytes: exact.max_bytes - 1,
                ..exact
            },
            over(BudgetItem::Bytes, bytes.len() as u64),
        ),
        (
            Budget {
                max_trees: 2,
                ..exact
            },
            over(BudgetItem::Trees, 3),
        ),
        (
            Budget {
                max_nodes: 26,
                ..exact
            },
            over(BudgetItem::Nodes, 27),
        ),
        (
            Budget {
                max_work_items: 14,
                ..exact
            },
            over(BudgetItem::WorkItems, 15),
        ),
    ];
    for (budget, expected) in cases {
        assert_eq!(
            Model::from_bytes_with_budget(&bytes, &budget).err(),
            expected,
            "{budget:?}"
        );
    }
    // The byte limit applies before the checksum is computed: an oversized blob is refused
    // for its size even when damaged.
    let mut damaged = bytes.clone();
    damaged[HEADER_LEN + 3] ^= 1;
    assert_eq!(
        Model::from_bytes(&damaged).err(),
        Some(Error::ChecksumMismatch)
    );
    assert_eq!(
        Model::from_bytes_with_budget(
            &damaged,
            &Budget {
                max_bytes: 64,
                ..exact
            }
        )
        .err(),
        Some(Error::OverBudget {
            item: BudgetItem::Bytes,
            found: bytes.len() as u64,
            limit: 64,
        })
    );
    let message = over(BudgetItem::WorkItems, 15).expect("error").to_string();
    assert_eq!(
        message,
        "model has 15 work items per score, over the load budget of 14"
    );
}
