# socklab: tutorial 004 二逼青年版本的解决方法(利用时间模块), 客户端: 'helloworld', sleep 3 s, 'SB'.
#买手机
import socket,time
import subprocess
phone=socket.socket(socket.AF_INET,socket.SOCK_STREAM)
#绑定电话卡
ip_port=('127.0.0.1',8080)
phone.connect(ip_port)
phone.send('helloworld'.encode('utf-8'))
time.sleep(3)
phone.send('SB'.encode('utf-8'))
