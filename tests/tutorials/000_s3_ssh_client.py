# socklab: tutorial 000 §3, SSH客户端 (first version): one recv(1024) per command.
#Author:ZhangKanghui

import socket
client = socket.socket()

client.connect(('localhost',9999))

while True:
    cmd = input(">>:").strip()
    if len(cmd) == 0:continue
    client.send(cmd.encode("utf-8"))
    cmd_res = client.recv(1024)

    print(cmd_res.decode())

client.close()
