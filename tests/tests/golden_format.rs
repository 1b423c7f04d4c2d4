//! The model format's exact bytes: small models written by the builder must come out as the
//! bytes pinned here, so that any change to the wire format fails loudly.
//!
//! Each pinned model covers part of the format: `XGBOOST_TINY` f32 leaves, numeric splits with
//! both default sides, an XGBoost categorical split and feature ranges; `LIGHTGBM_TINY` f64
//! leaves, both LightGBM missing modes, a LightGBM categorical split, a multi-word category
//! set, an unknown optional section; `LINEAR_TINY` the linear-terms section; `LEVELS_TINY`
//! (appended with the level-terms section, tag 7) linear and level terms without trees;
//! `XGBOOST_TINY_V2` (appended) the first model in format version 2. A test also loads
//! each pinned blob and checks what it predicts, bit for bit, so the bytes keep their meaning.
//!
//! `XGBOOST_TINY` is also committed as `engine/tests/data/tiny.lsm` for the engine's doctests;
//! `LOCKSTEP_WRITE_GOLDEN=1 cargo test -p lockstep-tests --test golden_format` rewrites that
//! file from the builder. A deliberate format change updates the arrays below by hand.

use std::path::Path;

use lockstep_engine::builder::{
    level_terms_section, linear_section, Condition, LevelTermSpec, ModelSpec, TreeSpec,
};
use lockstep_engine::format::{
    Aggregation, BaseOrder, Framework, MissingMode, Numerics, Objective, FORMAT_VERSION_1,
    FORMAT_VERSION_2,
};
use lockstep_engine::{math, Model};
use lockstep_tests::{leaf, split, split_on};

/// Two XGBoost trees over `age` and `asa`; children listed out of breadth-first order so the
/// builder's relayout is pinned too.
fn xgboost_tiny() -> ModelSpec {
    let tree0 = TreeSpec {
        output: 0,
        nodes: vec![
            split(0, 65.0, true, 2, 1),
            leaf(0.5),
            split(1, 2.5, false, 3, 4),
            leaf(0.25),
            leaf(-0.125),
        ],
    };
    let tree1 = TreeSpec {
        output: 0,
        nodes: vec![
            split_on(
                1,
                Condition::Categories(vec![3, 4, 5]),
                MissingMode::NanDefault,
                true,
                1,
                2,
            ),
            leaf(0.0625),
            leaf(-0.375),
        ],
    };
    ModelSpec {
        n_outputs: 1,
        objective: Objective::BinaryLogistic,
        numerics: Numerics::Xgboost,
        base_order: BaseOrder::First,
        aggregation: Aggregation::Sum,
        base_margins: vec![-0.5],
        feature_names: vec!["age".into(), "asa".into()],
        feature_ranges: Some(vec![(0.0, 120.0), (1.0, 6.0)]),
        trees: vec![tree0, tree1],
        source_framework: Framework::Xgboost,
        source_version: "2.1.4".into(),
        label: "tiny".into(),
        sections: vec![],
    }
}

/// Two LightGBM trees: a `Zero` missing split, a `None` missing split, and a categorical split
/// whose set spans two words.
fn lightgbm_tiny() -> ModelSpec {
    let tree0 = TreeSpec {
        output: 0,
        nodes: vec![
            split_on(
                0,
                Condition::Less(1.5),
                MissingMode::ZeroOrNanDefault,
                false,
                1,
                2,
            ),
            split_on(
                1,
                Condition::Less(-0.75),
                MissingMode::NanAsZero,
                true,
                3,
                4,
            ),
            leaf(0.1),
            leaf(-0.2),
            leaf(0.30000000000000004),
        ],
    };
    let tree1 = TreeSpec {
        output: 0,
        nodes: vec![
            split_on(
                2,
                Condition::Categories(vec![0, 33]),
                MissingMode::NanDefault,
                true,
                1,
                2,
            ),
            leaf(-0.05),
            leaf(1e-3),
        ],
    };
    ModelSpec {
        n_outputs: 1,
        objective: Objective::BinaryLogistic,
        numerics: Numerics::Lightgbm { sigmoid: 1.0 },
        base_order: BaseOrder::First,
        aggregation: Aggregation::Sum,
        base_margins: vec![0.0],
        feature_names: vec!["x".into(), "y".into(), "unit".into()],
        feature_ranges: None,
        trees: vec![tree0, tree1],
        source_framework: Framework::Lightgbm,
        source_version: "4.7.0".into(),
        label: "lgb".into(),
        sections: vec![(2, vec![0xaa, 0xbb])],
    }
}

/// A logistic regression with one stump: linear terms after the tree.
fn linear_tiny() -> ModelSpec {
    let stump = TreeSpec {
        output: 0,
        nodes: vec![split(0, 0.0, true, 1, 2), leaf(-0.5), leaf(0.5)],
    };
    ModelSpec {
        n_outputs: 1,
        objective: Objective::BinaryLogistic,
        numerics: Numerics::Lightgbm { sigmoid: 1.0 },
        base_order: BaseOrder::First,
        aggregation: Aggregation::Sum,
        base_margins: vec![0.125],
        feature_names: vec!["a".into(), "b".into()],
        feature_ranges: None,
        trees: vec![stump],
        source_framework: Framework::Lockstep,
        source_version: String::new(),
        label: "linear".into(),
        sections: vec![linear_section(&[(0.5, 2.0), (0.0, 0.0)])],
    }
}

/// A logistic regression with a dummy-coded categorical and no trees: `x`'s linear term, then
/// `stage`'s level term (codes 0, 1, 2; level 0 the reference).
fn levels_tiny() -> ModelSpec {
    ModelSpec {
        n_outputs: 1,
        objective: Objective::BinaryLogistic,
        numerics: Numerics::Lightgbm { sigmoid: 1.0 },
        base_order: BaseOrder::First,
        aggregation: Aggregation::Sum,
        base_margins: vec![-1.0],
        feature_names: vec!["x".into(), "stage".into()],
        feature_ranges: None,
        trees: Vec::new(),
        source_framework: Framework::Lockstep,
        source_version: String::new(),
        label: "levels".into(),
        sections: vec![
            linear_section(&[(0.5, 2.0), (0.0, 0.0)]),
            level_terms_section(&[LevelTermSpec {
                feature: 1,
                fill: 0.25,
                levels: vec![(0.0, 0.0), (1.0, 1.5), (2.0, -0.75)],
            }]),
        ],
    }
}

/// `xgboost_tiny()`, as written by the builder.
#[rustfmt::skip]
const XGBOOST_TINY: [u8; 192] = [
    0x4c, 0x53, 0x54, 0x50, // magic "LSTP"
    0x01, 0x00, // format version 1
    0x00, 0x00, // header flags
    0x02, // n_features 2
    0x01, // n_outputs 1
    0x02, // max_depth 2
    0x01, // objective BinaryLogistic
    0x01, // numerics Xgboost
    0x00, // base_order First
    0x00, // aggregation Sum
    0x08, // base_margins: 8 bytes
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe0, 0xbf, // f64 base margin of output 0
    0x10, // trees: 16 bytes, 8 per tree (node_start u32, n_nodes u16, output u16)
    0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, // tree 0: nodes 0..5, output 0
    0x05, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, // tree 1: nodes 5..8, output 0
    0x40, // nodes: 64 bytes, 8 per node (value u32, meta u16, left u16)
    0x00, 0x00, 0x82, 0x42, 0x00, 0x10, 0x01, 0x00, // tree 0 node 0: x0 < 65.0, NaN left, -> 1, 2
    0x00, 0x00, 0x20, 0x40, 0x01, 0x00, 0x03, 0x00, // tree 0 node 1: x1 < 2.5, NaN right, -> 3, 4
    0x00, 0x00, 0x00, 0x3f, 0x00, 0x00, 0x00, 0x00, // tree 0 node 2: leaf 0.5
    0x00, 0x00, 0x80, 0x3e, 0x00, 0x00, 0x00, 0x00, // tree 0 node 3: leaf 0.25
    0x00, 0x00, 0x00, 0xbe, 0x00, 0x00, 0x00, 0x00, // tree 0 node 4: leaf -0.125
    0x00, 0x00, 0x00, 0x00, 0x01, 0x90, 0x01, 0x00, // tree 1 node 0: x1 in set 0, NaN left, -> 1, 2
    0x00, 0x00, 0x80, 0x3d, 0x00, 0x00, 0x00, 0x00, // tree 1 node 1: leaf 0.0625
    0x00, 0x00, 0xc0, 0xbe, 0x00, 0x00, 0x00, 0x00, // tree 1 node 2: leaf -0.375
    0x00, // leaf_values: 0 bytes
    0x08, // category_sets: 8 bytes
    0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // category set (word_start u32, n_words u32) 0
    0x04, // category_words: 4 bytes
    0x38, 0x00, 0x00, 0x00, // u32 bitset word 0
    0x08, 0x03, 0x61, 0x67, 0x65, 0x03, 0x61, 0x73, 0x61, // feature_names: 8 bytes
    0x10, // feature_ranges: 16 bytes
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x42, // range (low f32, high f32) of feature 0
    0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0xc0, 0x40, // range (low f32, high f32) of feature 1
    0x01, // source framework Xgboost
    0x05, 0x32, 0x2e, 0x31, 0x2e, 0x34, // source version "2.1.4"
    0x04, 0x74, 0x69, 0x6e, 0x79, // label "tiny"
    0x00, // sections: empty
    0xcf, 0x89, 0x09, 0x62, 0x80, 0x05, 0x09, 0x41, // SHA-256 of all the bytes above
    0x39, 0x9f, 0x74, 0x09, 0x5f, 0xfe, 0x35, 0xb2, // ...
    0xb6, 0x6c, 0x3c, 0x11, 0x49, 0xbe, 0x6f, 0x48, // ...
    0x0c, 0x8e, 0xa2, 0xbd, 0x81, 0x70, 0xd3, 0x82, // ...
];

/// `lightgbm_tiny()`, as written by the builder.
#[rustfmt::skip]
const LIGHTGBM_TINY: [u8; 232] = [
    0x4c, 0x53, 0x54, 0x50, // magic "LSTP"
    0x01, 0x00, // format version 1
    0x00, 0x00, // header flags
    0x03, // n_features 3
    0x01, // n_outputs 1
    0x02, // max_depth 2
    0x01, // objective BinaryLogistic
    0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f, // numerics Lightgbm, sigmoid f64
    0x00, // base_order First
    0x00, // aggregation Sum
    0x08, // base_margins: 8 bytes
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // f64 base margin of output 0
    0x10, // trees: 16 bytes, 8 per tree (node_start u32, n_nodes u16, output u16)
    0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, // tree 0: nodes 0..5, output 0
    0x05, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, // tree 1: nodes 5..8, output 0
    0x40, // nodes: 64 bytes, 8 per node (value u32, meta u16, left u16)
    0x00, 0x00, 0xc0, 0x3f, 0x00, 0x20, 0x01, 0x00, // tree 0 node 0: x0 < 1.5, 0 or NaN right, -> 1, 2
    0x00, 0x00, 0x40, 0xbf, 0x01, 0x50, 0x03, 0x00, // tree 0 node 1: x1 < -0.75, NaN as 0, -> 3, 4
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // tree 0 node 2: leaf_values[0]
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // tree 0 node 3: leaf_values[1]
    0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // tree 0 node 4: leaf_values[2]
    0x00, 0x00, 0x00, 0x00, 0x02, 0x90, 0x01, 0x00, // tree 1 node 0: x2 in set 0, NaN left, -> 1, 2
    0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // tree 1 node 1: leaf_values[3]
    0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // tree 1 node 2: leaf_values[4]
    0x28, // leaf_values: 40 bytes
    0x9a, 0x99, 0x99, 0x99, 0x99, 0x99, 0xb9, 0x3f, // leaf_values[0] 0.1
    0x9a, 0x99, 0x99, 0x99, 0x99, 0x99, 0xc9, 0xbf, // leaf_values[1] -0.2
    0x34, 0x33, 0x33, 0x33, 0x33, 0x33, 0xd3, 0x3f, // leaf_values[2] 0.30000000000000004
    0x9a, 0x99, 0x99, 0x99, 0x99, 0x99, 0xa9, 0xbf, // leaf_values[3] -0.05
    0xfc, 0xa9, 0xf1, 0xd2, 0x4d, 0x62, 0x50, 0x3f, // leaf_values[4] 0.001
    0x08, // category_sets: 8 bytes
    0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, // category set (word_start u32, n_words u32) 0
    0x08, // category_words: 8 bytes
    0x01, 0x00, 0x00, 0x00, // u32 bitset word 0
    0x02, 0x00, 0x00, 0x00, // u32 bitset word 1
    0x09, 0x01, 0x78, 0x01, 0x79, 0x04, 0x75, 0x6e, 0x69, 0x74, // feature_names: 9 bytes
    0x00, // feature_ranges: 0 bytes
    0x02, // source framework Lightgbm
    0x05, 0x34, 0x2e, 0x37, 0x2e, 0x30, // source version "4.7.0"
    0x03, 0x6c, 0x67, 0x62, // label "lgb"
    0x04, // sections: 4 bytes
    0x02, 0x02, 0xaa, 0xbb, // section tag 2 (unknown, optional), payload 2 bytes
    0x54, 0xeb, 0xe2, 0xdf, 0xad, 0x18, 0xe9, 0x80, // SHA-256 of all the bytes above
    0xde, 0x26, 0xa7, 0x5c, 0xc7, 0x4d, 0xf3, 0xca, // ...
    0x62, 0x53, 0xb1, 0x30, 0x99, 0xde, 0xec, 0xcb, // ...
    0x87, 0xba, 0x40, 0x25, 0x40, 0xf4, 0x93, 0xda, // ...
];

/// `linear_tiny()`, as written by the builder.
#[rustfmt::skip]
const LINEAR_TINY: [u8; 167] = [
    0x4c, 0x53, 0x54, 0x50, // magic "LSTP"
    0x01, 0x00, // format version 1
    0x00, 0x00, // header flags
    0x02, // n_features 2
    0x01, // n_outputs 1
    0x01, // max_depth 1
    0x01, // objective BinaryLogistic
    0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f, // numerics Lightgbm, sigmoid f64
    0x00, // base_order First
    0x00, // aggregation Sum
    0x08, // base_margins: 8 bytes
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x3f, // f64 base margin of output 0
    0x08, // trees: 8 bytes, 8 per tree (node_start u32, n_nodes u16, output u16)
    0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, // tree 0: nodes 0..3, output 0
    0x18, // nodes: 24 bytes, 8 per node (value u32, meta u16, left u16)
    0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x01, 0x00, // tree 0 node 0: x0 < 0.0, NaN left, -> 1, 2
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // tree 0 node 1: leaf_values[0]
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // tree 0 node 2: leaf_values[1]
    0x10, // leaf_values: 16 bytes
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe0, 0xbf, // leaf_values[0] -0.5
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe0, 0x3f, // leaf_values[1] 0.5
    0x00, // category_sets: 0 bytes
    0x00, // category_words: 0 bytes
    0x04, 0x01, 0x61, 0x01, 0x62, // feature_names: 4 bytes
    0x00, // feature_ranges: 0 bytes
    0x03, // source framework Lockstep
    0x00, // source version ""
    0x06, 0x6c, 0x69, 0x6e, 0x65, 0x61, 0x72, // label "linear"
    0x22, // sections: 34 bytes
    0x03, 0x20, // section tag 3 (linear terms), payload 32 bytes
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe0, 0x3f, // feature 0 coefficient 0.5
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, // feature 0 fill 2.0
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // feature 1 coefficient 0.0
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // feature 1 fill 0.0
    0x3a, 0x0f, 0xbe, 0x74, 0x08, 0x3a, 0x8a, 0xfb, // SHA-256 of all the bytes above
    0x2f, 0x36, 0x12, 0x1f, 0x51, 0xe7, 0x19, 0x21, // ...
    0x75, 0x4d, 0x15, 0x31, 0x2b, 0xb7, 0x1e, 0x09, // ...
    0xe5, 0xdd, 0x8f, 0xa6, 0xc7, 0xfe, 0xd5, 0x58, // ...
];

/// `levels_tiny()`, as written by the builder.
#[rustfmt::skip]
const LEVELS_TINY: [u8; 173] = [
    0x4c, 0x53, 0x54, 0x50, // magic "LSTP"
    0x01, 0x00, // format version 1
    0x00, 0x00, // header flags
    0x02, // n_features 2
    0x01, // n_outputs 1
    0x00, // max_depth 0
    0x01, // objective BinaryLogistic
    0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f, // numerics Lightgbm, sigmoid f64 1.0
    0x00, // base_order First
    0x00, // aggregation Sum
    0x08, // base_margins: 8 bytes
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0xbf, // f64 base margin of output 0: -1.0
    0x00, // trees: 0 bytes
    0x00, // nodes: 0 bytes
    0x00, // leaf_values: 0 bytes
    0x00, // category_sets: 0 bytes
    0x00, // category_words: 0 bytes
    0x08, 0x01, 0x78, 0x05, 0x73, 0x74, 0x61, 0x67, 0x65, // feature_names: 8 bytes, "x" and "stage"
    0x00, // feature_ranges: 0 bytes
    0x03, // source framework Lockstep
    0x00, // source version ""
    0x06, 0x6c, 0x65, 0x76, 0x65, 0x6c, 0x73, // label "levels"
    0x54, // sections: 84 bytes
    0x03, 0x20, // section tag 3 (linear terms), payload 32 bytes
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe0, 0x3f, // x coefficient 0.5
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, // x fill 2.0
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // stage coefficient 0.0
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // stage fill 0.0
    0x07, 0x30, // section tag 7 (level terms), payload 48 bytes
    0x01, 0x00, 0x03, 0x00, // feature 1, 3 levels
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xd0, 0x3f, // fill 0.25 (missing or unknown stage)
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // code 0.0 (reference), coefficient 0.0
    0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x3f, // code 1.0, coefficient 1.5
    0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe8, 0xbf, // code 2.0, coefficient -0.75
    0x09, 0x8d, 0xfe, 0x12, 0xc3, 0x0e, 0x96, 0x79, // SHA-256 of all the bytes above
    0x48, 0x7b, 0xc5, 0x40, 0x83, 0x64, 0x97, 0x0d, // ...
    0x89, 0x7d, 0x7e, 0x6c, 0xb4, 0xf6, 0xf7, 0x35, // ...
    0xfb, 0x8f, 0x26, 0xe7, 0x91, 0x4f, 0x35, 0xcb, // ...
];

/// Fails with the first differing offset and both blobs in hex, so a format change is easy to
/// read off the test output.
fn assert_pinned(name: &str, built: &[u8], pinned: &[u8]) {
    if built == pinned {
        return;
    }
    let at = built
        .iter()
        .zip(pinned)
        .position(|(a, b)| a != b)
        .unwrap_or(built.len().min(pinned.len()));
    panic!(
        "{name}: the builder's bytes differ from the pinned ones at offset {at} \
         (built {} bytes, pinned {}).\nbuilt:  {}\npinned: {}\n\
         If the format change is deliberate, bump FORMAT_VERSION or justify it, then re-pin.",
        built.len(),
        pinned.len(),
        hex(built),
        hex(pinned),
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn xgboost_model_bytes_are_pinned() {
    let built = xgboost_tiny()
        .to_bytes_with_version(FORMAT_VERSION_1)
        .expect("build");
    assert_pinned("XGBOOST_TINY", &built, &XGBOOST_TINY);
}

#[test]
fn lightgbm_model_bytes_are_pinned() {
    let built = lightgbm_tiny()
        .to_bytes_with_version(FORMAT_VERSION_1)
        .expect("build");
    assert_pinned("LIGHTGBM_TINY", &built, &LIGHTGBM_TINY);
}

#[test]
fn linear_model_bytes_are_pinned() {
    let built = linear_tiny()
        .to_bytes_with_version(FORMAT_VERSION_1)
        .expect("build");
    assert_pinned("LINEAR_TINY", &built, &LINEAR_TINY);
}

#[test]
fn levels_model_bytes_are_pinned() {
    let built = levels_tiny()
        .to_bytes_with_version(FORMAT_VERSION_1)
        .expect("build");
    assert_pinned("LEVELS_TINY", &built, &LEVELS_TINY);
}

/// Scores `row` with the pinned blob and returns the f64 margin and output.
fn score(pinned: &[u8], row: &[f32]) -> (f64, f64) {
    let model = Model::from_bytes(pinned).expect("pinned bytes load");
    let scores = model.score(row).expect("score");
    (scores.margins()[0], scores.outputs()[0])
}

#[test]
fn pinned_xgboost_bytes_mean_what_the_comments_say() {
    // f32 sums from the base margin -0.5, in tree order; members {3, 4, 5} of tree 1 go right.
    let cases: [([f32; 2], f32); 3] = [
        ([70.0, 2.0], -0.5 + 0.5 + 0.0625),
        ([40.0, f32::NAN], -0.5 + -0.125 + 0.0625),
        ([f32::NAN, 4.0], -0.5 + -0.125 + -0.375),
    ];
    for (row, margin) in cases {
        let (got_margin, got_prob) = score(&XGBOOST_TINY, &row);
        assert_eq!(got_margin.to_bits(), f64::from(margin).to_bits(), "{row:?}");
        let prob = math::sigmoid_xgboost(margin);
        assert_eq!(got_prob.to_bits(), f64::from(prob).to_bits(), "{row:?}");
    }
}

#[test]
fn pinned_lightgbm_bytes_mean_what_the_comments_say() {
    // f64 sums from the base margin 0.0, in tree order; members {0, 33} of tree 1 go left.
    let cases: [([f32; 3], f64); 3] = [
        // x0 = 0 counts as missing (mode Zero) and goes right.
        ([0.0, f32::NAN, 33.0], 0.0 + 0.1 + -0.05),
        // y = NaN becomes 0 (mode None): not < -0.75, so right.
        ([1.0, f32::NAN, 2.0], 0.0 + 0.30000000000000004 + 1e-3),
        ([-3.0, -1.0, f32::NAN], 0.0 + -0.2 + -0.05),
    ];
    for (row, margin) in cases {
        let (got_margin, got_prob) = score(&LIGHTGBM_TINY, &row);
        assert_eq!(got_margin.to_bits(), margin.to_bits(), "{row:?}");
        let prob = math::sigmoid_lightgbm(margin, 1.0);
        assert_eq!(got_prob.to_bits(), prob.to_bits(), "{row:?}");
    }
}

#[test]
fn pinned_linear_bytes_mean_what_the_comments_say() {
    // Base margin, then the stump, then 0.5 * a (2.0 when a is missing); b's zero coefficient
    // is skipped, so even an infinite b leaves the margin finite.
    let cases: [([f32; 2], f64); 3] = [
        ([1.0, 7.0], 0.125 + 0.5 + 0.5 * 1.0),
        ([f32::NAN, f32::NAN], 0.125 + -0.5 + 0.5 * 2.0),
        ([-2.0, f32::INFINITY], 0.125 + -0.5 + 0.5 * -2.0),
    ];
    for (row, margin) in cases {
        let (got_margin, got_prob) = score(&LINEAR_TINY, &row);
        assert_eq!(got_margin.to_bits(), margin.to_bits(), "{row:?}");
        let prob = math::sigmoid_lightgbm(margin, 1.0);
        assert_eq!(got_prob.to_bits(), prob.to_bits(), "{row:?}");
    }
}

#[test]
fn pinned_levels_bytes_mean_what_the_comments_say() {
    // Base margin, then 0.5 * x (2.0 when missing), then stage's level coefficient; the
    // reference level adds nothing, a missing or unknown stage adds the fill 0.25.
    let cases: [([f32; 2], f64); 5] = [
        ([1.0, 1.0], -1.0 + 0.5 * 1.0 + 1.5),
        ([1.0, 2.0], -1.0 + 0.5 * 1.0 + -0.75),
        ([f32::NAN, 0.0], -1.0 + 0.5 * 2.0),
        ([3.0, f32::NAN], -1.0 + 0.5 * 3.0 + 0.25),
        ([3.0, 7.0], -1.0 + 0.5 * 3.0 + 0.25),
    ];
    for (row, margin) in cases {
        let (got_margin, got_prob) = score(&LEVELS_TINY, &row);
        assert_eq!(got_margin.to_bits(), margin.to_bits(), "{row:?}");
        let prob = math::sigmoid_lightgbm(margin, 1.0);
        assert_eq!(got_prob.to_bits(), prob.to_bits(), "{row:?}");
    }
}

/// The engine's doctests load this file; it must stay the pinned model.
#[test]
fn committed_tiny_model_is_the_pinned_xgboost_model() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../engine/tests/data/tiny.lsm");
    if std::env::var_os("LOCKSTEP_WRITE_GOLDEN").is_some() {
        let built = xgboost_tiny()
            .to_bytes_with_version(FORMAT_VERSION_1)
            .expect("build");
        std::fs::write(&path, built).expect("write tiny.lsm");
    }
    let committed = std::fs::read(&path).expect("read engine/tests/data/tiny.lsm");
    assert_pinned("engine/tests/data/tiny.lsm", &committed, &XGBOOST_TINY);
}

/// `xgboost_tiny()` in format version 2, as written by the builder when asked for version 2.
#[rustfmt::skip]
const XGBOOST_TINY_V2: [u8; 170] = [
    0x4c, 0x53, 0x54, 0x50, // magic "LSTP"
    0x02, 0x00, // format version 2
    0x00, 0x00, // header flags
    0x02, // n_features 2
    0x01, // n_outputs 1
    0x02, // max_depth 2
    0x01, // objective BinaryLogistic
    0x01, // numerics Xgboost
    0x00, // base_order First
    0x00, // aggregation Sum
    0x08, // base_margins: 8 bytes
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe0, 0xbf, // f64 base margin of output 0
    0x08, // trees: 8 bytes, 4 per tree (n_nodes u16, output u16)
    0x05, 0x00, 0x00, 0x00, // tree 0: 5 nodes, output 0
    0x03, 0x00, 0x00, 0x00, // tree 1: 3 nodes, output 0
    0x20, // nodes: 32 bytes, 4 per node (split: feature, code, flags, offset; leaf: value u32)
    0x00, 0x00, 0x21, 0x01, // tree 0 node 0: x0 < values[0 + 0] = 65.0, NaN left, right child a leaf; -> 0 + 1, 2
    0x01, 0x01, 0x30, 0x02, // tree 0 node 1: x1 < values[1 + 1] = 2.5, NaN right, both children leaves; -> 1 + 2, 4
    0x00, 0x00, 0x00, 0x3f, // tree 0 node 2: leaf 0.5
    0x00, 0x00, 0x80, 0x3e, // tree 0 node 3: leaf 0.25
    0x00, 0x00, 0x00, 0xbe, // tree 0 node 4: leaf -0.125
    0x01, 0x00, 0x39, 0x01, // tree 1 node 0: x1 in set values[1 + 0] = 0, NaN left, categorical, both leaves; -> 1, 2
    0x00, 0x00, 0x80, 0x3d, // tree 1 node 1: leaf 0.0625
    0x00, 0x00, 0xc0, 0xbe, // tree 1 node 2: leaf -0.375
    0x00, // leaf_values: 0 bytes
    0x04, // value_starts: 4 bytes, u16 per feature
    0x00, 0x00, 0x01, 0x00, // feature 0's values start at 0, feature 1's at 1
    0x0c, // split_values: 12 bytes, u32 each, each feature's in increasing f32 order
    0x00, 0x00, 0x82, 0x42, // value 0 (feature 0, code 0): f32 65.0
    0x00, 0x00, 0x00, 0x00, // value 1 (feature 1, code 0): category set 0
    0x00, 0x00, 0x20, 0x40, // value 2 (feature 1, code 1): f32 2.5
    0x08, // category_sets: 8 bytes
    0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // category set (word_start u32, n_words u32) 0
    0x04, // category_words: 4 bytes
    0x38, 0x00, 0x00, 0x00, // u32 bitset word 0: {3, 4, 5}
    0x08, 0x03, 0x61, 0x67, 0x65, 0x03, 0x61, 0x73, 0x61, // feature_names: 8 bytes
    0x10, // feature_ranges: 16 bytes
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x42, // range (low f32, high f32) of feature 0
    0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0xc0, 0x40, // range (low f32, high f32) of feature 1
    0x01, // source framework Xgboost
    0x05, 0x32, 0x2e, 0x31, 0x2e, 0x34, // source version "2.1.4"
    0x04, 0x74, 0x69, 0x6e, 0x79, // label "tiny"
    0x00, // sections: empty
    0x35, 0x8e, 0x96, 0x1b, 0x19, 0x00, 0x71, 0x64, // SHA-256 of all the bytes above
    0x2a, 0x91, 0x8c, 0xec, 0xa2, 0x7d, 0x17, 0xb3, // ...
    0x98, 0xbe, 0xc7, 0x92, 0x43, 0x67, 0x3c, 0xa1, // ...
    0x99, 0x73, 0xc0, 0xb6, 0x0a, 0x6d, 0xab, 0x03, // ...
];

#[test]
fn xgboost_v2_model_bytes_are_pinned() {
    let built = xgboost_tiny()
        .to_bytes_with_version(FORMAT_VERSION_2)
        .expect("build");
    assert_pinned("XGBOOST_TINY_V2", &built, &XGBOOST_TINY_V2);
}

#[test]
fn pinned_xgboost_v2_bytes_mean_what_the_comments_say() {
    // The same model as XGBOOST_TINY: the same margins and outputs, bit for bit, through the
    // version 2 walk (single rows and a batch).
    let rows: [[f32; 2]; 4] = [[70.0, 2.0], [40.0, f32::NAN], [f32::NAN, 4.0], [65.0, 2.5]];
    let v1 = Model::from_bytes(&XGBOOST_TINY).expect("v1 loads");
    let v2 = Model::from_bytes(&XGBOOST_TINY_V2).expect("v2 loads");
    assert_eq!((v1.format_version(), v2.format_version()), (1, 2));
    assert_eq!(
        score(&XGBOOST_TINY_V2, &rows[0]).0,
        f64::from(-0.5f32 + 0.5 + 0.0625)
    );
    assert_eq!(
        score(&XGBOOST_TINY_V2, &rows[2]).0,
        f64::from(-0.5f32 + -0.125 + -0.375)
    );
    for row in rows {
        let (a, b) = (score(&XGBOOST_TINY, &row), score(&XGBOOST_TINY_V2, &row));
        assert_eq!(
            (a.0.to_bits(), a.1.to_bits()),
            (b.0.to_bits(), b.1.to_bits()),
            "{row:?}"
        );
    }
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    let (mut m1, mut p1, mut m2, mut p2) = ([0f32; 4], [0f32; 4], [0f32; 4], [0f32; 4]);
    v1.predict_batch(&flat, &mut m1, &mut p1).expect("batch");
    v2.predict_batch(&flat, &mut m2, &mut p2).expect("batch");
    assert_eq!(m1.map(f32::to_bits), m2.map(f32::to_bits));
    assert_eq!(p1.map(f32::to_bits), p2.map(f32::to_bits));
    // Both versions describe the same trees, node for node.
    for (a, b) in v1.trees().zip(v2.trees()) {
        assert_eq!(a.nodes().collect::<Vec<_>>(), b.nodes().collect::<Vec<_>>());
    }
}
