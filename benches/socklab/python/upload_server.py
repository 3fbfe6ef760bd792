# The tutorial's file server (tutorial 004: socketserver.ThreadingTCPServer, a 4-byte
# struct.pack('i') length, a JSON header, then the file's bytes, read max_packet_size = 8192 at a
# time). Tutorial 004 has only put; get is its mirror image. No MD5, no fsync, no temporary file:
# what the tutorial does. Usage: upload_server.py FOLDER
import json
import os
import socketserver
import struct
import sys

SERVER_DIR = sys.argv[1]


class FileHandler(socketserver.BaseRequestHandler):
    max_packet_size = 8192

    def handle(self):
        while True:
            head_struct = self.request.recv(4)
            if not head_struct:
                break
            head_len = struct.unpack("i", head_struct)[0]
            head_dic = json.loads(self.request.recv(head_len).decode("utf-8"))
            getattr(self, head_dic["cmd"])(head_dic)

    def put(self, args):
        path = os.path.join(SERVER_DIR, os.path.basename(args["filename"]))
        filesize, recv_size = args["filesize"], 0
        with open(path, "wb") as f:
            while recv_size < filesize:
                data = self.request.recv(self.max_packet_size)
                if not data:
                    break
                f.write(data)
                recv_size += len(data)

    def get(self, args):
        path = os.path.join(SERVER_DIR, os.path.basename(args["filename"]))
        head = json.dumps({"filesize": os.path.getsize(path)}).encode("utf-8")
        self.request.sendall(struct.pack("i", len(head)) + head)
        with open(path, "rb") as f:
            while True:
                data = f.read(self.max_packet_size)
                if not data:
                    break
                self.request.sendall(data)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True


if __name__ == "__main__":
    server = Server(("127.0.0.1", 0), FileHandler)
    print("listening on %s:%d" % server.server_address, flush=True)
    server.serve_forever()
