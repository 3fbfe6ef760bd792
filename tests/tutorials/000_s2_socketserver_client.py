# socklab: tutorial 000 §2, Client: like §1's loop client, but skips empty lines.
#Author:ZhangKanghui

import socket
client = socket.socket()
client.connect(('localhost',9999))
while True:
    msg = input(">>:").strip()
    if len(msg) == 0: continue
    client.send(msg.encode("utf-8"))
    data =client.recv(1024)
    print("recv:",data)

client.close()
