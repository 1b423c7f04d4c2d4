//! Every truncation and every single-bit flip of a small compiled model either loads and
//! predicts without panicking or is refused with a typed error; hostile bodies behind a valid
//! checksum are refused by structure, not by luck. Each check runs on the model in both format
//! versions.

use lockstep_engine::format::{FORMAT_VERSION_1, FORMAT_VERSION_2};
use lockstep_engine::{Error, Model};
use lockstep_tests::{reseal, small_spec};
use proptest::prelude::*;

/// Rows that exercise every branch kind: ordinary values, NaN, infinities, zeros, subnormals.
const PROBES: [[f32; 3]; 6] = [
    [0.4, 0.0, 3.0],
    [f32::NAN, f32::NAN, f32::NAN],
    [f32::INFINITY, f32::NEG_INFINITY, 40.0],
    [-0.0, 0.0, -0.5],
    [1e-45, -1e-45, 16777216.0],
    [f32::MAX, f32::MIN, 1e30],
];

/// Loads `bytes`; when they load, predicts every probe. Returns the load result.
fn load_and_exercise(bytes: &[u8]) -> Result<(), Error> {
    let model = Model::from_bytes(bytes)?;
    let mut margins = vec![0.0f32; model.n_outputs()];
    let mut outputs = vec![0.0f32; model.n_outputs()];
    for probe in PROBES {
        let features: Vec<f32> = probe
            .iter()
            .copied()
            .cycle()
            .take(model.n_features())
            .collect();
        model
            .predict(&features, &mut margins, &mut outputs)
            .expect("a loaded model predicts any row");
        let _ = model.check_ranges(&features);
    }
    let _ = (
        model.feature_names().count(),
        model.measured_depth(),
        model.n_leaves(),
        model.section(2),
    );
    Ok(())
}

/// The small model in both format versions.
fn blobs() -> [Vec<u8>; 2] {
    [FORMAT_VERSION_1, FORMAT_VERSION_2]
        .map(|version| small_spec().to_bytes_with_version(version).expect("build"))
}

#[test]
fn every_truncation_is_refused() {
    for bytes in blobs() {
        every_truncation_of_is_refused(&bytes);
    }
}

fn every_truncation_of_is_refused(bytes: &[u8]) {
    for len in 0..bytes.len() {
        let result = load_and_exercise(&bytes[..len]);
        assert!(result.is_err(), "truncation to {len} bytes was accepted");
        let mut resealed = bytes[..len].to_vec();
        reseal(&mut resealed);
        assert!(
            load_and_exercise(&resealed).is_err(),
            "resealed truncation to {len} bytes was accepted"
        );
    }
}

#[test]
fn every_bit_flip_is_caught_by_the_checksum() {
    for bytes in blobs() {
        for bit in 0..bytes.len() * 8 {
            let mut flipped = bytes.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            let result = load_and_exercise(&flipped);
            assert!(result.is_err(), "flip of bit {bit} was accepted");
        }
    }
}

#[test]
fn every_resealed_bit_flip_loads_safely_or_is_refused() {
    for bytes in blobs() {
        every_resealed_bit_flip_of_loads_safely_or_is_refused(&bytes);
    }
}

fn every_resealed_bit_flip_of_loads_safely_or_is_refused(bytes: &[u8]) {
    let (mut accepted, mut refused) = (0, 0);
    for bit in 0..(bytes.len() - 32) * 8 {
        let mut flipped = bytes.to_vec();
        flipped[bit / 8] ^= 1 << (bit % 8);
        reseal(&mut flipped);
        match load_and_exercise(&flipped) {
            Ok(()) => accepted += 1,
            Err(_) => refused += 1,
        }
    }
    // Flips in leaf values, thresholds, names and labels stay valid; structural flips must not.
    assert!(
        accepted > 0 && refused > 0,
        "accepted {accepted}, refused {refused}"
    );
    println!("resealed single-bit flips: {accepted} accepted, {refused} refused");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn arbitrary_bodies_behind_a_valid_header_never_panic(
        body in proptest::collection::vec(any::<u8>(), 0..400),
        version in 1u8..=2,
    ) {
        let mut bytes = b"LSTP\x01\x00\x00\x00".to_vec();
        bytes[4] = version;
        bytes.extend_from_slice(&body);
        bytes.extend_from_slice(&[0u8; 32]);
        reseal(&mut bytes);
        let _ = load_and_exercise(&bytes);
    }

    #[test]
    fn mutated_models_never_panic(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        version in 0usize..2,
    ) {
        let mut bytes = blobs()[version].clone();
        let body_len = bytes.len() - 32;
        for (at, value) in edits {
            bytes[at % body_len] = value;
        }
        reseal(&mut bytes);
        let _ = load_and_exercise(&bytes);
    }
}
