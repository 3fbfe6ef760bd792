# socklab: tutorial 000 §1, socket_client(基础版): sends b"hello world", prints the reply.
#Author:ZhangKanghui

import socket
#首先声明socket类型,同时生成socket链接对象
client = socket.socket()
# family =AF_INET他就是地址簇,默认就是IPv4,type=SOCK_STWEAM他就是TCP/TCP

client.connect(('localhost',6969)) #只能传一个参数,所以把链接地址端口放进一个元组。
#发送数据
client.send(b"hello world") #发送的数据必须是bytes类型
#那么能不能发送中文呢
#client.send("study 使我快乐".encode("utf-8"))
#如果想输出中文
#client.send("我想要mopney".encode("utf-8"))
#接受服务器的返回
data =client.recv(1024) #buffersize缓冲区空间容量,1024字节=1K
print("recv:",data)
#如果要输出中文
#print("recv:",data.decode())
client.close()
