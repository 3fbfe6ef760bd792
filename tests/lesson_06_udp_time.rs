//! Lesson 06 over real loopback sockets.

mod common;

use std::net::UdpSocket;

use chrono::{Local, NaiveDateTime};
use common::{run, udp_socket, ServerProcess};

const BIN: &str = env!("CARGO_BIN_EXE_06-udp-time");

/// One request as the tutorial's Python client makes it: sendto, then recvfrom(1024).
fn ask(socket: &UdpSocket, server: &ServerProcess, format: &[u8]) -> String {
    socket.send_to(format, server.addr).unwrap();
    let mut buf = [0u8; 1024];
    let (n, from) = common::recv_from_once(socket, &mut buf).unwrap();
    assert_eq!(from, server.addr);
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

/// Is `reply` a time in the default format, close to now? (Generous: a minute either way.)
fn is_now_in_default_format(reply: &str) -> bool {
    let Ok(then) = NaiveDateTime::parse_from_str(reply, "%Y-%m-%d %H:%M:%S") else {
        return false;
    };
    let drift = Local::now().naive_local() - then;
    drift.num_seconds().abs() < 60
}

#[test]
fn empty_datagram_gets_default_format() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let reply = ask(&udp_socket(), &server, b"");
    assert!(is_now_in_default_format(&reply), "{reply}");
    server.expect_line("received 0 bytes from 127.0.0.1:");
}

#[test]
fn formats_are_applied() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let socket = udp_socket();
    let year = ask(&socket, &server, b"%Y");
    assert_eq!(year.len(), 4);
    assert!(year.bytes().all(|b| b.is_ascii_digit()), "{year}");
    let clock = ask(&socket, &server, b"[%H:%M]");
    assert!(
        clock.starts_with('[') && clock.ends_with(']') && clock.len() == 7,
        "{clock}"
    );
    assert_eq!(ask(&socket, &server, b"100%% sure"), "100% sure");
    let long = ask(&socket, &server, b"%Y-%m-%d %H:%M:%S");
    assert!(is_now_in_default_format(&long), "{long}");
}

#[test]
fn invalid_format_is_an_error_reply_and_server_keeps_running() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let socket = udp_socket();
    let reply = ask(&socket, &server, b"%Q");
    assert_eq!(
        reply,
        "error: invalid format '%Q': unknown or incomplete % specifier (try %Y-%m-%d %H:%M:%S)"
    );
    let reply = ask(&socket, &server, &[0xff, 0x25, 0x59]);
    assert_eq!(reply, "error: the format is not UTF-8 text");
    // Still serving.
    let reply = ask(&socket, &server, b"");
    assert!(is_now_in_default_format(&reply), "{reply}");
}

#[test]
fn format_longer_than_bufsize_is_an_error() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0", "--bufsize", "4"]);
    let reply = ask(&udp_socket(), &server, b"%H:%M:%S");
    if cfg!(target_os = "linux") {
        assert_eq!(
            reply,
            "error: the format was longer than the server's --bufsize 4 bytes and was cut"
        );
    }
}

#[test]
fn client_prints_replies_and_empty_line_asks_for_default() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let out = run(
        BIN,
        &["client", "--port", &server.port_arg()],
        "%Y\n\nquit\n",
    );
    assert!(out.status.success(), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0].len(), 4);
    assert!(is_now_in_default_format(lines[1]), "{lines:?}");
}

#[test]
fn client_reports_rejected_format_and_exits_1() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let out = run(
        BIN,
        &["client", "--port", &server.port_arg(), "%Q", "%Y"],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.starts_with("error: invalid format '%Q'"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1);
    assert_eq!(out.stdout.trim().len(), 4, "{}", out.stdout);
}

#[test]
fn client_without_server_times_out_with_a_clear_message() {
    common::assert_udp_no_reply_is_one_clear_line(BIN, "%Y");
}

#[cfg(unix)]
#[test]
fn closed_stdout_is_not_a_panic() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let out = common::run_with_closed_stdout(BIN, &["client", "--port", &server.port_arg(), "%Y"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stderr, "");
}
