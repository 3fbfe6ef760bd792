# socklab: tutorial 000 §1, 服务器端 (second improvement): one client, many messages. When the client
# leaves, recv() returns b'' for ever and the loop spins.
#Author:ZhangKanghui

import socket
server =socket.socket()

server.bind(('localhost',6969))
server.listen()
print("我的心在等待!")
conn,addr = server.accept()
print(conn,addr)
print("一直在等待!")

while True:
    data =conn.recv(1024)
    print("recv:",data)
    conn.send(data.upper())
server.close()
