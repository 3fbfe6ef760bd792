# socklab: tutorial 002, 模拟现实"打电话"的通信 客户端.
import socket
ip_port = ("127.0.0.1",8080)
buffer_size = 1024
s = socket.socket(socket.AF_INET,socket.SOCK_STREAM)# 买手机
s.connect(ip_port) # 拨电话
while True: # 新增通信循环,客户端可以不断发收消息
    nr = input(">>>").strip()
    # if not nr:continue # 如果输入为空,则返回循环
    s.sendall(bytes(nr, encoding="utf-8"))# 发消息,说话(只能发送字节类型)
    res = s.recv(buffer_size) # 收消息,听话
    print("来自远方的消息",str(res, encoding="utf-8"))
#s.close() # 挂电话(可选)
