"""Lesson 13, a correct file server for socklab's upload protocol (walkthrough, 13-file-upload,
"Why"): 4-byte length, JSON header, exact body; one JSON reply per request; bare names only;
a temporary file renamed into place only when the whole body has arrived and its MD5 matches.

Run it:    python3 tests/solutions/13_file_upload_server.py 9013 uploads
Check it:  13-file-upload check server 127.0.0.1:9013
"""
import hashlib
import json
import os
import socketserver
import struct
import sys
import tempfile

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9013
DIR = sys.argv[2] if len(sys.argv) > 2 else 'uploads'
MAX_HEADER = 64 * 1024
CHUNK = 256 * 1024


class Closed(Exception):
    """The client went away (end of stream or reset)."""


def recv_exactly(sock, n):
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(min(n - len(data), CHUNK))
        if not chunk:
            raise Closed('closed after %d of %d bytes' % (len(data), n))
        data += chunk
    return bytes(data)


def send_header(sock, header):
    body = json.dumps(header).encode('utf-8')
    sock.sendall(struct.pack('<i', len(body)) + body)


def error(sock, code, msg):
    send_header(sock, {'status': 'error', 'code': code, 'msg': msg})


def bad_name(name):
    """A bare file name only: no folders, no climbing out, no hidden names."""
    if not isinstance(name, str) or not name or name.startswith('.'):
        return True
    if len(name.encode('utf-8')) > 255:
        return True
    return any(c in name for c in '/\\:') or any(ord(c) < 32 or ord(c) == 127 for c in name)


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            while self.one_request():
                pass
        except (Closed, ConnectionError):
            pass                                  # the client went: nothing half-stored

    def one_request(self):
        sock = self.request
        try:
            head = recv_exactly(sock, 4)
        except Closed:
            return False                          # a clean end between requests
        (n,) = struct.unpack('<i', head)
        if not 0 <= n <= MAX_HEADER:
            error(sock, 'bad_request', 'header length %d; closing' % n)
            return False
        try:
            header = json.loads(recv_exactly(sock, n))
        except ValueError:
            error(sock, 'bad_request', 'the header is not JSON; closing')
            return False
        if not isinstance(header, dict):
            error(sock, 'bad_request', 'the header is not an object; closing')
            return False
        cmd, name = header.get('cmd'), header.get('filename')
        if cmd == 'put':
            return self.put(sock, header, name)
        if cmd == 'get':
            return self.get(sock, name)
        error(sock, 'unknown_command', 'unknown command %r' % cmd)
        return True

    def put(self, sock, header, name):
        size = header.get('filesize')
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            error(sock, 'bad_request', 'filesize must be a whole number; closing')
            return False
        if bad_name(name):
            error(sock, 'bad_name', 'not a bare file name; closing')
            return False                          # the body follows: we cannot find the next header
        md5 = hashlib.md5()
        fd, tmp = tempfile.mkstemp(dir=DIR, prefix='.part-')
        try:
            with os.fdopen(fd, 'wb') as f:
                left = size
                while left:
                    chunk = sock.recv(min(left, CHUNK))   # never more than is left
                    if not chunk:
                        raise Closed('vanished mid-body')
                    f.write(chunk)
                    md5.update(chunk)
                    left -= len(chunk)
            digest = md5.hexdigest()
            wanted = header.get('md5')
            if isinstance(wanted, str) and wanted.lower() != digest:
                os.unlink(tmp)
                error(sock, 'md5_mismatch', 'the body does not match its md5; nothing stored')
                return True
            os.replace(tmp, os.path.join(DIR, name))
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        send_header(sock, {'status': 'ok', 'size': size, 'md5': digest})
        return True

    def get(self, sock, name):
        if bad_name(name):
            error(sock, 'bad_name', 'not a bare file name')
            return True
        path = os.path.join(DIR, name)
        if not os.path.isfile(path):
            error(sock, 'not_found', 'no such file')
            return True
        with open(path, 'rb') as f:
            data = f.read()                       # small files in a classroom; see lesson 14 for streams
        send_header(sock, {'status': 'ok', 'filesize': len(data),
                           'md5': hashlib.md5(data).hexdigest()})
        sock.sendall(data)
        return True


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


os.makedirs(DIR, exist_ok=True)
with Server(('127.0.0.1', PORT), Handler) as server:
    print('listening on 127.0.0.1:%d' % server.server_address[1], flush=True)
    server.serve_forever()
