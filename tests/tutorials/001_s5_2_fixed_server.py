# socklab: tutorial 001 §5.2 (问题二的解决), server: catches the client's crash, then ends. A client that
# closes normally makes recv() return b'' (no exception): the loop then spins, sending b'sb'.
import socket
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.bind(('127.0.0.1', 65535))
server.listen(5)
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
