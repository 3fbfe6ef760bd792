# socklab: tutorial 002, 基于UDP的套接字 客户端: one datagram per typed line, prints each answer.
from socket import *
ip_port=("192.168.12.34",8899)
udp_client = socket(AF_INET,SOCK_DGRAM) # 基于网络, 数据报
while True:
    msg = input(">>>")
    udp_client.sendto(msg.encode("utf-8"),ip_port) # 发送于谁
    data,addr=udp_client.recvfrom(1024) # 接收来自于谁
    print(data.decode("utf-8"))
