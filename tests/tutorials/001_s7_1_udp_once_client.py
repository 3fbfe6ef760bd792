# socklab: tutorial 001 §7.1 简单的实现套接字的通信, UDP client: sends b'hello', reads nothing.
import socket
client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
client.sendto('hello'.encode('utf-8'), ('127.0.0.1', 8080))  # 客户端需要发送数据的时候需要添加一个ip和端口
