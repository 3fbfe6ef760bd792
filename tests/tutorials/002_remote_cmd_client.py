# socklab: tutorial 002, 基于tcp协议实现的远程连接命令工作 客户端: one recv(1024) per command, GBK.
from socket import *
import subprocess
ip_port = ("127.0.0.1",8080)
buffer_size = 1024
tcp_client = socket(AF_INET,SOCK_STREAM)
tcp_client.connect(ip_port)
while True:
    msg = input(">>>")
    if not msg:continue
    if msg == "q":break #如果输入的是q 则发送的是空 服务端会进入死循环
    tcp_client.send(msg.encode("utf-8"))
    cmd_res = tcp_client.recv(buffer_size)
    print("命令行的结果是",cmd_res.decode("gbk"))
tcp_client.close()
