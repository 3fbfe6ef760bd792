"""Lesson 09, a correct framed sender: every line of input as one frame,
struct.pack('<i', len(data)) + data, where data is the line's UTF-8 bytes.

Check it:  09-sticky check client -- python3 tests/solutions/09_sticky_client.py {port}
"""
import os
import socket
import struct
import sys

HOST = os.environ.get('SOCKLAB_HOST', '127.0.0.1')
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get('SOCKLAB_PORT', 9009))

s = socket.create_connection((HOST, PORT))
for line in sys.stdin:
    data = line.rstrip('\n').encode('utf-8')      # the length of the BYTES, not of the text
    s.sendall(struct.pack('<i', len(data)) + data)
s.shutdown(socket.SHUT_WR)                        # no more frames; let the server finish
while s.recv(65536):
    pass
s.close()
