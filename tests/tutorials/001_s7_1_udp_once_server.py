# socklab: tutorial 001 §7.1 简单的实现套接字的通信, UDP server: prints one datagram and its sender, ends.
import socket
server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server.bind(('127.0.0.1', 8080))  # 和tcp一样需要去绑定ip和端口,但是它不必像tcp一样去监听和接收连接
conn = server.recvfrom(1024)  # 直接recvfrom就可以了
print(conn)
# 结果:
# (b'hello', ('127.0.0.1', 55802)) 会获得一个地址和数据
