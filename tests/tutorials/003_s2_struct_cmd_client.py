# socklab: tutorial 003 解决黏包方法之一, 客户端: reads the 4-byte length, then the output (GBK).
# -*- coding: utf-8 -*-  # socklab edit: lost digit (utf-)

# 声明字符编码
# coding:utf-8  # socklab edit: lost digit (utf-)
import socket
import struct

BUFFER_SIZE = 1024  # socklab edit: lost digits


def client_Tcp():
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)

    client.connect(('127.0.0.1', 8080))  # socklab edit: lost digits (the port)

    while True:
        msg = input('>>').strip()
        if not msg: continue
        if msg == 'quit': break

        client.send(msg.encode('utf-8'))
        # # 第一种方式:解决粘包问题
        # content_length = client.recv(BUFFER_SIZE)
        # # 规定好第一次发来的内容是内容大小,给服务器回复个OK
        # client.send(b"OK")
        # content_length = int(content_length.decode('utf-8'))
        # 第二种方式:解决粘包问题
        # 先接收四个字节
        length_data = client.recv(4)  # socklab edit: lost digit
        content_length = struct.unpack('i', length_data)[0]  # socklab edit: lost digit

        print("准备接收%d大小的数据")
        recv_size = 0  # socklab edit: lost digit
        recv_msg = b''
        # 循环获取数据
        while recv_size < content_length:
            recv_msg += client.recv(BUFFER_SIZE)
            recv_size = len(recv_msg)

        print("<<%s" % (recv_msg.decode('gbk')))

    client.close()


if __name__ == "__main__":
    client_Tcp()
