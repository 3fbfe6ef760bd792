# socklab: tutorial 001 §7.3 实现两个客户端之间的通信, UDP server: remembers every sender and relays each
# datagram, unchanged, to every address it has seen (the sender included).
import socket
server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server.bind(('127.0.0.1', 8080))  # 和tcp一样需要去绑定ip和端口,但是它不必像tcp一样去监听和接收连接
client_set = set({})
while True:
    data, addr = server.recvfrom(1024)  # 直接recvfrom就可以了
    client_set.add(addr)
    for client in client_set:
        server.sendto(data, client)
