# socklab: tutorial 001 §6.5 自定义报头, client: sends a file name, saves the file in ./下载/.
import json
import socket
import struct
import os
client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
client.connect(('127.0.0.1', 8080))
temp = '请'
while True:
    file_name = input(temp + '输入你要下载的文件名称(Q退出)>>>').strip()
    # file_name = 'H:\python_study\day34\自定义\客户端.py'  # socklab edit: the author's Windows path overwrote what was typed
    if file_name.upper() == 'Q':
        break
    if not file_name:
        print('输入不能为空')
        temp = '请重新'
        continue
    client.send(file_name.encode('utf-8'))
    # print(client.recv(100))
    # 读取文件头的内容
    head_len = struct.unpack('i', client.recv(4))[0]  # 获取文件头的长度
    print(head_len)
    head_data_bytes = b''
    while head_len > 0:
        if head_len - 10 > 0:
            head_data_bytes += client.recv(10)
        else:
            head_data_bytes += client.recv(head_len)
        head_len -= 10
    print(head_data_bytes.decode('utf-8'))
    head_data_dict = json.loads(head_data_bytes.decode('utf-8'))
    print(head_data_dict)
    # 读取真实的文件数据并且进行保存
    file_data_len = head_data_dict['file_data_len']
    file_data_bytes = b''
    while file_data_len > 0:
        file_data_bytes += client.recv(10)
        file_data_len -= 10
    file_path = os.path.normpath(os.path.join(
        __file__,
        os.pardir,
        '下载',
        os.path.basename(head_data_dict['name'])
    ))
    with open(file_path, 'wb') as f:
        f.write(file_data_bytes)
client.close()
