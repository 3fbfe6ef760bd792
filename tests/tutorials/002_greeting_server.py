# socklab: tutorial 002, 基于TCP的套接字 服务端 (server.py): greets every client, then hangs up.
#!/usr/bin/python3
# 文件名:server.py
# 导入 socket模块
import socket
# 创建 socket 对象
serversocket = socket.socket(
            socket.AF_INET, socket.SOCK_STREAM)
# 获取本地主机名
host = socket.gethostname()
port = 8080
# 绑定端口
serversocket.bind((host, port))
# 设置最大连接数,超过后排队
serversocket.listen(5)
while True:
    # 建立客户端连接
    clientsocket,addr = serversocket.accept()
    print("连接地址: %s" % str(addr))
    msg='welcome to JinCheng!'+ "\r\n"
    clientsocket.send(msg.encode('utf-8'))
    clientsocket.close()
