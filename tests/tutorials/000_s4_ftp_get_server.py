# socklab: tutorial 000 §4, ftp服务器端 ("get FILE": size, ack, data, MD5). As written it crashes on
# its first existing file: `str(file_size.encode())` (an int has no encode) and `m.hexdiggest()`.
#Author:ZhangKanghui
import os
import time
import socket
import hashlib
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
        cmd,filename = data.decode().split()
        print(filename)
        if os.path.isfile(filename):
            f = open(filename,'rb')
            m =hashlib.md5()
            file_size = os.stat(filename).st_size
            conn.send(str(file_size.encode())) #send file size
            conn.recv(1024) #wait for ack
            for line in f:
                m.update(line)
                conn.send(line)
            print("file md5:",m.hexdiggest())
            f.close()
            conn.send(m.hexdiggest().encode()) #send md5
server.close()
