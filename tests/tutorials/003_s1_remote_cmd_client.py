# socklab: tutorial 003 TCP/IP网络通讯粘包问题, 客户端代码: one recv(1024) per command.
# -*- coding: utf-8 -*-  # socklab edit: lost digit (utf-)

# 声明字符编码
# coding:utf-8  # socklab edit: lost digit (utf-)
import socket


def client_Tcp():
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)

    client.connect(('127.0.0.1', 8080))  # socklab edit: lost digits (the port)

    while True:
        msg = input('>>').strip()
        if not msg: continue
        if msg == 'quit': break
        client.send(msg.encode('utf-8'))
        result = client.recv(1024)  # socklab edit: lost digits
        print(result)
        print("<<%s" % (result.decode('utf-8')))

    client.close()


if __name__ == "__main__":
    client_Tcp()
