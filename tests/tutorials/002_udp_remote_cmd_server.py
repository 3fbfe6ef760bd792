# socklab: tutorial 002, 基于udp套接字模拟实现UDP远程执行命令 服务端: one datagram per answer; reads stderr
# before stdout. (The tutorial prints this server twice; its client is not in the text.)
# 基于udp实现的远程命令行
from socket import *
import subprocess
ip_port = ("127.0.0.1",8080)
buffer_size = 1024
udp_server = socket(AF_INET,SOCK_DGRAM)
udp_server.bind(ip_port)
while True:
    # 收
    cmd,addr = udp_server.recvfrom(buffer_size)
    print("收到客户端的命令是:", cmd)
    res = subprocess.Popen(cmd.decode("utf-8"),shell=True,
                           stderr=subprocess.PIPE,
                           stdout=subprocess.PIPE,
                           stdin=subprocess.PIPE)
    err = res.stderr.read()
    if err:
        cmd_res = err
    else:
        cmd_res = res.stdout.read()
        if not cmd_res:  # 如果这个命令的返回值是空的,则会阻塞.所以要人为的添加一些操作
            cmd_res = "ok".encode("utf-8")
    # 发
    udp_server.sendto(cmd_res,addr)
