#!/usr/bin/env python3
"""Row 10, timed from outside: 10-remote-cmd-framed's client running `true` 500 times over one
connection, from the client's process start to its exit, against

- a shell loop that starts `sh -c true` 500 times (the least a command can cost), and
- a minimal Rust remote shell (min_shell.rs, compiled here with rustc -O) answering the same
  client (the least a command sent over the network costs), and
- a Rust loop starting `sh -c true` 500 times with no network (spawn_loop.rs, compiled the same
  way): what starting a process from Rust costs, against the shell loop's fork,

interleaved. Besides wall time it prints CPU time per command, from wait4's rusage (server,
its shells and the client together; for the loop, the loop and its shells).

    cargo build --release && python3 benches/outside/remote.py [--runs 5]

Each server is started before its client run (its start is not in the wall time) and killed
after it.
"""

import os
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import COMMAND_LIMIT, Server, binary, row, runs_from_argv, scratch  # noqa: E402

COMMANDS = 500
HERE = os.path.dirname(os.path.abspath(__file__))


def cpu_of(rusage):
    return rusage.ru_utime + rusage.ru_stime


def run(argv):
    """Runs `argv` to its end: (wall seconds, CPU seconds of it and its waited-for children)."""
    began = time.perf_counter()
    child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    deadline = began + COMMAND_LIMIT
    while True:
        pid, status, rusage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            child.kill()
            sys.exit(f"{argv[:2]} did not finish in time")
        time.sleep(0.0005)
    took = time.perf_counter() - began
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        sys.exit(f"{argv[:2]} failed ({child.returncode})")
    return took, cpu_of(rusage)


def remote(server_argv, client, folder):
    """One run over the network: (wall seconds of the client, CPU seconds of server + client)."""
    server = Server(server_argv, folder)
    try:
        took, client_cpu = run([client, "client", "--port", str(server.port)] + ["true"] * COMMANDS)
    finally:
        server.process.kill()
        _, _, rusage = os.wait4(server.process.pid, 0)
        server.process.returncode = -9
        server.log.close()
    return took, client_cpu + cpu_of(rusage)


def main():
    runs = runs_from_argv()
    lesson = binary("10-remote-cmd-framed")
    loop = f"i=0; while [ $i -lt {COMMANDS} ]; do sh -c true; i=$((i+1)); done"
    wall = {"socklab": [], "minimal": [], "loop": [], "rust_loop": []}
    cpu = {name: [] for name in wall}
    print(f"10-remote-cmd-framed, {COMMANDS} commands `true` on one connection, {runs} runs:",
          flush=True)
    with scratch() as folder:
        min_shell = os.path.join(folder, "min_shell")
        spawn_loop = os.path.join(folder, "spawn_loop")
        for program in (min_shell, spawn_loop):
            subprocess.run([shutil.which("rustc") or "rustc", "-O", "--edition", "2021", "-o",
                            program, os.path.join(HERE, os.path.basename(program) + ".rs")],
                           check=True, timeout=COMMAND_LIMIT)
        for _ in range(runs):
            for name, argv in (("socklab", [lesson, "server", "--port", "0"]),
                               ("minimal", [min_shell])):
                took, used = remote(argv, lesson, folder)
                wall[name].append(took * 1e6 / COMMANDS)
                cpu[name].append(used * 1e6 / COMMANDS)
            for name, argv in (("loop", ["sh", "-c", loop]), ("rust_loop", [spawn_loop])):
                took, used = run(argv)
                wall[name].append(took * 1e6 / COMMANDS)
                cpu[name].append(used * 1e6 / COMMANDS)
    what = f"10 remote command `true`, {COMMANDS} on one connection (whole client command)"
    row(what, "µs each", 0, wall["socklab"], "sh loop spawning `sh -c true`", wall["loop"],
        "<= 1.1x")
    row(what, "µs each", 0, wall["socklab"], "minimal Rust remote shell", wall["minimal"],
        "<= 1.05x")
    row(what, "µs each", 0, wall["socklab"], "Rust loop spawning `sh -c true`, no network",
        wall["rust_loop"], "(the network's share)")
    what = "10 remote command `true`, CPU time (server, shells, client)"
    row(what, "µs each", 0, cpu["socklab"], "sh loop (the loop and its shells)", cpu["loop"],
        "(the work)")
    row(what, "µs each", 0, cpu["socklab"], "minimal Rust remote shell", cpu["minimal"],
        "(the work)")
    row(what, "µs each", 0, cpu["socklab"], "Rust loop spawning `sh -c true`, no network",
        cpu["rust_loop"], "(the work)")
    s, m, r, l = (statistics.median(wall[n]) for n in ("socklab", "minimal", "rust_loop", "loop"))
    def part(d):
        return f"{d:.0f} µs" if d >= 0 else f"none measurable ({d:.0f} µs)"
    print(f"- where a command's {s:.0f} µs go (medians): starting `sh -c true` from a Rust loop "
          f"{r:.0f} µs (the shell loop's fork: {l:.0f}); the network round trip and the hand-offs "
          f"{part(m - r)}; socklab's own work on top {part(s - m)}")


if __name__ == "__main__":
    main()
