# socklab: tutorial 004 粘包现象, 远程控制客户端: one recv(1024) per command, decoded as GBK.
#_*_coding:utf-8_*_
__author__ = '777'
import socket
phone=socket.socket(socket.AF_INET,socket.SOCK_STREAM)
phone.connect(("127.0.0.1",8080))
while True:
    msg=input("请输入你的CMD命令:")
    if not msg:continue
    phone.send(msg.encode("utf8"))
    data=phone.recv(1024)
    print(data.decode("gbk"))
phone.close()
