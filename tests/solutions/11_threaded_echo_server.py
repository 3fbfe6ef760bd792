"""Lesson 11 exercise, a correct threaded echo server: a thread per client (ThreadingTCPServer),
every byte back with ASCII letters upper-cased, the end of the stream (b'') ends the handler.

Run it:    python3 tests/solutions/11_threaded_echo_server.py 9011
Check it:  11-threaded-echo check server 127.0.0.1:9011
"""
import socketserver
import sys

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9011


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            while True:
                data = self.request.recv(65536)
                if not data:                      # the client closed: end, do not spin
                    break
                self.request.sendall(data.upper())   # no .strip(): every byte comes back
        except ConnectionError:                   # the client vanished with a reset
            pass


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


with Server(('127.0.0.1', PORT), Echo) as server:
    print('listening on 127.0.0.1:%d' % server.server_address[1], flush=True)
    server.serve_forever()
