"""Lesson 04, a correct UDP echo client: one datagram per line of input, a reply awaited at most
1 s, the datagram sent again when none came (up to 5 times): UDP never resends by itself.

Check it:  04-udp-echo check client -- python3 tests/solutions/04_udp_echo_client.py {port}
"""
import os
import socket
import sys

HOST = os.environ.get('SOCKLAB_HOST', '127.0.0.1')
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get('SOCKLAB_PORT', 9004))

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((HOST, PORT))          # connected: replies from anyone else are not delivered to us
s.settimeout(1.0)
for line in sys.stdin:
    message = line.rstrip('\n')
    for attempt in range(5):
        s.send(message.encode('utf-8'))
        try:
            reply = s.recv(65536)
            break
        except socket.timeout:   # lost, ours or its answer: try again
            continue
    else:
        sys.exit('no reply to %r after 5 tries' % message)
    print(reply.decode('utf-8'))
