#!/usr/bin/env python3
"""Training speed and test AUC: `lockstep train` versus XGBoost (hist), same machine, one run.

Scenarios
  (a) the bundled arthroplasty cohort (examples/arthroplasty), temporal split
      `surgery_year <= 2015`, targets death_2y and infection_1y, two parameter sets;
  (b) a generated dataset: N rows x 30 numeric features (seeded numpy, non-linear logistic
      signal, 2% missing per feature), 80/20 split by an `is_test` column;
  (c) elastic-net path versus scikit-learn: the cohort as in (a), target death_2y, the
      features `lockstep train` fits with kind = "logistic" (numeric, boolean and two-level
      categorical columns; diagnosis and smoking, with more levels, are left out by both);
      Lockstep's lasso path (100 lambdas down to 1e-4 * lambda_max, 5-fold CV, minimum mean
      CV deviance) versus LogisticRegressionCV (L1, saga, the same 100 penalties as C values,
      5 shuffled folds, log-loss scoring) on mean-imputed, standardised inputs.

Both frameworks get the same parameters: eta, max_depth, lambda, min_child_weight, alpha=0,
gamma=0, subsample=1, colsample_bytree=1, 255 value bins plus a missing bin (XGBoost
max_bin=255, Lockstep max_bins=256), the same number of threads, binary
logistic objective, a base margin of logit(mean training label), no early stopping (Lockstep:
`valid_fraction = 0`, so every training row trains and there is no validation set).

Timing
  XGBoost:  wall time of `xgb.train(...)` only (DMatrix construction excluded; with a plain
            DMatrix the hist quantile sketch and bin index are built inside `xgb.train`, so
            binning is timed, as it is for Lockstep).
  Lockstep: the trainer's own "in X s" figure from `lockstep train` (CSV loading, compiling
            and test scoring excluded; binning included).
  scikit-learn (c): wall time of mean imputation + standardisation + the penalty grid +
            `LogisticRegressionCV.fit` (its CV and the final refit), after a warm-up fit that
            starts joblib's worker processes.
  Lockstep (c): the trainer's "in X s" (standardisation, the full path, the fold paths, the
            choice of lambda).
With --repeat N each side is run N times and the fastest time is reported. Each side starts
after a one-second pause, so the other side's threads are idle when its timing begins.

Test AUC
  XGBoost:  sklearn.metrics.roc_auc_score on its predicted probabilities for the test rows.
  scikit-learn (c): the same, on the refitted model's probabilities.
  Lockstep: `test_auc` from M.training.json (scored through the compiled model).

Usage:  python run.py [--threads 2] [--quick] [--repeat 1] [--skip-b] [--skip-c] [--only-c]
                      [--c-alpha 1.0] [--c-solver saga] [--omp-passive]
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

# Seconds each trainer waits before its timed runs start (see `scenario`).
SETTLE_SECONDS = 1.0

REPO = Path(__file__).resolve().parents[2]
COHORT_CSV = REPO / "examples" / "arthroplasty" / "cohort.csv"
COHORT_SCHEMA = REPO / "examples" / "arthroplasty" / "cohort.schema.toml"

TRAINED_RE = re.compile(
    r"trained (\S+) in ([0-9.]+) s on (\d+) rows \((\d+) events\), (\d+) trees"
)
PATH_RE = re.compile(
    r"trained (\S+) in ([0-9.]+) s on (\d+) rows \((\d+) events\), elastic-net path of "
    r"(\d+) lambdas, (\d+) of (\d+) variables selected"
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

def xgboost_params(p, threads, y_train):
    """XGBoost `hist` parameters matching Lockstep's `p` (shared with benches/fidelity)."""
    return {
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
        # 255 value bins on each side: Lockstep reads XGBoost's max_bin (value bins) too, and
        # chooses cuts by XGBoost's rule.
        "max_bin": 255,
        "nthread": threads,
        "seed": p["seed"],
        # Lockstep starts from logit(mean label); give XGBoost the same start explicitly.
        "base_score": float(np.mean(y_train)),
        "verbosity": 0,
    }


def lockstep_gbdt_config(p, threads, target=None, train_where=None):
    """The `lockstep train --config` text matching `xgboost_params(p, ...)`, under XGBoost's
    names (shared with benches/fidelity). `valid_fraction = 0`: every training row trains and
    there is no early stopping, as in `xgb.train` without an evaluation set."""
    head = ""
    if target is not None:
        head += f'target = "{target}"\n'
    if train_where is not None:
        head += f'train_where = "{train_where}"\n'
    return (
        head
        + "valid_fraction = 0.0\n"
        "\n[gbdt]\n"
        f"n_estimators = {p['n_trees']}\n"
        f"eta = {p['eta']}\n"
        f"max_depth = {p['max_depth']}\n"
        f"min_child_weight = {p['min_child_weight']}\n"
        f"reg_lambda = {p['lambda']}\n"
        "reg_alpha = 0.0\n"
        "min_split_loss = 0.0\n"
        "subsample = 1.0\n"
        "colsample_bytree = 1.0\n"
        "scale_pos_weight = 1.0\n"
        "max_bin = 255\n"
        f"seed = {p['seed']}\n"
        f"threads = {threads}\n"
    )


def run_xgboost(x_train, y_train, x_test, y_test, names, p, threads, repeat):
    dtrain = xgb.DMatrix(x_train, label=y_train, missing=np.nan, feature_names=names,
                         nthread=threads)
    dtest = xgb.DMatrix(x_test, missing=np.nan, feature_names=names, nthread=threads)
    params = xgboost_params(p, threads, y_train)
    best, booster = math.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        booster = xgb.train(params, dtrain, num_boost_round=p["n_trees"])
        best = min(best, time.perf_counter() - start)
    prob = booster.predict(dtest)
    return best, float(roc_auc_score(y_test, prob)), booster.num_boosted_rounds()


def lockstep_train(binary, csv, schema, config, model, summary_re):
    """Runs `lockstep train` once; returns the match of `summary_re` on its summary line."""
    proc = subprocess.run(
        [str(binary), "train", "--data", str(csv), "--schema", str(schema),
         "--config", str(config), "-o", str(model), "--quiet"],
        capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"lockstep train failed:\n{proc.stderr}")
    m = summary_re.search(proc.stderr)
    if not m:
        raise RuntimeError(f"no line matching {summary_re.pattern!r} in:\n{proc.stderr}")
    return m


def run_lockstep(binary, csv, schema, target, train_where, p, threads, repeat, workdir):
    config = workdir / f"{target}.config.toml"
    config.write_text(lockstep_gbdt_config(p, threads, target, train_where))
    model = workdir / f"{target}.lsm"
    best, auc, trees = math.inf, None, None
    for _ in range(repeat):
        m = lockstep_train(binary, csv, schema, config, model, TRAINED_RE)
        best = min(best, float(m.group(2)))
        trees = int(m.group(5))
        n_train = int(m.group(3))
        record = json.loads(model.with_suffix(".training.json").read_text())
        auc = record["test_auc"]
    return best, auc, trees, n_train


# --------------------------------------------------------------------------------------------
# Scenario (c): penalised logistic regression path
# --------------------------------------------------------------------------------------------

def logistic_columns(schema_path: Path, names):
    """The features `lockstep train` fits with kind = "logistic" (host-tools/src/training.rs,
    `fit_logistic`): numeric, boolean and categorical with at most two levels (the level index
    is then a 0/1 indicator). Returns (indices kept, names left out)."""
    kinds = {f["name"]: f for f in tomllib.loads(schema_path.read_text()).get("feature", [])}
    kept, excluded = [], []
    for i, name in enumerate(names):
        feat = kinds[name]
        if feat.get("type", "numeric") == "categorical" and len(feat["levels"]) > 2:
            excluded.append(name)
        else:
            kept.append(i)
    return kept, excluded


def penalty_grid(xs, y, alpha, n_lambdas, min_ratio):
    """Lockstep's (glmnet's) lambdas on standardised `xs`: lambda_max is the null model's
    largest |gradient| / max(alpha, 1e-3), then a log-spaced path down to min_ratio of it."""
    n = len(y)
    lambda_max = np.max(np.abs(xs.T @ (y - y.mean()))) / n / max(alpha, 1e-3)
    return lambda_max * min_ratio ** (np.arange(n_lambdas) / (n_lambdas - 1))


def run_sklearn_path(x_train, y_train, x_test, y_test, names, c, threads, repeat):
    """LogisticRegressionCV on the same problem. glmnet's objective
    `loss / n + lambda * (alpha |w|_1 + (1 - alpha) / 2 |w|_2^2)` is scikit-learn's
    `C * loss + l1_ratio |w|_1 + (1 - l1_ratio) / 2 |w|_2^2` divided by `C * n`, so
    C = 1 / (n * lambda) and l1_ratio = alpha."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import KFold
    from sklearn.preprocessing import StandardScaler
    import warnings

    def fit():
        imputer = SimpleImputer(strategy="mean")
        scaler = StandardScaler()
        xs = scaler.fit_transform(imputer.fit_transform(x_train.astype(np.float64)))
        y = y_train.astype(np.float64)
        lambdas = penalty_grid(xs, y, c["alpha"], c["n_lambdas"], c["lambda_min_ratio"])
        # Increasing C is decreasing lambda: scikit-learn warm-starts along the given order.
        model = LogisticRegressionCV(
            Cs=1.0 / (len(y) * lambdas),
            l1_ratios=(c["alpha"],),
            cv=KFold(n_splits=c["folds"], shuffle=True, random_state=c["seed"]),
            solver=c["solver"],
            scoring="neg_log_loss",
            tol=c["sk_tol"],
            max_iter=c["sk_max_iter"],
            n_jobs=threads,
            random_state=c["seed"],
            use_legacy_attributes=False,
            # liblinear penalises the intercept as the weight of a constant column of this
            # value; a large constant makes that penalty negligible, as it is absent in glmnet.
            intercept_scaling=100.0 if c["solver"] == "liblinear" else 1.0,
        )
        model.fit(xs, y)
        return imputer, scaler, model

    best, fitted, n_warnings = math.inf, None, 0
    for _ in range(repeat):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            start = time.perf_counter()
            fitted = fit()
            best = min(best, time.perf_counter() - start)
        n_warnings = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    imputer, scaler, model = fitted
    prob = model.predict_proba(scaler.transform(imputer.transform(x_test.astype(np.float64))))
    coef = model.coef_.ravel()
    selected = [name for name, w in zip(names, coef) if w != 0.0]
    chosen_lambda = 1.0 / (float(model.C_) * len(y_train))
    return best, float(roc_auc_score(y_test, prob[:, 1])), selected, chosen_lambda, n_warnings


def run_lockstep_path(binary, csv, schema, target, train_where, c, repeat, workdir):
    config = workdir / f"{target}.logistic.config.toml"
    config.write_text(
        'kind = "logistic"\n'
        f'target = "{target}"\n'
        f'train_where = "{train_where}"\n'
        "\n[logistic]\n"
        f"alpha = {c['alpha']}\n"
        f"n_lambdas = {c['n_lambdas']}\n"
        f"lambda_min_ratio = {c['lambda_min_ratio']}\n"
        f"folds = {c['folds']}\n"
        f"seed = {c['seed']}\n"
        "one_se_rule = false\n"
        f"tolerance = {c['ls_tolerance']}\n"
        f"max_iterations = {c['ls_max_iterations']}\n"
    )
    model = workdir / f"{target}.logistic.lsm"
    best, out = math.inf, None
    for _ in range(repeat):
        m = lockstep_train(binary, csv, schema, config, model, PATH_RE)
        best = min(best, float(m.group(2)))
        record = json.loads(model.with_suffix(".training.json").read_text())
        path = record["logistic"]
        out = {
            "rows": int(m.group(3)),
            "auc": record["test_auc"],
            "selected": record["selected_variables"],
            "chosen_lambda": path["chosen_lambda"],
            "excluded": [e["name"] for e in path["excluded_variables"]],
            "converged": path["all_converged"],
        }
    return best, out


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
             '[[split]]', 'name = "is_test"', 'type = "numeric"', 'min = 0', 'max = 1',
             'description = "Split column: selects the test rows, never a model input"', '']
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


def print_table(header, rows):
    """rows: (label, other seconds, Lockstep seconds, Lockstep AUC, other AUC)."""
    ratio = lambda r: f"{r:.2f}" if r >= 0.1 else f"{r:.2g}"  # noqa: E731
    body = [(r[0], f"{r[1]:.3f}", f"{r[2]:.3f}", ratio(r[2] / r[1]), f"{r[4]:.4f}",
             f"{r[3]:.4f}", f"{r[3] - r[4]:+.4f}") for r in rows]
    widths = [max(len(str(row[i])) for row in [header] + body) for i in range(len(header))]
    print()
    print(fmt_row(header, widths))
    print(fmt_row(["-" * w for w in widths], widths))
    for row in body:
        print(fmt_row(row, widths))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="scenario (b) with 200,000 rows")
    ap.add_argument("--rows", type=int, default=None, help="override scenario (b) rows")
    ap.add_argument("--repeat", type=int, default=1, help="runs per side; fastest reported")
    ap.add_argument("--skip-b", action="store_true", help="skip scenario (b)")
    ap.add_argument("--skip-c", action="store_true", help="skip scenario (c)")
    ap.add_argument("--only-c", action="store_true",
                    help="run scenario (c) only (XGBoost is then not needed)")
    ap.add_argument("--c-alpha", type=float, default=1.0,
                    help="scenario (c) penalty mix: 1 lasso (default), 0 < a < 1 elastic net")
    ap.add_argument("--c-solver", choices=["saga", "liblinear"], default="saga",
                    help="scikit-learn solver for (c); liblinear is L1/L2 only and also "
                         "penalises the intercept")
    ap.add_argument("--lockstep", type=Path, default=REPO / "target" / "release" / "lockstep")
    ap.add_argument("--workdir", type=Path, default=None,
                    help="where generated CSVs/models go (default: a temp dir, removed)")
    ap.add_argument("--omp-passive", action="store_true",
                    help="set OMP_WAIT_POLICY=PASSIVE for XGBoost (much faster when the "
                         "machine is busy: spinning OpenMP threads collapse under "
                         "oversubscription; Lockstep's threads block, they do not spin)")
    args = ap.parse_args()
    if args.only_c and args.skip_c:
        sys.exit("--only-c and --skip-c exclude each other")
    if args.c_solver == "liblinear" and args.c_alpha != 1.0:
        sys.exit("liblinear has no elastic net; use --c-solver saga with --c-alpha < 1")
    if args.omp_passive:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    run_trees = not args.only_c
    if run_trees:
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
    import sklearn
    versions = f"xgboost {xgb.__version__}, " if run_trees else ""
    print(f"{versions}scikit-learn {sklearn.__version__}, numpy {np.__version__}, "
          f"python {sys.version.split()[0]}, "
          f"threads {threads}, cpus {os.cpu_count()}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}, "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    if os.getloadavg()[0] > 0.5:
        print("  warning: the machine is not idle; timings include contention "
              "(XGBoost's spinning OpenMP threads suffer most; see --omp-passive)", flush=True)

    if run_trees:
        # Warm up XGBoost's threads/JIT-free init so the first timed call is not penalised.
        wx = np.random.default_rng(0).standard_normal((2000, 5)).astype(np.float32)
        xgb.train({"tree_method": "hist", "nthread": threads, "verbosity": 0},
                  xgb.DMatrix(wx, label=(wx[:, 0] > 0).astype(np.float32)), 5)

    rows = []

    def scenario(label, csv, schema, target, train_where, names, x_tr, y_tr, x_te, y_te, p):
        # Each side starts after a pause, so the other side's worker threads (XGBoost's OpenMP
        # threads keep spinning for a while after a run) are idle when its timing starts.
        time.sleep(SETTLE_SECONDS)
        xt, xa, xn = run_xgboost(x_tr, y_tr, x_te, y_te, names, p, threads, args.repeat)
        time.sleep(SETTLE_SECONDS)
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
    # The split column is a [[split]] in the schema, not a feature: read it from the CSV.
    year = pd.read_csv(COHORT_CSV, usecols=["surgery_year"])["surgery_year"].to_numpy()
    tr = year <= 2015
    for target in ["death_2y", "infection_1y"] if run_trees else []:
        y = targets[target]
        for p in param_sets:
            label = (f"(a) cohort {target} {p['n_trees']}t d{p['max_depth']} "
                     f"eta{p['eta']} n={int(tr.sum())}")
            scenario(label, COHORT_CSV, COHORT_SCHEMA, target, "surgery_year <= 2015",
                     names, x[tr], y[tr], x[~tr], y[~tr], p)

    # (b) generated
    if run_trees and not args.skip_b:
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
        b_tr = bx[:, 0] < 0.5
        p = param_sets[0]
        label = (f"(b) synthetic {n // 1000}k x30 {p['n_trees']}t d{p['max_depth']} "
                 f"eta{p['eta']} n={int(b_tr.sum())}")
        scenario(label, csv, schema, "y", "is_test < 0.5", cols,
                 bx[b_tr], by[b_tr], bx[~b_tr], by[~b_tr], p)

    # (c) penalised logistic regression path, cohort, death_2y
    path_rows, path_notes = [], []
    if not args.skip_c:
        c = {
            "alpha": args.c_alpha, "n_lambdas": 100, "lambda_min_ratio": 1e-4, "folds": 5,
            "seed": 2024, "solver": args.c_solver,
            # Each side's own convergence rule: glmnet's default for Lockstep, scikit-learn's
            # default tolerance for saga/liblinear with the epoch cap raised from 100, which
            # leaves the weakly penalised end of the path unconverged.
            "ls_tolerance": 1e-7, "ls_max_iterations": 1000, "sk_tol": 1e-4,
            "sk_max_iter": 1000,
        }
        kept, excluded = logistic_columns(COHORT_SCHEMA, names)
        c_names = [names[i] for i in kept]
        target = "death_2y"
        y = targets[target]
        # Warm-up: start joblib's workers (and import everything) outside the timing.
        wx = np.random.default_rng(0).standard_normal((500, 3))
        run_sklearn_path(wx, (wx[:, 0] > 0).astype(np.float32), wx, (wx[:, 0] > 0),
                         ["w0", "w1", "w2"], dict(c, n_lambdas=3), threads, 1)
        st, sa, s_sel, s_lambda, s_warn = run_sklearn_path(
            x[tr][:, kept], y[tr], x[~tr][:, kept], y[~tr], c_names, c, threads, args.repeat)
        lt, lout = run_lockstep_path(args.lockstep, COHORT_CSV, COHORT_SCHEMA, target,
                                     "surgery_year <= 2015", c, args.repeat, workdir)
        if lout["rows"] != int(tr.sum()):
            print(f"  warning: (c): training rows sklearn={int(tr.sum())} "
                  f"lockstep={lout['rows']}")
        if sorted(lout["excluded"]) != sorted(excluded):
            print(f"  warning: (c): excluded columns differ: lockstep {lout['excluded']}, "
                  f"this script {excluded}")
        kind = "lasso" if c["alpha"] == 1.0 else f"elastic net a={c['alpha']}"
        label = (f"(c) cohort {target} {kind} path {c['n_lambdas']} lambdas, {c['folds']}-fold CV, "
                 f"{len(c_names)} vars, n={int(tr.sum())}")
        path_rows.append((label, st, lt, lout["auc"], sa))
        path_notes.append(f"(c) time: scikit-learn / Lockstep = {st / lt:.0f}x")
        print(f"  done {label}: sklearn {st:.3f}s auc {sa:.4f} | lockstep {lt:.3f}s "
              f"auc {lout['auc']:.4f}", flush=True)
        path_notes += [
            f"(c) features: {', '.join(c_names)}; left out by both: {', '.join(excluded)}",
            f"(c) scikit-learn {c['solver']}: chosen lambda {s_lambda:.3g} (C = 1/(n lambda)), "
            f"{len(s_sel)} selected: {', '.join(s_sel)}"
            + (f"; {s_warn} ConvergenceWarning(s)" if s_warn else ""),
            f"(c) Lockstep: chosen lambda {lout['chosen_lambda']:.3g}, {len(lout['selected'])} "
            f"selected: {', '.join(lout['selected'])}"
            + ("" if lout["converged"] else "; not every lambda converged"),
        ]
        only_s = sorted(set(s_sel) - set(lout["selected"]))
        only_l = sorted(set(lout["selected"]) - set(s_sel))
        path_notes.append(f"(c) selected by scikit-learn only: {', '.join(only_s) or '-'}; "
                          f"by Lockstep only: {', '.join(only_l) or '-'}")

    print(f"\nload average at the end: {os.getloadavg()[0]:.2f} (cpus {os.cpu_count()})")
    if rows:
        header = ("scenario", "XGBoost s", "Lockstep s", "ratio L/X", "AUC XGB",
                  "AUC Lockstep", "dAUC (L-X)")
        print_table(header, rows)
    if path_rows:
        header = ("scenario", "sklearn s", "Lockstep s", "ratio L/S", "AUC sklearn",
                  "AUC Lockstep", "dAUC (L-S)")
        print_table(header, path_rows)
        for note in path_notes:
            print(note)

    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
