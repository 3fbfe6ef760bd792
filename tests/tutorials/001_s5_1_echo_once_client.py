# socklab: tutorial 001 §5.1 简单实现套接字通信, client: one typed line, prints the reply.
import socket
client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
client.connect(('127.0.0.1', 65535))
msg = input('>>')
client.send(msg.encode('utf-8'))
data = client.recv(1024)
print('服务器回复的数据', data)
