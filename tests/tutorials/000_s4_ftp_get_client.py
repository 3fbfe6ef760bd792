# socklab: tutorial 000 §4, ftp客户端: "get FILE" saves FILE.new, then prints both MD5s.
#Author:ZhangKanghui

import socket
import os
import hashlib
client = socket.socket()

client.connect(('localhost',9999))

while True:
    cmd = input(">>:").strip()
    if len(cmd) == 0:continue
    if cmd.startswith("get"):
        client.send(cmd.encode())
        server_reponse = client.recv(1024)
        print("server response:",server_reponse)
        client.send(b"i am ready to recv file")
        file_total_size =int(server_reponse.decode())
        received_size = 0
        filename = cmd.split()[1]
        f =open(filename +'.new','wb')
        m = hashlib.md5()
        while received_size < file_total_size:
            if file_total_size - received_size >1024: #表示要收不止一次
                size =1024
            else: #最后一次剩多少收多少
                size =file_total_size - received_size
                print("last recv:",size)

            data =client.recv(size)
            received_size+=len(data)
            m.update(data)
            f.write(data)
            #print(file_total_size,received_size)
        else:
            new_file_md5 =m.hexdigest()
            print("flie recv done",file_total_size,received_size)
            f.close()
        server_file_md5 = client.recv(1024)
        print("server file md5",server_file_md5)
        print("client file md5",new_file_md5)
client.close()
