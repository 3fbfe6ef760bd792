# socklab: tutorial 002, 模拟现实"打电话"的通信 服务端: the server's person types every reply.
import socket
ip_port = ("127.0.0.1",8080)# 电话卡
back_log = 5
buffer_size = 1024
s = socket.socket(socket.AF_INET,socket.SOCK_STREAM)#买手机
s.bind(ip_port) #手机插卡
s.listen(back_log)#手机待机
while True: #新增接收链接循环,可以不停的接电话
    conn,address = s.accept()#手机接电话
    # print(conn)
    print('接到来自%s的电话' %address)
    while True:#新增通信循环,可以不断的通信,收发消息
        try: #新增捕捉异常的,如果不加,那么正在链接的客户端突然断开,recv便不再阻塞,死循环发生
            ret = str(conn.recv(buffer_size),encoding="utf-8")
            print("from>>> " ,ret) #收到来自于客户端的消息
            nr = input(">>>") #交互式发送,发给客户端消息
            conn.sendall(bytes(nr, encoding="utf-8"))
        except Exception:
            break
    #conn.close() #挂电话(可选)
#s.close() #手机关机(可选)
