# socklab: tutorial 000 §1, 服务器端改进: the communication loop catching ConnectionResetError.
#Author:ZhangKanghui

import socket
server =socket.socket()

server.bind(('localhost',9999))
server.listen()
conn,addr = server.accept()
print(conn,addr)
print("一直在等待!")
print("我的心在等待!")

while True:
    try:
        # conn,addr = server.accept()
        # print(conn,addr)
        # print("一直在等待!")
        data =conn.recv(1024)
        print("recv:",data)
        conn.send(data.upper())
    except ConnectionResetError as e:
        print("Error",e)
        break
server.close()
