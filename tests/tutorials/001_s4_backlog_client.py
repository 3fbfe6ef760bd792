# socklab: tutorial 001 §4 步骤三 半连接池数的例子, 客户端: sends every typed line, reads nothing.
# 客户端
import socket
client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
client.connect(('127.0.0.1', 65535))
while True:
    msg = input('>>>:')
    client.send(msg.encode('utf-8'))  # socklab edit: the page glued the next caption (端代码) to this line
