#!/usr/bin/env bash
# Every check Lockstep runs, the same way locally and in CI:
#   formatting, clippy, the engine built alone for Cortex-M0 and Cortex-M4F (with and without
#   defmt), and the whole test suite, which builds the firmware for Cortex-M0, M4F and M33 and
#   runs the parity and bedside suites in QEMU.
set -euo pipefail
cd "$(dirname "$0")/.."

ci/setup.sh

step() { printf '\n== %s\n' "$*"; }

step "rustfmt"
cargo fmt --all --check

step "clippy (engine, host tools)"
cargo clippy -p lockstep-engine --all-features -- -D warnings
cargo clippy -p lockstep-host -- -D warnings

step "engine alone on embedded targets"
# Built from the engine's own directory so no other package's features leak in; in a subshell
# so Debian's compiler (RUSTC) does not leak into the host builds below.
(
  source ci/embedded-env.sh
  for target in thumbv6m-none-eabi thumbv7em-none-eabihf; do
    for features in "" "defmt"; do
      echo "engine: $target features=[${features}]"
      (cd engine && "$EMBEDDED_CARGO" build --quiet --release --target "$target" -Z build-std=core \
        --target-dir ../target/embedded ${features:+--features "$features"})
    done
  done
)

step "tests"
mkdir -p target
log=target/test-output.log
set +e
cargo test --workspace --quiet 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole suite (cargo prints one summary per test binary, the last of
# which is often an empty doc-test run).
passed=$(grep -Eo '^test result: [A-Za-z]+\. [0-9]+ passed' "$log" | awk '{s += $4} END {print s + 0}')
failed=$(grep -Eo '^test result: [A-Za-z]+\. [0-9]+ passed; [0-9]+ failed' "$log" | awk '{s += $6} END {print s + 0}')
echo
echo "tests: $passed passed, $failed failed"
exit "$status"
