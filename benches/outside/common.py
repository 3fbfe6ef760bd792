"""What the outside harness's scripts share: finding the release binaries, starting a server
and reading its port, timing a whole command, and printing a row.

Nothing here comes from socklab's benchmark (benches/socklab): the point of this harness is to
time the same jobs a second way, as a user would, from process start to process exit.
"""

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RELEASE = os.path.join(ROOT, "target", "release")
PYTHON_ECHO = os.path.join(ROOT, "benches", "socklab", "python", "threading_echo.py")

# Every wait has a limit.
START_LIMIT = 20.0
COMMAND_LIMIT = 300.0


def binary(name):
    """A lesson binary of the release build (`cargo build --release` first)."""
    path = os.path.join(RELEASE, name)
    if not os.path.exists(path):
        sys.exit(f"{path} not found: run `cargo build --release` first")
    return path


class Server:
    """A server process with its stdout in a file; its `listening on HOST:PORT` line gives the
    port. Killed on exit from the `with` block."""

    def __init__(self, argv, folder):
        self.log_path = os.path.join(folder, "server-%d.log" % time.monotonic_ns())
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.DEVNULL
        )
        self.port = None
        deadline = time.monotonic() + START_LIMIT
        while self.port is None:
            with open(self.log_path, "rb") as f:
                found = re.search(rb"listening on [^\s:]+:(\d+)", f.read())
            if found:
                self.port = int(found.group(1))
            elif self.process.poll() is not None:
                sys.exit(f"{argv} exited before listening")
            elif time.monotonic() > deadline:
                self.stop()
                sys.exit(f"{argv} did not listen within {START_LIMIT} s")
            else:
                time.sleep(0.02)

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        self.process.kill()
        self.process.wait(timeout=START_LIMIT)
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def time_command(argv, capture=False):
    """Runs `argv` to its end; returns (seconds from start to exit, its stdout or None)."""
    began = time.perf_counter()
    done = subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=COMMAND_LIMIT,
    )
    took = time.perf_counter() - began
    if done.returncode != 0:
        sys.exit(f"{argv[:3]}... failed ({done.returncode}): {done.stderr.decode(errors='replace').strip()}")
    return took, (done.stdout.decode() if capture else None)


def show(values, digits):
    """`857 (820-901)`: median (min-max)."""
    values = sorted(values)
    return "%.*f (%.*f-%.*f)" % (
        digits, statistics.median(values), digits, values[0], digits, values[-1]
    )


def ratio(socklab, reference):
    """The median of the runs' own ratios (socklab over the reference it ran beside), so that a
    machine getting slower or faster between runs moves both sides of each ratio together; the
    ratio of the medians when the two were not measured run by run (different counts)."""
    if socklab and len(socklab) == len(reference):
        return statistics.median(s / r for s, r in zip(socklab, reference))
    return statistics.median(socklab) / statistics.median(reference)


def row(what, unit, digits, socklab, reference_name, reference, goal):
    """One line: socklab's median (min-max), the reference's, and `ratio`."""
    ratio_of_runs = ratio(socklab, reference)
    print(
        f"| {what} | {unit} | {show(socklab, digits)} | {reference_name} "
        f"{show(reference, digits)} | {ratio_of_runs:.2f}x | {goal} |",
        flush=True,
    )


def runs_from_argv(default=5):
    """`--runs N` (the only flag the scripts take)."""
    if "--runs" in sys.argv:
        try:
            return max(1, int(sys.argv[sys.argv.index("--runs") + 1]))
        except (IndexError, ValueError):
            sys.exit("--runs needs a number")
    return default


def scratch():
    """A temporary folder, removed at the end."""
    return tempfile.TemporaryDirectory(prefix="socklab-outside-")
