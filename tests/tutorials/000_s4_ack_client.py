# socklab: tutorial 000 §4, 第二种解决方法 客户端. As written it never sends the ack: line 14 calls
# the socket (`client("...")`, a TypeError), where client.send(b"...") was meant.
#Author:ZhangKanghui

import socket
client = socket.socket()

client.connect(('localhost',9999))

while True:
    cmd = input(">>:").strip()
    if len(cmd) == 0:continue
    client.send(cmd.encode("utf-8"))
    cmd_res_size = client.recv(1024) #先接收命令结果的大小
    print("命令结果大小:",cmd_res_size)
    client("防止粘包发送的确定指令")

    received_size = 0
    #received_data = b''
    while received_size != int(cmd_res_size.decode()):
        data = client.recv(1024)
        received_size+=len(data)
        print(received_size)
        print(data.decode())
    else:
        print("cmd res received done",received_size)

    cmd_res = client.recv(1024)

    print(cmd_res.decode())

client.close()
