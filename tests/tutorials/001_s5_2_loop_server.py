# socklab: tutorial 001 §5.2 循环通信, server: one client, no exception handling (问题二).
import socket
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.bind(('127.0.0.1', 65535))
server.listen(5)
conn, addr = server.accept()
while True:
    data = conn.recv(1024)
    conn.send(data.upper() + b'sb')
