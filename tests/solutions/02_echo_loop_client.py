"""Lesson 02 exercise, a correct client: one connection, one message per line of input, each
reply read whole (upper() keeps the length, so the reply is as long as the message), then a
close with a reset (SO_LINGER 0), as the exercise asks.

Check it:  02-echo-loop check client -- python3 tests/solutions/02_echo_loop_client.py {port}
"""
import os
import socket
import struct
import sys

HOST = os.environ.get('SOCKLAB_HOST', '127.0.0.1')
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get('SOCKLAB_PORT', 9002))


def recv_exactly(sock, n):
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError('the server closed after %d of %d bytes' % (len(data), n))
        data += chunk
    return bytes(data)


s = socket.create_connection((HOST, PORT))
while True:
    try:
        message = input('>>: ')
    except EOFError:
        break
    if not message:             # send(b'') sends nothing: both sides would wait for ever
        continue
    data = message.encode('utf-8')
    s.sendall(data)
    print(recv_exactly(s, len(data)).decode('utf-8'))
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
s.close()                       # with SO_LINGER 0: a reset (RST), not a FIN
