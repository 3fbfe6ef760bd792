# socklab: tutorial 001 §4 步骤0 初识代码: receives once, answers 'hello', hangs up.
import socket # 导入了模块
phone = socket.socket(socket.AF_INET, socket.SOCK_STREAM) # 首先我去买个手机
phone.bind(('127.0.0.1', 8080)) # 给我的手机插一张卡,('127.0.0.1', 8080)
phone.listen(5) # 开始给我的手机装电池进行开机
conn, addr = phone.accept() # 开机之后我随时等待着有人打电话过来
data = conn.recv(1024) # 先听一下对面说什么
conn.send('hello'.encode('utf-8')) # 然后给对面回复一个内容
conn.close() # 话讲完了之后我要按一下挂断才能挂断电话
phone.close() # 今天有点累了,把手机调成飞行模式,不想接电话了
