# socklab: tutorial 000 §1, 服务器端 (first improvement): accepts client after client, one message each.
# A finished connection stays open until the next accept() replaces conn.
#Author:ZhangKanghui

import socket
server =socket.socket()

server.bind(('localhost',6969))
server.listen()
print("我的心在等待!")

while True:
    conn,addr = server.accept()
    print(conn,addr)
    print("一直在等待!")
    data =conn.recv(1024)
    print("recv:",data)
    conn.send(data.upper())
server.close()
