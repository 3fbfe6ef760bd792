# socklab: tutorial 001 §7.2 实现循环通讯, UDP server: answers every datagram upper-cased.
import socket
server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server.bind(('127.0.0.1', 8080))  # 和tcp一样需要去绑定ip和端口,但是它不必像tcp一样去监听和接收连接
while True:
    data, addr = server.recvfrom(1024)  # 直接recvfrom就可以了
    server.sendto(data.upper(), addr)
