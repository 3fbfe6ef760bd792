"""Lesson 12 exercise, a correct client: the key from SOCKLAB_KEY, the 32-byte challenge read
exactly, HMAC-SHA256, then one frame per line of input and one reply each. With `welcome` after
the port (the --welcome extension), it reads the server's welcome frame before the first line.

Check it:  12-auth check client -- python3 tests/solutions/12_auth_client.py {port}
           12-auth check --welcome client -- python3 tests/solutions/12_auth_client.py {port} welcome
"""
import hashlib
import hmac
import os
import socket
import struct
import sys

HOST = os.environ.get('SOCKLAB_HOST', '127.0.0.1')
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get('SOCKLAB_PORT', 9012))
KEY = os.environ['SOCKLAB_KEY'].encode('utf-8')
WELCOME = 'welcome' in sys.argv[2:]


def recv_exactly(sock, n):
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError('the server closed the connection (refused?)')
        data += chunk
    return bytes(data)


def recv_frame(sock):
    (n,) = struct.unpack('<i', recv_exactly(sock, 4))
    if not 0 <= n <= 65536:
        raise ValueError('refusing a frame of %d bytes' % n)
    return recv_exactly(sock, n)


s = socket.create_connection((HOST, PORT))
challenge = recv_exactly(s, 32)
s.sendall(hmac.new(KEY, challenge, hashlib.sha256).digest())
if WELCOME:
    try:
        welcome = recv_frame(s)
    except ConnectionError:
        sys.exit('refused: the server closed the connection (wrong key?)')
    if welcome != b'welcome':
        sys.exit('unexpected welcome %r' % welcome)
for line in sys.stdin:
    data = line.rstrip('\n').encode('utf-8')     # the length of the bytes, not the characters
    if not data:
        continue
    try:
        s.sendall(struct.pack('<i', len(data)) + data)
        reply = recv_frame(s)
    except (ConnectionError, struct.error):
        # Without --welcome, a refusal shows here: the server closed instead of answering.
        sys.exit('refused: the server closed the connection (wrong key?)')
    print(reply.decode('utf-8'))
s.close()
