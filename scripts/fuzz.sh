#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets) for SECONDS each, with libFuzzer's limits set so that
# a slow input (-timeout) or a hungry one (-rss_limit_mb, -malloc_limit_mb) counts as a failure
# like a crash does. Seeds each corpus from the fixtures first (scripts/fuzz-seeds.sh).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     default: 60 s, every target
#
# FUZZ_RUNS=N stops a target after N executions if that comes before SECONDS (the release check
# is FUZZ_RUNS=10000000 scripts/fuzz.sh 1800: ten million executions or 30 minutes per target).
#
# Needs the nightly toolchain (sanitizers) and cargo-fuzz (ci/setup.sh installs it). Built with
# AddressSanitizer and debug assertions (integer overflow panics). A failing input is saved as
# fuzz/artifacts/TARGET/crash-*, timeout-*, oom-* or leak-*; rerun it with
# `cargo +nightly fuzz run --fuzz-dir fuzz -a TARGET FILE`, and keep it under fuzz/regressions/.
# Prints one line per target (executions, corpus size, verdict); exits 1 if any target failed.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
# Limits: any single input that takes over TIMEOUT s, a process above RSS_MB of memory, or one
# allocation above MALLOC_MB is a finding. Inputs are at most MAX_LEN bytes (the largest fixture
# is 32 KB; bigger inputs only slow the search).
timeout=${FUZZ_TIMEOUT:-10}
rss_mb=${FUZZ_RSS_MB:-2048}
malloc_mb=${FUZZ_MALLOC_MB:-1024}
max_len=${FUZZ_MAX_LEN:-65536}

fuzz=(cargo +nightly fuzz)
common=(--fuzz-dir fuzz --target-dir target/fuzz --debug-assertions)
mapfile -t all < <("${fuzz[@]}" list --fuzz-dir fuzz)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

scripts/fuzz-seeds.sh
"${fuzz[@]}" build "${common[@]}" >/dev/null

status=0
summary=()
for target in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
  log="target/fuzz/$target.log"
  set +e
  "${fuzz[@]}" run "${common[@]}" "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -runs="${FUZZ_RUNS:--1}" -timeout="$timeout" -rss_limit_mb="$rss_mb" \
    -malloc_limit_mb="$malloc_mb" -max_len="$max_len" -print_final_stats=1 \
    -artifact_prefix="fuzz/artifacts/$target/" >"$log" 2>&1
  rc=$?
  set -e
  runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo "?")
  corpus=$(find "fuzz/corpus/$target" -type f | wc -l)
  if [ "$rc" -eq 0 ]; then
    verdict="ok"
  else
    status=1
    artifact=$(grep -Eo 'Test unit written to [^ ]+' "$log" | tail -1 | sed 's/Test unit written to //')
    cause=$(grep -Eo 'ERROR: libFuzzer: [a-z-]+|panicked at [^:]+:[0-9]+|ERROR: AddressSanitizer: [a-z-]+' "$log" | head -1)
    verdict="FAILED (${cause:-exit $rc}) ${artifact:-see $log}"
  fi
  line=$(printf '%-20s %12s execs  %6s corpus  %s' "$target" "$runs" "$corpus" "$verdict")
  echo "$line"
  summary+=("$line")
done
echo
echo "fuzz: ${#targets[@]} targets, ${seconds} s each (timeout ${timeout} s, rss ${rss_mb} MB, malloc ${malloc_mb} MB)"
exit "$status"
