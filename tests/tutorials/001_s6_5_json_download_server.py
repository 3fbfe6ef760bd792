# socklab: tutorial 001 §6.5 自定义报头, server: receives a bare file name and answers
# struct.pack('i', len(header)) + JSON {"name", "md5", "file_data_len"} + the file's bytes.
"""客户端传过来一个名字,复制这个文件到客户端上面,并且在自定义一个文件头传递过去"""
import socket
import hashlib
import struct
import json
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.bind(('127.0.0.1', 8080))
server.listen(5)
while True:
    conn, addr = server.accept()
    while True:
        try:
            file_name = conn.recv(1024)  # 获得一个字节形式的文件名
            # print(file_name)
            hash_value = hashlib.md5()  # 当前文件的hash值
            file_data_bytes = b''  # 存储文件的数据
            with open(file_name.decode('utf-8'), 'rb') as f:
                for line in f:
                    file_data_bytes += line
                    hash_value.update(line)
            # 自定义文件头
            head_dict = {
                'name': file_name.decode('utf-8'),
                'md5': hash_value.hexdigest(),
                'file_data_len': len(file_data_bytes)
            }
            print(head_dict)
            # 用json转换当前文件头为字节形式
            head_bytes = json.dumps(head_dict).encode('utf-8')
            # 计算当前文件头的长度,并且转换成固定长度(i为4)的字节形式
            head_len_bytes = struct.pack('i', len(head_bytes))
            # print(head_len_bytes,)
            # 发送数据
            conn.send(head_len_bytes + head_bytes + file_data_bytes)
        except Exception as e:
            print(e)
            break
    conn.close()
