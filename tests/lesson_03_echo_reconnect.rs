//! Lesson 03 over real loopback sockets.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::{connect, echo, run, ServerProcess};

const BIN: &str = env!("CARGO_BIN_EXE_03-echo-reconnect");

#[test]
fn serves_client_after_client() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    for round in 0..3 {
        let out = run(
            BIN,
            &[
                "client",
                "--port",
                &server.port_arg(),
                &format!("round {round}"),
                "ok",
            ],
            "",
        );
        assert!(out.status.success(), "{out:?}");
        assert_eq!(out.stdout, format!("ROUND {round}\nOK\n"));
        server.expect_line("gone (it closed the connection)");
    }
}

#[test]
fn two_clients_are_served_in_turn() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let mut first = connect(server.addr);
    assert_eq!(echo(&mut first, "first"), "FIRST");
    let first_port = first.local_addr().unwrap().port();
    server.expect_line(&format!("client 127.0.0.1:{first_port} connected"));

    let mut second = connect(server.addr);
    second.write_all(b"second").unwrap();
    let second_port = second.local_addr().unwrap().port();

    // The server is still talking to the first client...
    assert_eq!(echo(&mut first, "still me"), "STILL ME");
    // ...and has not accepted the second: no log line about it before the first is gone.
    drop(first);
    loop {
        let line = server.expect_line("");
        assert!(!line.contains(&second_port.to_string()), "{line}");
        if line.contains("gone") {
            assert!(line.contains(&first_port.to_string()), "{line}");
            break;
        }
    }
    // Only now is the second client accepted and answered (its bytes waited in the kernel).
    server.expect_line(&format!("client 127.0.0.1:{second_port} connected"));
    let mut reply = [0u8; 6];
    second.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"SECOND");
}

#[test]
fn survives_a_reset_and_serves_the_next_client() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let mut crasher = connect(server.addr);
    assert_eq!(echo(&mut crasher, "hi"), "HI");
    // SO_LINGER 0: close() sends RST, as when a client process dies with unread data.
    socket2::SockRef::from(&crasher)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(crasher);
    server.expect_line("vanished (connection reset)");

    let out = run(BIN, &["client", "--port", &server.port_arg(), "after"], "");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, "AFTER\n");
}

#[test]
fn python_style_client_send_recv_1024() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0", "--backlog", "5"]);
    for _ in 0..2 {
        let mut conn = connect(server.addr);
        for message in ["hello", "世界 abc"] {
            conn.write_all(message.as_bytes()).unwrap();
            let mut buf = [0u8; 1024];
            let n = common::read_once(&mut conn, &mut buf).unwrap();
            assert_eq!(&buf[..n], message.to_uppercase().as_bytes());
        }
    }
}

/// A restarted server finds the old server's connections in TIME_WAIT. With SO_REUSEADDR (the
/// default, as in Rust's std) it binds anyway; with `--no-reuseaddr` (Python's default) it fails.
///
/// Deterministic because we make the *server* side close first: it is killed while a client is
/// connected, so its kernel sends the FIN; when the client then closes, the server side's socket
/// enters TIME_WAIT (for 60 s on Linux). We wait until /proc/net/tcp shows that socket before
/// restarting, rather than hoping the timing works.
#[cfg(target_os = "linux")]
#[test]
fn restart_while_time_wait_needs_reuseaddr() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let port = server.port();
    let mut conn = connect(server.addr);
    assert_eq!(echo(&mut conn, "x"), "X");
    drop(server); // kills the process: its kernel closes the connection first
    let mut buf = [0u8; 1];
    assert_eq!(
        common::read_once(&mut conn, &mut buf).unwrap(),
        0,
        "server side sent FIN"
    );
    drop(conn); // our FIN: the server side goes from FIN_WAIT_2 to TIME_WAIT
    wait_for_time_wait(port);

    let port_arg = port.to_string();
    let refused = run(BIN, &["server", "--port", &port_arg, "--no-reuseaddr"], "");
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        refused.stderr.contains("address already in use"),
        "{}",
        refused.stderr
    );
    assert_eq!(refused.stderr.lines().count(), 1);

    let restarted = ServerProcess::start(BIN, &["server", "--port", &port_arg]);
    assert_eq!(restarted.port(), port);
    let out = run(BIN, &["client", "--port", &port_arg, "back"], "");
    assert_eq!(out.stdout, "BACK\n");
}

/// Waits (bounded) until a TCP socket with local port `port` is in TIME_WAIT (state 06).
#[cfg(target_os = "linux")]
fn wait_for_time_wait(port: u16) {
    let deadline = std::time::Instant::now() + common::WAIT;
    let wanted = format!(":{port:04X}");
    loop {
        let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
        let found = table.lines().skip(1).any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.get(1).is_some_and(|local| local.ends_with(&wanted))
                && fields.get(3) == Some(&"06")
        });
        if found {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no TIME_WAIT socket on port {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn refused_connection_is_one_clear_line() {
    common::assert_connection_refused_is_one_clear_line(BIN);
}

#[test]
fn address_in_use_is_one_clear_line() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    common::assert_address_in_use_is_one_clear_line(BIN, server.port());
}

#[test]
fn negative_backlog_is_a_usage_error() {
    let out = run(BIN, &["server", "--backlog", "-1"], "");
    assert_eq!(out.status.code(), Some(2));
}

// ---- the "phone call" (tutorial 002): server --typed, client --any-reply ---------------------

/// `server --typed` with its standard input piped from the test: the "person" at the server.
#[test]
fn the_phone_call_replies_are_the_lines_typed_at_the_server() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let mut server = Command::new(BIN)
        .args(["server", "--port", "0", "--typed"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut typist = server.stdin.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    let stdout = server.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = |needle: &str| loop {
        let line = lines
            .recv_timeout(common::WAIT)
            .unwrap_or_else(|_| panic!("no line containing {needle:?}"));
        if line.contains(needle) {
            return line;
        }
    };
    let port = next("listening on ")
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    // The replies are typed before the client asks: they wait in the server's input. The empty
    // line is skipped (sent, it would be nothing at all, and the client would wait for ever).
    typist
        .write_all(b"hello, who is calling?\n\nbye!\n")
        .unwrap();
    let out = run(
        BIN,
        &["client", "--port", &port, "--any-reply", "hi", "it's me"],
        "",
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, "hello, who is calling?\nbye!\n");
    next("from 127.0.0.1:");
    // Without --any-reply the echo client says what is wrong.
    typist.write_all(b"not an echo\n").unwrap();
    let out = run(
        BIN,
        &["client", "--port", &port, "--timeout", "1", "hi"],
        "",
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        out.stderr
            .contains("the reply was not the message upper-cased"),
        "{}",
        out.stderr
    );
    drop(typist);
    let _ = server.kill();
    let _ = server.wait();
}

/// Tutorial 001's servers answer `data.upper() + b'sb'`: --any-reply prints it as it came.
#[test]
fn any_reply_accepts_tutorial_001s_upper_plus_sb() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let server = std::thread::spawn(move || {
        let mut conn = common::accept(&listener);
        let mut buf = [0u8; 1024];
        loop {
            let n = common::read_once(&mut conn, &mut buf).unwrap_or(0);
            if n == 0 {
                break;
            }
            let mut reply = buf[..n].to_ascii_uppercase();
            reply.extend_from_slice(b"sb");
            conn.write_all(&reply).unwrap();
        }
    });
    let out = run(
        BIN,
        &["client", "--port", &port, "--any-reply", "hello", "world"],
        "",
    );
    server.join().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, "HELLOsb\nWORLDsb\n");
}
