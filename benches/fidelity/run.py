#!/usr/bin/env python3
"""Fidelity, side by side: `lockstep train` versus XGBoost `hist` with matched settings, on
generated data sets with missing values and with many distinct values.

For each data set both trainers fit 100 trees (depth 4, eta 0.1, lambda 1, min_child_weight 1,
alpha 0, gamma 0, 255 value bins, no subsampling, no early stopping, base margin = logit of the
mean training label) on the same training rows, with 1 and with 2 threads. Reported:

  AUC            test AUC of each (XGBoost: `booster.predict`; Lockstep: `lockstep predict`
                 on the compiled model).
  max |dm| test  largest |margin difference| on the test rows after all rounds.
  first round    the first round r after which the two models' margins differ by more than
                 1e-6 on some row (training or test); "-" if they agree over every round.
  why            "cuts differ on f (N distinct values ...)" when Lockstep's candidate cuts
                 (its own binning, printed by the `fidelity-cuts` helper) are not XGBoost's
                 (`DMatrix.get_quantile_cut()`); else, at the first differing round, whether
                 XGBoost's tree of that round has a present-vs-missing split (one that sends
                 every present value of the rows at that node one way and the missing ones
                 the other); else "same cuts, margins differ at round r".
                 When the margins never differ by more than 1e-4 the difference is float
                 rounding (f32 leaves, gradients in another precision), not another tree, and
                 "why" says so.
  seconds        training time of each (XGBoost: wall time of `xgb.train`; Lockstep: the
                 trainer's own "in X s", CSV loading and compiling excluded; binning inside
                 both), best of --repeat, and the ratio Lockstep / XGBoost.

Per-round margins. XGBoost: `predict(output_margin=True, iteration_range=(0, r))`. Lockstep has
no per-round output, so the script trains it with `n_estimators = r`: without subsampling or
early stopping nothing in a Lockstep run depends on the number of rounds asked for (randomness
is counter-based, keyed by round), so that model is the first r rounds of the 100-round one;
the script checks this at r = 100 against the full run's bytes. The first differing round is
found by bisection over r, which assumes that once the margins differ they keep differing
(`--scan` trains every r instead and checks that assumption). Each shorter run is checked to
be the full run's first r rounds: its record's per-round training losses (f64, printed in
full) must be the full run's first r.

Matching settings go through `lockstep train --config` under XGBoost's names (`n_estimators`,
`eta`, `reg_lambda`, `max_bin`, ...), the helpers shared with benches/train_vs_xgboost.

Data sets (generated, seeded; no patient data):
  mcar          recorded precision (each feature <= 255 distinct values), 5-20% of each
                feature missing completely at random;
  informative   the same features, missingness that depends on the patient (sicker patients
                have their labs drawn: missing means lower risk);
  mcar filled   `mcar` with every missing cell replaced by -1 (a control: no missing values,
                same cuts, so both trainers should agree over every round);
  distinct      many distinct values, nothing missing: age to the day, continuous labs;
  mixed         many distinct values, missing cells (MCAR and informative), binary flags and a
                coded categorical.

Usage:  python run.py [--rows 10000] [--repeat 1] [--scan] [--omp-passive] [--lockstep PATH]
                      [--cuts PATH] [--workdir DIR] [--output RESULTS.md]
Build first:  cargo build --release -p lockstep-host -p lockstep-benches
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

# The helpers shared with the speed benchmark: XGBoost's parameters, the matching Lockstep
# config (XGBoost's names), and running `lockstep train`.
_spec = importlib.util.spec_from_file_location(
    "train_vs_xgboost", REPO / "benches" / "train_vs_xgboost" / "run.py")
shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shared)

TOLERANCE = 1e-6
PARAMS = {"n_trees": 100, "max_depth": 4, "eta": 0.1, "lambda": 1.0, "min_child_weight": 1.0,
          "seed": 2024}
MAX_BINS = 256  # Lockstep's count, with the missing bin: XGBoost's max_bin 255 + 1
THREADS = (1, 2)
# Below this, a margin difference after every round is float rounding (f32 leaf values and
# gradients computed in another precision), not a different tree: a different split moves
# some rows' margins by about eta times a leaf value, 1e-3 or more.
ROUNDING = 1e-4


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------

def _rounded(x, step, lo, hi):
    return np.clip(np.round(x / step) * step, lo, hi)


def _precise_features(rng, n):
    """Clinical-looking features at recorded precision: each has at most 255 distinct values."""
    age = _rounded(rng.normal(65, 12, n), 1, 18, 95)
    creat = _rounded(rng.lognormal(0.0, 0.35, n), 0.1, 0.4, 8.0)
    sodium = _rounded(rng.normal(139, 3.5, n), 1, 120, 155)
    hb = _rounded(rng.normal(13, 1.8, n), 0.1, 6, 19)
    bmi = _rounded(rng.normal(29, 5.5, n), 1, 15, 60)
    albumin = _rounded(rng.normal(3.9, 0.5, n), 0.1, 1.5, 5.5)
    crp = _rounded(rng.lognormal(1.5, 1.0, n), 1, 0, 250)
    sbp = _rounded(rng.normal(135, 18, n), 2, 70, 230)
    asa = rng.choice([1.0, 2.0, 3.0, 4.0], n, p=[0.1, 0.45, 0.38, 0.07])
    diabetes = (rng.random(n) < 0.22).astype(np.float64)
    x = np.column_stack([age, creat, sodium, hb, bmi, albumin, crp, sbp, asa, diabetes])
    names = ["age", "creatinine", "sodium", "hemoglobin", "bmi", "albumin", "crp", "sbp",
             "asa", "diabetes"]
    logit = (-3.2 + 0.045 * (age - 65) + 0.9 * np.log(creat) - 0.06 * (sodium - 139)
             - 0.2 * (hb - 13) + 0.03 * np.abs(bmi - 27) - 0.8 * (albumin - 3.9)
             + 0.25 * np.log1p(crp) + 0.35 * (asa - 2) + 0.4 * diabetes)
    return names, x, logit


def _many_distinct_features(rng, n):
    """Age to the day and continuous labs: thousands of distinct values per feature."""
    age = np.clip(rng.normal(65, 12, n), 18, 95)
    age = np.floor(age * 365.25) / 365.25  # age in years, to the day
    creat = rng.lognormal(0.0, 0.35, n)
    hb = rng.normal(13, 1.8, n)
    albumin = rng.normal(3.9, 0.5, n)
    crp = rng.lognormal(1.5, 1.0, n)
    lactate = rng.lognormal(0.3, 0.5, n)
    x = np.column_stack([age, creat, hb, albumin, crp, lactate])
    names = ["age_days", "creatinine", "hemoglobin", "albumin", "crp", "lactate"]
    logit = (-3.0 + 0.05 * (age - 65) + 0.8 * np.log(creat) - 0.2 * (hb - 13)
             - 0.7 * (albumin - 3.9) + 0.25 * np.log1p(crp) + 0.6 * np.log(lactate))
    return names, x, logit


def _labels(rng, logit):
    return (rng.random(len(logit)) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float32)


def _mcar(rng, x, columns):
    """Each column in `columns` loses 5-20% of its cells, completely at random."""
    x = x.copy()
    for j in columns:
        x[rng.random(len(x)) < rng.uniform(0.05, 0.20), j] = np.nan
    return x


def _informative(rng, x, columns, logit):
    """Labs drawn more often for sicker patients: missing (5-20% overall) means lower risk."""
    x = x.copy()
    z = (logit - logit.mean()) / logit.std()
    for j in columns:
        rate = rng.uniform(0.05, 0.20)
        p = 1.0 / (1.0 + np.exp(-(math.log(rate / (1 - rate)) - 1.2 * z)))
        x[rng.random(len(x)) < p, j] = np.nan
    return x


def make_datasets(n, seed):
    """(name, description, feature names, float32 x, float32 y) for each data set."""
    rng = np.random.default_rng(seed)
    names, x, logit = _precise_features(rng, n)
    y = _labels(rng, logit)
    labs = list(range(1, 8))  # the labs and vitals; age, asa and diabetes always recorded
    mcar = _mcar(rng, x, labs)
    informative = _informative(rng, x, labs, logit)
    filled = np.where(np.isnan(mcar), -1.0, mcar)

    d_names, d_x, d_logit = _many_distinct_features(rng, n)
    d_y = _labels(rng, d_logit)

    m_names, m_x, m_logit = _many_distinct_features(rng, n)
    flag = (rng.random(n) < 0.3).astype(np.float64)
    code = rng.choice([0.0, 1.0, 2.0, 3.0, 4.0], n)
    m_logit = m_logit + 0.5 * flag + 0.2 * (code == 3)
    m_x = np.column_stack([m_x, flag, code])
    m_names = m_names + ["flag", "code"]
    m_x = _mcar(rng, m_x, [1, 2])
    m_x = _informative(rng, m_x, [4, 5], m_logit)
    m_y = _labels(rng, m_logit)

    f32 = lambda a: a.astype(np.float32)  # noqa: E731
    return [
        ("mcar", "recorded precision, 5-20% MCAR", names, f32(mcar), y),
        ("informative", "recorded precision, 5-20% informative", names, f32(informative), y),
        ("mcar filled", "mcar, missing cells set to -1", names, f32(filled), y),
        ("distinct", "age to the day, continuous labs, none missing", d_names, f32(d_x), d_y),
        ("mixed", "many distinct values, MCAR and informative, flags", m_names, f32(m_x), m_y),
    ]


def write_csv(path, names, x, y):
    df = pd.DataFrame(x, columns=names)
    df["y"] = y.astype(np.int8)
    # %.9g prints every float32 exactly enough that parsing it back gives the same float32.
    df.to_csv(path, index=False, float_format="%.9g", na_rep="")
    back = pd.read_csv(path, dtype=np.float64)[names]
    same = np.array_equal(back.to_numpy().astype(np.float32), x, equal_nan=True)
    if not same:
        sys.exit(f"{path}: the CSV does not round-trip the float32 values")


def write_schema(path, names, x):
    lines = ["[dataset]", 'name = "fidelity"', 'targets = ["y"]', ""]
    for j, name in enumerate(names):
        col = x[:, j]
        lo, hi = float(np.nanmin(col)), float(np.nanmax(col))
        lines += ["[[feature]]", f'name = "{name}"', 'type = "numeric"',
                  f"min = {math.floor(lo) - 1}", f"max = {math.ceil(hi) + 1}",
                  f"missing = {'true' if np.isnan(col).any() else 'false'}", ""]
    path.write_text("\n".join(lines))


# --------------------------------------------------------------------------------------------
# Lockstep
# --------------------------------------------------------------------------------------------

class Lockstep:
    def __init__(self, binary, cuts_binary, workdir, csv, schema, all_csv):
        self.binary, self.cuts_binary = binary, cuts_binary
        self.workdir, self.csv, self.schema, self.all_csv = workdir, csv, schema, all_csv
        self.margins_by_round = {}
        self.full_rounds = None  # the full run's per-round training losses (its record)
        self.prefix_ok = True

    def train(self, n_trees, threads, tag):
        """Trains `n_trees` rounds; returns (trainer seconds, model path)."""
        config = self.workdir / f"{tag}.toml"
        config.write_text(shared.lockstep_gbdt_config(dict(PARAMS, n_trees=n_trees), threads))
        model = self.workdir / f"{tag}.lsm"
        m = shared.lockstep_train(self.binary, self.csv, self.schema, config, model,
                                  shared.TRAINED_RE)
        if int(m.group(5)) != n_trees:
            raise RuntimeError(f"{tag}: asked for {n_trees} trees, got {m.group(5)}")
        return float(m.group(2)), model

    def outputs(self, model):
        """(margin, prob) of every row of all_csv (training rows, then test rows), as float32
        from the compiled model's bits."""
        proc = subprocess.run([str(self.binary), "predict", "-m", str(model), "-i",
                               str(self.all_csv), "--bits"], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"lockstep predict failed:\n{proc.stderr}")
        lines = proc.stdout.strip().splitlines()
        header = lines[0].split(",")
        bits = np.array([[int(v, 16) for v in line.split(",")] for line in lines[1:]],
                        dtype=np.uint32).view(np.float32)
        return bits[:, header.index("margin")], bits[:, header.index("prob")]

    @staticmethod
    def rounds(model):
        record = json.loads(model.with_suffix(".training.json").read_text())
        return [round_["train_loss"] for round_ in record["rounds"]]

    def margins_after(self, r):
        if r not in self.margins_by_round:
            _, model = self.train(r, 1, f"rounds-{r}")
            # The r-round run must be the full run's first r rounds: its per-round training
            # losses (full f64 precision in the record) must be the full run's first r.
            if self.rounds(model) != self.full_rounds[:r]:
                self.prefix_ok = False
            self.margins_by_round[r] = self.outputs(model)[0]
        return self.margins_by_round[r]

    def cuts(self):
        proc = subprocess.run([str(self.cuts_binary), str(self.csv), str(self.schema),
                               str(MAX_BINS)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"fidelity-cuts failed:\n{proc.stderr}")
        return {k: np.array(v, dtype=np.float32) for k, v in json.loads(proc.stdout).items()}


# --------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------

def xgboost_cuts(dtrain, names):
    """XGBoost's candidate cuts per feature. `get_quantile_cut` lists, per feature, a value
    below the smallest, the cuts, and a value above the largest that closes the top bin; the
    thresholds between value bins (Lockstep's cuts) are the ones in between."""
    indptr, values = dtrain.get_quantile_cut()
    return {name: np.asarray(values[indptr[j]:indptr[j + 1]], dtype=np.float32)[1:-1]
            for j, name in enumerate(names)}


def cut_differences(lockstep_cuts, xgb_cuts, names, x_train):
    """Features whose candidate cuts differ, as text."""
    out = []
    for j, name in enumerate(names):
        a, b = lockstep_cuts[name], xgb_cuts[name]
        if len(a) == len(b) and np.array_equal(a, b):
            continue
        distinct = len(np.unique(x_train[~np.isnan(x_train[:, j]), j]))
        common = len(np.intersect1d(a, b))
        out.append(f"{name} ({distinct} distinct values; {len(a)} Lockstep cuts, "
                   f"{len(b)} XGBoost, {common} shared)")
    return out


def present_vs_missing_splits(booster, tree, names, x_train):
    """Splits of XGBoost's tree `tree` that send every present value of the training rows
    reaching them one way and the missing ones the other (the cut lies above, or at or below,
    all the node's present values). Found by walking the training rows down the tree."""
    df = booster.trees_to_dataframe()
    nodes = {row["ID"]: row for _, row in df[df["Tree"] == tree].iterrows()}
    found = []
    stack = [(f"{tree}-0", np.arange(len(x_train)))]
    while stack:
        node_id, rows = stack.pop()
        node = nodes[node_id]
        if node["Feature"] == "Leaf" or len(rows) == 0:
            continue
        j = names.index(node["Feature"])
        values = x_train[rows, j]
        missing = np.isnan(values)
        below = values < np.float32(node["Split"])
        present_below = below[~missing]
        if missing.any() and (~missing).any() and (present_below.all() or
                                                   not present_below.any()):
            found.append(node["Feature"])
        yes = np.where(missing, node["Missing"] == node["Yes"], below)
        stack += [(node["Yes"], rows[yes]), (node["No"], rows[~yes])]
    return sorted(set(found))


def first_differing_round(xgb_margins, lockstep, n_rounds, scan):
    """(first round with max |dm| > TOLERANCE on any row, or None; rounds checked)."""
    differs = lambda r: np.max(np.abs(  # noqa: E731
        xgb_margins(r).astype(np.float64) - lockstep.margins_after(r))) > TOLERANCE
    if scan:
        flags = [differs(r) for r in range(1, n_rounds + 1)]
        first = next((r for r, f in enumerate(flags, 1) if f), None)
        if first is not None and not all(flags[first - 1:]):
            print(f"    note: margins agree again after round {first} at some rounds",
                  flush=True)
        return first
    if not differs(n_rounds):
        return None
    lo, hi = 0, n_rounds  # agree after lo rounds (0: nothing to compare), differ after hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if differs(mid):
            hi = mid
        else:
            lo = mid
    return hi


def compare(name, description, names, x, y, n_train, args, workdir, xgb):
    ddir = workdir / name.replace(" ", "_")
    ddir.mkdir(parents=True, exist_ok=True)
    x_tr, y_tr, x_te, y_te = x[:n_train], y[:n_train], x[n_train:], y[n_train:]
    csv, all_csv, schema = ddir / "train.csv", ddir / "all.csv", ddir / "schema.toml"
    write_csv(csv, names, x_tr, y_tr)
    write_csv(all_csv, names, x, y)
    write_schema(schema, names, x)
    lockstep = Lockstep(args.lockstep, args.cuts, ddir, csv, schema, all_csv)

    dall = xgb.DMatrix(x, missing=np.nan, feature_names=names)
    seconds = {}
    boosters, models = {}, {}
    for threads in THREADS:
        dtrain = xgb.DMatrix(x_tr, label=y_tr, missing=np.nan, feature_names=names,
                             nthread=threads)
        params = shared.xgboost_params(PARAMS, threads, y_tr)
        xs, ls = math.inf, math.inf
        for _ in range(args.repeat):
            time.sleep(shared.SETTLE_SECONDS)
            start = time.perf_counter()
            booster = xgb.train(params, dtrain, num_boost_round=PARAMS["n_trees"])
            xs = min(xs, time.perf_counter() - start)
            time.sleep(shared.SETTLE_SECONDS)
            t, model = lockstep.train(PARAMS["n_trees"], threads, f"full-{threads}t")
            ls = min(ls, t)
        seconds[threads] = (xs, ls)
        boosters[threads] = (booster, dtrain)
        models[threads] = model.read_bytes()

    booster, dtrain = boosters[THREADS[0]]
    notes = []
    if len(set(models.values())) != 1:
        notes.append("Lockstep models differ across thread counts")
    xgb_full = booster.predict(dall, output_margin=True)
    for threads in THREADS[1:]:
        other = boosters[threads][0].predict(dall, output_margin=True)
        if not np.array_equal(other, xgb_full):
            notes.append(f"XGBoost margins differ between {THREADS[0]} and {threads} threads")

    l_margin, l_prob = lockstep.outputs(ddir / f"full-{THREADS[-1]}t.lsm")
    lockstep.margins_by_round[PARAMS["n_trees"]] = l_margin
    lockstep.full_rounds = Lockstep.rounds(ddir / f"full-{THREADS[-1]}t.lsm")

    test = slice(n_train, None)
    xgb_prob = booster.predict(dall)[test]
    auc_x = float(roc_auc_score(y_te, xgb_prob))
    auc_l = float(roc_auc_score(y_te, l_prob[test]))
    max_test = float(np.max(np.abs(xgb_full[test].astype(np.float64) - l_margin[test])))

    max_all = float(np.max(np.abs(xgb_full.astype(np.float64) - l_margin)))
    xgb_margins = lambda r: booster.predict(  # noqa: E731
        dall, output_margin=True, iteration_range=(0, r))
    first = first_differing_round(xgb_margins, lockstep, PARAMS["n_trees"], args.scan)

    if not lockstep.prefix_ok:
        notes.append("a shorter Lockstep run was not a prefix of the full one: the first "
                     "round is unreliable")
    differing = cut_differences(lockstep.cuts(), xgboost_cuts(dtrain, names), names, x_tr)
    if differing:
        why = "cuts differ: " + "; ".join(differing[:2])
        if len(differing) > 2:
            why += f"; and {len(differing) - 2} more"
    elif first is None:
        why = f"same cuts; margins agree over all {PARAMS['n_trees']} rounds"
    else:
        pvm = present_vs_missing_splits(booster, first - 1, names, x_tr)
        why = f"same cuts, margins differ at round {first}"
        if max_all < ROUNDING:
            why = (f"same cuts; margins differ at float rounding level only (at most "
                   f"{max_all:.1e} on any row after round {PARAMS['n_trees']})")
        elif pvm:
            why += (f": XGBoost's tree {first} has a present-vs-missing split on "
                    f"{', '.join(pvm)}")
        elif np.isnan(x_tr).any():
            why += f" (no present-vs-missing split in XGBoost's tree {first})"
    if notes:
        why += " [" + "; ".join(notes) + "]"
    missing = float(np.isnan(x).mean())
    return {
        "data set": name, "description": description,
        "rows": f"{n_train}/{len(y) - n_train}", "features": len(names),
        "missing": f"{100 * missing:.1f}%",
        "auc_x": auc_x, "auc_l": auc_l, "max_test": max_test, "first": first, "why": why,
        "seconds": seconds, "lockstep_runs": len(lockstep.margins_by_round),
    }


# --------------------------------------------------------------------------------------------

def markdown(results):
    head = ["data set", "rows train/test", "features", "missing cells", "AUC XGBoost",
            "AUC Lockstep", "max abs margin diff (test)", "first round > 1e-6", "why"]
    for t in THREADS:
        head += [f"XGBoost s ({t}t)", f"Lockstep s ({t}t)", f"ratio L/X ({t}t)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        row = [f"{r['data set']}: {r['description']}", r["rows"], str(r["features"]),
               r["missing"], f"{r['auc_x']:.4f}", f"{r['auc_l']:.4f}", f"{r['max_test']:.2e}",
               "-" if r["first"] is None else str(r["first"]), r["why"]]
        for t in THREADS:
            xs, ls = r["seconds"][t]
            row += [f"{xs:.3f}", f"{ls:.3f}", f"{ls / xs:.2f}"]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000, help="rows per data set (70%% train)")
    ap.add_argument("--seed", type=int, default=20261206)
    ap.add_argument("--repeat", type=int, default=1, help="timed runs per side; fastest kept")
    ap.add_argument("--scan", action="store_true",
                    help="train Lockstep for every round count instead of bisecting")
    ap.add_argument("--only", action="append", default=None, help="run only this data set")
    ap.add_argument("--lockstep", type=Path, default=REPO / "target" / "release" / "lockstep")
    ap.add_argument("--cuts", type=Path,
                    default=REPO / "target" / "release" / "fidelity-cuts")
    ap.add_argument("--workdir", type=Path, default=None,
                    help="keep the generated CSVs and models here (default: a temp dir)")
    ap.add_argument("--output", type=Path, default=None, help="also write the table here")
    ap.add_argument("--omp-passive", action="store_true",
                    help="set OMP_WAIT_POLICY=PASSIVE for XGBoost (fairer when the machine is "
                         "busy: spinning OpenMP threads collapse under oversubscription)")
    args = ap.parse_args()
    if args.omp_passive:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    for path in (args.lockstep, args.cuts):
        if not path.exists():
            sys.exit(f"{path} not found; run: cargo build --release -p lockstep-host "
                     "-p lockstep-benches")

    import sklearn
    import xgboost as xgb
    shared.xgb = xgb
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="lockstep-fidelity-"))
    workdir.mkdir(parents=True, exist_ok=True)
    version = subprocess.run([str(args.lockstep), "--version"], capture_output=True,
                             text=True).stdout.strip()
    header = (f"{version}, xgboost {xgb.__version__}, scikit-learn {sklearn.__version__}, "
              f"numpy {np.__version__}, python {sys.version.split()[0]}, cpus {os.cpu_count()}, "
              f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}, "
              f"load average {os.getloadavg()[0]:.2f}")
    print(header, flush=True)
    # Warm XGBoost's thread pool outside the timings.
    wx = np.random.default_rng(0).standard_normal((2000, 5)).astype(np.float32)
    xgb.train({"tree_method": "hist", "verbosity": 0},
              xgb.DMatrix(wx, label=(wx[:, 0] > 0).astype(np.float32)), 5)

    n_train = int(args.rows * 0.7)
    results = []
    for name, description, names, x, y in make_datasets(args.rows, args.seed):
        if args.only and name not in args.only:
            continue
        r = compare(name, description, names, x, y, n_train, args, workdir, xgb)
        results.append(r)
        print(f"  {name}: AUC {r['auc_x']:.4f} / {r['auc_l']:.4f}, max |dm| {r['max_test']:.2e}, "
              f"first round {r['first']}, {r['why']} ({r['lockstep_runs']} Lockstep runs)",
              flush=True)
    table = markdown(results)
    settings = ("Settings: 100 trees, depth 4, eta 0.1, lambda 1, min_child_weight 1, alpha 0, "
                "gamma 0, max_bin 255, subsample 1, colsample_bytree 1, no early stopping, "
                "base margin logit(mean label).")
    print("\n" + table)
    if args.output:
        args.output.write_text(f"{header}\n\n{settings}\n\n{table}")
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
