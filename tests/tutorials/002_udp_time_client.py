# socklab: tutorial 002, 实现ntp时间服务器 客户端: sends each typed line as the format.
from socket import *
ip_port=("127.0.0.1",8080)
udp_client = socket(AF_INET,SOCK_DGRAM) # 基于网络, 数据报
while True:
    msg = input(">>>")
    udp_client.sendto(msg.encode("utf-8"),ip_port) # 发送于谁
    data,addr=udp_client.recvfrom(1024) # 接收来自于谁
    print("标准时间为:",data.decode("utf-8"))
