# socklab: tutorial 002, 基于TCP的套接字 客户端 (client.py): receives the greeting once.
#!/usr/bin/python3
# 文件名:client.py
# 导入 socket模块
import socket
# 创建 socket 对象
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# 获取本地主机名
host = socket.gethostname()
# 设置端口好
port = 8080
# 连接服务,指定主机和端口
s.connect((host, port))
# 接收小于 1024 字节的数据
msg = s.recv(1024)
s.close()
print (msg.decode('utf-8'))
