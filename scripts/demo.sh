#!/usr/bin/env bash
# The main job on bundled data:
#  1. train a locked risk model (gradient-boosted trees) on the bundled synthetic arthroplasty
#     cohort (train 2008-2015, test 2016-2018 through the compiled bytes), with its training
#     record, and a lasso logistic regression standing in for the previously accepted model;
#  2. validate the candidate against it under the bundled plan: report.json and report.html
#     (exit code 4 would mean the plan's acceptance criteria reject it);
#  3. compile a bundled XGBoost model into a Lockstep model, describe it, score the bundled rows
#     with the engine, and check every score against the bits XGBoost itself produced.
set -euo pipefail
cd "$(dirname "$0")/.."

case_name=${1:-xgb-3.2.0-binary-json}
fixtures=tests/fixtures/cases
out=${OUT_DIR:-out/demo}
mkdir -p "$out"

cargo build --release --quiet -p lockstep-host
lockstep=target/release/lockstep

cohort=examples/arthroplasty/cohort.csv
schema=examples/arthroplasty/cohort.schema.toml
echo "== train: death within 2 years on the bundled cohort (train 2008-2015, test 2016-2018)"
"$lockstep" train --data "$cohort" --schema "$schema" \
  --target death_2y --train-where "surgery_year <= 2015" -o "$out/death_2y.lsm" --quiet
"$lockstep" inspect "$out/death_2y.lsm" | sed -n '1,12p'
printf 'kind = "logistic"\n' > "$out/accepted.toml"
"$lockstep" train --data "$cohort" --schema "$schema" --config "$out/accepted.toml" \
  --target death_2y --train-where "surgery_year <= 2015" -o "$out/accepted.lsm" --quiet

echo "== validate the candidate against the accepted model (plan: examples/arthroplasty/validation.plan.toml)"
"$lockstep" validate -m "$out/death_2y.lsm" --data "$cohort" --schema "$schema" \
  --baseline "$out/accepted.lsm" --plan examples/arthroplasty/validation.plan.toml \
  --training-record "$out/death_2y.training.json" -o "$out/validation" --quiet
echo "report: $out/validation/report.html"

model_file=
for ext in json ubj txt; do
  [ -f "$fixtures/$case_name.$ext" ] && { model_file="$fixtures/$case_name.$ext"; break; }
done
[ -n "$model_file" ] || { echo "demo: no bundled model named $case_name in $fixtures" >&2; exit 1; }

echo "== compile $model_file"
"$lockstep" compile "$model_file" -o "$out/model.lsm"

echo "== inspect"
"$lockstep" inspect "$out/model.lsm" | head -20

echo "== predict (decimal rows -> $out/scores.csv)"
# The bundled rows are stored as f32 bit patterns; turn them into the decimal CSV a user has.
# They include infinities (conformance vectors, not measurements): --allow-infinite reads them.
scripts/bits-to-decimal.py "$fixtures/$case_name.inputs.csv" "$out/rows.csv"
"$lockstep" predict -m "$out/model.lsm" -i "$out/rows.csv" -o "$out/scores.csv" --allow-infinite
head -4 "$out/scores.csv"

echo "== parity with the framework's own outputs"
"$lockstep" predict -m "$out/model.lsm" -i "$out/rows.csv" -o "$out/bits.csv" --bits --allow-infinite
n_out=$(head -1 "$out/bits.csv" | tr ',' '\n' | wc -l)
cut -d, -f1-"$n_out" "$fixtures/$case_name.expected.csv" | tail -n +2 > "$out/want.txt"
tail -n +2 "$out/bits.csv" > "$out/got.txt"
rows=$(wc -l < "$out/got.txt")
if cmp -s "$out/want.txt" "$out/got.txt"; then
  echo "$case_name: $rows/$rows rows bit-exact (margin and probability)"
else
  diff "$out/want.txt" "$out/got.txt" | head -10
  echo "$case_name: MISMATCH" >&2
  exit 1
fi
