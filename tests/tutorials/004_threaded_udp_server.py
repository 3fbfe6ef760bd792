# socklab: tutorial 004 基于udp的socketserver: ThreadingUDPServer; answers every datagram with '歇会儿吧'.
import socketserver
class FtpServer(socketserver.BaseRequestHandler):
    def handle(self):
        print(self.request[0])
        print(self.request[1])
        self.request[1].sendto('歇会儿吧'.encode('utf-8'),self.client_address)

if __name__ == '__main__':
    obj=socketserver.ThreadingUDPServer(('127.0.0.1',8080),FtpServer)
    obj.serve_forever()
