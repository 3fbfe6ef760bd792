# socklab: tutorial 002, 基于UDP的套接字 服务端: prints each datagram, its person types the reply.
from socket import *
udp_server = socket(AF_INET,SOCK_DGRAM) # 基于网络, 数据报
udp_server.bind(("127.0.0.1",8080,))
while True:
    data,addr = udp_server.recvfrom(1024)
    print("来自于:",addr,data.decode("utf-8"))
    msg = input(">>>")
    udp_server.sendto(msg.encode("utf-8"),addr)
