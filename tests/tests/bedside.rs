//! The bedside firmware, run in QEMU with patients fed over its UART, answers each patient
//! with exactly the host engine's risk bits and the model's identity, refuses a malformed
//! line, and logs through defmt (decoded on the host with defmt-print).

use std::path::Path;
use std::process::Command;

use lockstep_engine::Model;
use lockstep_host::inspect::hex;

#[test]
fn bedside_round_trip_over_uart_matches_the_host() {
    let firmware = Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware-demo");
    let output = Command::new("bash")
        .arg(firmware.join("run-bedside-demo.sh"))
        .output()
        .expect("run the bedside demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "bedside demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let bytes = std::fs::read(firmware.join("models/bedside.lsm")).expect("bundled bedside model");
    let model = Model::from_bytes(&bytes).expect("load");
    let identity = &hex(&model.checksum())[..16];
    let patients: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("> "))
        .collect();
    let answers: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("< "))
        .collect();
    assert!(
        answers
            .first()
            .is_some_and(|a| a.starts_with(&format!("ready model={identity}"))),
        "{answers:?}"
    );

    // Patients whose lines parse are answered in order with the host's bits.
    let mut risk_answers = answers.iter().filter(|a| a.starts_with("risk="));
    let mut scored = 0;
    for line in patients.iter().filter(|l| **l != "quit") {
        let cells: Vec<&str> = line.split(',').collect();
        let parsed: Option<Vec<f32>> = cells
            .iter()
            // The firmware reads a line's cells as the host's predict does.
            .map(|c| lockstep_host::predict::parse_cell(c))
            .collect();
        let Some(features) = parsed.filter(|f| f.len() == model.n_features()) else {
            continue;
        };
        let (mut margin, mut prob) = ([0.0f32], [0.0f32]);
        model
            .predict(&features, &mut margin, &mut prob)
            .expect("host predict");
        let answer = risk_answers.next().expect("an answer per valid patient");
        let expected = format!("risk={:08x} ", prob[0].to_bits());
        assert!(
            answer.starts_with(&expected),
            "patient {line}: device said {answer}, host {expected}"
        );
        assert!(answer.contains(&format!("model={identity}")), "{answer}");
        scored += 1;
    }
    assert_eq!(scored, 3);
    assert_eq!(
        answers.iter().filter(|a| a.starts_with("error: ")).count(),
        1,
        "the malformed line is refused"
    );
    assert_eq!(answers.last(), Some(&"bye"));

    // The device's defmt log, decoded on the host.
    assert!(
        stdout.contains("(decoded with defmt-print)"),
        "defmt-print is needed (ci/setup.sh installs it)"
    );
    assert!(
        stdout.contains(&format!("model {identity} verified")),
        "{stdout}"
    );
    assert!(stdout.contains("quit after 3 patients"), "{stdout}");
}
