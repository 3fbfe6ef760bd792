# socklab: tutorial 000 §1, socket_server(基础版): one client, one message, upper-cased back.
#Author:ZhangKanghui

import socket
server =socket.socket()
#绑定要监听的端口
server.bind(('localhost',6969))
server.listen() #监听

print("我的心在等待!")
#server.accept() 这个地方不能直接接听,如果这样的话就只能有一个接入
conn,addr = server.accept() #等待
#coon就是客户端连过来而在服务器端为其生成的一个链接实例
#print(conn,addr) 可以通过这样来看看接听了什么
print(conn,addr)

print("一直在等待!")
data =conn.recv(1024)
print("recv:",data)


conn.send(data.upper())
server.close()
