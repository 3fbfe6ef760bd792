# socklab: tutorial 001 §6.4 在发送数据之前发送一下数据的长度, 远程执行命令的小程序, server:
# struct.pack('i', len) + stderr + stdout in one send.
import socket
import subprocess
import struct
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.bind(('127.0.0.1', 65535))
server.listen(5)
while True:
    conn, addr = server.accept()
    while True:
        try:
            cmd = conn.recv(1024)
            print(cmd)
            obj = subprocess.Popen(
                cmd.decode('utf-8'),
                shell=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE
            )
            print(obj)
            # 注意此处的stdout和stderr不能位置不能相反,必须先读out后读err
            stdout = obj.stdout.read()
            print(stdout)
            stderr = obj.stderr.read()
            print(stderr)
            # 计算数据的长度,返回的是一个字节,在客户端先读取四个字节获得数据长度
            head = struct.pack('i', len(stderr + stdout))
            print(head)
            # 拼接数据,并进行发送
            data = head + stderr + stdout
            print(len(stdout) + len(stderr))
            conn.send(data)
        except Exception as e:
            print(e)
            break
    conn.close()
