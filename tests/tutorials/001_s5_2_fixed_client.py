# socklab: tutorial 001 §5.2 (问题一的解决), client: skips empty lines. §5.3 and §6.3's servers use it too.
import socket
client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
client.connect(('127.0.0.1', 65535))
while True:
    msg = input('>>')
    if not msg:
        continue
    client.send(msg.encode('utf-8'))
    data = client.recv(1024)
    print('服务器回复的数据', data)
