//! Lesson 11 over real loopback sockets.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use common::{connect, echo, run, ServerProcess};

const BIN: &str = env!("CARGO_BIN_EXE_11-threaded-echo");

/// Twenty clients connect, and only then do they talk, in interleaved rounds: every client's
/// first message is answered while all twenty are connected. A one-at-a-time server (lesson 03)
/// would never answer the second client while the first is still connected.
#[test]
fn twenty_clients_talk_at_the_same_time() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let mut clients: Vec<TcpStream> = (0..20).map(|_| connect(server.addr)).collect();
    for round in 0..3 {
        for (i, conn) in clients.iter_mut().enumerate() {
            let message = format!("client {i} round {round}");
            assert_eq!(echo(conn, &message), message.to_uppercase());
        }
    }
    // Still all connected: each gets one more answer, in reverse order.
    for (i, conn) in clients.iter_mut().enumerate().rev() {
        assert_eq!(echo(conn, &format!("last {i}")), format!("LAST {i}"));
    }
    drop(clients);
    for _ in 0..20 {
        server.expect_line("gone");
    }
}

#[test]
fn client_binary_and_python_style_client() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    // A raw client holds a connection open while the binary client is served.
    let mut python = connect(server.addr);
    python.write_all(b"hello").unwrap();
    let mut buf = [0u8; 1024];
    let n = common::read_once(&mut python, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"HELLO");

    let out = run(
        BIN,
        &["client", "--port", &server.port_arg(), "one", "two"],
        "",
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, "ONE\nTWO\n");
}

#[test]
fn max_clients_refuses_the_next_with_one_line() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0", "--max-clients", "2"]);
    let mut a = connect(server.addr);
    let mut b = connect(server.addr);
    // Answers prove both were admitted before the third arrives.
    assert_eq!(echo(&mut a, "a"), "A");
    assert_eq!(echo(&mut b, "b"), "B");

    let third = connect(server.addr);
    let mut lines = BufReader::new(third);
    let mut refusal = String::new();
    lines.read_line(&mut refusal).unwrap();
    assert_eq!(
        refusal,
        "error: server busy (2 clients connected, the --max-clients limit); try again later\n"
    );
    let mut rest = String::new();
    assert_eq!(lines.read_to_string(&mut rest).unwrap(), 0, "then closed");
    server.expect_line("refused 127.0.0.1:");

    // A client that sent its message before it was refused (as the tutorial's client does)
    // gets the refusal and then a clean end of stream, not a reset: the server reads what is
    // left and closes only after the client (src/server.rs, spawn_refusal).
    let mut python = connect(server.addr);
    python.write_all(b"hello").unwrap();
    let mut said = Vec::new();
    python.read_to_end(&mut said).unwrap();
    assert!(
        said.starts_with(b"error: server busy (2 clients"),
        "{said:?}"
    );

    // The lesson's client says what the server said.
    // A message shorter or longer than the refusal line: either way the client reports it.
    for message in ["hi".to_string(), "a long message ".repeat(20)] {
        let out = run(BIN, &["client", "--port", &server.port_arg(), &message], "");
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            out.stderr,
            "error: the server refused: server busy (2 clients connected, the --max-clients \
             limit); try again later\n"
        );
    }

    // When one leaves (the server logs "gone" after it stops counting it), there is room.
    drop(a);
    server.expect_line("gone");
    let mut d = connect(server.addr);
    assert_eq!(echo(&mut d, "d"), "D");
    assert_eq!(echo(&mut b, "still b"), "STILL B");
}

#[test]
fn silent_client_is_dropped_after_idle_timeout() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0", "--idle-timeout", "1"]);
    let mut quiet = connect(server.addr);
    let line = server.expect_line("dropped");
    assert!(
        line.ends_with("silent for 1 s (--idle-timeout); closed"),
        "{line}"
    );
    let mut buf = [0u8; 8];
    assert_eq!(
        common::read_once(&mut quiet, &mut buf).unwrap(),
        0,
        "the server closed it"
    );
}

/// A client that sends and sends but never reads the replies: once its receive buffer and the
/// server's send buffer are full, the server's `send` blocks. The write timeout (the same
/// --idle-timeout) ends that instead of holding the thread for ever. Deterministic: the writer
/// keeps writing until the server gives up, however large the kernel's buffers are.
#[test]
fn client_that_never_reads_is_dropped_after_idle_timeout() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0", "--idle-timeout", "1"]);
    let mut greedy = connect(server.addr);
    let writer = std::thread::spawn(move || {
        let chunk = [b'x'; 64 * 1024];
        // Ends with an error once the server has closed the connection (or after WAIT).
        while greedy.write_all(&chunk).is_ok() {}
    });
    let line = server.expect_line("dropped");
    assert!(
        line.ends_with("the client stopped reading its replies (send timed out)"),
        "{line}"
    );
    writer.join().unwrap();
}

#[test]
#[cfg_attr(
    windows,
    ignore = "wine's own doing: when wineserver polls the socket first it takes the reset \
              (SO_ERROR) and recv returns an end of stream; Windows reports WSAECONNRESET"
)]
fn reset_is_logged_and_others_are_unaffected() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let mut stays = connect(server.addr);
    let mut crasher = connect(server.addr);
    assert_eq!(echo(&mut crasher, "x"), "X");
    socket2::SockRef::from(&crasher)
        .set_linger(Some(std::time::Duration::ZERO))
        .unwrap();
    drop(crasher);
    server.expect_line("dropped: vanished (connection reset)");
    assert_eq!(echo(&mut stays, "fine"), "FINE");
}

#[test]
fn refused_connection_is_one_clear_line() {
    common::assert_connection_refused_is_one_clear_line(BIN);
}

#[test]
fn zero_max_clients_is_a_usage_error() {
    let out = run(BIN, &["server", "--max-clients", "0"], "");
    assert_eq!(out.status.code(), Some(2));
}

/// `--quiet` logs clients coming and going but no line per message; the echo is unchanged.
/// Lines come out in order, so once the client's `gone` line is there, any `received` line
/// would have come before it.
#[test]
fn quiet_logs_connections_but_not_messages() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0", "--quiet"]);
    let mut conn = connect(server.addr);
    assert_eq!(echo(&mut conn, "one"), "ONE");
    assert_eq!(echo(&mut conn, "two"), "TWO");
    drop(conn);
    let mut lines = Vec::new();
    loop {
        let line = server.expect_line("");
        let gone = line.contains("gone");
        lines.push(line);
        if gone {
            break;
        }
    }
    assert!(lines.iter().any(|l| l.contains("connected")), "{lines:#?}");
    assert!(!lines.iter().any(|l| l.contains("received")), "{lines:#?}");
}
