//! Lesson 08 over real loopback sockets.

// Unix-only: the commands these tests send are `sh` commands (seq, sleep, `;`, `$!`) and
// their expected answers end lines with `\n`. On Windows the tour covers the cmd.exe path.
#![cfg(unix)]

mod common;

use std::net::UdpSocket;

use common::{closed_port, run, ServerProcess, WAIT};
use socklab::shell::answer::seq_output;

const BIN: &str = env!("CARGO_BIN_EXE_08-remote-cmd-udp");

/// A client written like the tutorial's: sendto, then recvfrom(bufsize).
struct PyClient {
    socket: UdpSocket,
    server: std::net::SocketAddr,
}

impl PyClient {
    fn new(server: &ServerProcess) -> PyClient {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_read_timeout(Some(WAIT)).unwrap();
        PyClient {
            socket,
            server: server.addr,
        }
    }

    fn ask(&self, command: &[u8], bufsize: usize) -> Vec<u8> {
        self.socket.send_to(command, self.server).unwrap();
        let mut buf = vec![0u8; bufsize];
        // Retried when a signal interrupts it, as Python's recvfrom is.
        let (n, from) = loop {
            match self.socket.recv_from(&mut buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                received => break received.unwrap(),
            }
        };
        assert_eq!(from, self.server);
        buf.truncate(n);
        buf
    }
}

#[test]
fn a_small_buffer_loses_the_rest_and_nothing_sticks_to_the_next_answer() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let py = PyClient::new(&server);
    let first = py.ask(b"seq 1 5000", 100);
    assert_eq!(first, seq_output(5000)[..100]);
    // UDP keeps datagram boundaries: the 23793 bytes that did not fit are gone, so the next
    // recvfrom returns the next datagram, whole.
    assert_eq!(py.ask(b"echo hi", 100), b"hi\n");
}

#[test]
fn client_binary_says_how_much_was_lost() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let out = run(
        BIN,
        &[
            "client",
            "--port",
            &server.port_arg(),
            "--bufsize",
            "100",
            "seq 1 5000",
            "echo hi",
        ],
        "",
    );
    assert!(out.status.success(), "{out:?}");
    let mut expected = String::from_utf8(seq_output(5000)[..100].to_vec()).unwrap();
    if !expected.ends_with('\n') {
        expected.push('\n');
    }
    expected.push_str("hi\n");
    assert_eq!(out.stdout, expected);
    let note = if cfg!(any(target_os = "linux", target_os = "android")) {
        "socklab: answer truncated: 23793 bytes lost"
    } else {
        "socklab: answer truncated"
    };
    assert!(out.stderr.contains(note), "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}

#[test]
fn an_answer_longer_than_a_datagram_is_cut_with_a_note() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let py = PyClient::new(&server);
    // seq 1 20000 prints 108894 bytes; one IPv4 datagram carries at most 65507.
    let answer = py.ask(b"seq 1 20000", 65535);
    assert!(answer.len() <= 65507, "{}", answer.len());
    let note = b"\n[socklab: output cut at 65251 bytes: one UDP datagram carries at most 65507]\n";
    assert!(answer.ends_with(note));
    let output = &answer[..answer.len() - note.len()];
    assert!(seq_output(20000).starts_with(output));
    assert_eq!(py.ask(b"echo next", 65535), b"next\n");
}

#[test]
fn empty_output_and_garbage_get_answers() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let py = PyClient::new(&server);
    assert_eq!(py.ask(b"true", 1024), b"(no output)");
    let answer = py.ask(b"\xff\xfe", 1024);
    assert!(
        answer.starts_with(b"socklab: error: the command is not valid UTF-8"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert_eq!(py.ask(b"echo ok", 1024), b"ok\n");
}

#[test]
fn time_limit_and_output_cap_are_reported_and_the_server_goes_on() {
    let server = ServerProcess::start(
        BIN,
        &[
            "server",
            "--port",
            "0",
            "--cmd-timeout",
            "1",
            "--max-output",
            "10",
        ],
    );
    let py = PyClient::new(&server);
    assert_eq!(
        py.ask(b"sleep 30", 1024),
        b"[socklab: command killed after 1 s (--cmd-timeout)]\n"
    );
    assert_eq!(
        py.ask(b"seq 1 100", 1024),
        b"1\n2\n3\n4\n5\n[socklab: output cut at 10 bytes (--max-output)]\n"
    );
    assert_eq!(py.ask(b"echo ok", 1024), b"ok\n");
}

#[test]
fn no_server_means_a_timeout_not_a_hang() {
    let port = closed_port().to_string();
    let out = run(
        BIN,
        &["client", "--port", &port, "--timeout", "1", "echo hi"],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr
            .starts_with("error: no answer within 1 s (--timeout)"),
        "{}",
        out.stderr
    );
}

#[test]
fn non_loopback_host_is_refused_without_allow_remote() {
    let out = run(BIN, &["server", "--host", "0.0.0.0", "--port", "0"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("--allow-remote"), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "it never listened: {}", out.stdout);
}

#[test]
fn a_timeout_too_long_for_the_clock_is_no_deadline_not_a_panic() {
    // u64::MAX seconds: adding it to "now" overflows the clock. The client must simply wait.
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let out = run(
        BIN,
        &[
            "client",
            "--port",
            &server.port_arg(),
            "--timeout",
            "18446744073709551615",
            "echo hi",
        ],
        "",
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, "hi\n");
}

#[test]
fn a_background_child_neither_holds_the_answer_nor_outlives_it() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0", "--cmd-timeout", "60"]);
    let py = PyClient::new(&server);
    let answer = py.ask(common::BACKGROUND_CHILD.as_bytes(), 1024);
    common::assert_background_child_gone(&answer);
}
