"""Run one of the tutorials' programs unchanged, on a port chosen by the system.

    SOCKLAB_PORT=9000 SOCKLAB_INPUT='["hello", "world"]' python3 run.py 000_s1_echo_client.py

The tutorials' programs are written for a person at a terminal and a fixed address (8080, 9999,
'172.16.6.5', socket.gethostname() ...). Tests need the opposite: any free port, typed lines that
come from a list. Instead of editing every address in every program, this runner changes the
socket module for the program it runs, and then runs the program with runpy, as `python3 FILE`
would:

- bind(): every socket the program binds is bound to SOCKLAB_BIND_HOST (default 127.0.0.1) on
  port 0. As soon as the socket can be reached (after listen() for TCP, after bind() for UDP) the
  runner prints one line on stderr: `socklab-tutorial: listening on 127.0.0.1:PORT`. That line is
  how the test harness learns the port.
- connect(), and sendto() on a socket the program never bound (a client's): the address the
  program wrote is replaced by SOCKLAB_HOST (default 127.0.0.1) and SOCKLAB_PORT. A server's
  sendto() (a reply to the address recvfrom() returned) is left alone.
- input(): returns the next message of SOCKLAB_INPUT (a JSON list of strings), echoing the prompt
  and the message on stdout like a terminal would. When the list is used up, the runner prints
  `socklab-tutorial: no more input` on stderr and ends the program with exit status 0: the person
  at the keyboard has stopped typing and closed the window. Without SOCKLAB_INPUT, input() is the
  real one.
- The program is first copied into the current directory and run from there, so the files it
  writes next to itself (`__file__`) land in the test's temporary directory, not in the source
  tree.

Everything else (the protocol, the bugs) is the tutorial's own code. The only edits in the program
files are marked `# socklab edit:` on their line.
"""

import builtins
import json
import os
import runpy
import shutil
import socket
import sys
import weakref

BIND_HOST = os.environ.get("SOCKLAB_BIND_HOST", "127.0.0.1")
PEER = (os.environ.get("SOCKLAB_HOST", "127.0.0.1"), int(os.environ.get("SOCKLAB_PORT", "0")))

_bound = weakref.WeakSet()
_original_bind = socket.socket.bind
_original_listen = socket.socket.listen
_original_connect = socket.socket.connect
_original_connect_ex = socket.socket.connect_ex
_original_sendto = socket.socket.sendto


def _announce(sock):
    host, port = sock.getsockname()[:2]
    print("socklab-tutorial: listening on %s:%d" % (host, port), file=sys.stderr, flush=True)


def _bind(self, address):
    _original_bind(self, (BIND_HOST, 0))
    _bound.add(self)
    if self.type == socket.SOCK_DGRAM:
        _announce(self)


def _listen(self, *backlog):
    _original_listen(self, *backlog)
    _announce(self)


def _connect(self, address):
    return _original_connect(self, PEER)


def _connect_ex(self, address):
    return _original_connect_ex(self, PEER)


def _sendto(self, data, *rest):
    if self in _bound:
        return _original_sendto(self, data, *rest)
    return _original_sendto(self, data, *rest[:-1], PEER)


def _scripted_input():
    messages = iter(json.loads(os.environ["SOCKLAB_INPUT"]))

    def scripted(prompt=""):
        message = next(messages, None)
        if message is None:
            print("socklab-tutorial: no more input", file=sys.stderr, flush=True)
            sys.stdout.flush()
            os._exit(0)
        print("%s%s" % (prompt, message), flush=True)
        return message

    return scripted


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: python3 run.py PROGRAM.py  (see this file's docstring)")
    program = os.path.abspath(sys.argv[1])
    local = os.path.join(os.getcwd(), os.path.basename(program))
    if local != program:
        shutil.copyfile(program, local)
    socket.socket.bind = _bind
    socket.socket.listen = _listen
    socket.socket.connect = _connect
    socket.socket.connect_ex = _connect_ex
    socket.socket.sendto = _sendto
    if "SOCKLAB_INPUT" in os.environ:
        builtins.input = _scripted_input()
    sys.argv = [local]
    sys.path.insert(0, os.getcwd())
    runpy.run_path(local, run_name="__main__")


if __name__ == "__main__":
    main()
