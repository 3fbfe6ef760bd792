# socklab: tutorial 003 socketserver 多线程服务, 服务端: socketserver.ThreadingTCPServer, upper-cased echo.
# -*- coding: utf-8 -*-  # socklab edit: lost digit (utf-)

# 声明字符编码
# coding:utf-8  # socklab edit: lost digit (utf-)
import socketserver

BUFFER_SIZE = 1024  # socklab edit: lost digits
ADDRESS_IP = ('172.16.6.5', 8080)  # socklab edit: lost digits (the port)


class Communication(socketserver.BaseRequestHandler):

    def handle(self):
        print(self.request)  # ------->
        print(self.client_address)
        while True:
            try:
                client_msg = self.request.recv(BUFFER_SIZE)
                if not client_msg:
                    break

                print("客户端【%s】>>%s" % (self.client_address, client_msg))
                self.request.sendall(client_msg.upper())
            except Exception as e:
                print(e)
                break


if __name__ == "__main__":
    server = socketserver.ThreadingTCPServer(ADDRESS_IP, Communication)
    server.serve_forever()
