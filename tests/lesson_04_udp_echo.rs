//! Lesson 04 over real loopback sockets.

mod common;

use common::{run, udp_socket, ServerProcess};

const BIN: &str = env!("CARGO_BIN_EXE_04-udp-echo");

#[test]
fn client_gets_each_datagram_upper_cased() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let out = run(
        BIN,
        &["client", "--port", &server.port_arg(), "hello", "udp 你好"],
        "",
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, "HELLO\nUDP 你好\n");
    server.expect_line("received 5 bytes from 127.0.0.1:");
}

#[test]
fn client_reads_stdin_lines() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let out = run(
        BIN,
        &["client", "--port", &server.port_arg()],
        "one\n\ntwo\nquit\nthree\n",
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, "ONE\nTWO\n");
}

#[test]
fn python_style_sendto_recvfrom_1024() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let socket = udp_socket();
    for message in ["hello", "second datagram", ""] {
        socket.send_to(message.as_bytes(), server.addr).unwrap();
        let mut buf = [0u8; 1024];
        let (n, from) = common::recv_from_once(&socket, &mut buf).unwrap();
        assert_eq!(from, server.addr);
        // Even the empty datagram is answered: unlike TCP's send(b""), sendto(b"") really
        // sends something.
        assert_eq!(&buf[..n], message.to_uppercase().as_bytes());
    }
    server.expect_line("received 0 bytes");
}

#[test]
fn long_datagram_is_truncated_and_reported() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0", "--bufsize", "10"]);
    let socket = udp_socket();
    let message = b"abcdefghijklmnopqrstuvwxyz1234"; // 30 bytes
    socket.send_to(message, server.addr).unwrap();
    let mut buf = [0u8; 1024];
    let (n, _) = common::recv_from_once(&socket, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"ABCDEFGHIJ");
    let line = server.expect_line("received");
    if cfg!(target_os = "linux") {
        assert!(
            line.starts_with("received 10 of 30 bytes from 127.0.0.1:"),
            "{line}"
        );
        assert!(
            line.contains("(datagram truncated: --bufsize 10; the rest is lost): abcdefghij"),
            "{line}"
        );
    }
    // The lost 20 bytes do not turn up later: the next datagram is answered on its own.
    socket.send_to(b"next", server.addr).unwrap();
    let (n, _) = common::recv_from_once(&socket, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"NEXT");
    let line = server.expect_line("received");
    assert!(line.starts_with("received 4 bytes"), "{line}");
}

#[test]
fn datagrams_from_two_clients_are_answered_to_each() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let (a, b) = (udp_socket(), udp_socket());
    a.send_to(b"from a", server.addr).unwrap();
    b.send_to(b"from b", server.addr).unwrap();
    let mut buf = [0u8; 64];
    let (n, _) = common::recv_from_once(&a, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"FROM A");
    let (n, _) = common::recv_from_once(&b, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"FROM B");
}

#[test]
fn client_without_server_times_out_with_a_clear_message() {
    common::assert_udp_no_reply_is_one_clear_line(BIN, "hello");
}

#[test]
fn address_in_use_is_one_clear_line() {
    let taken = udp_socket();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = run(BIN, &["server", "--port", &port], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.contains("address already in use"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1);
}

#[test]
fn bad_timeout_is_a_usage_error() {
    for bad in ["0", "-1", "soon"] {
        let out = run(BIN, &["client", &format!("--timeout={bad}"), "x"], "");
        assert_eq!(out.status.code(), Some(2));
        assert!(
            out.stderr.contains("examples: 2, 0.5, 90s"),
            "{}",
            out.stderr
        );
    }
}

/// `--timeout` takes the same spellings as every other duration flag (2, 0.5, 90s, 1m).
#[test]
fn timeout_accepts_units() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let out = run(
        BIN,
        &[
            "client",
            "--port",
            &server.port_arg(),
            "--timeout",
            "1m",
            "x",
        ],
        "",
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, "X\n");
}

#[cfg(unix)]
#[test]
fn closed_stdout_is_not_a_panic() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let out =
        common::run_with_closed_stdout(BIN, &["client", "--port", &server.port_arg(), "a", "b"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stderr, "");
}
