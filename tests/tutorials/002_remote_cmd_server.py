# socklab: tutorial 002, 基于tcp协议实现的远程连接命令工作 服务端: one send per command; reads stderr
# before stdout.
# 基于tcp协议实现的远程连接命令工作
from socket import *
import subprocess
ip_port = ("127.0.0.1",8080)
back_log = 5
buffer_size = 1024
tcp_server = socket(AF_INET,SOCK_STREAM)
tcp_server.bind(ip_port)
tcp_server.listen(back_log)
while True:
    conn,addr = tcp_server.accept()
    print("客户端连接",addr)
    while True:
        try:
            cmd = conn.recv(buffer_size)
            if not cmd:break
            print("收到客户端的命令是:",cmd)
            res = subprocess.Popen(cmd.decode("utf-8"),shell=True,
                                   stderr=subprocess.PIPE,
                                   stdout=subprocess.PIPE,
                                   stdin=subprocess.PIPE)
            err = res.stderr.read()
            if err:
                cmd_res = err
            else:
                cmd_res = res.stdout.read()
            if not cmd_res:
                cmd_res = "命令执行OK".encode("gbk")
            conn.send(cmd_res)
        except Exception as e:
            print(e)
            break
    conn.close()
