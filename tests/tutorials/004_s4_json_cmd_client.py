# socklab: tutorial 004 终极版客户端: the header length, the JSON header, then data_size bytes.
# 买手机
import socket
import struct
import json
phone = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# 拨通电话
# ip_port = ('127.0.0.1', 8080)
ip_port = ('192.168.16.114', 8081)
phone.connect(ip_port)
# 通信循环
while True:
    # 发消息
    cmd = input('>>: ').strip()
    if not cmd: continue
    phone.send(bytes(cmd, encoding='utf-8'))
    # part1:先收报头的长度
    head_struct=phone.recv(4)
    head_len=struct.unpack('i',head_struct)[0]
    # part2:再收报头
    head_bytes=phone.recv(head_len)
    head_json=head_bytes.decode('utf-8')
    head_dic=json.loads(head_json)
    print(head_dic)
    data_size = head_dic['data_size']
    #part3:收数据
    recv_size = 0
    recv_data = b''
    while recv_size < data_size:
        data = phone.recv(1024)
        recv_size += len(data)
        recv_data += data
    print(recv_data.decode('utf-8'))
phone.close()
