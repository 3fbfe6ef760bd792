# socklab: tutorial 001 §7.4 udp的recvfrom(512)参数的意义, client (printed twice, identical): sends every
# typed line, reads nothing. The recvfrom(10) server it was shown with is not in the text.
import socket
client = socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
while True:
    msg = input('>>')
    client.sendto(msg.encode('utf-8'), ('127.0.0.1', 8080))
