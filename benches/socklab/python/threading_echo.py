# The tutorial's threaded echo server (tutorial 004, socketserver 多线程服务): one thread per
# client, recv(1024), send back upper-cased. Port 0 and the `listening on` line are the only
# changes, so the benchmark can find it.
import socketserver
import sys


class EchoHandler(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(1024)
            if not data:
                break
            self.request.sendall(data.upper())


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    request_queue_size = 1024


if __name__ == "__main__":
    server = Server(("127.0.0.1", 0), EchoHandler)
    print("listening on %s:%d" % server.server_address, flush=True)
    sys.stdout.flush()
    server.serve_forever()
