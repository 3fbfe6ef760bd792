# socklab: tutorial 004 二逼青年版本的解决方法(利用时间模块), 服务端: recv(1), sleep 5 s, recv(1024).
#买手机
import socket,time
import subprocess
phone=socket.socket(socket.AF_INET,socket.SOCK_STREAM)
#绑定电话卡
ip_port=('127.0.0.1',8080)
phone.bind(ip_port)
phone.listen(5)
conn,addr=phone.accept()
# data1=conn.recv(1024)
# data2=conn.recv(1024)
data1=conn.recv(1) #b'h'
time.sleep(5)
data2=conn.recv(1024) #b'elloworldSB'
print('第一个包',data1)
print('第二个包',data2)
