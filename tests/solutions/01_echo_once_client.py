"""Lesson 01 exercise, a correct client: send one message, read the reply until the server
closes the connection, print it.

Check it:  01-echo-once check client -- python3 tests/solutions/01_echo_once_client.py {port}
The message comes on standard input; the port is the first argument (or SOCKLAB_PORT).
"""
import os
import socket
import sys

HOST = os.environ.get('SOCKLAB_HOST', '127.0.0.1')
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get('SOCKLAB_PORT', 9001))

message = input('>>: ')
s = socket.create_connection((HOST, PORT))
s.sendall(message.encode('utf-8'))
reply = bytearray()
while True:                     # recv(1024) is a maximum, not a promise: read until the end
    chunk = s.recv(65536)
    if not chunk:               # b'': the server closed, the reply is complete
        break
    reply += chunk
s.close()
print(reply.decode('utf-8'))    # decode the whole reply: a piece may end inside a character
