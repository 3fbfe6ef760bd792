# socklab: tutorial 000 §3, SSH服务器端 (second version): sends the size, then the output, no ack.
#Author:ZhangKanghui
import os
import socket
server = socket.socket()
server.bind(('localhost',9999))

server.listen()

while True:
    conn,addr = server.accept()
    print("new coon",addr)
    while True:
        data = conn.recv(1024)
        if not data:
            print("客户端已断开")
            break
        print("执行指令:",data)
        cmd_res = os.popen(data.decode()).read()
        if len(cmd_res) == 0:
            cmd_res = "cmd has no output"
        conn.send(str(len(cmd_res.encode())).encode("utf-8")) #先发大小给客户端
        conn.send(cmd_res.encode("utf-8"))

server.close()
