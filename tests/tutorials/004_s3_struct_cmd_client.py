# socklab: tutorial 004 解决粘包 (struct模块), 客户端: recv(4) for the size, then loops recv(1024).
#买手机
import socket
import struct
phone = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
#拨通电话
# ip_port = ('127.0.0.1', 8080)
ip_port = ('192.168.16.114', 8081)
phone.connect(ip_port)
# 通信循环
while True:
    # 发消息
    cmd = input('>>: ').strip()
    if not cmd: continue
    phone.send(bytes(cmd, encoding='utf-8'))
    #收报头
    baotou=phone.recv(4)
    data_size=struct.unpack('i',baotou)[0]
    # 收数据
    recv_size=0
    recv_data=b''
    while recv_size < data_size:
        data=phone.recv(1024)
        recv_size+=len(data)
        recv_data+=data
    print(recv_data.decode('utf-8'))
phone.close()
