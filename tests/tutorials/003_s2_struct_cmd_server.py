# socklab: tutorial 003 解决黏包方法之一, 服务端: struct.pack('i', len) in one send, the output in a
# second (第二种方式; the ack version, 第一种方式, is commented out in the tutorial).
# -*- coding: utf-8 -*-  # socklab edit: lost digit (utf-)

# 声明字符编码
# coding:utf-8  # socklab edit: lost digit (utf-)
import socket
import subprocess
import struct

BUFFER_SIZE = 1024  # socklab edit: lost digits


def server_Tcp():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # socklab edit: lost digit
    server.bind(('', 8080))  # socklab edit: lost digits (the port)
    server.listen()

    while True:
        client_socket, client_info = server.accept()
        print("%s 已连接" % str(client_info))
        try:
            while True:
                client_msg = client_socket.recv(BUFFER_SIZE)
                if not client_msg: break
                print("%s 收到指令<<%s" % (client_info, client_msg.decode('utf-8')))
                # 处理执行的命令
                res = subprocess.Popen(client_msg.decode('utf-8'), shell=True, stderr=subprocess.PIPE,
                                       stdout=subprocess.PIPE, stdin=subprocess.PIPE)
                err = res.stderr.read()
                if err:
                    cmd_err = err
                else:
                    cmd_err = res.stdout.read()

                # # 第一种方式:解决粘包问题
                # msg_len = len(cmd_err)
                # print("数据长度为:", msg_len)
                # client_socket.send(str(msg_len).encode('utf-8'))
                # # 马上等待回复
                # is_ok = client_socket.recv(BUFFER_SIZE)
                # if is_ok == b"OK":
                #     client_socket.send(cmd_err)

                # 第二种方式:解决粘包问题
                msg_len = len(cmd_err)
                msg_len = struct.pack('i', msg_len)
                # 下面两次发送,在客户端会当成一次接收
                client_socket.send(msg_len)
                client_socket.send(cmd_err)

        except Exception as e:
            print("%s 已断开" % str(client_info))
            print(e)
            continue
        client_socket.close()

    server.close()


if __name__ == "__main__":
    server_Tcp()
