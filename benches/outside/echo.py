#!/usr/bin/env python3
"""Row 11, timed from outside: 100 clients x 500 requests of 16 bytes against lesson 11's
server (its log on, to a file), a minimal Rust echo (min_echo.rs, compiled here with rustc -O)
and the tutorial's Python ThreadingTCPServer, interleaved. The load is `11-threaded-echo bench`,
timed as a whole command from process start to exit (its 100 connects included): requests per
second = 50000 / that time.

It also prints the CPU time the server and the load generator each used (from wait4's rusage):
on a 2-core machine they share the cores, so the load generator's own cost caps what any
server can show.

    cargo build --release && python3 benches/outside/echo.py [--runs 5]
"""

import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (  # noqa: E402
    COMMAND_LIMIT, PYTHON_ECHO, Server, binary, row, runs_from_argv, scratch,
)

CLIENTS = 100
REQUESTS = 500
HERE = os.path.dirname(os.path.abspath(__file__))


def cpu_of(rusage):
    return rusage.ru_utime + rusage.ru_stime


def load(lesson, port):
    """Runs the load generator to its end: (seconds, its CPU seconds)."""
    argv = [lesson, "bench", "--port", str(port), "--clients", str(CLIENTS),
            "--requests", str(REQUESTS)]
    began = time.perf_counter()
    child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
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
    return took, cpu_of(rusage)


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
    rate = {"socklab": [], "rust": [], "python": []}
    cores = {name: ([], []) for name in rate}
    print(f"11-threaded-echo, {CLIENTS} clients x {REQUESTS} requests of 16 bytes, {runs} runs:",
          flush=True)
    with scratch() as folder:
        min_echo = os.path.join(folder, "min_echo")
        subprocess.run([rustc or "rustc", "-O", "--edition", "2021", "-o", min_echo,
                        os.path.join(HERE, "min_echo.rs")], check=True, timeout=COMMAND_LIMIT)
        servers = {
            "socklab": [lesson, "server", "--port", "0", "--max-clients", "1000"],
            "rust": [min_echo],
            "python": [python, PYTHON_ECHO],
        }
        for _ in range(runs):
            for name, argv in servers.items():
                server = Server(argv, folder)
                try:
                    took, load_cpu = load(lesson, server.port)
                    if name == "socklab":
                        wait_for_log(server, CLIENTS * REQUESTS)
                finally:
                    server_cpu = stop_with_cpu(server)
                rate[name].append(CLIENTS * REQUESTS / took)
                cores[name][0].append(server_cpu / took)
                cores[name][1].append(load_cpu / took)
    goal = ">= 0.95x"
    row("11 echo, 100 clients, 16 B, server log on (whole load command)", "req/s", 0,
        rate["socklab"], "minimal Rust echo", rate["rust"], goal)
    row("11 echo, 100 clients, 16 B (whole load command)", "req/s", 0,
        rate["socklab"], "Python ThreadingTCPServer", rate["python"], ">= 3.5x")
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
