# socklab: tutorial 004 socketserver实现并发, 并发服务器: ThreadingTCPServer, upper-cased echo. No check
# for b'': when a client leaves, its thread spins sending b'' (the commented-out first server is
# the single-client version of lesson 02).
import socketserver
#Ftpserver(conn, client_addr, obj)
class FTPsever(socketserver.BaseRequestHandler):#通信
    def handle(self):
        print("----------",self)
        print(self.request)
        while True:
            date=self.request.recv(1024)
            print(date)
            self.request.send(date.upper())

if __name__ == '__main__':
    obj=socketserver.ThreadingTCPServer(("127.0.0.1",8080),FTPsever)
    obj.serve_forever()#链接循环
