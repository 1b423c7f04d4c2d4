//! Format version 2 keeps every output bit of version 1: every committed fixture written in
//! both versions scores the same bits through every entry point, describes the same trees,
//! and version 2's loader refuses broken layouts with typed errors.

use lockstep_engine::builder::{BuildError, ModelSpec};
use lockstep_engine::format::{FORMAT_VERSION_1, FORMAT_VERSION_2};
use lockstep_engine::{Error, Model};
use lockstep_tests::{f32_from_hex, fixtures_dir, reseal, small_spec, HexTable};
use serde_json::Value;

/// Both versions of `spec` score `rows` (row-major) with the same bits: `score`, `predict`
/// and `predict_batch`; their tree views agree node for node.
fn assert_same_bits(name: &str, spec: &ModelSpec, rows: &[f32]) {
    let v1 = spec.to_bytes_with_version(FORMAT_VERSION_1).expect("v1");
    let v2 = spec.to_bytes_with_version(FORMAT_VERSION_2).expect("v2");
    let (m1, m2) = (
        Model::from_bytes(&v1).unwrap(),
        Model::from_bytes(&v2).unwrap(),
    );
    assert_eq!((m1.format_version(), m2.format_version()), (1, 2), "{name}");
    assert_eq!(
        (m1.n_trees(), m1.n_nodes(), m1.n_leaves(), m1.cost()),
        (m2.n_trees(), m2.n_nodes(), m2.n_leaves(), m2.cost()),
        "{name}"
    );
    for (a, b) in m1.trees().zip(m2.trees()) {
        assert_eq!(a.output(), b.output(), "{name}");
        assert_eq!(
            a.nodes().collect::<Vec<_>>(),
            b.nodes().collect::<Vec<_>>(),
            "{name}"
        );
    }
    let (n_features, k) = (m1.n_features(), m1.n_outputs());
    let n_rows = rows.len() / n_features;
    let bits = |values: &[f32]| values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    let wide = |values: &[f64]| values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    for row in rows.chunks_exact(n_features) {
        let (s1, s2) = (m1.score(row).unwrap(), m2.score(row).unwrap());
        assert_eq!(wide(s1.margins()), wide(s2.margins()), "{name} {row:?}");
        assert_eq!(wide(s1.outputs()), wide(s2.outputs()), "{name} {row:?}");
        let (mut a, mut b, mut c, mut d) =
            (vec![0f32; k], vec![0f32; k], vec![0f32; k], vec![0f32; k]);
        m1.predict(row, &mut a, &mut b).unwrap();
        m2.predict(row, &mut c, &mut d).unwrap();
        assert_eq!((bits(&a), bits(&b)), (bits(&c), bits(&d)), "{name} {row:?}");
    }
    let batch = |model: &Model<'_>| {
        let (mut margins, mut outputs) = (vec![0f32; n_rows * k], vec![0f32; n_rows * k]);
        model
            .predict_batch(rows, &mut margins, &mut outputs)
            .unwrap();
        (bits(&margins), bits(&outputs))
    };
    assert_eq!(batch(&m1), batch(&m2), "{name}: batch");
}

#[test]
fn every_fixture_scores_the_same_bits_in_both_versions() {
    let dir = fixtures_dir();
    let manifest: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let mut compared = 0;
    for case in &manifest {
        let field = |key: &str| case[key].as_str().unwrap().to_string();
        let name = field("name");
        let source = std::fs::read(dir.join(field("model_file"))).unwrap();
        let spec = lockstep_host::compile::compile(&source).unwrap().spec;
        if let Err(BuildError::ExceedsVersion) = spec.to_bytes_with_version(FORMAT_VERSION_2) {
            continue;
        }
        let inputs = HexTable::read(&dir.join(field("inputs_file")));
        let rows: Vec<f32> = inputs
            .rows
            .iter()
            .flatten()
            .map(|c| f32_from_hex(c))
            .collect();
        assert_same_bits(&name, &spec, &rows);
        compared += 1;
    }
    // Every fixture fits version 2 today; a new one that does not should be a conscious choice.
    assert_eq!(compared, manifest.len());
}

#[test]
fn small_model_scores_the_same_bits_on_edge_rows() {
    let rows = [
        0.4,
        0.0,
        3.0,
        f32::NAN,
        f32::NAN,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        40.0,
        -0.0,
        0.0,
        -0.5,
        1e-45,
        -1e-45,
        16777216.0,
        0.5,
        -1.25,
        1.0,
        0.5,
        -1.25,
        3.0,
        0.5,
        -1.25,
        40.0,
        f32::MAX,
        f32::MIN,
        1e30,
    ];
    assert_same_bits("small", &small_spec(), &rows);
}

/// `small_spec()` in version 2 and the offset of its node table (found after the tree table).
fn small_v2() -> (Vec<u8>, usize) {
    let bytes = small_spec()
        .to_bytes_with_version(FORMAT_VERSION_2)
        .unwrap();
    // Trees: 2 records of 4 bytes after a length byte 0x08: 05 00 00 00 03 00 00 00.
    let trees = [0x08, 5, 0, 0, 0, 3, 0, 0, 0];
    let at = (0..bytes.len() - trees.len())
        .find(|&i| bytes[i..i + trees.len()] == trees)
        .expect("tree table");
    // Then the node table's length byte (32 = 8 nodes of 4 bytes).
    assert_eq!(bytes[at + trees.len()], 32);
    (bytes, at + trees.len() + 1)
}

fn refused(bytes: &mut [u8]) -> Option<Error> {
    reseal(bytes);
    Model::from_bytes(bytes).err()
}

#[test]
fn version_2_loader_refuses_broken_nodes_with_typed_errors() {
    let (bytes, nodes) = small_v2();
    // Node layout: tree 0 = [split x0, split x1, leaf, leaf, leaf], tree 1 = [split x2, leaf,
    // leaf]; a split is feature, code, flags, offset.
    assert_eq!(&bytes[nodes..nodes + 8], &[0, 0, 0x21, 1, 1, 0, 0x30, 2]);
    let cases: [(usize, u8, Error); 7] = [
        // Root offset 2: its left child would be node 2, not 1.
        (3, 2, Error::BadChildIndex { tree: 0, node: 0 }),
        // Node 1's offset 1 points at itself + 1 = 2, not 3.
        (7, 1, Error::BadChildIndex { tree: 0, node: 1 }),
        // Feature 9 of 3.
        (0, 9, Error::FeatureIndexOutOfRange { tree: 0, node: 0 }),
        // Code 5 in a run of one value.
        (1, 5, Error::SplitValueOutOfRange { tree: 0, node: 0 }),
        // Reserved flag bit 6.
        (2, 0x61, Error::BadNodeFlags { tree: 0, node: 0 }),
        // Missing mode 3.
        (2, 0x27, Error::BadNodeFlags { tree: 0, node: 0 }),
        // Root's right child no longer marked a leaf: leaf node 2 (0.75) read as a split
        // whose offset (0x3f) does not point at node 5.
        (2, 0x01, Error::BadChildIndex { tree: 0, node: 2 }),
    ];
    for (at, value, error) in cases {
        let mut broken = bytes.clone();
        broken[nodes + at] = value;
        assert_eq!(refused(&mut broken), Some(error), "byte {at} = {value:#x}");
    }
    // Leaf node 2 (0.75) made +inf.
    let mut broken = bytes.clone();
    broken[nodes + 8..nodes + 12].copy_from_slice(&f32::INFINITY.to_bits().to_le_bytes());
    assert_eq!(
        refused(&mut broken),
        Some(Error::BadLeaf { tree: 0, node: 2 })
    );
}
