# socklab: tutorial 000 §3, SSH客户端 (second version): reads the size with recv(1024), then the output.
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
