# socklab: tutorial 003 socketserver 多线程服务, 客户端代码: sends every line (empty ones too).
# -*- coding: utf-8 -*-  # socklab edit: lost digit (utf-)

# 声明字符编码
# coding:utf-8  # socklab edit: lost digit (utf-)
import socket

BUFFER_SIZE = 1024  # socklab edit: lost digits
ADDRESS_IP = ('172.16.6.5', 8080)  # socklab edit: lost digits (the port)


def client_Tcp():
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.connect(ADDRESS_IP)

    while True:
        msg = input('>>:')
        client.sendall(msg.encode('utf-8'))

        server_msg = client.recv(BUFFER_SIZE)
        print("<<%s" % (server_msg.decode('utf-8')))

    client.close()


if __name__ == "__main__":
    client_Tcp()
