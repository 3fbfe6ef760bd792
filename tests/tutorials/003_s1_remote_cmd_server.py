# socklab: tutorial 003 TCP/IP网络通讯粘包问题, 服务端代码: one send per command; reads stderr first.
# -*- coding: utf-8 -*-  # socklab edit: lost digit (utf-)

# 声明字符编码
# coding:utf-8  # socklab edit: lost digit (utf-)
import socket
import subprocess


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
                client_msg = client_socket.recv(1024)  # socklab edit: lost digits
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

                # print(cmd_err.decode("gbk"))
                client_socket.send(cmd_err)
        except Exception as e:
            print("%s 已断开" % str(client_info))
            print(e)
            continue
        client_socket.close()

    server.close()


if __name__ == "__main__":
    server_Tcp()
