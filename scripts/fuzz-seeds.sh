#!/usr/bin/env bash
# Seeds each fuzz target's corpus (fuzz/corpus/TARGET, not committed) from the committed
# fixtures, in the input layout each target expects (see the `//!` line of each target), plus the
# saved regressions (fuzz/regressions/TARGET). Adds files; never removes what the fuzzer found.
set -euo pipefail
cd "$(dirname "$0")/.."

corpus=fuzz/corpus
# The row-seed prefix the model targets read first: its length (15) and three row values (raw
# f32 bits 1.5, raw bits 1.0, then the selector of NaN). Octal escapes: a shell string cannot
# hold the zero bytes.
rows() { printf '\017\100\000\000\300\077\101\000\000\200\077\000\000\000\000\000'; }

seed() { # seed TARGET NAME < content
  mkdir -p "$corpus/$1"
  cat >"$corpus/$1/seed-$2"
}

for f in tests/fixtures/cases/*.json; do
  { rows; cat "$f"; } | seed xgboost_json "$(basename "$f")"
done
for f in tests/fixtures/cases/*.ubj; do
  { rows; cat "$f"; } | seed xgboost_ubj "$(basename "$f")"
done
for f in tests/fixtures/cases/*.txt; do
  { rows; cat "$f"; } | seed lightgbm_text "$(basename "$f")"
done

# Engine: the committed .lsm files and every fixture compiled, with the checksum-repair mode (1)
# and the as-given mode (0).
models=(engine/tests/data/tiny.lsm firmware-demo/models/bedside.lsm)
lsm_dir=target/fuzz/seed-lsm
mkdir -p "$lsm_dir"
cargo build --quiet --release -p lockstep-host --bin lockstep
for f in tests/fixtures/cases/*.json tests/fixtures/cases/*.ubj tests/fixtures/cases/*.txt; do
  out="$lsm_dir/$(basename "${f%.*}").lsm"
  [ -f "$out" ] || target/release/lockstep compile "$f" -o "$out" >/dev/null 2>&1 || continue
  models+=("$out")
done
for m in "${models[@]}"; do
  for mode in 0 1; do
    { rows; printf "\\x0$mode"; cat "$m"; } | seed engine_load_predict "$mode-$(basename "$m")"
  done
done

# Sealed models: the sealed fixture as given (mode 0) and its model to be sealed by the target
# at version 5 (mode 1: a u32 LE version, then the model bytes).
seed seal_open 0-bedside-v5.lss < <(printf '\x00'; cat tests/fixtures/sealed/bedside-v5.lss)
seed seal_open 1-bedside.lsm < <(printf '\x01\x05\x00\x00\x00'; cat firmware-demo/models/bedside.lsm)

# CSV: the example cohort's first rows; predict input for the model predict_csv scores.
head -50 examples/arthroplasty/cohort.csv | seed cohort_csv cohort-head.csv
head -20 tests/fixtures/cases/lgb-4.7.0-binary.inputs.csv | seed predict_csv lgb-4.7.0-binary.inputs.csv
{ head -1 tests/fixtures/cases/lgb-4.7.0-binary.inputs.csv; printf '1.5,NA,,-0,1e3,inf\n'; } |
  seed predict_csv cells.csv

# TOML: the example schema and plan, a training config of each kind.
seed schema_toml cohort.schema.toml <examples/arthroplasty/cohort.schema.toml
seed plan_toml validation.plan.toml <examples/arthroplasty/validation.plan.toml
printf 'model = "gbdt"\n[gbdt]\nn_estimators = 50\nlearning_rate = 0.1\nmax_depth = 4\nmax_bin = 255\nvalid_fraction = 0.2\n' |
  seed train_config_toml gbdt.toml
printf 'model = "forest"\n[forest]\nn_estimators = 100\nmax_depth = 8\n' | seed train_config_toml forest.toml
printf 'model = "logistic"\n[logistic]\n' | seed train_config_toml logistic.toml

# Row conditions on the example cohort's columns.
for expr in 'surgery_year > 2015' 'age<=65' 'sex == female' 'bmi >= 30.5' 'patient_id<10'; do
  printf '%s' "$expr" | seed row_condition "$(printf '%s' "$expr" | tr -c 'a-z0-9' _)"
done

# Saved regressions: every failing input found so far, so each run checks them first.
if [ -d fuzz/regressions ]; then
  for dir in fuzz/regressions/*/; do
    [ -d "$dir" ] || continue
    target=$(basename "$dir")
    mkdir -p "$corpus/$target"
    find "$dir" -type f ! -name '*.md' -exec cp -n {} "$corpus/$target/" \;
  done
fi
echo "fuzz seeds: $(find "$corpus" -type f | wc -l) files in $(find "$corpus" -mindepth 1 -maxdepth 1 -type d | wc -l) corpora"
