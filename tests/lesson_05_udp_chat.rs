//! Lesson 05 over real loopback sockets.

mod common;

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};

use common::{run, udp_socket, ServerProcess};

const BIN: &str = env!("CARGO_BIN_EXE_05-udp-chat");

/// A chat member played by hand, as the tutorial's Python client would: sendto / recvfrom.
struct Member {
    socket: UdpSocket,
    server: SocketAddr,
}

impl Member {
    /// Joins with an empty datagram and checks the welcome.
    fn join(server: &ServerProcess) -> Member {
        let member = Member::silent(server);
        member.send("");
        let welcome = member.recv();
        assert!(welcome.starts_with("* welcome 127.0.0.1:"), "{welcome}");
        member
    }

    /// A socket that has not said anything yet.
    fn silent(server: &ServerProcess) -> Member {
        Member {
            socket: udp_socket(),
            server: server.addr,
        }
    }

    fn addr(&self) -> String {
        self.socket.local_addr().unwrap().to_string()
    }

    fn send(&self, text: &str) {
        self.socket.send_to(text.as_bytes(), self.server).unwrap();
    }

    fn recv(&self) -> String {
        let mut buf = [0u8; 1024];
        let (n, from) = common::recv_from_once(&self.socket, &mut buf).unwrap();
        assert_eq!(from, self.server);
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    /// Asserts nothing is waiting in this socket's receive buffer. Used after the server has
    /// logged that it is done with a message: on loopback a datagram is in practice in the
    /// receiver's buffer by the time the sender's sendto returns. A delayed delivery could only
    /// hide a wrong relay from this check, never fail a correct server.
    fn assert_nothing_waiting(&self) {
        self.socket.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 1024];
        match common::recv_from_once(&self.socket, &mut buf) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            other => panic!(
                "expected nothing, got {:?}",
                other.map(|(n, _)| String::from_utf8_lossy(&buf[..n]).into_owned())
            ),
        }
        self.socket.set_nonblocking(false).unwrap();
    }
}

#[test]
fn message_is_relayed_to_three_clients_sender_included() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let members: Vec<Member> = (0..3).map(|_| Member::join(&server)).collect();
    members[1].send("hello all");
    let expected = format!("{}: hello all", members[1].addr());
    for member in &members {
        assert_eq!(member.recv(), expected);
    }
    server.expect_line("said 9 bytes, relayed to 3 clients: hello all");
}

#[test]
fn tutorial_client_joins_by_speaking() {
    // The tutorial's client never sends an empty datagram: its first message joins it, and the
    // one recvfrom after its sendto gets its own message back.
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let python = Member::silent(&server);
    python.send("hi");
    assert_eq!(python.recv(), format!("{}: hi", python.addr()));
}

#[test]
fn nicknames_label_messages_and_are_validated() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let ann = Member::join(&server);
    let bob = Member::join(&server);
    ann.send("/nick ann");
    assert_eq!(ann.recv(), "* you are now ann");
    ann.send("hi bob");
    assert_eq!(bob.recv(), "ann: hi bob");
    assert_eq!(ann.recv(), "ann: hi bob");

    bob.send("/nick ANN");
    assert_eq!(bob.recv(), "* error: the nickname 'ANN' is taken");
    bob.send("/nick two words");
    assert_eq!(
        bob.recv(),
        "* error: a nickname may hold only letters, digits, '-', '_' and '.'"
    );
    bob.send("/nick 127.0.0.1:1");
    assert!(bob.recv().starts_with("* error: "));
    bob.send("/nick abcdefghijklmnopq");
    assert_eq!(
        bob.recv(),
        "* error: nickname too long (at most 16 characters)"
    );
    bob.send("/nick");
    assert_eq!(bob.recv(), "* error: usage: /nick NAME");
    bob.send("/who");
    assert!(bob.recv().starts_with("* error: unknown command '/who'"));
    bob.send("/nick 小明");
    assert_eq!(bob.recv(), "* you are now 小明");
    bob.send("你好");
    assert_eq!(ann.recv(), "小明: 你好");
    ann.assert_nothing_waiting(); // no notice about bob's failed attempts reached ann
}

#[test]
fn leave_says_bye_and_stops_relays() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let ann = Member::join(&server);
    let bob = Member::join(&server);
    bob.send("/leave");
    assert_eq!(bob.recv(), "* bye");
    server.expect_line("left (1 in the chat)");
    ann.send("alone?");
    assert!(ann.recv().ends_with(": alone?"));
    server.expect_line("relayed to 1 client");
    bob.assert_nothing_waiting();
}

/// With --idle 1, a silent client is forgotten (even though nobody else talks) and no longer
/// receives relays. We wait for the server's "forgot" log line rather than sleeping.
#[test]
fn idle_client_is_forgotten() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0", "--idle", "1"]);
    let quiet = Member::join(&server);
    server.expect_line(&format!("forgot {}: silent for 1 s", quiet.addr()));
    assert_eq!(
        quiet.recv(),
        "* you were silent for 1 s and have been forgotten; send anything to rejoin"
    );

    let talker = Member::join(&server);
    talker.send("anyone?");
    assert!(talker.recv().ends_with(": anyone?"));
    server.expect_line("relayed to 1 client: anyone?");
    quiet.assert_nothing_waiting();

    // Speaking again joins again. (Only the speaker is checked: after a long enough pause on
    // a loaded machine the talker could itself have been forgotten by now.)
    quiet.send("back");
    assert_eq!(quiet.recv(), format!("{}: back", quiet.addr()));
}

#[test]
fn max_clients_bounds_the_room() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0", "--max-clients", "2"]);
    let _a = Member::join(&server);
    let _b = Member::join(&server);
    let c = Member::silent(&server);
    c.send("let me in");
    assert_eq!(
        c.recv(),
        "* error: the chat is full (2 clients); try again later"
    );
    server.expect_line("turned away");
}

#[test]
fn client_binary_prints_welcome_nick_relays_and_bye() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let watcher = Member::join(&server);
    let out = run(
        BIN,
        &[
            "client",
            "--port",
            &server.port_arg(),
            "--nick",
            "bob",
            "hello",
            "bye now",
        ],
        "",
    );
    assert!(out.status.success(), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("* welcome 127.0.0.1:"), "{lines:?}");
    assert_eq!(
        &lines[1..],
        ["* you are now bob", "bob: hello", "bob: bye now", "* bye"],
    );
    assert_eq!(watcher.recv(), "bob: hello");
    assert_eq!(watcher.recv(), "bob: bye now");
}

#[test]
fn client_binary_reads_stdin_until_quit() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let out = run(
        BIN,
        &["client", "--port", &server.port_arg()],
        "one\n\ntwo\nquit\nthree\n",
    );
    assert!(out.status.success(), "{out:?}");
    let said: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| !l.starts_with("* "))
        .collect();
    assert_eq!(said.len(), 2, "{said:?}");
    assert!(
        said[0].ends_with(": one") && said[1].ends_with(": two"),
        "{said:?}"
    );
}

#[test]
fn client_without_server_says_so() {
    common::assert_udp_no_reply_is_one_clear_line(BIN, "hi");
}

#[test]
fn zero_idle_is_a_usage_error() {
    let out = run(BIN, &["server", "--idle", "0"], "");
    assert_eq!(out.status.code(), Some(2));
}

#[cfg(unix)]
#[test]
fn closed_stdout_is_not_a_panic() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let out = common::run_with_closed_stdout(BIN, &["client", "--port", &server.port_arg(), "hi"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stderr, "");
    server.expect_line("left (0 in the chat)");
}

#[test]
fn idle_accepts_units() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0", "--idle", "0.5s"]);
    let quiet = Member::join(&server);
    server.expect_line(&format!("forgot {}: silent for 0.5 s", quiet.addr()));
}

/// A message cannot pose as a line from the server, or reach the terminal as control codes:
/// the client shows other people's newlines and escapes as `\n`, `\x1b`.
#[test]
fn client_binary_escapes_what_others_send() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let out = run(
        BIN,
        &[
            "client",
            "--port",
            &server.port_arg(),
            "hi\n* bye",
            "\u{1b}[2J",
        ],
        "",
    );
    assert!(out.status.success(), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[1].ends_with(": hi\\n* bye"), "{lines:?}");
    assert!(lines[2].ends_with(": \\x1b[2J"), "{lines:?}");
    assert_eq!(lines.len(), 4, "{lines:?}");
}

/// Tutorial 001 §7.3's chat server: remembers every sender and relays each datagram, raw, to
/// everyone it has seen. No welcome, no commands, no `* bye`. Returns what it received once the
/// test drops the returned sender.
fn tutorial_relay() -> (
    u16,
    std::sync::mpsc::Sender<()>,
    std::thread::JoinHandle<Vec<Vec<u8>>>,
) {
    let socket = udp_socket();
    let port = socket.local_addr().unwrap().port();
    socket
        .set_read_timeout(Some(std::time::Duration::from_millis(50)))
        .unwrap();
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let mut seen: Vec<SocketAddr> = Vec::new();
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        let deadline = std::time::Instant::now() + common::WAIT;
        while !matches!(
            stopped.try_recv(),
            Err(std::sync::mpsc::TryRecvError::Disconnected)
        ) && std::time::Instant::now() < deadline
        {
            match socket.recv_from(&mut buf) {
                Ok((n, from)) => {
                    if !seen.contains(&from) {
                        seen.push(from);
                    }
                    for to in &seen {
                        socket.send_to(&buf[..n], to).unwrap();
                    }
                    got.push(buf[..n].to_vec());
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => panic!("{e}"),
            }
        }
        got
    });
    (port, stop, thread)
}

#[test]
fn client_binary_against_the_tutorials_relay_ends_without_an_error() {
    let (port, stop, server) = tutorial_relay();
    let out = run(
        BIN,
        &[
            "client",
            "--port",
            &port.to_string(),
            "--timeout",
            "0.5",
            "hello",
            "world",
        ],
        "",
    );
    drop(stop);
    let got = server.join().unwrap();
    assert!(out.status.success(), "{out:?}");
    // The relayed empty datagram of our joining, then our two messages, relayed back raw.
    assert_eq!(out.stdout, "\nhello\nworld\n");
    assert!(
        out.stderr.starts_with(
            "note: the server did not answer our joining with '* welcome', so it is not \
             socklab's"
        ),
        "{}",
        out.stderr
    );
    // No /leave was sent: the tutorial's server would have relayed it to everyone as text.
    assert_eq!(got, [b"".to_vec(), b"hello".to_vec(), b"world".to_vec()]);
}

/// At a terminal, a line that arrives while the user sits at the `>>: ` prompt is printed on a
/// line of its own and the prompt drawn again under it (`\r`, erase the line, the text, a new
/// prompt). The client runs in a pseudo-terminal that Python's `pty` module opens.
#[test]
fn incoming_line_redraws_the_prompt_at_a_terminal() {
    if !common::have_python() {
        return;
    }
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let script = r#"
import os, pty, select, sys, time
binary, port = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execv(binary, [binary, 'client', '--port', port])
def read_until(token, seconds=20):
    seen, end = b'', time.time() + seconds
    while token not in seen and time.time() < end:
        if select.select([fd], [], [], 0.2)[0]:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
    return seen
first = read_until(b'>>: ')
assert b'>>: ' in first, 'no prompt'
print('at the prompt', flush=True)
sys.stdin.readline()                     # the test has made someone else speak
seen = read_until(b'hello from bob\r\n>>: ')
os.write(fd, b'quit\n')
read_until(b'* bye')
for _ in range(100):                     # at most 10 s, then it is killed
    if os.waitpid(pid, os.WNOHANG)[0]:
        break
    time.sleep(0.1)
else:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
print(repr(first), repr(seen))
"#;
    let port = server.port_arg();
    let mut python = std::process::Command::new("python3")
        .args(["-c", script, BIN, &port])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let mut stdout = std::io::BufReader::new(python.stdout.take().expect("piped"));
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).expect("read");
    assert_eq!(line, "at the prompt\n");
    // The prompt is showing: now someone else says something.
    server.expect_line("joined (1 in the chat)");
    let out = run(BIN, &["client", "--port", &port, "hello from bob"], "");
    assert!(out.status.success(), "{out:?}");
    {
        use std::io::Write;
        let mut stdin = python.stdin.take().expect("piped");
        stdin.write_all(b"go\n").expect("write");
    }
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).expect("read");
    let status = python.wait().expect("wait");
    assert!(status.success(), "{rest}");
    assert!(
        rest.contains(r"\r\x1b[K127.0.0.1:") && rest.contains(r": hello from bob\r\n>>: "),
        "the line is drawn over the prompt, and the prompt again under it: {rest}"
    );
}
