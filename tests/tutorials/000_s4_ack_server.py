# socklab: tutorial 000 §4, 第二种解决方法 服务器端: size, wait for the client's ack, then the output.
#Author:ZhangKanghui
import os
import time
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
        #time.sleep(0.5)
        client_ack = conn.recv(1024) #等待客户端确认,不然就在这里挂起,从而完成上一条发送命令与下一条隔开,解决粘包
        print("ack from client:",client_ack)
        conn.send(cmd_res.encode("utf-8"))

server.close()
