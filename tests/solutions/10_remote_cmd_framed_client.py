"""Lesson 10 exercise, a correct client for --framing json (default) or --framing length.

Check it:  10-remote-cmd-framed check client -- python3 tests/solutions/10_remote_cmd_framed_client.py {port}
           10-remote-cmd-framed check --framing length client -- python3 tests/solutions/10_remote_cmd_framed_client.py {port} length
"""
import json
import os
import socket
import struct
import sys

HOST = os.environ.get('SOCKLAB_HOST', '127.0.0.1')
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get('SOCKLAB_PORT', 9010))
FRAMING = sys.argv[2] if len(sys.argv) > 2 else 'json'
MAX_ANSWER = 64 * 1024 * 1024


def recv_exactly(sock, n):
    data = bytearray()                  # bytearray: += does not copy everything each time
    while len(data) < n:
        chunk = sock.recv(min(n - len(data), 65536))
        if not chunk:
            raise ConnectionError('closed after %d of %d bytes' % (len(data), n))
        data += chunk
    return bytes(data)


def recv_length(sock):
    (n,) = struct.unpack('<i', recv_exactly(sock, 4))
    if not 0 <= n <= MAX_ANSWER:
        raise ValueError('refusing a length of %d' % n)
    return n


s = socket.create_connection((HOST, PORT))
while True:
    try:
        cmd = input('>>: ').strip()
    except EOFError:
        break
    if not cmd:
        continue
    s.sendall(cmd.encode('utf-8'))
    if FRAMING == 'length':
        size = recv_length(s)
    else:
        header = json.loads(recv_exactly(s, recv_length(s)))
        size = header['data_size']
    print(recv_exactly(s, size).decode('utf-8', errors='replace'), end='')
s.close()
