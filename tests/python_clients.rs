//! The tutorials' own kind of client, in Python, against socklab's servers.
//!
//! Issue 2 promises that a client written as in the tutorials (plain `socket`, `send` /
//! `recv(1024)`, `sendto` / `recvfrom`) gets the replies the walkthrough describes from every
//! server of lessons 01–06 and 11. These tests hold that promise with real `python3` processes.
//! Each script is what a student would write, plus the `settimeout` the tutorials forget (so a
//! broken server fails the test instead of hanging it). Without `python3` on PATH the tests say
//! so and pass: they prove interoperability, not the Rust code, which other tests cover.
//!
//! The tutorials' *own* programs, run as written, are in `tests/tutorials/` and paired with every
//! lesson by `tests/tutorial_programs.rs`; what stays here is what those programs never do
//! (resets, truncated datagrams, nicknames, malformed formats, concurrent clients and refusals).

mod common;

use std::process::Command;

use common::{run_with_env, ServerProcess};

/// Runs `script` with `python3 -c`, the server's port as `sys.argv[1]`, and returns what it
/// printed. `None` when there is no `python3` to run.
fn python(script: &str, port: u16) -> Option<String> {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("note: python3 is not on PATH; skipping the Python client test");
        return None;
    }
    let port = port.to_string();
    // UTF-8 output whatever the locale, so Chinese text prints the same everywhere.
    let env = [("PYTHONIOENCODING", "utf-8"), ("PYTHONUTF8", "1")];
    let out = run_with_env("python3", &["-c", script, &port], "", &env);
    assert!(out.status.success(), "python failed:\n{}", out.stderr);
    Some(out.stdout)
}

#[test]
fn lesson_02_communication_loop_then_reset() {
    let server = ServerProcess::start(
        env!("CARGO_BIN_EXE_02-echo-loop"),
        &["server", "--port", "0"],
    );
    // The loop of tutorial 000 §2, then a crash: SO_LINGER 0 makes close() send a reset.
    let script = r#"
import socket, struct, sys
phone = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
phone.settimeout(10)
phone.connect(('127.0.0.1', int(sys.argv[1])))
for msg in ['hello', 'how are you', '再见']:
    phone.send(msg.encode('utf-8'))
    data = phone.recv(1024)
    print(data.decode('utf-8'))
phone.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
phone.close()
"#;
    let Some(out) = python(script, server.port()) else {
        return;
    };
    assert_eq!(out, "HELLO\nHOW ARE YOU\n再见\n");
    server.expect_line("vanished (connection reset)");
    assert!(server.wait_exit().success());
}

#[test]
fn lesson_03_clients_one_after_another() {
    let bin = env!("CARGO_BIN_EXE_03-echo-reconnect");
    let server = ServerProcess::start(bin, &["server", "--port", "0"]);
    let script = r#"
import socket, struct, sys
for name in ['first', 'second', 'third']:
    phone = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    phone.settimeout(10)
    phone.connect(('127.0.0.1', int(sys.argv[1])))
    phone.send(name.encode('utf-8'))
    print(phone.recv(1024).decode('utf-8'))
    if name == 'first':  # crash: the server must survive the reset
        phone.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    phone.close()
"#;
    let Some(out) = python(script, server.port()) else {
        return;
    };
    assert_eq!(out, "FIRST\nSECOND\nTHIRD\n");
    server.expect_line("vanished (connection reset)");
}

#[test]
fn lesson_11_clients_at_once_and_a_clean_refusal() {
    let bin = env!("CARGO_BIN_EXE_11-threaded-echo");
    let server = ServerProcess::start(bin, &["server", "--port", "0", "--max-clients", "2"]);
    // Two clients connected at once, answered in turn; a third is refused with one line and a
    // clean end of stream (b''), not a ConnectionResetError.
    let script = r#"
import socket, sys
addr = ('127.0.0.1', int(sys.argv[1]))
def client():
    s = socket.socket()
    s.settimeout(10)
    s.connect(addr)
    return s
a, b = client(), client()
for s, msg in [(a, b'from a'), (b, b'from b'), (a, b'a again')]:
    s.send(msg)
    print(s.recv(1024).decode())
c = client()
c.send(b'me too')
print(c.recv(1024).decode(), end='')
print('then', c.recv(1024))
"#;
    let Some(out) = python(script, server.port()) else {
        return;
    };
    assert_eq!(
        out,
        "FROM A\nFROM B\nA AGAIN\n\
         error: server busy (2 clients connected, the --max-clients limit); try again later\n\
         then b''\n"
    );
}

#[test]
fn lesson_04_sendto_recvfrom() {
    let bin = env!("CARGO_BIN_EXE_04-udp-echo");
    let server = ServerProcess::start(bin, &["server", "--port", "0", "--bufsize", "10"]);
    let script = r#"
import socket, sys
ip_port = ('127.0.0.1', int(sys.argv[1]))
udp_client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp_client.settimeout(10)
for msg in [b'hello', b'', b'thirty bytes make this message']:
    udp_client.sendto(msg, ip_port)
    data, addr = udp_client.recvfrom(1024)
    print(data, addr == ip_port)
"#;
    let Some(out) = python(script, server.port()) else {
        return;
    };
    // The empty datagram is answered; the long one was cut to the server's 10-byte buffer.
    assert_eq!(out, "b'HELLO' True\nb'' True\nb'THIRTY BYT' True\n");
}

#[test]
fn lesson_05_chat_relay_and_nicknames() {
    let server = ServerProcess::start(
        env!("CARGO_BIN_EXE_05-udp-chat"),
        &["server", "--port", "0"],
    );
    let script = r#"
import socket, sys
server = ('127.0.0.1', int(sys.argv[1]))
def member():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(10)
    return s
def recv(s):
    return s.recvfrom(1024)[0].decode('utf-8')
ann, bob = member(), member()
ann.sendto('/nick ann'.encode('utf-8'), server)   # joins by speaking, as the tutorial's client
print(recv(ann))
bob.sendto(b'', server)                          # joins with an empty datagram
print(recv(bob).startswith('* welcome 127.0.0.1:'))
ann.sendto('你好 bob'.encode('utf-8'), server)
print(recv(ann)); print(recv(bob))
bob.sendto(b'/leave', server)
print(recv(bob))
"#;
    let Some(out) = python(script, server.port()) else {
        return;
    };
    assert_eq!(
        out,
        "* you are now ann\nTrue\nann: 你好 bob\nann: 你好 bob\n* bye\n"
    );
}

#[test]
fn lesson_06_time_formats() {
    let server = ServerProcess::start(
        env!("CARGO_BIN_EXE_06-udp-time"),
        &["server", "--port", "0"],
    );
    // The tutorial 002 client, one format per datagram.
    let script = r#"
import socket, sys, time
ip_port = ('127.0.0.1', int(sys.argv[1]))
udp_client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp_client.settimeout(10)
for msg in [b'', b'%Y', b'%Q', b'\xff', '%Y年'.encode('utf-8')]:
    udp_client.sendto(msg, ip_port)
    data, addr = udp_client.recvfrom(1024)
    print(data.decode('utf-8'))
udp_client.sendto(b'%s', ip_port)
print(abs(int(udp_client.recvfrom(1024)[0]) - time.time()) < 60)
"#;
    let Some(out) = python(script, server.port()) else {
        return;
    };
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "{out}");
    assert_eq!(lines[0].len(), "2024-02-29 13:05:09".len(), "{out}");
    assert!(
        lines[1].len() == 4 && lines[1].bytes().all(|b| b.is_ascii_digit()),
        "{out}"
    );
    assert!(lines[2].starts_with("error: invalid format '%Q'"), "{out}");
    assert_eq!(lines[3], "error: the format is not UTF-8 text");
    let year = lines[4].strip_suffix("年").unwrap_or_default();
    assert!(
        year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit()),
        "{out}"
    );
    assert_eq!(
        lines[5], "True",
        "the server's clock is the machine's: {out}"
    );
}
