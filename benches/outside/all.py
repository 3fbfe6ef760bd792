#!/usr/bin/env python3
"""The whole outside harness in one command: files.py, remote.py and echo.py one after another,
their output printed and, with `--save FILE`, written to FILE under a line naming the machine
and the time (transcripts/bench-outside.txt is written this way; `agree.py` reads it).

    cargo build --release
    python3 benches/outside/all.py [--runs 5] [--size 1G] [--save transcripts/bench-outside.txt]

About twelve minutes with the defaults on a 2-core machine.
"""

import argparse
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LIMIT_S = 1800


def machine():
    """`AMD EPYC, 2 cores, Linux 6.18`: what the figures were measured on."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    model = " ".join(line.split(":", 1)[1].split()[:2])
                    break
    except OSError:
        pass
    release = ".".join(platform.release().split(".")[:2])
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {release}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", default="5")
    parser.add_argument("--size", default="1G")
    parser.add_argument("--save", metavar="FILE")
    args = parser.parse_args()
    scripts = [
        ["files.py", "--size", args.size, "--runs", args.runs],
        ["remote.py", "--runs", args.runs],
        ["echo.py", "--runs", args.runs],
    ]
    text = [
        f"outside harness (benches/outside): {machine()}",
        "date: " + time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        f"command: python3 benches/outside/all.py --runs {args.runs} --size {args.size}",
    ]
    print("\n".join(text), flush=True)
    for argv in scripts:
        print(flush=True)
        text.append("")
        done = subprocess.run([sys.executable, os.path.join(HERE, argv[0])] + argv[1:],
                              stdout=subprocess.PIPE, timeout=LIMIT_S)
        output = done.stdout.decode("utf-8", "replace").rstrip("\n")
        print(output, flush=True)
        text.append(output)
        if done.returncode != 0:
            sys.exit(f"{argv[0]} failed ({done.returncode})")
    if args.save:
        with open(args.save, "w", encoding="utf-8") as f:
            f.write("\n".join(text) + "\n")
        print(f"\nsaved to {args.save}")


if __name__ == "__main__":
    main()
