# socklab: tutorial 002, 实现ntp时间服务器 服务端: the datagram is a strftime format; empty means "%F %X".
from socket import *
import time
udp_server = socket(AF_INET,SOCK_DGRAM) # 基于网络, 数据报
udp_server.bind(("127.0.0.1",8080,))
while True:
    data,addr = udp_server.recvfrom(1024)
    print("来自于:",addr,data.decode("utf-8"))
    if not data:
        gs = "%F %X"
    else:
        gs = data.decode("utf-8")
    sj = time.strftime(gs)
    udp_server.sendto(sj.encode("utf-8"),addr)
