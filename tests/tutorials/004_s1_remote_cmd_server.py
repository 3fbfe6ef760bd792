# socklab: tutorial 004 粘包现象, 真正执行命令的服务端: sends stdout then stderr, no size: answers stick.
#_*_coding:utf-8_*_
__author__ = '777'
import socket
import subprocess
phone=socket.socket(socket.AF_INET,socket.SOCK_STREAM)
phone.bind(("127.0.0.1",8080))
phone.listen(5)
print("等待命令....")
while True:
    conn,addr=phone.accept()
    while True:
        try:
            date=conn.recv(1024)
            s=date.decode("utf8")
            res=subprocess.Popen("%s"%(s),shell=True,stdout=subprocess.PIPE,stderr=subprocess.PIPE,)
            re1=res.stdout.read()
            re2=res.stderr.read()
            if len(re1)==0 and len(re2)==0:
                conn.send("此命令无显示信息。".encode("gbk"))
            else:
                conn.send(re1)
                conn.send(re2)
        except Exception:
            break
    conn.close()
phone.close()
