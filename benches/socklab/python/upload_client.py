# The tutorial's file client (tutorial 004's MYTCPClient.put), sending 8192 bytes at a time
# (the tutorial iterates over the file's lines, which for binary data is only slower), and the
# mirror image get. put waits until the server has closed the connection after the body, so the
# time includes the server writing the file. Usage:
#   upload_client.py PORT put FILE      upload_client.py PORT get NAME OUT
import json
import os
import socket
import struct
import sys

port, cmd = int(sys.argv[1]), sys.argv[2]
sock = socket.create_connection(("127.0.0.1", port))


def send_header(head_dic):
    head = json.dumps(head_dic).encode("utf-8")
    sock.send(struct.pack("i", len(head)))
    sock.send(head)


if cmd == "put":
    filename = sys.argv[3]
    filesize = os.path.getsize(filename)
    send_header({"cmd": "put", "filename": os.path.basename(filename), "filesize": filesize})
    with open(filename, "rb") as f:
        while True:
            data = f.read(8192)
            if not data:
                break
            sock.sendall(data)
    sock.shutdown(socket.SHUT_WR)
    sock.recv(1)  # b'' once the server has stored the file and closed
else:
    send_header({"cmd": "get", "filename": sys.argv[3]})
    head_len = struct.unpack("i", sock.recv(4))[0]
    head = b""
    while len(head) < head_len:
        head += sock.recv(head_len - len(head))
    filesize, recv_size = json.loads(head)["filesize"], 0
    with open(sys.argv[4], "wb") as f:
        while recv_size < filesize:
            data = sock.recv(8192)
            if not data:
                raise SystemExit("connection closed early")
            f.write(data)
            recv_size += len(data)
sock.close()
