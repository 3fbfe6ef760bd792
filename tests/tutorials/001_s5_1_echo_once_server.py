# socklab: tutorial 001 §5.1 简单实现套接字通信, server: one message, answers data.upper() + b'sb'.
import socket
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.bind(('127.0.0.1', 65535))
server.listen(5)
conn, addr = server.accept()
data = conn.recv(1024)
conn.send(data.upper() + b'sb')
