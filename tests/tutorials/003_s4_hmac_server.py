# socklab: tutorial 003 验证合法性, 服务端: an os.urandom challenge, the client's HMAC checked with
# compare_digest, then a length-headed chat whose replies the server's person types.
# -*- coding: utf-8 -*-  # socklab edit: lost digit (utf-)

# 声明字符编码
# coding:utf-8  # socklab edit: lost digit (utf-)
import socketserver
import struct
import os
import hmac

BUFFER_SIZE = 1024  # socklab edit: lost digits
BIND_IP_PORT = ('172.16.6.5', 8080)  # socklab edit: lost digits (the port)
AUTO_KEY = b"bc892ed2-8b2c-11e8-a328-f40669b72fef"


class Communication(socketserver.BaseRequestHandler):
    """ 通讯类型 """

    def handle(self):
        # print(self.client_address)
        # print(self.request)
        cl, pl = self.client_address
        print("[%s:%s]客户端已连接" % (cl, pl))
        # 合法验证
        if conn_auth(self.request) == True:
            # 循环接收客户端信息
            while True:
                try:
                    # 等待客户端消息
                    # 数据粘包处理
                    # 数据的前四位存储的是数据的大小
                    # 先接收四个字节
                    length_data = self.request.recv(4)  # socklab edit: lost digit
                    if not length_data: break

                    content_length = struct.unpack('i', length_data)[0]  # socklab edit: lost digit

                    print("接收客户端[%s][%d]大小的数据" % (self.client_address, content_length))
                    recv_size = 0  # socklab edit: lost digit
                    recv_msg = b''
                    # 循环获取数据
                    while recv_size < content_length:
                        recv_msg += self.request.recv(BUFFER_SIZE)
                        recv_size = len(recv_msg)
                    print("[%s]>>%s" % (self.client_address, recv_msg.decode('utf-8')))
                    # 服务器回复客户端
                    server_msg = input("<<")

                    server_send_length = struct.pack('i', len(server_msg))

                    self.request.sendall(server_send_length)
                    self.request.sendall(server_msg.encode("utf-8"))
                except Exception as e:
                    print("[%s]客户端异常关闭" % self.client_address)
                    print(e)
        else:
            print("客户端【%s:%s】非法接入" % (cl, pl))


def conn_auth(conn):
    # 合法性验证
    msg = os.urandom(32)  # socklab edit: lost digits
    conn.sendall(msg)
    h = hmac.new(AUTO_KEY, msg, "md5")  # socklab edit: Python 3 needs a digestmod (MD5 was Python 2's default)
    digest = h.digest()
    respone = conn.recv(len(digest))
    return hmac.compare_digest(respone, digest)


if __name__ == "__main__":
    server = socketserver.ThreadingTCPServer(BIND_IP_PORT, Communication)
    server.serve_forever()
