//! Sealed models on the device: a parity firmware built with a public key and a minimum version
//! verifies the seal (`lockstep_seal::open`) before the first score. On Cortex-M0, Cortex-M4F
//! and Cortex-M33 in QEMU, a correctly sealed model is accepted and scores the host's bits; an
//! unsigned model, one sealed by another key, one older than the minimum, and single-bit flips
//! through the header, the model bytes and the signature are refused, each for its reason. The
//! bedside firmware refuses a tampered model on its UART and in its defmt log.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use lockstep_engine::Model;
use lockstep_host::inspect::hex;
use lockstep_host::parity::qemu::{self, FirmwareKey, Verdict};
use lockstep_host::parity::{self, vectors, ParityError, ParityOptions, SealedInput, TARGETS};
use lockstep_protocol::exchange::{self, MODEL_BLOB_FILE, VECTORS_FILE};
use lockstep_protocol::report::seal_code;
use lockstep_seal::{HEADER_LEN, SIGNATURE_LEN};

/// The signer's secret (a fixed seed: these tests need reproducible seals, not secrecy).
const SECRET: [u8; 32] = [0x5e; 32];
/// Another signer.
const OTHER: [u8; 32] = [0xa7; 32];
/// The minimum version compiled into the firmware under test.
const MIN_VERSION: u32 = 3;
/// The version of the good model.
const VERSION: u32 = 5;
/// Positions flipped through the model bytes (besides every header and signature byte).
const MODEL_FLIPS: usize = 40;

fn firmware_dir() -> PathBuf {
    parity::default_firmware_dir()
}

fn work_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("device-seal")
        .join(name);
    std::fs::create_dir_all(&dir).expect("work dir");
    dir
}

fn key() -> FirmwareKey {
    FirmwareKey {
        public_key: lockstep_seal::public_key(&SECRET),
        min_version: MIN_VERSION,
    }
}

/// The bundled bedside model: small enough that dozens of sealed copies fit the micro:bit's
/// model region in one boot.
fn model_bytes() -> Vec<u8> {
    std::fs::read(firmware_dir().join("models/bedside.lsm")).expect("bedside.lsm")
}

fn seal(model: &[u8], version: u32, secret: &[u8; 32]) -> Vec<u8> {
    let mut out = vec![0u8; lockstep_seal::sealed_len(model.len()).expect("length")];
    lockstep_seal::seal_into(model, version, secret, &mut out).expect("seal");
    out
}

/// What the host's `open` says, as the device's verdict would read.
fn host_verdict(blob: &[u8]) -> Verdict {
    let key = key();
    match lockstep_seal::open(blob, &key.public_key, key.min_version) {
        Ok(opened) => Verdict::Accepted(opened.version),
        Err(e) => Verdict::Refused(seal_code(&e).into()),
    }
}

/// The byte positions flipped in a sealed blob of `len` bytes: every header byte, every
/// signature byte, and `MODEL_FLIPS` positions spread evenly over the model bytes (first and
/// last included). Bit `position % 8` of each is flipped.
fn flip_positions(len: usize) -> Vec<usize> {
    let model_len = len - HEADER_LEN - SIGNATURE_LEN;
    let mut positions: Vec<usize> = (0..HEADER_LEN).collect();
    positions
        .extend((0..MODEL_FLIPS).map(|i| HEADER_LEN + i * (model_len - 1) / (MODEL_FLIPS - 1)));
    positions.extend(len - SIGNATURE_LEN..len);
    positions.dedup();
    positions
}

/// The refusal a flipped bit at `position` must get, by the region it falls in.
fn expected_refusal(position: usize, len: usize) -> &'static str {
    match position {
        0..=3 => "bad-magic",
        4..=5 => "unsupported-format",
        6..=7 => "unknown-flags",
        // Version: covered by the signature, checked before the version.
        8..=11 => "bad-signature",
        12..=19 => "wrong-key",
        20..=23 => "length-mismatch",
        // Model bytes and signature.
        p if p < len => "bad-signature",
        _ => unreachable!("position {position} outside a {len}-byte blob"),
    }
}

#[test]
fn a_sealed_model_is_verified_on_every_target_and_scores_the_host_bits() {
    let model = model_bytes();
    let sealed = seal(&model, VERSION, &SECRET);
    let loaded = Model::from_bytes(&model).expect("load");
    let set = vectors::generate(
        &loaded,
        vectors::GenerateOptions {
            random_rows: 50,
            seed: 3,
        },
    );
    let options = ParityOptions {
        firmware_dir: firmware_dir(),
        work_dir: work_dir("accepted"),
        corrupt_device_output: false,
        keep_mismatches: 5,
        seal: Some(SealedInput {
            sealed: sealed.clone(),
            key: key(),
        }),
        codegen: Vec::new(),
    };
    let record = parity::run(&model, &set, &TARGETS, &options, |_| {}).expect("parity");
    assert!(record.all_exact(), "{:?}", record.targets);
    assert_eq!(record.targets.len(), 3);
    let seal = record.seal.as_ref().expect("the record notes the seal");
    assert_eq!(seal.version, VERSION);
    assert_eq!(seal.min_version, MIN_VERSION);
    assert_eq!(
        seal.key_id,
        hex(&lockstep_seal::key_id(&lockstep_seal::public_key(&SECRET)))
    );
    assert!(seal.verified_on_device);
    for t in &record.targets {
        let cost = t.cost.seal_verify_instructions.expect("verification cost");
        println!(
            "{}: seal verification {cost} instructions, firmware flash {:?} B",
            t.target, t.cost.firmware_flash_bytes
        );
        assert!(
            cost > 10_000,
            "{}: {cost} instructions is not a signature check",
            t.target
        );
        assert_eq!(t.device_model_sha256, record.model_sha256);
    }
    let json = serde_json::to_value(&record).expect("json");
    assert_eq!(json["seal"]["verified_on_device"], true);
}

#[test]
fn unsigned_foreign_old_and_bit_flipped_models_are_refused_on_every_target() {
    let model = model_bytes();
    let good = seal(&model, VERSION, &SECRET);
    let mut blobs: Vec<(String, Vec<u8>, Verdict)> = vec![
        ("good".into(), good.clone(), Verdict::Accepted(VERSION)),
        (
            "at the minimum".into(),
            seal(&model, MIN_VERSION, &SECRET),
            Verdict::Accepted(MIN_VERSION),
        ),
        (
            "unsigned".into(),
            model.clone(),
            Verdict::Refused("bad-magic".into()),
        ),
        (
            "another key".into(),
            seal(&model, VERSION, &OTHER),
            Verdict::Refused("wrong-key".into()),
        ),
        (
            "older than the minimum".into(),
            seal(&model, MIN_VERSION - 1, &SECRET),
            Verdict::Refused("rollback".into()),
        ),
        (
            "truncated".into(),
            good[..good.len() - 1].to_vec(),
            Verdict::Refused("length-mismatch".into()),
        ),
    ];
    // Another key's seal with this key's id written over its own: only the signature catches it.
    let mut forged = seal(&model, VERSION, &OTHER);
    forged[12..20].copy_from_slice(&lockstep_seal::key_id(&key().public_key));
    blobs.push((
        "forged key id".into(),
        forged,
        Verdict::Refused("bad-signature".into()),
    ));
    let positions = flip_positions(good.len());
    assert!(positions.len() >= HEADER_LEN + SIGNATURE_LEN + MODEL_FLIPS - 2);
    for &p in &positions {
        let mut bad = good.clone();
        bad[p] ^= 1 << (p % 8);
        blobs.push((
            format!("bit {} of byte {p}", p % 8),
            bad,
            Verdict::Refused(expected_refusal(p, good.len()).into()),
        ));
    }
    // The expectations agree with the host's own open.
    for (name, blob, expected) in &blobs {
        assert_eq!(&host_verdict(blob), expected, "host: {name}");
    }

    let only_blobs: Vec<Vec<u8>> = blobs.iter().map(|(_, b, _)| b.clone()).collect();
    let work = work_dir("refusals");
    let mut failures = Vec::new();
    for target in &TARGETS {
        let verdicts = parity::seal_check(&only_blobs, target, &key(), &firmware_dir(), &work)
            .unwrap_or_else(|e| panic!("{}: {e}", target.name));
        assert_eq!(verdicts.len(), blobs.len(), "{}", target.name);
        for ((name, _, expected), got) in blobs.iter().zip(&verdicts) {
            if got != expected {
                failures.push(format!(
                    "{} {name}: expected {expected:?}, got {got:?}",
                    target.name
                ));
            }
        }
        println!("{}: {} blobs checked", target.name, verdicts.len());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Writes `blob` as the model region and a one-row vector file, and runs the normal parity
/// firmware (not seal-check) on `target`.
fn run_normal(
    target: &parity::Target,
    name: &str,
    blob: &[u8],
) -> Result<qemu::DeviceRun, ParityError> {
    let model = Model::from_bytes(&model_bytes())
        .expect("load")
        .n_features();
    let elf = qemu::build_firmware(&firmware_dir(), target, Some(&key()))?;
    let dir = work_dir(name);
    let mut region = exchange::length_prefix(blob.len() as u32).to_vec();
    region.extend_from_slice(blob);
    std::fs::write(dir.join(MODEL_BLOB_FILE), region).expect("blob");
    let set = vectors::VectorSet {
        n_features: model,
        values: vec![0.5; model],
    };
    std::fs::write(dir.join(VECTORS_FILE), set.to_bytes()).expect("vectors");
    qemu::run_parity(&elf, &dir, target, false)
}

#[test]
fn the_parity_firmware_refuses_before_scoring_and_says_why() {
    let target = parity::target("cortex-m4f").expect("target");
    let model = model_bytes();
    for (name, blob, code) in [
        ("normal-unsigned", model.clone(), "bad-magic"),
        (
            "normal-old",
            seal(&model, MIN_VERSION - 1, &SECRET),
            "rollback",
        ),
        ("normal-foreign", seal(&model, VERSION, &OTHER), "wrong-key"),
    ] {
        match run_normal(&target, name, &blob) {
            Err(ParityError::SealRefused {
                code: got, reason, ..
            }) => {
                assert_eq!(got, code, "{name}: {reason}");
                assert!(reason.starts_with("model refused: seal: "), "{reason}");
            }
            other => panic!("{name}: expected a seal refusal, got {other:?}"),
        }
    }
    let run = run_normal(&target, "normal-good", &seal(&model, VERSION, &SECRET)).expect("good");
    let seal = run.seal.expect("seal lines");
    assert_eq!(seal.version, VERSION);
    assert_eq!(run.outputs.len(), 2, "one row scored");
}

/// Bedside builds share one binary path; one at a time.
static BEDSIDE: Mutex<()> = Mutex::new(());

/// Runs the bedside demo with `model` embedded and the test key compiled in; returns its
/// success and everything it printed.
fn bedside(name: &str, model: &[u8]) -> (bool, String) {
    let _guard = BEDSIDE.lock().unwrap_or_else(|e| e.into_inner());
    let path = work_dir(name).join("model.lss");
    std::fs::write(&path, model).expect("model");
    let output = Command::new("bash")
        .arg(firmware_dir().join("run-bedside-demo.sh"))
        .env("LOCKSTEP_MODEL", &path)
        .env("LOCKSTEP_SEAL_PUBLIC_KEY", hex(&key().public_key))
        .env("LOCKSTEP_SEAL_MIN_VERSION", MIN_VERSION.to_string())
        .output()
        .expect("run the bedside demo");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn the_bedside_firmware_accepts_its_sealed_model_and_refuses_a_flipped_bit() {
    let model = model_bytes();
    let identity = &hex(&Model::from_bytes(&model).expect("load").checksum())[..16];
    let good = seal(&model, VERSION, &SECRET);
    let (ok, text) = bedside("bedside-good", &good);
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("< ready model={identity}")),
        "{text}"
    );
    assert!(
        text.contains("seal verified: model version 5 (minimum 3)"),
        "{text}"
    );

    let mut flipped = good.clone();
    let middle = HEADER_LEN + model.len() / 2;
    flipped[middle] ^= 0x10;
    let (ok, text) = bedside("bedside-flipped", &flipped);
    assert!(!ok, "{text}");
    assert!(text.contains("< seal-refused bad-signature"), "{text}");
    assert!(
        text.contains("< error: model refused: seal: the signature does not verify"),
        "{text}"
    );
    assert!(
        text.contains("model refused: seal:"),
        "the defmt log says why: {text}"
    );
    assert!(!text.contains("risk="), "nothing scored: {text}");
}

#[test]
fn the_sealed_fixture_is_the_bedside_model_sealed_with_the_test_key() {
    // tests/fixtures/sealed/README.md: seals are deterministic, so the fixture reproduces.
    let fixture = lockstep_tests::fixtures_dir().join("sealed/bedside-v5.lss");
    let committed = std::fs::read(&fixture).expect("sealed fixture");
    assert_eq!(committed, seal(&model_bytes(), VERSION, &SECRET));
    let pubkey =
        lockstep_host::keys::read_public(&lockstep_tests::fixtures_dir().join("sealed/signer.pub"))
            .expect("signer.pub");
    assert_eq!(pubkey, key().public_key);
}
