#!/usr/bin/env python3
"""Runs one command at a terminal of its own, for tests/walkthrough_examples.rs.

A student types a password at a prompt that does not echo (`14-ftp adduser`, `14-ftp client`,
curl's "Enter host password"), and commands at a shell's prompt (`ftp> `). A program reads those
from its terminal, not from a pipe, so the example runner starts it through this script, which
gives it a pseudo-terminal (Python's `pty` module) as its controlling terminal, standard input
and standard output. Standard error stays the runner's pipe, as in every other example (and so
progress bars, drawn only when stderr is a terminal, stay off, as they do in a log).

    python3 pty_run.py PASSWORD PROMPT COMMAND...

What the program writes to the terminal is copied to our standard output, `\\r\\n` made `\\n`.
Lines arriving on our standard input are typed at the terminal, each at a prompt:

- When the program has turned the terminal's echo off (it is reading a password), PASSWORD is
  typed, once per time echo goes off. The student types it; the document does not show it.
- Otherwise a line is typed when the program is waiting at its prompt: the last thing it
  printed is PROMPT (`ftp> `), with no newline after it. Any partial line will not do: a program
  may write a line in two pieces. With echo on, the terminal echoes the line after the prompt,
  as a student sees it: `ftp> mkdir docs`.
- When our standard input ends and the program waits at a prompt, end of input (Ctrl-D) is typed.

Nothing here is timed: each step waits for the program to say (by its output or its terminal's
mode) that it is ready. The runner bounds the whole run and kills the process group.
"""

import os
import select
import subprocess
import sys
import termios

POLL_S = 0.01


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: pty_run.py PASSWORD PROMPT COMMAND...")
    password = sys.argv[1].encode()
    prompt = sys.argv[2].encode()
    master, slave = os.openpty()
    child = subprocess.Popen(
        sys.argv[3:],
        stdin=slave,
        stdout=slave,
        # A session of its own with the terminal as its controlling terminal (/dev/tty).
        start_new_session=True,
        preexec_fn=lambda: __import__("fcntl").ioctl(0, termios.TIOCSCTTY, 0),
    )
    queued = []  # lines to type, oldest first
    input_open = True
    partial = b""  # the output since the last newline: a prompt, when the program waits
    at_prompt = False  # the program printed its prompt last, and nobody has typed at it yet
    typed_on_line = False  # typed since the last newline: its echo may come in pieces
    typed_password = False  # for the current prompt (echo off)
    newline_since_password = False
    sent_eof = False
    out = sys.stdout.buffer
    while True:
        readable = [master] + ([sys.stdin] if input_open else [])
        ready, _, _ = select.select(readable, [], [], POLL_S)
        if master in ready:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the program and everything it started closed the terminal
                data = b""
            if not data:
                break
            out.write(data.replace(b"\r\n", b"\n"))
            out.flush()
            if b"\n" in data:
                typed_on_line = False
                newline_since_password = True
            partial = (partial + data).rsplit(b"\n", 1)[-1].replace(b"\r", b"")
            if typed_password and newline_since_password and partial:
                # A new prompt after the password's line (`again, to confirm: `): the program
                # may turn echo off again before we see it on.
                typed_password = False
            at_prompt = partial == prompt and not typed_on_line
        if input_open and sys.stdin in ready:
            line = sys.stdin.buffer.readline()
            if line:
                queued.append(line.rstrip(b"\n"))
            else:
                input_open = False
        try:
            echo = bool(termios.tcgetattr(slave)[3] & termios.ECHO)
        except termios.error:
            break
        if not echo:
            if not typed_password:
                os.write(master, password + b"\n")
                typed_password, newline_since_password = True, False
            continue
        typed_password = False
        if at_prompt:
            if queued:
                os.write(master, queued.pop(0) + b"\n")
                at_prompt, typed_on_line = False, True
            elif not input_open and not sent_eof:
                os.write(master, b"\x04")
                sent_eof = True
                at_prompt, typed_on_line = False, True
        if child.poll() is not None and master not in ready:
            # Drain what is left, then stop: the program is gone.
            ready, _, _ = select.select([master], [], [], POLL_S)
            if not ready:
                break
    os.close(slave)
    sys.exit(child.wait() if child.returncode is None else child.returncode)


if __name__ == "__main__":
    main()
