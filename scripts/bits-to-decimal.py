#!/usr/bin/env python3
"""Turns a fixture's rows of f32 bit patterns (8 hex digits a cell, as the framework fixtures
store inputs) into the decimal CSV a user has: NaN becomes an empty cell, every other value the
shortest decimal that reads back to the same f64 (and so to the same f32).

    scripts/bits-to-decimal.py IN.inputs.csv OUT.csv
"""
import struct
import sys


def main(src: str, dst: str) -> None:
    with open(src) as f, open(dst, "w") as g:
        g.write(f.readline())
        for line in f:
            cells = line.strip().split(",")
            values = [struct.unpack("<f", struct.pack("<I", int(c, 16)))[0] for c in cells]
            g.write(",".join("" if v != v else repr(v) for v in values) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
