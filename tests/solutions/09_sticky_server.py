"""Lesson 09 exercise, a correct framed receiver: every message is struct.pack('<i', n) and n
bytes; read exactly 4, then exactly n, in loops. For the checker it also sends each message
back as a frame.

Run it:    python3 tests/solutions/09_sticky_server.py 9009
Check it:  09-sticky check server 127.0.0.1:9009
"""
import socket
import struct
import sys

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9009
MAX_MESSAGE = 1024 * 1024


def recv_exactly(conn, n):
    data = bytearray()
    while len(data) < n:
        chunk = conn.recv(min(n - len(data), 65536))
        if not chunk:
            raise EOFError('closed after %d of %d bytes' % (len(data), n))
        data += chunk
    return bytes(data)


server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(('127.0.0.1', PORT))
server.listen(5)
print('listening on 127.0.0.1:%d' % server.getsockname()[1], flush=True)
while True:                                   # the link loop
    conn, addr = server.accept()
    count = 0
    try:
        while True:                           # the communication loop
            (n,) = struct.unpack('<i', recv_exactly(conn, 4))
            if not 0 <= n <= MAX_MESSAGE:     # never trust a length from the network
                print('refusing a length of %d' % n, flush=True)
                break
            message = recv_exactly(conn, n)
            count += 1
            print('#%d %d bytes: %r' % (count, n, message[:60]), flush=True)
            conn.sendall(struct.pack('<i', n) + message)
    except (EOFError, ConnectionError) as e:  # end of stream, or a reset: next client
        print('client %s gone (%s)' % (addr, e or 'closed'), flush=True)
    finally:
        conn.close()
