# socklab: tutorial 001 §5.2 循环通信, client: no check for an empty line (问题一: it blocks).
import socket
client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
client.connect(('127.0.0.1', 65535))
while True:
    msg = input('>>')
    client.send(msg.encode('utf-8'))
    data = client.recv(1024)
    print('服务器回复的数据', data)
