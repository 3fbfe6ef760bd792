# socklab: tutorial 004 socketserver实现并发, 客户端1 (客户端2 is identical): skips empty lines.
import socket
phone=socket.socket(socket.AF_INET,socket.SOCK_STREAM)
phone.connect(('127.0.0.1',8080))
while True: #通信循环
    msg=input('>>: ').strip()
    if not msg:continue
    phone.send(msg.encode('utf-8'))
    # print('has send===========>')
    data=phone.recv(1024)
    # print('has recv===========>')
    print(data)
phone.close()
