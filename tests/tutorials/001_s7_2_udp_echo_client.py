# socklab: tutorial 001 §7.2 实现循环通讯, UDP client (§7.3 prints the same client again for the chat).
import socket
client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
while True:
    msg = input('>>>')
    client.sendto(msg.encode('utf-8'), ('127.0.0.1', 8080))  # 客户端需要发送数据的时候需要添加一个ip和端口
    data, addr = client.recvfrom(1024)
    print('服务器发送过来的数据>', data.decode('utf-8'))
