# Sourced by scripts that build for Cortex-M: Debian's rustc (which has library sources for
# -Z build-std) driven by Debian's cargo, and rust-lld from the rustup toolchain.
export RUSTC=/usr/bin/rustc
export RUSTC_BOOTSTRAP=1
lld_dir=$(ls -d "${RUSTUP_HOME:-$HOME/.rustup}"/toolchains/*/lib/rustlib/x86_64-unknown-linux-gnu/bin 2>/dev/null | head -1)
export PATH="$PATH:$lld_dir"
EMBEDDED_CARGO=/usr/bin/cargo
# Debian's clippy (package rust-web-clippy) matches Debian's rustc, so it can lint code built
# with -Z build-std for Cortex-M: `embedded_clippy --target TRIPLE --all-targets -- -D warnings`.
# cargo-clippy runs the cargo named by CARGO, which must be Debian's too.
embedded_clippy() { CARGO="$EMBEDDED_CARGO" /usr/bin/cargo-clippy clippy "$@"; }
