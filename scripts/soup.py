#!/usr/bin/env python3
"""Generates SOUP.md, the list of software of unknown provenance (IEC 62304) that Lockstep uses.

Reads `cargo metadata` (which resolves Cargo.lock) for the host workspace and for firmware-demo's
own workspace, and lists every third-party crate with its exact version and licence, what it is
for (a curated line for each crate we depend on directly; transitive crates name the direct
dependencies that pull them in) and where it runs:

  device            linked into the firmware (engine, protocol, seal and firmware-demo's tree)
  host: CLI         linked into the `lockstep` command (lockstep-host and what it uses)
  host: build time  proc-macros and build scripts (they run in the compiler, not in a binary)
  host: tests only  test, bench and dev-only crates (never in a shipped binary)

Usage: scripts/soup.py            rewrite SOUP.md
       scripts/soup.py --check    exit 1 (and say what differs) when SOUP.md is not up to date

Standard library only. A direct dependency with no curated purpose below is an error: describe it
here when adding it.
"""

import argparse
import difflib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "SOUP.md"

# The platforms the dependency graphs are resolved for: Lockstep's host tools are built and
# tested on x86-64 Linux; every firmware target (thumbv6m, thumbv7em, thumbv8m.main) has the same
# dependency tree, so one stands for all.
HOST_PLATFORM = "x86_64-unknown-linux-gnu"
DEVICE_PLATFORM = "thumbv7em-none-eabihf"

# What each direct dependency is for, in one line. Keyed by crate name.
PURPOSE = {
    # engine and protocol (on the device and in the host tools)
    "postcard": "compact serde encoding of the model body (engine format)",
    "serde": "derive-based (de)serialisation of the model format and of host-side files",
    "sha2": "SHA-256 of the model bytes, verified at every load",
    "getrandom": "the operating system's random source, for new signing keys (lockstep keygen)",
    "ed25519-dalek": "Ed25519 signature check of a sealed model (lockstep-seal), before the first score",
    "defmt": "deferred-formatting logging on the device (engine's `defmt` feature, firmware log)",
    # firmware-demo
    "cortex-m": "Cortex-M core peripherals and critical sections",
    "cortex-m-rt": "Cortex-M startup code, vector table and linker script",
    "cortex-m-semihosting": "semihosting calls (parity files, exit codes) under QEMU",
    "defmt-semihosting": "defmt log transport over semihosting",
    "embedded-io": "byte read/write traits for the bedside demo's UART",
    # host tools (the `lockstep` command)
    "serde_json": "JSON reading/writing: XGBoost models, reports, training records",
    "clap": "command-line argument parsing of `lockstep`",
    "anyhow": "error context in the `lockstep` binary",
    "thiserror": "typed library errors in lockstep-host",
    "csv": "CSV reading (cohorts, predict input) and writing (scores)",
    "indicatif": "progress bars for long commands",
    "rayon": "data-parallel training and validation",
    "toml": "schema, training-config and validation-plan files",
    # tests, benches
    "tempfile": "temporary directories in tests",
    "proptest": "property-based tests",
    "criterion": "benchmark harness",
}

WHERE_ORDER = ["device", "host: CLI", "host: build time", "host: tests only"]
WHERE_TITLE = {
    "device": "On the device (firmware-demo: engine, protocol, seal, firmware)",
    "host: CLI": "On the host: the `lockstep` command",
    "host: build time": "On the host: build time only (proc-macros, build scripts)",
    "host: tests only": "On the host: tests and benches only",
}


def tree(manifest_dir: Path, platform: str, edges: str, packages: list) -> list:
    """`cargo tree` lines as (depth, name, version, licence, ours, proc_macro), no dedupe."""
    args = ["cargo", "tree", "--locked", "--target", platform, "-e", edges,
            "--prefix", "depth", "--no-dedupe", "-f", "{p}|{l}"]
    for package in packages:
        args += ["--workspace"] if package == "--workspace" else ["-p", package]
    out = subprocess.run(args, cwd=manifest_dir, check=True, capture_output=True, text=True).stdout
    lines = []
    for line in out.splitlines():
        if "|" not in line:
            continue
        head, licence = line.split("|", 1)
        digits = len(head) - len(head.lstrip("0123456789"))
        depth = int(head[:digits])
        fields = head[digits:].split(" ")
        name, version = fields[0], fields[1].lstrip("v")
        rest = " ".join(fields[2:])
        ours = "(/" in rest  # a path dependency: one of Lockstep's own crates
        lines.append((depth, name, version, licence, ours, "(proc-macro)" in rest))
    return lines


def reached(lines: list) -> dict:
    """Maps each third-party (name, version) to (licence, set of the direct dependencies it comes
    through, None among them when it is a direct dependency itself)."""
    found = {}
    stack = []  # (name, ours) of the ancestors of the current line
    for depth, name, version, licence, ours, _ in lines:
        del stack[depth:]
        if not ours:
            # The first third-party crate on the path from our crates; None: this one is direct.
            via = next((ancestor for ancestor, ancestor_ours in stack if not ancestor_ours), None)
            found.setdefault((name, version), (licence, set()))[1].add(via)
        stack.append((name, ours))
    return found


def classify(manifest_dir: Path, platform: str, runtime: list, runtime_where: str,
             all_roots: list) -> dict:
    """(name, version) -> (where, licence, vias): runtime (normal edges, no proc-macros) first,
    then build time (normal and build edges of the same roots), then tests only (everything)."""
    classes = [
        (runtime_where, tree(manifest_dir, platform, "normal,no-proc-macro", runtime)),
        ("host: build time", tree(manifest_dir, platform, "normal,build", runtime)),
        ("host: tests only", tree(manifest_dir, platform, "normal,build,dev", all_roots)),
    ]
    result = {}
    for where, lines in classes:
        for key, (licence, vias) in reached(lines).items():
            if key not in result:
                result[key] = (where, licence, vias)
    return result


def rows(classified: dict) -> list:
    out = []
    for (name, version), (where, licence, vias) in classified.items():
        if None in vias:
            if name not in PURPOSE:
                sys.exit(f"soup.py: direct dependency `{name}` has no purpose: add it to PURPOSE")
            purpose = PURPOSE[name]
        else:
            purpose = "transitive, via " + ", ".join(sorted(vias))
        out.append((where, name, version, licence, purpose))
    return out


def render(all_rows: list) -> str:
    lines = [
        "# SOUP: third-party software in Lockstep",
        "",
        "Software of unknown provenance (IEC 62304, 8.1.2): every third-party crate Lockstep",
        "builds with, at the exact version Cargo.lock pins, its licence, what it is for and where",
        "it runs. Generated by `scripts/soup.py` from `cargo metadata` of both workspaces (the host",
        f"workspace resolved for {HOST_PLATFORM}, firmware-demo for {DEVICE_PLATFORM}, the same",
        "tree as every Cortex-M target); do not edit by hand, CI checks it is up to date",
        "(`scripts/soup.py --check`). Lockstep's own crates (lockstep-engine, lockstep-protocol,",
        "lockstep-seal, lockstep-host, firmware-demo) are not SOUP and are not listed. The fuzz crate (fuzz/,",
        "libfuzzer-sys) is a test tool outside both workspaces and is not listed either.",
        "",
    ]
    for where in WHERE_ORDER:
        # A crate in both workspaces' build (a proc-macro, say) is one row naming every parent.
        merged = {}
        for w, name, version, licence, purpose in all_rows:
            if w == where:
                merged.setdefault((name, version, licence), []).append(purpose)
        section = []
        for (name, version, licence), purposes in sorted(merged.items()):
            vias = sorted({v for p in purposes if p.startswith("transitive")
                           for v in p.removeprefix("transitive, via ").split(", ")})
            direct = [p for p in purposes if not p.startswith("transitive")]
            purpose = direct[0] if direct else "transitive, via " + ", ".join(f"`{v}`" for v in vias)
            section.append((where, name, version, licence, purpose))
        if not section:
            continue
        lines.append(f"## {WHERE_TITLE[where]} ({len(section)} crates)")
        lines.append("")
        lines.append("| crate | version | licence | purpose |")
        lines.append("| --- | --- | --- | --- |")
        for _, name, version, licence, purpose in section:
            lines.append(f"| {name} | {version} | {licence} | {purpose} |")
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when SOUP.md differs from what would be generated")
    args = parser.parse_args()

    host = classify(ROOT, HOST_PLATFORM, ["lockstep-host"], "host: CLI", ["--workspace"])
    device = classify(ROOT / "firmware-demo", DEVICE_PLATFORM, ["lockstep-firmware-demo"],
                      "device", ["lockstep-firmware-demo"])
    text = render(rows(device) + rows(host))

    if args.check:
        current = OUT.read_text() if OUT.exists() else ""
        if current != text:
            diff = difflib.unified_diff(current.splitlines(), text.splitlines(),
                                        "SOUP.md (committed)", "SOUP.md (generated)", lineterm="")
            print("\n".join(diff))
            print("SOUP.md is out of date: run scripts/soup.py and commit the result", file=sys.stderr)
            return 1
        print("SOUP.md is up to date")
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
