# socklab: tutorial 003 验证合法性, 客户端: answers the challenge with HMAC(key), then sends
# struct.pack('i', len(msg)) + msg for each typed line and prints each length-headed reply.
# -*- coding: utf-8 -*-  # socklab edit: lost digit (utf-)

# 声明字符编码
# coding:utf-8  # socklab edit: lost digit (utf-)
import socket
import struct
import os, hmac

BUFFER_SIZE = 1024  # socklab edit: lost digits
BIND_IP_PORT = ('172.16.6.5', 8080)  # socklab edit: lost digits (the port)
AUTO_KEY = b"bc892ed2-8b2c-11e8-a328-f40669b72fef"


def client_Tcp():
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)

    client.connect(BIND_IP_PORT)

    # 合法性验证
    conn_auth(client)
    while True:

        msg = input('>>').strip()
        if not msg: continue
        if msg == 'quit': break

        server_send_length = struct.pack('i', len(msg))
        client.send(server_send_length)
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

        print("准备接收服务端[%d]大小的数据" % content_length)
        recv_size = 0  # socklab edit: lost digit
        recv_msg = b''
        # 循环获取数据
        while recv_size < content_length:
            recv_msg += client.recv(BUFFER_SIZE)
            recv_size = len(recv_msg)

        print("<< %s" % (recv_msg.decode('utf-8')))

    client.close()


def conn_auth(conn):
    msg = conn.recv(32)  # socklab edit: lost digits
    h = hmac.new(AUTO_KEY, msg, "md5")  # socklab edit: Python 3 needs a digestmod (MD5 was Python 2's default)
    digest = h.digest()
    conn.sendall(digest)


if __name__ == "__main__":
    client_Tcp()
