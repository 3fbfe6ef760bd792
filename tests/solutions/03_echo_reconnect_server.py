"""Lesson 03, a correct link-loop echo server: clients one after another (the link loop, 链接循环),
each served until it goes (the communication loop, 通信循环): b'' ends it, a reset ends it, and
either way the server accepts the next client. Every byte comes back, ASCII letters upper-cased.

Run it:    python3 tests/solutions/03_echo_reconnect_server.py 9003
Check it:  03-echo-reconnect check server 127.0.0.1:9003
"""
import socket
import sys

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9003

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(('127.0.0.1', PORT))
server.listen(5)
print('listening on 127.0.0.1:%d' % server.getsockname()[1], flush=True)
while True:                                   # the link loop
    conn, addr = server.accept()
    with conn:
        try:
            while True:                       # the communication loop
                data = conn.recv(65536)
                if not data:                  # the client closed: next client
                    break
                conn.sendall(data.upper())
        except ConnectionError:               # the client vanished with a reset: next client
            pass
