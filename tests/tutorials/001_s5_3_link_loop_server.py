# socklab: tutorial 001 §5.3 循环连接, 服务端 (also §6.3's server): client after client, answers
# data.upper() + b'sb'. The client for it is §5.2's fixed client (the tutorial prints it again).
import socket
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.bind(('127.0.0.1', 65535))
server.listen(5)
while True:
    conn, addr = server.accept()
    while True:
        # 在此处捕捉异常,一旦捕捉到异常则退出循环关闭当前连接
        try:
            data = conn.recv(1024)
            conn.send(data.upper() + b'sb')
        except Exception as e:
            print(e)
            break
    conn.close()
server.close()
