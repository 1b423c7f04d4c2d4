#!/usr/bin/env python3
"""Training speed and test AUC: `lockstep train` versus XGBoost (hist), same machine, one run.

Scenarios
  (a) the bundled arthroplasty cohort (examples/arthroplasty), temporal split
      `surgery_year <= 2015`, targets death_2y and infection_1y, two parameter sets;
  (b) a generated dataset: N rows x 30 numeric features (seeded numpy, non-linear logistic
      signal, 2% missing per feature), 80/20 split by an `is_test` column;
  (c) elastic-net path versus scikit-learn: not yet available.

Both frameworks get the same parameters: eta, max_depth, lambda, min_child_weight, alpha=0,
gamma=0, subsample=1, colsample_bytree=1, 256 bins, the same number of threads, binary
logistic objective, a base margin of logit(mean training label), no early stopping (Lockstep:
`valid_fraction = 0`, so every training row trains and there is no validation set).

Timing
  XGBoost:  wall time of `xgb.train(...)` only (DMatrix construction excluded; with a plain
            DMatrix the hist quantile sketch and bin index are built inside `xgb.train`, so
            binning is timed, as it is for Lockstep).
  Lockstep: the trainer's own "in X s" figure from `lockstep train` (CSV loading, compiling
            and test scoring excluded; binning included).
With --repeat N each side is run N times and the fastest time is reported.

Test AUC
  XGBoost:  sklearn.metrics.roc_auc_score on its predicted probabilities for the test rows.
  Lockstep: `test_auc` from M.training.json (scored through the compiled model).

Usage:  python run.py [--threads 2] [--quick] [--repeat 1] [--skip-b] [--omp-passive]
                      [--lockstep PATH] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

xgb = None  # imported in main(), after OMP_WAIT_POLICY may have been set

REPO = Path(__file__).resolve().parents[2]
COHORT_CSV = REPO / "examples" / "arthroplasty" / "cohort.csv"
COHORT_SCHEMA = REPO / "examples" / "arthroplasty" / "cohort.schema.toml"

TRAINED_RE = re.compile(
    r"trained (\S+) in ([0-9.]+) s on (\d+) rows \((\d+) events\), (\d+) trees"
)


# --------------------------------------------------------------------------------------------
# Encoding (same as Lockstep's loader: categorical -> index in `levels`, boolean -> 0/1,
# empty / NA / NaN -> missing)
# --------------------------------------------------------------------------------------------

def load_like_lockstep(csv: Path, schema_path: Path):
    schema = tomllib.loads(schema_path.read_text())
    raw = pd.read_csv(csv, dtype=str, keep_default_na=False)
    missing = lambda s: s.str.strip().str.lower().isin(["", "na", "nan"])  # noqa: E731
    names, cols = [], []
    for feat in schema.get("feature", []):
        name, kind = feat["name"], feat.get("type", "numeric")
        text = raw[name]
        if kind == "numeric":
            values = pd.to_numeric(text.where(~missing(text)), errors="raise").astype(np.float32)
        elif kind == "categorical":
            index = {level: float(i) for i, level in enumerate(feat["levels"])}
            mapped = text.map(index)
            bad = mapped.isna() & ~missing(text)
            if bad.any():
                raise ValueError(f"{name}: unknown level {text[bad].iloc[0]!r}")
            values = mapped.astype(np.float32)
        elif kind == "boolean":
            lower = text.str.lower()
            mapped = lower.map({"0": 0.0, "1": 1.0, "false": 0.0, "true": 1.0})
            values = mapped.astype(np.float32)
        else:
            raise ValueError(f"{name}: unknown type {kind}")
        names.append(name)
        cols.append(values.to_numpy(dtype=np.float32))
    x = np.column_stack(cols).astype(np.float32)
    targets = {t: pd.to_numeric(raw[t]).to_numpy(dtype=np.float32)
               for t in schema["dataset"]["targets"]}
    return names, x, targets


# --------------------------------------------------------------------------------------------
# The two trainers
# --------------------------------------------------------------------------------------------

def run_xgboost(x_train, y_train, x_test, y_test, names, p, threads, repeat):
    dtrain = xgb.DMatrix(x_train, label=y_train, missing=np.nan, feature_names=names,
                         nthread=threads)
    dtest = xgb.DMatrix(x_test, missing=np.nan, feature_names=names, nthread=threads)
    params = {
        "objective": "binary:logistic",
        "tree_method": "hist",
        "eta": p["eta"],
        "max_depth": p["max_depth"],
        "lambda": p["lambda"],
        "alpha": 0.0,
        "gamma": 0.0,
        "min_child_weight": p["min_child_weight"],
        "subsample": 1.0,
        "colsample_bytree": 1.0,
        "max_bin": 256,
        "nthread": threads,
        "seed": p["seed"],
        # Lockstep starts from logit(mean label); give XGBoost the same start instead of its
        # own intercept estimate.
        "base_score": float(np.mean(y_train)),
        "verbosity": 0,
    }
    best, booster = math.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        booster = xgb.train(params, dtrain, num_boost_round=p["n_trees"])
        best = min(best, time.perf_counter() - start)
    prob = booster.predict(dtest)
    return best, float(roc_auc_score(y_test, prob)), booster.num_boosted_rounds()


def run_lockstep(binary, csv, schema, target, train_where, p, threads, repeat, workdir):
    config = workdir / f"{target}.config.toml"
    config.write_text(
        f'target = "{target}"\n'
        f'train_where = "{train_where}"\n'
        "valid_fraction = 0.0\n"
        "\n[gbdt]\n"
        f"n_trees = {p['n_trees']}\n"
        f"learning_rate = {p['eta']}\n"
        f"max_depth = {p['max_depth']}\n"
        f"min_child_weight = {p['min_child_weight']}\n"
        f"lambda = {p['lambda']}\n"
        "alpha = 0.0\n"
        "gamma = 0.0\n"
        "subsample = 1.0\n"
        "colsample_bytree = 1.0\n"
        "scale_pos_weight = 1.0\n"
        "max_bins = 256\n"
        f"seed = {p['seed']}\n"
        f"threads = {threads}\n"
    )
    model = workdir / f"{target}.lsm"
    best, auc, trees = math.inf, None, None
    for _ in range(repeat):
        proc = subprocess.run(
            [str(binary), "train", "--data", str(csv), "--schema", str(schema),
             "--config", str(config), "-o", str(model), "--quiet"],
            capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"lockstep train failed:\n{proc.stderr}")
        m = TRAINED_RE.search(proc.stderr)
        if not m:
            raise RuntimeError(f"no 'trained ... in X s' line in:\n{proc.stderr}")
        best = min(best, float(m.group(2)))
        trees = int(m.group(5))
        n_train = int(m.group(3))
        record = json.loads(model.with_suffix(".training.json").read_text())
        auc = record["test_auc"]
    return best, auc, trees, n_train


# --------------------------------------------------------------------------------------------
# Scenario (b): generated data
# --------------------------------------------------------------------------------------------

def generate(n_rows, seed=20240611, n_features=30):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_rows, n_features)).astype(np.float32)
    x[:, 10:20] = rng.uniform(-3, 3, (n_rows, 10)).astype(np.float32)
    x[:, 20:] = rng.exponential(1.0, (n_rows, n_features - 20)).astype(np.float32)
    xd = x.astype(np.float64)
    logit = (
        -1.6
        + 1.2 * np.sin(1.5 * xd[:, 0])
        + 0.8 * xd[:, 1] * xd[:, 2]
        + 0.5 * (xd[:, 3] ** 2 - 1)
        + 1.0 * (xd[:, 4] > 0.5) * xd[:, 5]
        + 0.6 * np.abs(xd[:, 10]) - 0.9
        + 0.7 * np.tanh(xd[:, 11] * xd[:, 12])
        + 0.4 * np.log1p(xd[:, 20])
        + 0.3 * xd[:, 6] + 0.3 * xd[:, 13] - 0.2 * xd[:, 21]
    )
    y = (rng.uniform(size=n_rows) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    # 2% missing per feature, independent of the outcome.
    x[rng.uniform(size=x.shape) < 0.02] = np.nan
    is_test = (rng.uniform(size=n_rows) < 0.2).astype(np.float32)
    names = [f"f{i:02d}" for i in range(n_features)]
    return names, x, y, is_test


def write_synthetic(workdir, names, x, y, is_test):
    csv = workdir / "synthetic.csv"
    schema = workdir / "synthetic.schema.toml"
    df = pd.DataFrame(x, columns=names)
    df.insert(0, "is_test", is_test.astype(np.int8))
    df["y"] = y.astype(np.int8)
    # %.7g round-trips float32 exactly enough for binning parity (both read the same text).
    df.to_csv(csv, index=False, float_format="%.7g", na_rep="")
    lines = ['[dataset]', 'name = "synthetic"', 'targets = ["y"]', '',
             '[[feature]]', 'name = "is_test"', 'type = "numeric"', 'min = 0', 'max = 1',
             'description = "Split column (constant 0 on training rows, so never split on)"', '']
    for name in names:
        lines += ['[[feature]]', f'name = "{name}"', 'type = "numeric"',
                  'min = -1000', 'max = 1000', 'missing = true', '']
    schema.write_text("\n".join(lines))
    # Re-read the written text so XGBoost sees exactly the values Lockstep parses.
    back = pd.read_csv(csv, dtype=np.float32)
    return csv, schema, back


# --------------------------------------------------------------------------------------------

def fmt_row(cols, widths):
    return "  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                     for i, (c, w) in enumerate(zip(cols, widths)))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="scenario (b) with 200,000 rows")
    ap.add_argument("--rows", type=int, default=None, help="override scenario (b) rows")
    ap.add_argument("--repeat", type=int, default=1, help="runs per side; fastest reported")
    ap.add_argument("--skip-b", action="store_true", help="skip scenario (b)")
    ap.add_argument("--lockstep", type=Path, default=REPO / "target" / "release" / "lockstep")
    ap.add_argument("--workdir", type=Path, default=None,
                    help="where generated CSVs/models go (default: a temp dir, removed)")
    ap.add_argument("--omp-passive", action="store_true",
                    help="set OMP_WAIT_POLICY=PASSIVE for XGBoost (much faster when the "
                         "machine is busy: spinning OpenMP threads collapse under "
                         "oversubscription; Lockstep's threads block, they do not spin)")
    args = ap.parse_args()
    if args.omp_passive:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    global xgb
    import xgboost as xgb  # noqa: E402 (libgomp reads OMP_WAIT_POLICY when it loads)

    if not args.lockstep.exists():
        sys.exit(f"{args.lockstep} not found; run: cargo build --release -p lockstep-host")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="lockstep-vs-xgb-"))
    workdir.mkdir(parents=True, exist_ok=True)
    threads = args.threads

    base = {"lambda": 1.0, "min_child_weight": 1.0, "seed": 2024}
    param_sets = [
        dict(base, n_trees=100, max_depth=6, eta=0.1),
        dict(base, n_trees=500, max_depth=4, eta=0.05),
    ]
    print(f"xgboost {xgb.__version__}, numpy {np.__version__}, python {sys.version.split()[0]}, "
          f"threads {threads}, cpus {os.cpu_count()}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}, "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    if os.getloadavg()[0] > 0.5:
        print("  warning: the machine is not idle; timings include contention "
              "(XGBoost's spinning OpenMP threads suffer most; see --omp-passive)", flush=True)

    # Warm up XGBoost's threads/JIT-free init so the first timed call is not penalised.
    wx = np.random.default_rng(0).standard_normal((2000, 5)).astype(np.float32)
    xgb.train({"tree_method": "hist", "nthread": threads, "verbosity": 0},
              xgb.DMatrix(wx, label=(wx[:, 0] > 0).astype(np.float32)), 5)

    rows = []

    def scenario(label, csv, schema, target, train_where, names, x_tr, y_tr, x_te, y_te, p):
        xt, xa, xn = run_xgboost(x_tr, y_tr, x_te, y_te, names, p, threads, args.repeat)
        lt, la, ln, lrows = run_lockstep(args.lockstep, csv, schema, target, train_where, p, threads,
                                  args.repeat, workdir)
        if lrows != len(y_tr):
            print(f"  warning: {label}: training rows xgboost={len(y_tr)} lockstep={lrows}")
        if xn != p["n_trees"] or ln != p["n_trees"]:
            print(f"  warning: {label}: trees xgboost={xn} lockstep={ln} (asked {p['n_trees']})")
        rows.append((label, xt, lt, la, xa))
        print(f"  done {label}: xgb {xt:.3f}s auc {xa:.4f} | lockstep {lt:.3f}s auc {la:.4f}",
              flush=True)

    # (a) bundled cohort
    names, x, targets = load_like_lockstep(COHORT_CSV, COHORT_SCHEMA)
    year = x[:, names.index("surgery_year")]
    tr = year <= 2015
    for target in ["death_2y", "infection_1y"]:
        y = targets[target]
        for p in param_sets:
            label = (f"(a) cohort {target} {p['n_trees']}t d{p['max_depth']} "
                     f"eta{p['eta']} n={int(tr.sum())}")
            scenario(label, COHORT_CSV, COHORT_SCHEMA, target, "surgery_year <= 2015",
                     names, x[tr], y[tr], x[~tr], y[~tr], p)

    # (b) generated
    if not args.skip_b:
        n = args.rows or (200_000 if args.quick else 1_000_000)
        t0 = time.perf_counter()
        fnames, fx, fy, is_test = generate(n)
        csv, schema, back = write_synthetic(workdir, fnames, fx, fy, is_test)
        print(f"  generated {n} rows -> {csv} in {time.perf_counter() - t0:.1f} s", flush=True)
        # is_test is a feature for both (Lockstep's train_where can only name a feature); it
        # is constant (0) on every training row, so neither trainer can split on it.
        cols = ["is_test"] + fnames
        bx = back[cols].to_numpy(dtype=np.float32)
        by = back["y"].to_numpy(dtype=np.float32)
        tr = bx[:, 0] < 0.5
        p = param_sets[0]
        label = (f"(b) synthetic {n // 1000}k x30 {p['n_trees']}t d{p['max_depth']} "
                 f"eta{p['eta']} n={int(tr.sum())}")
        scenario(label, csv, schema, "y", "is_test < 0.5", cols,
                 bx[tr], by[tr], bx[~tr], by[~tr], p)

    print(f"\nload average at the end: {os.getloadavg()[0]:.2f} (cpus {os.cpu_count()})")
    header = ("scenario", "XGBoost s", "Lockstep s", "ratio L/X", "AUC XGB", "AUC Lockstep",
              "dAUC (L-X)")
    body = [(r[0], f"{r[1]:.3f}", f"{r[2]:.3f}", f"{r[2] / r[1]:.2f}", f"{r[4]:.4f}",
             f"{r[3]:.4f}", f"{r[3] - r[4]:+.4f}") for r in rows]
    body.append(("(c) elastic-net path vs scikit-learn", "not yet available", "", "", "", "",
                 ""))
    widths = [max(len(str(row[i])) for row in [header] + body) for i in range(len(header))]
    print()
    print(fmt_row(header, widths))
    print(fmt_row(["-" * w for w in widths], widths))
    for row in body:
        print(fmt_row(row, widths))

    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
