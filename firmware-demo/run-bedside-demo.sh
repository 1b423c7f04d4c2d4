#!/usr/bin/env bash
# Bedside demo, scripted: builds the bedside firmware for the MPS2 AN386 (cortex-m4f), boots it
# in QEMU, feeds three patients, one malformed line and `quit` over UART0, and prints the
# answers and the device's defmt log.
#
# Channels: UART0 is a QEMU pipe chardev on two FIFOs (<dir>/uart.in, <dir>/uart.out), and
# QEMU's stdout carries only the defmt frames that defmt-semihosting writes (QEMU 7.2 sends
# semihosting console output to its own stdout even when -semihosting-config names a chardev,
# so UART text on stdio would be interleaved with binary frames). The frames are decoded with
# defmt-print when it is installed (`cargo install defmt-print`).
#
# Exit status 0 when the firmware answered three patients with a risk, refused the malformed
# line, and exited cleanly. LOCKSTEP_MODEL=path/to/model.lsm embeds another model (relative
# paths are relative to firmware-demo/); its features must then match the lines below.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
# shellcheck source=../ci/embedded-env.sh
source ../ci/embedded-env.sh
# The firmware has its own target directory (the ELF path below); a host-side setting must not
# redirect it (lockstep parity drops it the same way).
unset CARGO_TARGET_DIR

target=thumbv7em-none-eabihf
echo "== building bedside ($target)"
"$EMBEDDED_CARGO" build --release --quiet --target "$target" --bin bedside
elf="$here/target/$target/release/bedside"

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Six features in model order (f0..f5 of the bundled XGBoost binary model); an empty field is a
# missing value.
cat >"$work/patients.txt" <<'LINES'
-0.66,-2.47,0,668.05,2.49,0.00019
0.42,-1.6,8,-603.1,1.84,
1,2,three
1.52,4.47,6,7584.8,0,-0.0011
quit
LINES

mkfifo "$work/uart.in" "$work/uart.out"
cat "$work/uart.out" >"$work/answers.txt" &
pids+=($!)
timeout 60 qemu-system-arm -cpu cortex-m4 -machine mps2-an386 \
  -display none -monitor none \
  -chardev "pipe,id=uart0,path=$work/uart" -serial chardev:uart0 \
  -semihosting-config enable=on,target=native \
  -kernel "$elf" >"$work/defmt.bin" 2>"$work/qemu.err" &
qemu=$!
pids+=($qemu)

echo "== patients sent over UART0"
sed 's/^/> /' "$work/patients.txt"
cat "$work/patients.txt" >"$work/uart.in"
status=0
wait "$qemu" || status=$?
wait "${pids[0]}" || true
pids=()

echo "== answers from the device"
tr -d '\r' <"$work/answers.txt" | sed 's/^/< /'
if [ -s "$work/qemu.err" ]; then
  echo "== qemu stderr"
  cat "$work/qemu.err"
fi
if command -v defmt-print >/dev/null 2>&1; then
  echo "== defmt log (decoded with defmt-print)"
  defmt-print -e "$elf" <"$work/defmt.bin" || echo "(defmt-print failed)"
else
  echo "== defmt log: $(wc -c <"$work/defmt.bin") bytes of frames (install defmt-print to decode)"
fi

answers=$(grep -c '^risk=[0-9a-f]\{8\} prob=.* model=[0-9a-f]\{16\} label=' "$work/answers.txt" || true)
refused=$(grep -c '^error: ' "$work/answers.txt" || true)
if [ "$status" -ne 0 ] || [ "$answers" -ne 3 ] || [ "$refused" -ne 1 ] || ! grep -q '^bye' "$work/answers.txt"; then
  echo "bedside demo FAILED: qemu status $status, $answers risk answers (want 3), $refused refusals (want 1)" >&2
  exit 1
fi
echo "bedside demo ok: 3 patients scored, 1 malformed line refused"
