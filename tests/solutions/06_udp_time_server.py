"""Lesson 06 exercise, a correct UDP time server: one datagram holding a strftime format in, the
time in that format out (an empty datagram asks for %Y-%m-%d %H:%M:%S). Every datagram is
hostile: bytes that are not UTF-8 or a bad format get an `error: ` reply, and the server goes on.

Run it:    python3 tests/solutions/06_udp_time_server.py 9006
Check it:  06-udp-time check server 127.0.0.1:9006
"""
import socket
import sys
import time

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9006

server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server.bind(('127.0.0.1', PORT))
print('listening on 127.0.0.1:%d' % server.getsockname()[1], flush=True)
while True:
    data, addr = server.recvfrom(1024)
    try:
        reply = time.strftime(data.decode('utf-8') or '%Y-%m-%d %H:%M:%S')
    except (UnicodeDecodeError, ValueError) as e:     # never let one datagram stop the server
        reply = 'error: %s' % e
    server.sendto(reply.encode('utf-8', errors='replace'), addr)
