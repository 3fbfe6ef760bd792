# socklab: tutorial 001 §6.4 远程执行命令的小程序, client: reads the 4-byte length, then the answer,
# decoded as GBK.
import socket
import struct
client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
client.connect(('127.0.0.1', 65535))
while True:
    msg = input('>>')
    if not msg:
        continue
    client.send(msg.encode('utf-8'))
    head = client.recv(4)  # 获得报头
    total_len = struct.unpack('i', head)[0]  # 将报头中前四个字节解压得到数据的总长度
    current_len = 0  # 当前读取的报文长度
    data = b''
    finally_data = b''
    while current_len < total_len:
        print(current_len, total_len)
        data = client.recv(1024)
        current_len += len(data)
        finally_data += data
    print(finally_data.decode('gbk'))
