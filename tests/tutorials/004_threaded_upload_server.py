# socklab: tutorial 004 FTP练习:上传下载文件改进版(实现并发功能), FTP服务端: the same upload protocol on
# socketserver.ThreadingTCPServer, storing into file_upload/ next to the program. It never answers.
import socketserver
import struct
import json
import subprocess
import os

class MYTCPServer(socketserver.BaseRequestHandler):

    max_packet_size = 8192

    coding='utf-8'
    BASE_DIR=os.path.dirname(os.path.abspath(__file__))

    server_dir='file_upload'

    def handle(self):
        while True:
            try:
                head_struct = self.request.recv(4)
                if not head_struct:break

                head_len = struct.unpack('i', head_struct)[0]
                head_json = self.request.recv(head_len).decode(self.coding)
                head_dic = json.loads(head_json)

                print(head_dic)
                #head_dic={'cmd':'put','filename':'a.txt','filesize':123123}
                cmd=head_dic['cmd']
                if hasattr(self,cmd):
                    func=getattr(self,cmd)
                    func(head_dic)
            except Exception:
                break

    def put(self,args):
        file_path=os.path.normpath(os.path.join(
            self.BASE_DIR,
            self.server_dir,
            args['filename']
        ))

        filesize=args['filesize']
        recv_size=0
        print('----->',file_path)
        with open(file_path,'wb') as f:
            while recv_size < filesize:
                recv_data=self.request.recv(self.max_packet_size)
                f.write(recv_data)
                recv_size+=len(recv_data)
                print('recvsize:%s filesize:%s' %(recv_size,filesize))


if __name__ == '__main__':
    obj=socketserver.ThreadingTCPServer(('127.0.0.1',8080),MYTCPServer)
    obj.serve_forever()
