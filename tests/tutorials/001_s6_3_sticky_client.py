# socklab: tutorial 001 §6.3 粘包的现象, client: reads only 5 bytes of each reply, so the rest of one
# reply comes out as the start of the next.
import socket
client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
client.connect(('127.0.0.1', 65535))
while True:
    msg = input('>>')
    if not msg:
        continue
    client.send(msg.encode('utf-8'))
    data = client.recv(5)  # 此时接收的字节数改变了
    print(data)
