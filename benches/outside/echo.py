#!/usr/bin/env python3
"""Row 11, timed from outside: 100 clients x 2000 requests of 16 bytes against lesson 11's
server (its log on, to a file, and with `--quiet`: no line per message), a minimal Rust echo (min_echo.rs, compiled here with rustc -O)
and the tutorial's Python ThreadingTCPServer, interleaved. The load is `11-threaded-echo bench`,
timed as a whole command from process start to exit (its 100 connects included): requests per
second = 200000 / that time. Each run starts with a different server, so none always goes first;
Python's server, whose rate varies by a third from one start to the next, is started three times
per run and the middle one kept.
The p99 latency is the load generator's own figure (the one timing that comes from inside).

It also prints the CPU time the server and the load generator each used (from wait4's rusage):
on a 2-core machine they share the cores, so the load generator's own cost caps what any
server can show.

    cargo build --release && python3 benches/outside/echo.py [--runs 5]
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (  # noqa: E402
    COMMAND_LIMIT, PYTHON_ECHO, Server, binary, row, runs_from_argv, scratch,
)

CLIENTS = 100
REQUESTS = 2000
HERE = os.path.dirname(os.path.abspath(__file__))


def cpu_of(rusage):
    return rusage.ru_utime + rusage.ru_stime


def load(lesson, port):
    """Runs the load generator to its end: (seconds, its CPU seconds, its p99 in ms)."""
    argv = [lesson, "bench", "--port", str(port), "--clients", str(CLIENTS),
            "--requests", str(REQUESTS)]
    began = time.perf_counter()
    report = tempfile.TemporaryFile()
    child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=report)
    deadline = began + COMMAND_LIMIT
    while True:
        pid, status, rusage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            child.kill()
            sys.exit("the load generator did not finish in time")
        time.sleep(0.0005)
    took = time.perf_counter() - began
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        sys.exit(f"the load generator failed ({child.returncode})")
    report.seek(0)
    p99 = re.search(rb"p99 ([0-9.]+) ms", report.read())
    if not p99:
        sys.exit("the load generator printed no p99 latency")
    return took, cpu_of(rusage), float(p99.group(1))


def measure(lesson, argv, folder, logs_messages):
    """Starts the server, runs the load against it and stops it: (seconds, the load generator's
    CPU seconds, its p99 in ms, the server's CPU seconds)."""
    server = Server(argv, folder)
    try:
        took, load_cpu, latency = load(lesson, server.port)
        if logs_messages:
            wait_for_log(server, CLIENTS * REQUESTS)
    finally:
        server_cpu = stop_with_cpu(server)
    return took, load_cpu, latency, server_cpu


def stop_with_cpu(server):
    """Kills the server; returns the CPU seconds it used in all."""
    server.process.send_signal(signal.SIGKILL)
    _, _, rusage = os.wait4(server.process.pid, 0)
    server.process.returncode = -9
    server.log.close()
    return cpu_of(rusage)


def main():
    runs = runs_from_argv()
    lesson = binary("11-threaded-echo")
    rustc = shutil.which("rustc")
    python = shutil.which("python3") or sys.executable
    rate = {"socklab": [], "quiet": [], "rust": [], "python": []}
    p99 = {name: [] for name in rate}
    cores = {name: ([], []) for name in rate}
    print(f"11-threaded-echo, {CLIENTS} clients x {REQUESTS} requests of 16 bytes, {runs} runs:",
          flush=True)
    with scratch() as folder:
        min_echo = os.path.join(folder, "min_echo")
        subprocess.run([rustc or "rustc", "-O", "--edition", "2021", "-o", min_echo,
                        os.path.join(HERE, "min_echo.rs")], check=True, timeout=COMMAND_LIMIT)
        servers = {
            "socklab": [lesson, "server", "--port", "0", "--max-clients", "1000"],
            "quiet": [lesson, "server", "--port", "0", "--max-clients", "1000", "--quiet"],
            "rust": [min_echo],
            "python": [python, PYTHON_ECHO],
        }
        names = list(servers)
        for run in range(runs):
            turn = run % len(names)
            for name in names[turn:] + names[:turn]:
                # Python's server (100 threads, one global lock) varies by a third from one
                # start to the next: a run keeps the middle of three starts of it.
                tries = sorted((measure(lesson, servers[name], folder, name == "socklab")
                                for _ in range(3 if name == "python" else 1)),
                               key=lambda m: m[0])
                took, load_cpu, latency, server_cpu = tries[len(tries) // 2]
                rate[name].append(CLIENTS * REQUESTS / took)
                p99[name].append(latency)
                cores[name][0].append(server_cpu / took)
                cores[name][1].append(load_cpu / took)
    goal = ">= 0.95x"
    row("11 echo, 100 clients, 16 B, server log on (whole load command)", "req/s", 0,
        rate["socklab"], "minimal Rust echo", rate["rust"], goal)
    row("11 echo, 100 clients, 16 B, server log on (whole load command)", "req/s", 0,
        rate["socklab"], "socklab --quiet (no line per message)", rate["quiet"],
        "(the log's cost)")
    row("11 echo, 100 clients, 16 B, --quiet (whole load command)", "req/s", 0,
        rate["quiet"], "minimal Rust echo", rate["rust"], "(without the log)")
    row("11 echo p99 latency", "ms", 2, p99["socklab"], "minimal Rust echo", p99["rust"],
        "<= 1.3x")
    row("11 echo, 100 clients, 16 B (whole load command)", "req/s", 0,
        rate["socklab"], "Python ThreadingTCPServer", rate["python"], ">= 3.5x")
    row("11 echo p99 latency", "ms", 2, p99["socklab"], "Python ThreadingTCPServer",
        p99["python"], "(lower is better)")
    for name, (server, generator) in cores.items():
        print(f"- cores used during the run, {name}: server {median(server):.2f}, "
              f"load generator {median(generator):.2f}")


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def wait_for_log(server, expected):
    """The log is part of the job: every request's `received` line must be written."""
    deadline = time.monotonic() + 10
    while True:
        logged = server.log_text().count("received")
        if logged >= expected:
            return
        if time.monotonic() > deadline:
            sys.exit(f"the socklab server logged {logged} of {expected} requests")
        time.sleep(0.05)


if __name__ == "__main__":
    main()
