//! Lesson 02 over real loopback sockets.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use common::{connect, run, ServerProcess, WAIT};

const BIN: &str = env!("CARGO_BIN_EXE_02-echo-loop");

#[test]
fn many_messages_on_one_connection_then_server_exits() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let out = run(
        BIN,
        &[
            "client",
            "--port",
            &server.port_arg(),
            "hello",
            "how are you",
            "你好 ok",
        ],
        "",
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, "HELLO\nHOW ARE YOU\n你好 OK\n");
    server.expect_line("received 5 bytes from 127.0.0.1:");
    server.expect_line("gone (it closed the connection)");
    server.expect_line("exiting");
    assert!(server.wait_exit().success());
}

#[test]
fn python_style_client_loops_send_recv_1024() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let mut conn = connect(server.addr);
    for i in 0..50 {
        let message = format!("message number {i}");
        conn.write_all(message.as_bytes()).unwrap();
        // Like the tutorial, one recv(1024) per message. This is safe here only because each
        // reply is read before the next message is sent and a short write arrives whole on
        // loopback; the lesson's own client reads until it has every byte.
        let mut buf = [0u8; 1024];
        let n = common::read_once(&mut conn, &mut buf).unwrap();
        assert_eq!(&buf[..n], message.to_uppercase().as_bytes());
    }
    drop(conn);
    assert!(server.wait_exit().success());
}

#[test]
fn client_reads_stdin_lines_skips_empty_and_stops_at_quit() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let out = run(
        BIN,
        &["client", "--port", &server.port_arg()],
        "first\n\nsecond\nquit\nnever sent\n",
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, "FIRST\nSECOND\n");
}

#[test]
fn small_bufsize_answers_in_pieces_and_client_reassembles() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0", "--bufsize", "4"]);
    let out = run(
        BIN,
        &["client", "--port", &server.port_arg(), "abcdefghij"],
        "",
    );
    assert_eq!(out.stdout, "ABCDEFGHIJ\n");
    // However the 10 bytes were split between reads, no read took more than 4 and together
    // they are all 10.
    let mut total = 0;
    loop {
        let line = server.expect_line("");
        if line.contains("gone") {
            break;
        }
        if let Some(rest) = line.strip_prefix("received ") {
            let n: usize = rest.split(' ').next().unwrap().parse().unwrap();
            assert!(n <= 4, "{line}");
            total += n;
        }
    }
    assert_eq!(total, 10);
}

#[test]
fn reset_is_logged_as_vanished_and_server_exits() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let mut conn = connect(server.addr);
    conn.write_all(b"hi").unwrap();
    let mut buf = [0u8; 2];
    conn.read_exact(&mut buf).unwrap();
    // SO_LINGER with a zero timeout makes close() send a reset (RST) instead of a FIN: what a
    // crashed client looks like to the server.
    socket2::SockRef::from(&conn)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(conn);
    server.expect_line("vanished (connection reset)");
    assert!(server.wait_exit().success());
}

#[test]
fn second_client_waits_in_backlog_and_is_reset_when_server_exits() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let mut first = connect(server.addr);
    first.write_all(b"one").unwrap();
    let mut buf = [0u8; 3];
    first.read_exact(&mut buf).unwrap();
    server.expect_line("connected");

    // The kernel completes the second handshake by itself: connect succeeds and the bytes are
    // accepted into the kernel's buffer, though the server never calls accept() for it.
    let mut second = connect(server.addr);
    second.write_all(b"two").unwrap();

    // Prove the server is still on the first connection: it answers the first client again.
    first.write_all(b"again").unwrap();
    let mut buf = [0u8; 5];
    first.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"AGAIN");

    drop(first);
    // Up to its exit, the server never accepts the second client.
    loop {
        let line = server.expect_line("");
        assert!(!line.contains("connected"), "{line}");
        if line.contains("exiting") {
            break;
        }
    }
    assert!(server.wait_exit().success());

    // The server exited with the second connection still queued: closing the listening socket
    // resets it. The read returns a reset (Linux) or end of stream, never a reply.
    let mut buf = [0u8; 16];
    match common::read_once(&mut second, &mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("expected reset or end of stream, got {other:?}"),
    }
}

#[test]
fn client_times_out_when_no_reply_comes() {
    // A "server" that accepts and then says nothing.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let holder = thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(WAIT)).unwrap();
        let mut sink = Vec::new();
        let _ = (&conn).read_to_end(&mut sink);
    });
    let out = run(
        BIN,
        &["client", "--port", &port, "--timeout", "1", "hello"],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.starts_with("error: no reply within 1 s"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1);
    holder.join().unwrap();
}

#[test]
fn refused_connection_is_one_clear_line() {
    common::assert_connection_refused_is_one_clear_line(BIN);
}

#[cfg(unix)]
#[test]
fn closed_stdout_is_not_a_panic() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let out = common::run_with_closed_stdout(
        BIN,
        &["client", "--port", &server.port_arg(), "one", "two"],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stderr, "");
}

#[test]
fn bad_bufsize_exits_2() {
    let out = run(BIN, &["server", "--bufsize", "0"], "");
    assert_eq!(out.status.code(), Some(2));
}

/// Tutorial 001's servers answer `data.upper() + b'sb'`: the echo client says the reply is not the
/// echo; with --any-reply it prints what one recv(1024) brought back.
#[test]
fn any_reply_prints_tutorial_001s_upper_plus_sb() {
    let serve_once = || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port().to_string();
        let server = thread::spawn(move || {
            let mut conn = common::accept(&listener);
            let mut buf = [0u8; 1024];
            loop {
                let n = common::read_once(&mut conn, &mut buf).unwrap_or(0);
                if n == 0 {
                    break;
                }
                let mut reply = buf[..n].to_ascii_uppercase();
                reply.extend_from_slice(b"sb");
                if conn.write_all(&reply).is_err() {
                    break;
                }
            }
        });
        (port, server)
    };
    let (port, server) = serve_once();
    let out = run(
        BIN,
        &["client", "--port", &port, "--any-reply", "hello"],
        "",
    );
    server.join().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, "HELLOsb\n");
    let (port, server) = serve_once();
    // The echo client reads exactly the 5 bytes of HELLO; the "sb" left over starts the next
    // reply.
    let out = run(
        BIN,
        &[
            "client",
            "--port",
            &port,
            "--timeout",
            "1",
            "hello",
            "world",
        ],
        "",
    );
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(out.stdout, "HELLO\n");
    assert!(
        out.stderr
            .contains("the reply was not the message upper-cased: sbWOR"),
        "{}",
        out.stderr
    );
}
