#!/usr/bin/env python3
"""A second harness for the file rows of socklab's benchmark (issue 19), written outside it.

It times whole commands, as a user runs them, with nothing of the project's benchmark code:
`14-ftp client ... -c "get NAME LOCAL"` from start to exit (login, transfer, final fsync and
rename included), a fresh output file each run, put and get in both orders, against the two
limits of a verified, durable transfer on this machine: `md5sum` of the same file (one core's
MD5) and `dd bs=1M conv=fsync` (the disk's durable write). Every timed command starts after a `sync` (untimed), so none
pays for the dirty pages another left behind; every file a run writes has a fresh name and stays
until the run is over, and the next run starts 10 s after they are deleted, so that no write
lands on memory freed a moment before (README.md, "Files"). 13-file-upload is timed
against the tutorial's Python client and server (benches/socklab/python/upload_*.py), which
neither hash nor fsync.

Build first (`cargo build --release`), then, from the repository's root:

    python3 benches/outside/files.py [--size 1G] [--runs 5] [--dir /tmp] [--only ftp|upload]

It prints median (min-max) in MB/s for every variant and each transfer's ratio to the limit,
as rows named like the benchmark's (`agree.py` compares the two).
Everything runs on 127.0.0.1 with port 0, in a temporary folder removed at the end.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import row  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PASSWORD = "outside-password"
LIMIT_S = 600
SETTLE_S = 10


def parse_size(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    if text[-1:].upper() in units:
        return int(text[:-1]) * units[text[-1:].upper()]
    return int(text)


def sync():
    subprocess.run(["sync"], check=True)


def timed(argv, stdin=None):
    """Seconds the whole command took, after an untimed sync."""
    sync()
    began = time.perf_counter()
    done = subprocess.run(argv, input=stdin, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, timeout=LIMIT_S)
    took = time.perf_counter() - began
    if done.returncode != 0:
        sys.exit("failed: %s: %s" % (" ".join(argv), done.stderr.decode(errors="replace")))
    return took


class Server:
    """A server whose stdout says `listening on HOST:PORT`; killed at the end."""

    def __init__(self, argv, log):
        self.log = log
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=open(log, "wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with open(log, errors="replace") as f:
                found = re.search(r"listening on [^\s:]+:(\d+)", f.read())
            if found:
                self.port = found.group(1)
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        sys.exit("server did not start: %s" % " ".join(argv))

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class Samples:
    def __init__(self):
        self.values = []

    def add(self, size, seconds):
        self.values.append(size / seconds / 1e6)

    def median(self):
        return statistics.median(self.values)

    def show(self):
        return "%.0f (%.0f-%.0f)" % (self.median(), min(self.values), max(self.values))


def settle():
    """After deleting files: sync, then give the machine SETTLE_S to take the freed memory back."""
    sync()
    time.sleep(SETTLE_S)


def generate(path, size):
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, 1 << 20)
            f.write(os.urandom(n))
            left -= n
        f.flush()
        os.fsync(f.fileno())
    subprocess.run(["md5sum", path], stdout=subprocess.DEVNULL, check=True)  # into the cache


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="1G", type=parse_size)
    parser.add_argument("--runs", default=5, type=int)
    parser.add_argument("--dir", default=tempfile.gettempdir())
    parser.add_argument("--bin-dir", default=os.path.join(ROOT, "target", "release"))
    parser.add_argument("--only", action="append", choices=["ftp", "upload"])
    args = parser.parse_args()
    groups = args.only or ["ftp", "upload"]
    size = args.size
    ftp_bin = os.path.join(args.bin_dir, "14-ftp")
    upload_bin = os.path.join(args.bin_dir, "13-file-upload")
    python_dir = os.path.join(ROOT, "benches", "socklab", "python")

    work = tempfile.mkdtemp(prefix="socklab-outside-", dir=args.dir)
    servers = []
    try:
        source = os.path.join(work, "big.bin")
        generate(source, size)
        out = os.path.join(work, "out")
        os.mkdir(out)
        s = {name: Samples() for name in
             ["md5sum", "dd", "limit", "ftp_put", "ftp_get", "ftp_get_copied",
              "up_put", "up_get", "py_put", "py_get"]}

        if "ftp" in groups:
            root = os.path.join(work, "ftp-root")
            subprocess.run([ftp_bin, "adduser", "bench", "--iterations", "4096",
                            "--password-stdin", "--root", root, "--quota", str(size * 4 + (1 << 20))],
                           input=(PASSWORD + "\n").encode(), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=True)
            ftp = Server([ftp_bin, "server", "--port", "0", "--root", root],
                         os.path.join(work, "ftp.log"))
            servers.append(ftp)
            home = os.path.join(root, "home", "bench")
        if "upload" in groups:
            upload = Server([upload_bin, "server", "--port", "0", "--dir",
                             os.path.join(work, "uploads")], os.path.join(work, "upload.log"))
            py_dir = os.path.join(work, "py-uploads")
            os.mkdir(py_dir)
            python = Server([sys.executable, os.path.join(python_dir, "upload_server.py"), py_dir],
                            os.path.join(work, "py.log"))
            servers += [upload, python]

        def ftp_cmd(command):
            return timed([ftp_bin, "client", "--user", "bench", "--password-stdin",
                          "--no-progress", "--port", ftp.port, "-c", command],
                         stdin=(PASSWORD + "\n").encode())

        puts = os.path.join(work, "puts")
        os.mkdir(puts)
        client = os.path.join(python_dir, "upload_client.py")
        # The file every get reads, stored once, untimed.
        if "ftp" in groups:
            ftp_cmd("put %s big.bin" % source)
        if "upload" in groups:
            timed([upload_bin, "client", "put", "--no-progress", "--port", upload.port, source])
            timed([sys.executable, client, python.port, "put", source])
        settle()

        for run in range(args.runs):
            # Every file of a run has a fresh name and is deleted only after the run, followed
            # by a pause: a file deleted just before a write hands it memory the machine has
            # not yet given back to its host, and that write runs several times faster.
            written = []

            def fresh(folder, name):
                written.append(os.path.join(folder, name))
                return written[-1]

            md5 = timed(["md5sum", source])
            dd = timed(["dd", "if=" + source, "of=" + fresh(out, "dd-%d.bin" % run), "bs=1M",
                        "conv=fsync"])
            s["md5sum"].add(size, md5)
            s["dd"].add(size, dd)
            s["limit"].add(size, max(md5, dd))
            put_name = "put-%d.bin" % run
            put_source = fresh(puts, put_name)
            os.link(source, put_source)  # the same bytes under a fresh name: no put replaces
            if "ftp" in groups:
                got = fresh(out, "ftp-%d.bin" % run)
                written.append(os.path.join(home, put_name))
                put = lambda: s["ftp_put"].add(size, ftp_cmd("put %s %s" % (put_source, put_name)))
                get = lambda: s["ftp_get"].add(size, ftp_cmd("get big.bin %s" % got))
                for step in ([put, get] if run % 2 == 0 else [get, put]):
                    step()
                # A file the server did not receive itself: no recorded md5.
                copied = "copied-%d.bin" % run
                shutil.copyfile(source, fresh(home, copied))
                subprocess.run(["md5sum", os.path.join(home, copied)],
                               stdout=subprocess.DEVNULL, check=True)
                got = fresh(out, "ftp-copied-%d.bin" % run)
                s["ftp_get_copied"].add(size, ftp_cmd("get %s %s" % (copied, got)))
            if "upload" in groups:
                written.append(os.path.join(work, "uploads", put_name))
                s["up_put"].add(size, timed([upload_bin, "client", "put", "--no-progress",
                                             "--port", upload.port, put_source]))
                got = fresh(out, "upload-%d.bin" % run)
                s["up_get"].add(size, timed([upload_bin, "client", "get", "big.bin",
                                             "--no-progress", "--port", upload.port,
                                             "--out", got]))
                written.append(os.path.join(py_dir, put_name))
                s["py_put"].add(size, timed([sys.executable, client, python.port, "put",
                                             put_source]))
                got = fresh(out, "py-%d.bin" % run)
                s["py_get"].add(size, timed([sys.executable, client, python.port, "get",
                                             "big.bin", got]))
            for path in written:
                if os.path.exists(path):
                    os.remove(path)
            settle()
        sync()

        limit = s["limit"].median()
        mib = size >> 20
        print("outside harness: %d MiB, %d runs, whole commands, MB/s median (min-max)"
              % (mib, args.runs))
        # The rows in the benchmark's own words and format, so that benches/outside/agree.py
        # can set each beside the benchmark's row of the same name.
        row("durable write, %d MiB (dd conv=fsync)" % mib, "MB/s", 0, s["dd"].values,
            "md5sum", s["md5sum"].values, "(limit)")
        rows = [("14-ftp get, %d MiB, verified, durable", "ftp_get"),
                ("14-ftp put, %d MiB, verified, durable", "ftp_put"),
                ("14-ftp get, %d MiB, file copied in (no recorded md5)", "ftp_get_copied")]
        for what, key in rows:
            if s[key].values:
                row(what % mib, "MB/s", 0, s[key].values, "limit", s["limit"].values, ">= 0.85x")
        rows = [("13-file-upload put, %d MiB, verified, durable", "up_put", "py_put"),
                ("13-file-upload get, %d MiB, verified, durable", "up_get", "py_get")]
        for what, key, python in rows:
            if s[key].values:
                row(what % mib, "MB/s", 0, s[key].values, "tutorial's Python", s[python].values,
                    ">= 1.2x")
                row(what % mib, "MB/s", 0, s[key].values, "limit", s["limit"].values, ">= 0.85x")
        slower = "the disk" if s["dd"].median() < s["md5sum"].median() else "MD5"
        print("- the limit of a verified, durable transfer: %.0f MB/s, set by %s" % (limit, slower))
        if s["up_put"].values:
            print("- 13 put reaches %.2fx and get %.2fx of the limit; the tutorial's Python "
                  "neither hashes nor syncs" % (s["up_put"].median() / limit,
                                                s["up_get"].median() / limit))
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
