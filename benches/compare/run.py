#!/usr/bin/env python3
"""Lockstep against its peers: host inference speed and exactness, one thread, one run.

One command from a fresh checkout (Python 3.11, a Rust toolchain, gcc):

    python3 benches/compare/run.py

The first run creates target/compare/venv and installs requirements.txt (exact pins), then
requirements-lleaves.txt (lleaves needs llvmlite 0.44; if it cannot install, lleaves is skipped
and the reason recorded); every later run reuses the venv (`--setup` only installs). The script
re-executes itself inside the venv.

What it does
  Models. The bundled cohort (examples/arthroplasty/cohort.csv), encoded as Lockstep's loader
  encodes it (categorical -> index in the schema's `levels`, boolean -> 0/1, empty -> NaN; the
  one encoder, shared with benches/train_vs_xgboost), target death_2y, training rows
  surgery_year <= 2015; every other row is a test row and an input. XGBoost 3.2.0
  binary:logistic (hist, eta 0.1) with 100 trees of depth 3, 300 of depth 6 and 1000 of depth 8;
  LightGBM 4.7.0 binary (31 leaves, learning rate 0.05) with 100 and 500 trees. Every model is
  compiled with `lockstep compile`; every system scores the same f32 rows.

  Systems (each one thread):
    Lockstep            benches' `compare-timer` (release build, the engine's public
                        `predict_batch` and `predict` on the .lsm: the data path)
    Lockstep codegen    the module `lockstep codegen` writes (the code path), compiled into
                        codegen_timer.rs as a crate of its own under target/compare/work
    XGBoost C API       XGBoosterPredictFromDense from the wheel's libxgboost.so, nthread=1, from C
    LightGBM C API      LGBM_BoosterPredictForMat (batch) and ..SingleRowFast (single), from C
    ONNX Runtime        onnxmltools conversion, InferenceSession with one intra- and inter-op
                        thread, called from Python (its timings include the Python call)
    tl2cgen             generated C, gcc -O2, from C
    m2cgen              generated C, gcc -O2, from C (f64 inputs)
    emlearn int16       emlearn's table ("loadable") C, int16 features and thresholds; XGBoost
                        models, rebuilt from the booster's trees; gcc -O2, from C
    emlearn inline      emlearn's inline C (float features); as above
    lleaves             LightGBM models, LLVM object code from lleaves, linked into C
  A peer that cannot be installed, converted or compiled is skipped with the reason printed and
  written to the results, never silently.

  Timing. The C peers and Lockstep run as small timing programs with one protocol
  (c/timer_main.c; timer.rs and codegen_timer.rs share protocol.rs): after one untimed pass over every test row, one timed batch pass
  (all rows in one call where the system has a batch entry point, otherwise a loop of single-row
  calls), then SINGLE_ROWS single-row calls timed one at a time (clock_gettime/Instant around each
  call; the median is reported, so it includes one clock read, ~20-30 ns, for every system).
  ONNX Runtime is timed the same way in this process. Rounds: every round runs every
  (model, system) once, systems in a rotated order, so load from other processes falls on all
  systems alike; the report gives each figure's median over the rounds, its ratio to
  Lockstep's (the data path's) median from the same run, and per model both Lockstep paths'
  ratios to the fastest peer.

  Exactness. Each system's probabilities for every test row, rounded to f32, against the source
  framework's own (XGBoost: Booster.inplace_predict, f32; LightGBM: Booster.predict, f64 rounded
  to f32): the percentage of rows whose f32 bits are equal.

  Device (--device, --device-only): emlearn's C for the 100x3 and 300x6 models built with
  arm-none-eabi-gcc for the QEMU boards `lockstep parity` uses (Cortex-M4F, M0, M33),
  instructions per inference under -icount (device/main.c), peak stack and model flash, next to
  `lockstep parity --cost` for the data path and `lockstep parity --codegen --cost` for the
  code path (its flash: llvm-nm symbol sizes of the module in the firmware that ran).

Outputs (in benches/compare/ unless --out): results.md (the table and the machine), results.json
(every raw figure), results.png (batch rows/s and single-row µs per model and system); with the
device side, device.md and device.json.

Usage:  python3 benches/compare/run.py [--setup] [--rounds 5] [--single-rows 2000]
                                       [--lockstep-dir TARGET/release] [--out DIR] [--quick]
                                       [--device | --device-only]
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
VENV = REPO / "target" / "compare" / "venv"
WORK = REPO / "target" / "compare" / "work"
C_DIR = HERE / "c"
COHORT_CSV = REPO / "examples" / "arthroplasty" / "cohort.csv"
COHORT_SCHEMA = REPO / "examples" / "arthroplasty" / "cohort.schema.toml"
TARGET = "death_2y"
TRAIN_LAST_YEAR = 2015

XGB_MODELS = [("xgb-100x3", 100, 3), ("xgb-300x6", 300, 6), ("xgb-1000x8", 1000, 8)]
LGB_MODELS = [("lgb-100", 100), ("lgb-500", 500)]


# --------------------------------------------------------------------------------------------
# Setup: the venv under target/, then run inside it
# --------------------------------------------------------------------------------------------

def venv_python() -> Path:
    return VENV / "bin" / "python"


def setup_venv() -> None:
    if not venv_python().exists():
        print(f"creating {VENV}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(venv_python()), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run(pip + ["-r", str(HERE / "requirements.txt")], check=True)
    lleaves = subprocess.run(pip + ["-r", str(HERE / "requirements-lleaves.txt")],
                             capture_output=True, text=True)
    note = VENV / "lleaves-install.txt"
    if lleaves.returncode != 0:
        reason = (lleaves.stderr.strip().splitlines() or ["pip failed"])[-1]
        note.write_text(reason + "\n")
        print(f"lleaves could not be installed ({reason}); it will be skipped", flush=True)
    elif note.exists():
        note.unlink()


def in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


# --------------------------------------------------------------------------------------------
# Data and models
# --------------------------------------------------------------------------------------------

def load_data():
    import numpy as np
    import pandas as pd

    spec = importlib.util.spec_from_file_location(
        "train_vs_xgboost", REPO / "benches" / "train_vs_xgboost" / "run.py")
    shared = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shared)
    names, x, targets = shared.load_like_lockstep(COHORT_CSV, COHORT_SCHEMA)
    year = pd.read_csv(COHORT_CSV, usecols=["surgery_year"])["surgery_year"].to_numpy()
    train = year <= TRAIN_LAST_YEAR
    y = targets[TARGET]
    x_test = np.ascontiguousarray(x[~train], dtype=np.float32)
    return names, x[train], y[train], x_test


def train_models(names, x_train, y_train, x_test, quick: bool):
    import lightgbm as lgb
    import numpy as np
    import xgboost as xgb

    WORK.mkdir(parents=True, exist_ok=True)
    models = []
    for name, trees, depth in XGB_MODELS:
        if quick:
            trees = max(10, trees // 10)
        clf = xgb.XGBClassifier(
            n_estimators=trees, max_depth=depth, learning_rate=0.1, tree_method="hist",
            objective="binary:logistic", n_jobs=2, random_state=0,
            base_score=float(np.mean(y_train)))
        clf.fit(x_train, y_train)
        booster = clf.get_booster()
        booster.feature_names = None
        path = WORK / f"{name}.json"
        booster.save_model(path)
        reloaded = xgb.Booster(model_file=str(path))
        reloaded.set_param({"nthread": 2})
        reference = reloaded.inplace_predict(x_test).astype(np.float32)
        models.append(dict(name=name, framework="xgboost", trees=trees, depth=depth,
                           path=path, clf=clf, reference=reference))
    for name, trees in LGB_MODELS:
        if quick:
            trees = max(10, trees // 10)
        clf = lgb.LGBMClassifier(n_estimators=trees, num_leaves=31, learning_rate=0.05,
                                 n_jobs=2, random_state=0, verbose=-1)
        clf.fit(x_train, y_train)
        path = WORK / f"{name}.txt"
        clf.booster_.save_model(str(path))
        reloaded = lgb.Booster(model_file=str(path))
        reference = reloaded.predict(x_test, num_threads=2).astype(np.float32)
        models.append(dict(name=name, framework="lightgbm", trees=trees, depth=None,
                           path=path, clf=clf, reference=reference))
    return models


def model_nodes(model) -> int:
    """Nodes (splits and leaves) of a trained model, as its framework reports them."""
    if model["framework"] == "xgboost":
        return len(model["clf"].get_booster().trees_to_dataframe())
    return len(model["clf"].booster_.trees_to_dataframe())


# --------------------------------------------------------------------------------------------
# Building each system
# --------------------------------------------------------------------------------------------

class Skip(Exception):
    """A peer that cannot run here; the message is the reason, recorded in the results."""


# Seconds one compile of a peer may take (gcc -O2 on a 1000-tree generated C file takes minutes
# on a loaded 2-core machine); past that the peer is skipped with the reason.
BUILD_TIMEOUT = 900


def run_checked(cmd, **kw):
    try:
        done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                              timeout=BUILD_TIMEOUT, **kw)
    except subprocess.TimeoutExpired as e:
        raise Skip(f"`{Path(str(cmd[0])).name}` did not finish in {BUILD_TIMEOUT} s") from e
    if done.returncode != 0:
        text = (done.stderr.strip() or done.stdout.strip()).splitlines()
        errors = [line.strip() for line in text if "error" in line.lower()] or text[-3:]
        raise Skip(f"`{Path(str(cmd[0])).name}` failed: " + " | ".join(errors[:3]))
    return done


def gcc(out: Path, sources, extra=()):
    """Compiles a timing program; reuses the last build when the command and every source
    (headers in C_DIR and the output's directory included) are unchanged."""
    cmd = ["gcc", "-O2", "-std=gnu11", "-I", C_DIR, "-I", out.parent, "-o", out,
           C_DIR / "timer_main.c", *sources, *extra, "-lm"]
    digest = hashlib.sha256(" ".join(map(str, cmd)).encode())
    inputs = [C_DIR / "timer_main.c", *sources, *sorted(C_DIR.glob("*.h")),
              *sorted(out.parent.glob("*.h"))]
    for path in inputs:
        digest.update(Path(path).read_bytes())
    stamp = out.with_name(out.name + ".sha256")
    if out.exists() and stamp.exists() and stamp.read_text() == digest.hexdigest():
        return out
    run_checked(cmd)
    stamp.write_text(digest.hexdigest())
    return out


def build_lockstep(args):
    """The `lockstep` CLI and `compare-timer`, release, from this checkout unless given."""
    if args.lockstep_dir:
        release = Path(args.lockstep_dir)
    else:
        env = dict(os.environ)
        target = Path(env.get("CARGO_TARGET_DIR", REPO / "target"))
        subprocess.run(["cargo", "build", "--release", "-p", "lockstep-host", "--bin", "lockstep",
                        "-p", "lockstep-benches", "--bin", "compare-timer"],
                       cwd=REPO, check=True, env=env)
        release = target / "release"
    return release / "lockstep", release / "compare-timer"


def native(cmd_prefix):
    return dict(kind="native", cmd=[str(c) for c in cmd_prefix])


def sys_lockstep(model, tools):
    lockstep, timer = tools
    lsm = WORK / f"{model['name']}.lsm"
    run_checked([lockstep, "compile", model["path"], "-o", lsm])
    return native([timer, lsm])


CODEGEN_TIMER = HERE / "codegen_timer.rs"
# One cargo target directory for every model's codegen crate, so lockstep-engine builds once.
CODEGEN_TARGET = WORK / "codegen-target"


def codegen_module(model, tools) -> Path:
    """`lockstep codegen` of the model's .lsm into WORK/codegen-<model>/src/model.rs; the file
    is replaced only when its bytes change, so cargo reuses the last build."""
    lockstep, _ = tools
    lsm = WORK / f"{model['name']}.lsm"
    run_checked([lockstep, "compile", model["path"], "-o", lsm])
    src = WORK / f"codegen-{model['name']}" / "src"
    src.mkdir(parents=True, exist_ok=True)
    fresh = src / "model.rs.new"
    fresh.unlink(missing_ok=True)
    run_checked([lockstep, "codegen", lsm, "-o", fresh])
    module = src / "model.rs"
    if module.exists() and module.read_bytes() == fresh.read_bytes():
        fresh.unlink()
    else:
        fresh.replace(module)
    return module


def sys_codegen(model, tools):
    """Lockstep's code path: the module `lockstep codegen` writes for this model, compiled into
    codegen_timer.rs as a crate of its own (lockstep-engine by path from this checkout; the
    workspace's release profile), timed with compare-timer's protocol."""
    module = codegen_module(model, tools)
    crate = module.parent.parent
    package = f"compare-codegen-{model['name']}"
    (crate / "Cargo.toml").write_text(
        "# Generated by benches/compare/run.py: Lockstep's code path for one model.\n"
        f"[package]\nname = \"{package}\"\nversion = \"0.0.0\"\nedition = \"2021\"\n"
        "publish = false\n\n[dependencies]\n"
        f"lockstep-engine = {{ path = \"{REPO / 'engine'}\" }}\n\n"
        "# The workspace's release profile (compare-timer is built with it).\n"
        "[profile.release]\ndebug = 1\n\n"
        "# Not a member of the repository's workspace.\n[workspace]\n")
    for source, name in ((CODEGEN_TIMER, "main.rs"), (HERE / "protocol.rs", "protocol.rs")):
        copy = crate / "src" / name
        if not copy.exists() or copy.read_bytes() != source.read_bytes():
            shutil.copyfile(source, copy)
    lock = crate / "Cargo.lock"
    if not lock.exists():  # the workspace's pins, so the build needs no registry lookup
        shutil.copyfile(REPO / "Cargo.lock", lock)
    env = dict(os.environ, CARGO_TARGET_DIR=str(CODEGEN_TARGET))
    env.pop("RUSTFLAGS", None)
    run_checked(["cargo", "build", "--release", "--quiet", "--manifest-path",
                 crate / "Cargo.toml"], env=env)
    return native([CODEGEN_TARGET / "release" / package, "-"])


def sys_xgb_capi(model, _):
    import xgboost

    libdir = Path(xgboost.__file__).parent / "lib"
    exe = gcc(WORK / "xgb-capi", [C_DIR / "xgb_capi.c"],
              ["-L", libdir, "-lxgboost", f"-Wl,-rpath,{libdir}"])
    return native([exe, model["path"]])


def sys_lgb_capi(model, _):
    import lightgbm

    libdir = Path(lightgbm.__file__).parent / "lib"
    exe = WORK / "lgb-capi"
    run_checked(["gcc", "-O2", "-std=gnu11", "-I", C_DIR, "-o", exe, C_DIR / "timer_main.c",
                 C_DIR / "lgb_capi.c", libdir / "lib_lightgbm.so", f"-Wl,-rpath,{libdir}", "-lm"])
    return native([exe, model["path"]])


def sys_tl2cgen(model, _):
    try:
        import tl2cgen
        import treelite
    except ImportError as e:
        raise Skip(f"not installed: {e}") from e
    out = WORK / f"tl2cgen-{model['name']}"
    shutil.rmtree(out, ignore_errors=True)
    if model["framework"] == "xgboost":
        tl = treelite.frontend.load_xgboost_model(str(model["path"]))
    else:
        tl = treelite.frontend.load_lightgbm_model(str(model["path"]))
    tl2cgen.generate_c_code(tl, dirpath=str(out), params={"parallel_comp": 0})
    header = (out / "header.h").read_text()
    result = "double" if "double* result" in header else "float"
    exe = gcc(out / "timer", [C_DIR / "tl2cgen_adapter.c", out / "main.c"], [f"-DTL_RESULT={result}"])
    return native([exe, "-"])


def sys_m2cgen(model, _):
    try:
        import m2cgen
    except ImportError as e:
        raise Skip(f"not installed: {e}") from e
    # m2cgen walks a boosted model's sum recursively; its README's advice for large models is a
    # higher recursion limit, which needs a thread with a larger stack to be safe.
    box = {}

    def export():
        try:
            box["code"] = m2cgen.export_to_c(model["clf"])
        except Exception as e:  # m2cgen raises whatever its model walkers raise
            box["error"] = e

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200_000)
    threading.stack_size(1 << 30)
    worker = threading.Thread(target=export)
    worker.start()
    worker.join()
    threading.stack_size(0)
    sys.setrecursionlimit(limit)
    if "error" in box:
        e = box["error"]
        raise Skip(f"m2cgen.export_to_c failed: {type(e).__name__}: {e}") from e
    code = box["code"]
    out = WORK / f"m2cgen-{model['name']}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "model.c").write_text(code)
    exe = gcc(out / "timer", [C_DIR / "m2cgen_adapter.c", out / "model.c"])
    return native([exe, "-"])


def emlearn_forest(model):
    """emlearn's flat forest (decision nodes [feature, threshold, left, right], roots, leaf
    values) from an XGBoost booster: emlearn converts only scikit-learn estimators."""
    booster = model["clf"].get_booster()
    frame = booster.trees_to_dataframe()
    nodes, roots, leaves = [], [], []
    for _, tree in frame.groupby("Tree", sort=True):
        by_id = {row.ID: row for row in tree.itertuples()}
        index = {}

        def visit(node_id):
            row = by_id[node_id]
            if row.Feature == "Leaf":
                leaves.append(float(row.Gain))
                return -len(leaves)
            slot = len(nodes)
            nodes.append(None)
            index[node_id] = slot
            left, right = visit(row.Yes), visit(row.No)
            nodes[slot] = [int(row.Feature.lstrip("f")), float(row.Split), left, right]
            return slot

        root = visit(f"{int(tree.Tree.iloc[0])}-0")
        if root < 0:  # a single-leaf tree: one node that goes to the leaf both ways
            nodes.append([0, 0.0, root, root])
            root = len(nodes) - 1
        roots.append(root)
    return nodes, roots, leaves


EMLEARN_ADAPTER = """/* emlearn's {method} C for an XGBoost model: margin = base + {n_trees} * (mean of tree values),
 * probability = 1 / (1 + expf(-margin)) in f32. */
#include <math.h>
#include <stdint.h>
#include "peer.h"
{include}
int peer_init(const char *a, int n, int m) {{ (void)a; (void)n; (void)m; return 0; }}
float peer_predict1(const float *row, int n_features) {{
    {ctype} x[{n_features}];
    for (int j = 0; j < {n_features}; j++) x[j] = ({ctype})row[j];
    const float margin = {base}f + {n_trees}.0f * model_predict(x, n_features);
    return 1.0f / (1.0f + expf(-margin));
}}
#include "loop_batch.h"
"""


def sys_emlearn(method):
    def build(model, _):
        if model["framework"] != "xgboost":
            raise Skip("emlearn takes scikit-learn estimators only; this harness rebuilds "
                       "XGBoost boosters for it, not LightGBM's (x <= t on f64 thresholds)")
        try:
            import emlearn
            from emlearn import trees as emtrees
        except ImportError as e:
            raise Skip(f"not installed: {e}") from e
        import numpy as np

        nodes, roots, leaves = emlearn_forest(model)
        n_features = len(model["clf"].feature_importances_)
        forest = (nodes, roots, leaves)
        base = json.loads(model["clf"].get_booster().save_config())
        base_score = float(base["learner"]["learner_model_param"]["base_score"].strip("[]"))
        base_margin = float(np.log(base_score / (1.0 - base_score)))
        try:
            if method == "int16":
                code = emtrees.generate_c_loadable(forest, "model", n_features, dtype="int16_t",
                                                   classifier=False, leaf_bits=32,
                                                   include_proba=False)
            else:
                code = emtrees.generate_c_inlined(forest, "model", n_features, dtype="float",
                                                  classifier=False, leaf_bits=32,
                                                  include_proba=False)
        except AssertionError as e:
            raise Skip(f"emlearn's generator refused the model (int16 node fields overflow: "
                       f"{len(nodes)} nodes, {len(leaves)} leaves): {e}") from e
        out = WORK / f"emlearn-{method}-{model['name']}"
        out.mkdir(parents=True, exist_ok=True)
        (out / "model.h").write_text(code)
        ctype = "int16_t" if method == "int16" else "float"
        adapter = EMLEARN_ADAPTER.format(method=method, n_trees=len(roots), include='#include "model.h"',
                                         ctype=ctype, n_features=n_features,
                                         base=repr(float(np.float32(base_margin))))
        (out / "adapter.c").write_text(adapter)
        include = Path(emlearn.includedir) if hasattr(emlearn, "includedir") else Path(emlearn.__file__).parent
        exe = gcc(out / "timer", [out / "adapter.c"], ["-I", include])
        return native([exe, "-"])
    return build


def sys_lleaves(model, _):
    if model["framework"] != "lightgbm":
        raise Skip("lleaves compiles LightGBM models only")
    note = VENV / "lleaves-install.txt"
    if note.exists():
        raise Skip(f"not installed: {note.read_text().strip()}")
    try:
        import lleaves
    except ImportError as e:
        raise Skip(f"not installed: {e}") from e
    out = WORK / f"lleaves-{model['name']}"
    out.mkdir(parents=True, exist_ok=True)
    obj = out / "model.o"
    obj.unlink(missing_ok=True)  # lleaves loads an existing cache file instead of compiling
    lleaves.Model(model_file=str(model["path"])).compile(cache=str(obj))
    exe = gcc(out / "timer", [C_DIR / "lleaves_adapter.c", obj])
    return native([exe, "-"])


def sys_onnx(model, _):
    try:
        import onnxmltools
        import onnxruntime as ort
        from onnxmltools.convert.common.data_types import FloatTensorType
    except ImportError as e:
        raise Skip(f"not installed: {e}") from e
    n_features = model["n_features"]
    types = [("input", FloatTensorType([None, n_features]))]
    try:
        if model["framework"] == "xgboost":
            onx = onnxmltools.convert_xgboost(model["clf"], initial_types=types)
        else:
            onx = onnxmltools.convert_lightgbm(model["clf"], initial_types=types,
                                               zipmap=False)
    except Exception as e:  # the converters raise what their parsers raise
        raise Skip(f"onnxmltools conversion failed: {type(e).__name__}: {e}") from e
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(onx.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    outputs = session.get_outputs()
    prob_name = outputs[1].name if len(outputs) > 1 else outputs[0].name

    def predict(x):
        probs = session.run([prob_name], {"input": x})[0]
        if isinstance(probs, list):  # zipmap output: a list of {class: probability}
            import numpy as np
            return np.array([p[1] for p in probs], dtype=np.float32)
        return probs[:, 1] if probs.ndim == 2 else probs

    return dict(kind="python", predict=predict)


SYSTEMS = [
    ("Lockstep", sys_lockstep),
    ("Lockstep codegen", sys_codegen),
    ("XGBoost C API", sys_xgb_capi),
    ("LightGBM C API", sys_lgb_capi),
    ("ONNX Runtime (Python)", sys_onnx),
    ("tl2cgen", sys_tl2cgen),
    ("m2cgen", sys_m2cgen),
    ("emlearn int16", sys_emlearn("int16")),
    ("emlearn inline", sys_emlearn("inline")),
    ("lleaves", sys_lleaves),
]


def applies(system: str, model) -> bool:
    if system == "XGBoost C API":
        return model["framework"] == "xgboost"
    if system == "LightGBM C API":
        return model["framework"] == "lightgbm"
    if system == "lleaves":
        return model["framework"] == "lightgbm"
    return True


# --------------------------------------------------------------------------------------------
# Timing and exactness
# --------------------------------------------------------------------------------------------

def measure_native(entry, rows_file, n_features, single_rows, outputs=False):
    cmd = entry["cmd"] + [str(rows_file), str(n_features), str(single_rows)]
    if outputs:
        cmd.append("--outputs")
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise Skip(f"timer failed: {done.stderr.strip()[-300:]}")
    lines = done.stdout.splitlines()
    fields = dict(item.split("=") for item in lines[0].split())
    values = None
    if outputs:
        import numpy as np
        values = np.array([int(v, 16) for v in lines[1:]], dtype=np.uint32).view(np.float32)
    return int(fields["batch_ns"]), int(fields["single_ns"]), values


def measure_python(entry, x, single_rows):
    import numpy as np

    predict = entry["predict"]
    predict(x)
    start = time.perf_counter_ns()
    out = predict(x)
    batch_ns = time.perf_counter_ns() - start
    times = []
    singles = [x[i:i + 1] for i in range(min(single_rows, len(x)))]
    for row in singles:
        t0 = time.perf_counter_ns()
        predict(row)
        times.append(time.perf_counter_ns() - t0)
    return batch_ns, int(np.median(times)), np.asarray(out, dtype=np.float32)


def machine():
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mhz = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                mhz = float(line.split(":", 1)[1])
                break
    except OSError:
        pass
    gcc_version = subprocess.run(["gcc", "--version"], capture_output=True,
                                 text=True).stdout.splitlines()[0]
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                            capture_output=True, text=True).stdout.strip()
    def first_line(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[0]
        except (OSError, IndexError):
            return f"{cmd[0]}: not found"
    return dict(cpu=cpu, mhz=mhz, cores=os.cpu_count(), os=platform.platform(),
                python=platform.python_version(), gcc=gcc_version, rustc=rustc,
                lockstep_commit=commit, qemu=first_line(["qemu-system-arm", "--version"]),
                arm_gcc=first_line(["arm-none-eabi-gcc", "--version"]))


# --------------------------------------------------------------------------------------------
# Device side (--device): emlearn's C on the QEMU boards `lockstep parity --cost` uses
# --------------------------------------------------------------------------------------------

# name, QEMU arguments, gcc flags, FLASH (origin, length), RAM (origin, length): the boards and
# regions of protocol/src/targets.rs (flash here = its flash and model region together).
BOARDS = [
    ("cortex-m4f", ["-cpu", "cortex-m4", "-machine", "mps2-an386"],
     ["-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
     ("0x00000000", "4M"), ("0x20000000", "4M")),
    ("cortex-m0", ["-machine", "microbit"],
     ["-mcpu=cortex-m0", "-mfloat-abi=soft"],
     ("0x00000000", "256K"), ("0x20000000", "16K")),
    # Secure aliases: the core boots in the Secure state with its vector table at 0x1000_0000.
    ("cortex-m33", ["-cpu", "cortex-m33", "-machine", "mps2-an505"],
     ["-mcpu=cortex-m33", "-mfloat-abi=hard", "-mfpu=fpv5-sp-d16"],
     ("0x10000000", "4M"), ("0x38000000", "4M")),
]
TRIPLES = {"cortex-m0": "thumbv6m-none-eabi", "cortex-m4f": "thumbv7em-none-eabihf",
           "cortex-m33": "thumbv8m.main-none-eabihf"}
DEVICE_ROWS = 64
DEVICE_MODELS = ["xgb-100x3", "xgb-300x6"]


def c_float(v) -> str:
    import math
    if math.isnan(v):
        return '__builtin_nanf("")'
    return f"{float(v)!r}f"


def codegen_elf(module: Path, board: str, sha256: str):
    """The parity-codegen ELF `lockstep parity --codegen module` ran: the directory cargo
    placed it in is named after the modules' bytes (host-tools/src/parity/qemu.rs:
    build_codegen_firmware), checked against the SHA-256 the parity record gives."""
    code = module.read_bytes()
    digest = hashlib.sha256(len(code).to_bytes(8, "little") + code).hexdigest()[:16]
    base = REPO / "firmware-demo" / "target" / TRIPLES[board] / "release" / "lockstep-parity"
    candidates = [base / f"codegen-{digest}" / "parity-codegen",
                  *sorted(base.glob("codegen-*/parity-codegen"))]
    for elf in candidates:
        if elf.exists() and hashlib.sha256(elf.read_bytes()).hexdigest() == sha256:
            return elf
    return None


def codegen_flash(elf: Path):
    """Flash bytes of the generated model in a parity-codegen ELF: the sizes `llvm-nm
    --size-sort` gives every symbol of the module (`parity_codegen::codegen_0::*`: its
    predict if not inlined, and its tables of threshold keys and category sets) and of the
    wrapper the module's predict is inlined into (`parity_codegen::score_0`). The engine's
    output transform (`lockstep_engine::compiled`, the exact expf) is not counted, as newlib's
    expf is not counted for emlearn."""
    nm = shutil.which("llvm-nm") or shutil.which("arm-none-eabi-nm")
    if nm is None:
        return None, "llvm-nm not found"
    listing = run_checked([nm, "--size-sort", "--demangle", elf]).stdout
    total, symbols = 0, 0
    for line in listing.splitlines():
        parts = line.split(None, 2)
        if len(parts) != 3 or parts[1].lower() not in "trd":
            continue
        name = parts[2]
        if name.startswith("parity_codegen::codegen_0::") or name == "parity_codegen::score_0":
            total += int(parts[0], 16)
            symbols += 1
    return total, f"{symbols} symbols"


def lockstep_parity(lockstep, model, board, dev, key, codegen):
    """Lockstep's cost on one board through `lockstep parity --cost --vectors` (which also
    proves the device's bits against the host's): the data path (the .lsm), or with `codegen`
    the module `lockstep codegen` wrote, compiled into the parity-codegen firmware."""
    system = "Lockstep codegen" if codegen else "Lockstep"
    tag = "codegen" if codegen else "lockstep"
    record = dev / f"{tag}-{model['name']}-{board}.json"
    cmd = [str(lockstep), "parity", "--model", str(WORK / f"{model['name']}.lsm"),
           "--target", board, "--cost", "--vectors", str(dev / "rows.csv"),
           "--record", str(record)]
    if codegen:
        cmd += ["--codegen", str(codegen)]
    started = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True)
    print(f"device: {system} on {model['name']}, {board}: "
          f"{time.monotonic() - started:.0f} s", flush=True)
    if done.returncode != 0:
        tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-2:]
        return dict(key, system=system, skipped="lockstep parity failed: " + " | ".join(tail))
    target = json.loads(record.read_text())["targets"][0]
    cost = target["cost"]
    row = dict(key, system=system, instructions=cost.get("instructions_per_inference"),
               stack=cost.get("stack_peak_bytes"), model_flash=cost.get("model_flash_bytes"),
               firmware_flash=cost.get("firmware_flash_bytes"),
               bit_exact=f"{target['rows_bit_exact']}/{target['rows']}")
    if codegen:
        elf = codegen_elf(codegen, board, target.get("firmware_sha256", ""))
        if elf is None:
            row["model_flash"], row["flash_note"] = None, "the firmware ELF was not found"
        else:
            row["model_flash"], row["flash_note"] = codegen_flash(elf)
    return row


def device_side(models, x_test, tools):
    """Instructions per inference, peak stack and model flash: emlearn int16 and inline built
    with arm-none-eabi-gcc -O2 and run under QEMU -icount (device/main.c), next to Lockstep's
    from `lockstep parity --cost` on the same models."""
    dev = WORK / "device"
    dev.mkdir(parents=True, exist_ok=True)
    results = []
    gcc_arm = shutil.which("arm-none-eabi-gcc")
    qemu = shutil.which("qemu-system-arm")
    rows = x_test[:DEVICE_ROWS]
    with open(dev / "rows.h", "w") as f:
        f.write(f"#define ROWS {len(rows)}\n#define N_FEATURES {rows.shape[1]}\n")
        f.write("static const float rows[ROWS][N_FEATURES] = {\n")
        for row in rows:
            f.write(" {" + ", ".join(c_float(v) for v in row) + "},\n")
        f.write("};\n")
    # The same rows for `lockstep parity --vectors` (the models' features are f0..fN: the
    # boosters are saved without feature names); an empty cell is a missing value.
    with open(dev / "rows.csv", "w") as f:
        f.write(",".join(f"f{j}" for j in range(rows.shape[1])) + "\n")
        for row in rows:
            f.write(",".join("" if v != v else repr(float(v)) for v in row) + "\n")
    import emlearn
    emlearn_include = Path(emlearn.__file__).parent
    lockstep, _ = tools
    measured = [m for m in models if m["name"] in DEVICE_MODELS]
    for model in measured:  # the .lsm of this run's model (--device-only builds no host system)
        subprocess.run([str(lockstep), "compile", str(model["path"]), "-o",
                        str(WORK / f"{model['name']}.lsm")], capture_output=True, check=True)
    lockstep_rows = {}
    # Lockstep's data path on every board first, then its code path model by model: the two
    # firmware binaries share one cargo build, which rebuilds when LOCKSTEP_CODEGEN changes.
    for model in measured:
        for board, *_ in BOARDS:
            key = dict(model=model["name"], board=board)
            lockstep_rows[(model["name"], board, "Lockstep")] = lockstep_parity(
                lockstep, model, board, dev, key, codegen=None)
    for model in measured:
        try:
            module = codegen_module(model, tools)
        except Skip as e:
            module = None
            reason = f"lockstep codegen failed: {e}"
        for board, *_ in BOARDS:
            key = dict(model=model["name"], board=board)
            lockstep_rows[(model["name"], board, "Lockstep codegen")] = (
                lockstep_parity(lockstep, model, board, dev, key, codegen=module) if module
                else dict(key, system="Lockstep codegen", skipped=reason))
    for model in measured:
        for board, qemu_args, flags, flash, ram in BOARDS:
            key = dict(model=model["name"], board=board)
            results.append(lockstep_rows[(model["name"], board, "Lockstep")])
            results.append(lockstep_rows[(model["name"], board, "Lockstep codegen")])
            for method in ("int16", "inline"):
                system = f"emlearn {method}"
                src = WORK / f"emlearn-{method}-{model['name']}"
                if gcc_arm is None or qemu is None:
                    results.append(dict(key, system=system, skipped="arm-none-eabi-gcc or "
                                        "qemu-system-arm not found (apt: gcc-arm-none-eabi "
                                        "libnewlib-arm-none-eabi qemu-system-arm)"))
                    continue
                if not (src / "adapter.c").exists():
                    results.append(dict(key, system=system, skipped="not built on the host"))
                    continue
                out = dev / f"{method}-{model['name']}-{board}"
                out.mkdir(exist_ok=True)
                ld = (HERE / "device" / "link.ld.in").read_text()
                for name, value in (("FLASH_ORIGIN", flash[0]), ("FLASH_LENGTH", flash[1]),
                                    ("RAM_ORIGIN", ram[0]), ("RAM_LENGTH", ram[1])):
                    ld = ld.replace(f"@{name}@", value)
                (out / "link.ld").write_text(ld)
                common = [gcc_arm, "-O2", "-mthumb", *flags, "-ffreestanding", "-I", dev,
                          "-I", C_DIR, "-I", HERE / "device", "-I", emlearn_include, "-I", src]
                try:
                    run_checked(common + ["-c", src / "adapter.c", "-o", out / "model.o"])
                    size = run_checked(["arm-none-eabi-size", out / "model.o"]).stdout
                    text, data = (int(v) for v in size.splitlines()[1].split()[:2])
                    run_checked(common + ["-nostartfiles", "-specs=nano.specs", "-specs=nosys.specs",
                                          "-T", out / "link.ld", HERE / "device" / "startup.c",
                                          HERE / "device" / "main.c", out / "model.o", "-lm",
                                          "-o", out / "peer.elf"])
                    ran = subprocess.run([qemu, *qemu_args, "-nographic", "-semihosting-config",
                                          "enable=on,target=native", "-icount", "shift=0",
                                          "-monitor", "none", "-serial", "none", "-kernel",
                                          str(out / "peer.elf")],
                                         capture_output=True, text=True, timeout=300)
                    # QEMU writes semihosting output to stderr with -serial none.
                    line = next((l for l in (ran.stdout + ran.stderr).splitlines()
                                 if l.startswith("instructions=")), "")
                    if not line:
                        raise Skip(f"no result from QEMU: {(ran.stdout + ran.stderr)[-300:]}")
                    fields = dict(item.split("=") for item in line.split())
                    results.append(dict(key, system=system,
                                        instructions=int(fields["instructions"]),
                                        stack=int(fields["stack"]), model_flash=text + data))
                except (Skip, KeyError, ValueError, subprocess.TimeoutExpired) as e:
                    results.append(dict(key, system=system, skipped=f"{type(e).__name__}: {e}"))
            print(f"device: {model['name']} on {board} done", flush=True)
    return results


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------

def fmt_rate(r):
    if r is None:
        return "-"
    if r >= 1e6:
        return f"{r / 1e6:.2f}M"
    if r >= 1e3:
        return f"{r / 1e3:.0f}k"
    return f"{r:.0f}"


def fmt_ratio(x):
    return "-" if x is None else f"{x:.2f}x"


def write_device_report(out_dir: Path, device, info):
    (out_dir / "device.json").write_text(json.dumps(dict(machine=info, device=device), indent=1,
                                                    default=str) + "\n")
    lines = ["# Lockstep against emlearn on the device (QEMU)", "",
             f"Measured {info['date']} with `python3 benches/compare/run.py "
             f"{info.get('device_mode', '--device')}` "
             f"(benches/compare/README.md); {info['qemu']}; {info['arm_gcc']}; Lockstep at "
             f"{info['lockstep_commit']}; load average {info.get('load_before', '-')} before "
             "the run.", ""]
    lines += [
        f"Instructions per inference under `qemu-system-arm -icount shift=0` (probability "
        f"included), the first {DEVICE_ROWS} test rows. emlearn: device/main.c, "
        "arm-none-eabi-gcc -O2, stack painted below main's frame, model flash = text + data "
        "of the model's object (tables or inline code, with its small adapter; newlib's expf "
        "not counted). Lockstep (the data path): `lockstep parity --cost --vectors` on the same "
        "rows, model flash = the .lsm. Lockstep codegen (the code path): the module "
        "`lockstep codegen` writes, through `lockstep parity --codegen --cost --vectors`; "
        "model flash = the `llvm-nm --size-sort` sizes of the module's symbols (its tables "
        "and code) and of the firmware's wrapper its `predict` is inlined into (the engine's "
        "output transform, shared by every model, not counted). The last column is the count "
        "of rows whose device output bits equal the host engine's.",
        "",
        "| model | board | system | instructions | vs emlearn int16 | vs emlearn inline "
        "| stack B | model flash B | device bits = host |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    by = {(d["model"], d["board"], d["system"]): d for d in device if not d.get("skipped")}

    def ratio(d, system, field="instructions"):
        ref = by.get((d["model"], d["board"], system))
        if not ref or not ref.get(field) or d.get(field) is None:
            return None
        return d[field] / ref[field]

    def count(v):
        return "-" if v is None else f"{v:,.0f}"

    for d in device:
        if d.get("skipped"):
            lines.append(f"| {d['model']} | {d['board']} | {d['system']} | skipped: "
                         f"{d['skipped']} | | | | | |")
            continue
        lines.append(
            f"| {d['model']} | {d['board']} | {d['system']} | {count(d.get('instructions'))} | "
            f"{fmt_ratio(ratio(d, 'emlearn int16'))} | {fmt_ratio(ratio(d, 'emlearn inline'))} | "
            f"{count(d.get('stack'))} | {count(d.get('model_flash'))} | "
            f"{d.get('bit_exact', '-')} |")
    lines += [
        "", "## Goals (issue 14)", "",
        "Instructions: the data path at most 0.8x emlearn int16's, the code path at most 0.8x "
        "emlearn inline's; model bytes (the .lsm) at most 0.8x emlearn int16's tables; peak "
        "stack at most 512 B. A ratio above the goal is marked \"missed\".", "",
        "| model | board | data path / emlearn int16 instr. | code path / emlearn inline instr. "
        "| .lsm / emlearn int16 flash | stack data / code path B |",
        "| --- | --- | ---: | ---: | ---: | ---: |"]

    def goal(x, limit):
        if x is None:
            return "-"
        return f"{x:.2f}x" + ("" if x <= limit else " (missed)")

    pairs = list(dict.fromkeys((d["model"], d["board"]) for d in device))
    for model, board in pairs:
        data = by.get((model, board, "Lockstep"))
        code = by.get((model, board, "Lockstep codegen"))
        stacks = " / ".join(count(x.get("stack")) if x else "-" for x in (data, code))
        over = any(x and x.get("stack") and x["stack"] > 512 for x in (data, code))
        lines.append(
            f"| {model} | {board} | {goal(data and ratio(data, 'emlearn int16'), 0.8)} | "
            f"{goal(code and ratio(code, 'emlearn inline'), 0.8)} | "
            f"{goal(data and ratio(data, 'emlearn int16', 'model_flash'), 0.8)} | "
            f"{stacks}{' (missed)' if over else ''} |")
    lines.append("")
    (out_dir / "device.md").write_text("\n".join(lines))


OWN_SYSTEMS = ("Lockstep", "Lockstep codegen")


def against_fastest_peer(results):
    """Per model: the fastest peer in batch and in single-row latency, and Lockstep's data
    path and code path against each (batch: rows/s over the peer's; single: µs over it)."""
    measured = [r for r in results if not r.get("skipped")]
    out = []
    for model in dict.fromkeys(r["model"] for r in measured):
        rows = [r for r in measured if r["model"] == model]
        peers = [r for r in rows if r["system"] not in OWN_SYSTEMS]
        own = {r["system"]: r for r in rows if r["system"] in OWN_SYSTEMS}
        if not peers:
            continue
        batch = max(peers, key=lambda r: r["batch_rows_per_s"])
        single = min(peers, key=lambda r: r["single_us"])

        def ratios(system):
            r = own.get(system)
            if r is None:
                return None, None
            return (r["batch_rows_per_s"] / batch["batch_rows_per_s"],
                    r["single_us"] / single["single_us"])

        data_batch, data_single = ratios("Lockstep")
        code_batch, code_single = ratios("Lockstep codegen")
        out.append(dict(model=model, batch_peer=batch["system"],
                        batch_peer_rows_per_s=batch["batch_rows_per_s"],
                        single_peer=single["system"], single_peer_us=single["single_us"],
                        data_batch_ratio=data_batch, code_batch_ratio=code_batch,
                        data_single_ratio=data_single, code_single_ratio=code_single))
    return out


def write_report(out_dir: Path, results, info, args):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = against_fastest_peer(results)
    (out_dir / "results.json").write_text(json.dumps(
        dict(machine=info, results=results, against_fastest_peer=summary),
        indent=1, default=str) + "\n")
    lines = [
        "# Lockstep against its peers (host, one thread)",
        "",
        f"Measured {info['date']} with `python3 benches/compare/run.py --rounds {args.rounds} "
        f"--single-rows {args.single_rows}` (benches/compare/README.md).",
        "",
        f"Machine: {info['cpu']}"
        + (f" ({info['mhz']:.0f} MHz)" if info.get("mhz") else "")
        + f", {info['cores']} cores, {info['os']}; load average "
        f"{info['load_before']} before the run and {info['load_after']} after it. "
        f"{info['gcc']}; {info['rustc']}; Lockstep at {info['lockstep_commit']}.",
        "",
        f"Inputs: {info['test_rows']} test rows (cohort surgery_year > {TRAIN_LAST_YEAR}), "
        f"{info['n_features']} features. Batch: all rows, one pass; single: median of "
        f"{args.single_rows} one-row calls, each timed on its own. Each figure is the median "
        f"of {args.rounds} interleaved rounds; ratio = the system's figure over Lockstep's "
        "(batch: rows/s, above 1 is faster than Lockstep; single: µs, below 1 is faster). "
        "Exact = rows whose f32 probability bits equal the source framework's own predict.",
        "",
        "Models: " + "; ".join(
            f"{m['name']} {m['trees']} trees, {m['nodes']:,} nodes"
            for m in info.get("models", [])) + ".",
        "",
        "| model | system | batch rows/s | single µs | batch vs Lockstep | single vs Lockstep | exact % |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    skipped = []
    for r in results:
        if r.get("skipped"):
            skipped.append(r)
            continue
        lines.append(
            f"| {r['model']} | {r['system']} | {fmt_rate(r['batch_rows_per_s'])} | "
            f"{r['single_us']:.2f} | {fmt_ratio(r['batch_ratio'])} | "
            f"{fmt_ratio(r['single_ratio'])} | {r['exact_pct']:.2f} |")
    lines += [
        "", "## Lockstep against the fastest peer", "",
        "Per model, the fastest peer (any system but Lockstep's own, exact or not) for batch "
        "rows/s and for single-row µs, and both of Lockstep's paths against it: the data path "
        "(`Model::predict_batch` / `predict` on the .lsm) and the code path (the module "
        "`lockstep codegen` writes, compiled in). Batch: Lockstep's rows/s over the peer's "
        "(goal at least 2x); single: Lockstep's µs over the peer's (goal at most 0.5x).", "",
        "| model | fastest peer, batch | data path | code path | fastest peer, single "
        "| data path | code path |",
        "| --- | --- | ---: | ---: | --- | ---: | ---: |"]
    for row in summary:
        lines.append(
            f"| {row['model']} | {row['batch_peer']} {fmt_rate(row['batch_peer_rows_per_s'])} | "
            f"{fmt_ratio(row['data_batch_ratio'])} | {fmt_ratio(row['code_batch_ratio'])} | "
            f"{row['single_peer']} {row['single_peer_us']:.2f} µs | "
            f"{fmt_ratio(row['data_single_ratio'])} | {fmt_ratio(row['code_single_ratio'])} |")
    lines += ["", "## Skipped", ""]
    if not skipped:
        lines.append("None.")
    for r in skipped:
        lines.append(f"- {r['model']}, {r['system']}: {r['skipped']}")
    lines.append("")

    (out_dir / "results.md").write_text("\n".join(lines))

    measured = [r for r in results if not r.get("skipped")]
    models = list(dict.fromkeys(r["model"] for r in measured))
    systems = list(dict.fromkeys(r["system"] for r in measured))
    fig, axes = plt.subplots(1, 2, figsize=(14, 5.5))
    width = 0.8 / max(1, len(systems))
    for k, system in enumerate(systems):
        xs, batch, single = [], [], []
        for i, model in enumerate(models):
            hit = [r for r in measured if r["model"] == model and r["system"] == system]
            if hit:
                xs.append(i + k * width)
                batch.append(hit[0]["batch_rows_per_s"])
                single.append(hit[0]["single_us"])
        axes[0].bar(xs, batch, width, label=system)
        axes[1].bar(xs, single, width, label=system)
    for ax, title in ((axes[0], "batch rows/s (higher is faster)"),
                      (axes[1], "single-row µs (lower is faster)")):
        ax.set_yscale("log")
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(models))])
        ax.set_xticklabels(models)
        ax.set_title(title)
    axes[1].legend(fontsize=8)
    fig.suptitle(f"One thread, {info['test_rows']} cohort rows; {info['cpu']}, "
                 f"load {info['load_before']}")
    fig.tight_layout()
    fig.savefig(out_dir / "results.png", dpi=100)


# --------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setup", action="store_true", help="only create/update the venv")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--single-rows", type=int, default=2000,
                        help="rows timed one call at a time per measurement (default 2000)")
    parser.add_argument("--lockstep-dir", help="a release dir holding `lockstep` and "
                        "`compare-timer` (default: build them from this checkout)")
    parser.add_argument("--out", default=str(HERE), help="where results.* go (default: here)")
    parser.add_argument("--quick", action="store_true", help="a tenth of the trees (a smoke run)")
    parser.add_argument("--device", action="store_true",
                        help="also the device side (device.md): emlearn's C with "
                        "arm-none-eabi-gcc on the QEMU boards, next to `lockstep parity --cost` "
                        "(builds the firmware)")
    parser.add_argument("--device-only", action="store_true",
                        help="only the device side: no host timing, results.md untouched")
    args = parser.parse_args()

    if not in_venv():
        if args.setup or not venv_python().exists():
            setup_venv()
        if args.setup:
            return
        os.execv(str(venv_python()), [str(venv_python()), __file__, *sys.argv[1:]])

    import numpy as np

    load_before = " ".join(f"{v:.2f}" for v in os.getloadavg())
    info = machine()
    info["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    info["load_before"] = load_before
    info["device_mode"] = "--device-only" if args.device_only else "--device"
    tools = build_lockstep(args)

    names, x_train, y_train, x_test = load_data()
    info["test_rows"], info["n_features"] = len(x_test), len(names)
    print(f"training on {len(x_train)} rows; {len(x_test)} test rows", flush=True)
    models = train_models(names, x_train, y_train, x_test, args.quick)
    info["models"] = [dict(name=m["name"], trees=m["trees"], depth=m["depth"],
                           nodes=model_nodes(m)) for m in models]
    rows_file = WORK / "test-rows.f32"
    rows_file.write_bytes(x_test.astype("<f4").tobytes())

    for model in models:
        model["n_features"] = len(names)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.device_only:
        for model in models:
            if model["name"] in DEVICE_MODELS:
                for method in ("int16", "inline"):
                    try:
                        sys_emlearn(method)(model, tools)
                    except Skip as e:
                        print(f"skipped emlearn {method} on {model['name']}: {e}", flush=True)
        write_device_report(out_dir, device_side(models, x_test, tools), info)
        print((out_dir / "device.md").read_text())
        return

    entries, results = [], []
    for model in models:
        for system, build in SYSTEMS:
            if not applies(system, model):
                continue
            key = dict(model=model["name"], system=system)
            try:
                entry = build(model, tools)
                if entry["kind"] == "native":
                    _, _, out = measure_native(entry, rows_file, len(names), 1, outputs=True)
                else:
                    _, _, out = measure_python(entry, x_test, 1)
            except Skip as e:
                print(f"skipped {system} on {model['name']}: {e}", flush=True)
                results.append(dict(key, skipped=str(e)))
                continue
            ref = model["reference"].view(np.uint32)
            exact = float(np.mean(np.asarray(out, dtype=np.float32).view(np.uint32) == ref)) * 100
            entries.append(dict(key, entry=entry, batch=[], single=[], exact_pct=exact))
            print(f"built {system} on {model['name']}: {exact:.2f}% exact", flush=True)

    for round_no in range(args.rounds):
        shift = round_no % max(1, len(entries))
        for e in entries[shift:] + entries[:shift]:
            if e["entry"]["kind"] == "native":
                batch, single, _ = measure_native(e["entry"], rows_file, len(names),
                                                  args.single_rows)
            else:
                batch, single, _ = measure_python(e["entry"], x_test, args.single_rows)
            e["batch"].append(batch)
            e["single"].append(single)
        print(f"round {round_no + 1}/{args.rounds} done, load "
              f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)

    info["load_after"] = " ".join(f"{v:.2f}" for v in os.getloadavg())
    base = {}
    for e in entries:
        e["batch_ns"] = statistics.median(e["batch"])
        e["single_ns"] = statistics.median(e["single"])
        if e["system"] == "Lockstep":
            base[e["model"]] = e
    for e in entries:
        ls = base.get(e["model"])
        rate = len(x_test) / (e["batch_ns"] / 1e9)
        results.append(dict(
            model=e["model"], system=e["system"], batch_rows_per_s=rate,
            single_us=e["single_ns"] / 1e3,
            batch_ratio=(rate / (len(x_test) / (ls["batch_ns"] / 1e9))) if ls else None,
            single_ratio=(e["single_ns"] / ls["single_ns"]) if ls else None,
            exact_pct=e["exact_pct"], batch_ns_rounds=e["batch"], single_ns_rounds=e["single"]))
    order = {m["name"]: i for i, m in enumerate(models)}
    sys_order = {s: i for i, (s, _) in enumerate(SYSTEMS)}
    results.sort(key=lambda r: (order[r["model"]], sys_order[r["system"]]))
    write_report(out_dir, results, info, args)
    print((out_dir / "results.md").read_text())
    if args.device:
        write_device_report(out_dir, device_side(models, x_test, tools), info)
        print((out_dir / "device.md").read_text())


if __name__ == "__main__":
    main()
