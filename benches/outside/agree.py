#!/usr/bin/env python3
"""Do the two harnesses agree? Sets every row of the benchmark's table (transcripts/bench.txt,
written by `cargo bench --bench socklab -- --save ...`) beside the outside harness's row of the
same name (transcripts/bench-outside.txt, written by `all.py --save ...`) and compares their
ratios: the figure each goal is about, and the one that stays put when the machine's speed
drifts between the two runs (each harness times socklab and its reference side by side, so a
slower minute slows both).

    python3 benches/outside/agree.py [BENCH_FILE OUTSIDE_FILE] [--within 15]

A row agrees when the two ratios differ by at most `--within` percent (15 by default, the
issue's bound). Rows that only one harness measures are listed after the table. The exit status
is 1 when a row measured by both disagrees, 0 otherwise.
"""

import argparse
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# `744 (743-801)` at the end of a reference cell: its median (min-max).
FIGURES = re.compile(r"\s+[0-9.]+ \([0-9.]+-[0-9.]+\)$")
# What the outside harness adds to a row's name to say how it timed it.
HOW_TIMED = re.compile(r"\s+\(whole [^)]*\)$")


def rows(path):
    """{(what, reference): (socklab's median, ratio)} from the table rows of a results file."""
    found = {}
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        sys.exit(f"cannot read {path}: {e.strerror}")
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 6 or not cells[4].endswith("x"):
            continue  # the header, the separator, and every line that is not a row
        what, _unit, socklab, reference, ratio, _goal = cells
        try:
            ratio = float(ratio[:-1])
            median = float(socklab.split(" ")[0])
        except ValueError:
            continue
        key = (HOW_TIMED.sub("", what), FIGURES.sub("", reference))
        found[key] = (median, ratio)
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bench", nargs="?", default=os.path.join(ROOT, "transcripts", "bench.txt"))
    parser.add_argument("outside", nargs="?",
                        default=os.path.join(ROOT, "transcripts", "bench-outside.txt"))
    parser.add_argument("--within", type=float, default=15.0, help="percent (15)")
    args = parser.parse_args()
    bench, outside = rows(args.bench), rows(args.outside)

    print(f"the two harnesses, row by row: a row agrees when the ratios differ by at most "
          f"{args.within:g}%")
    print()
    print("| row | against | benchmark | outside harness | difference | agree? |")
    print("| --- | --- | --- | --- | --- | --- |")
    disagree = 0
    for key, (median, ratio) in bench.items():
        if key not in outside:
            continue
        other_median, other_ratio = outside[key]
        difference = (other_ratio / ratio - 1) * 100 if ratio else float("inf")
        agrees = abs(difference) <= args.within
        disagree += not agrees
        what, reference = key
        print(f"| {what} | {reference} | {ratio:.2f}x ({median:g}) | "
              f"{other_ratio:.2f}x ({other_median:g}) | {difference:+.0f}% | "
              f"{'yes' if agrees else 'NO'} |")
    print()
    both = sum(1 for key in bench if key in outside)
    print(f"{both - disagree} of {both} rows agree (in brackets: socklab's own median, which "
          f"moves with the machine's speed between the two runs)")
    for name, mine, theirs in (("benchmark", bench, outside), ("outside harness", outside, bench)):
        alone = [f"{what} / {reference}" for (what, reference) in mine
                 if (what, reference) not in theirs]
        if alone:
            print(f"measured by the {name} only: " + "; ".join(alone))
    return 1 if disagree else 0


if __name__ == "__main__":
    sys.exit(main())
