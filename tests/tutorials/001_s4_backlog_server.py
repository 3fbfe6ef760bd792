# socklab: tutorial 001 §4 步骤三 半连接池数的例子, 服务端代码: prints what one client sends. It never
# answers, and when the client leaves, recv() returns b'' for ever (no exception): the loop spins.
# 服务端代码
import socket
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.bind(('127.0.0.1', 65535))
server.listen(5) # 此处定义半连接数为5,也就是当前没有连接成功的数量必须小于等于5
while True:
    conn, addr = server.accept()
    while True:
        try:
            res = conn.recv(1024)
            print('服务端发送的数据', res)
        except Exception as e:
            print(e)
            break
    conn.close()
