# The tutorials' length-prefixed frames (struct.pack('i', n), then the payload), both ends in
# one process: a thread sends COUNT frames of SIZE bytes, the main thread receives them with the
# tutorial's loop (recv(4), then recv until the payload is whole). Prints the seconds it took.
import socket
import struct
import sys
import threading
import time

size, count = int(sys.argv[1]), int(sys.argv[2])
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(1)


def send():
    s = socket.create_connection(listener.getsockname())
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    payload = b"x" * size
    for _ in range(count):
        s.sendall(struct.pack("i", size) + payload if size <= 1024 else struct.pack("i", size))
        if size > 1024:
            s.sendall(payload)
    s.close()


sender = threading.Thread(target=send)
start = time.perf_counter()
sender.start()
conn, _ = listener.accept()


def recv_exactly(n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(min(n - len(data), 1024 * 1024))
        if not chunk:
            raise SystemExit("connection closed early")
        data += chunk
    return data


for _ in range(count):
    (n,) = struct.unpack("i", recv_exactly(4))
    recv_exactly(n)
elapsed = time.perf_counter() - start
sender.join()
print(elapsed)
