//! Lesson 07 over real loopback sockets.

// Unix-only: the commands these tests send are `sh` commands (seq, sleep, `;`, `$!`) and
// their expected answers end lines with `\n`. On Windows the tour covers the cmd.exe path.
#![cfg(unix)]

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::{accept, connect, finish, run, spawn_with_stdout_closed, ServerProcess};
use socklab::shell::answer::seq_output;

const BIN: &str = env!("CARGO_BIN_EXE_07-remote-cmd");

/// Python's `conn.recv(n)`: one read.
fn recv(conn: &mut impl Read, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    // net::recv, not read: a read interrupted by a signal is retried, as Python's recv does.
    let got = socklab::net::recv(conn, &mut buf).unwrap();
    buf.truncate(got);
    buf
}

fn recv_exact(conn: &mut impl Read, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    conn.read_exact(&mut buf).unwrap();
    buf
}

#[test]
fn answer_is_cut_and_the_rest_spills_into_the_next_answer() {
    // Deterministic: the server writes all 23893 bytes of seq's output, then reads the next
    // command. One recv(1024) returns at most 1024 of them (at least 1), and everything else
    // stays queued in the stream ahead of the next answer, so the next recv can only return
    // more of seq's output, whatever the timing.
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let seq = seq_output(5000);
    let mut conn = connect(server.addr);

    conn.write_all(b"seq 1 5000").unwrap();
    let first = recv(&mut conn, 1024);
    assert!(!first.is_empty() && first.len() <= 1024);
    assert!(
        seq.starts_with(&first),
        "first answer is a prefix of seq's output"
    );

    conn.write_all(b"echo hi").unwrap();
    let second = recv(&mut conn, 1024);
    assert!(!second.is_empty());
    assert!(
        !second.starts_with(b"hi"),
        "the answer to echo hi is not hi"
    );
    assert!(
        seq[first.len()..].starts_with(&second),
        "the second answer continues seq's output"
    );

    // Byte for byte, the stream is seq's whole output followed by "hi\n".
    let total = seq.len() + 3;
    let rest = recv_exact(&mut conn, total - first.len() - second.len());
    let mut stream = first;
    stream.extend(second);
    stream.extend(rest);
    let mut expected = seq.clone();
    expected.extend_from_slice(b"hi\n");
    assert_eq!(stream, expected);
}

#[test]
fn client_binary_shows_the_cut_and_the_spill_over() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let out = run(
        BIN,
        &[
            "client",
            "--port",
            &server.port_arg(),
            "seq 1 5000",
            "echo hi",
        ],
        "",
    );
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.starts_with("1\n2\n3\n"), "{}", out.stdout);
    // Two reads of at most 1024 bytes each, plus at most one added newline per answer.
    assert!(out.stdout.len() <= 2 * 1024 + 2, "{}", out.stdout.len());
    assert!(!out.stdout.lines().any(|l| l == "hi"), "{}", out.stdout);
    server.expect_line("sent 23893 bytes");
}

#[test]
fn empty_output_is_answered_with_a_placeholder() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let mut conn = connect(server.addr);
    conn.write_all(b"true").unwrap();
    assert_eq!(recv_exact(&mut conn, 11), b"(no output)");
    conn.write_all(b"echo out; echo err >&2").unwrap();
    assert_eq!(
        recv_exact(&mut conn, 8),
        b"out\nerr\n",
        "stdout, then stderr"
    );
}

#[test]
fn a_command_that_never_ends_is_killed_and_the_server_goes_on() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0", "--cmd-timeout", "1"]);
    let mut conn = connect(server.addr);
    conn.write_all(b"sleep 30").unwrap();
    let note = b"[socklab: command killed after 1 s (--cmd-timeout)]\n";
    assert_eq!(recv_exact(&mut conn, note.len()), note);
    conn.write_all(b"echo still here").unwrap();
    assert_eq!(recv_exact(&mut conn, 11), b"still here\n");
}

#[test]
fn output_over_the_cap_is_cut_with_a_note() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0", "--max-output", "100"]);
    let mut conn = connect(server.addr);
    conn.write_all(b"seq 1 5000").unwrap();
    let mut expected = seq_output(5000)[..100].to_vec();
    if !expected.ends_with(b"\n") {
        expected.push(b'\n');
    }
    expected.extend_from_slice(b"[socklab: output cut at 100 bytes (--max-output)]\n");
    assert_eq!(recv_exact(&mut conn, expected.len()), expected);
    conn.write_all(b"echo ok").unwrap();
    assert_eq!(recv_exact(&mut conn, 3), b"ok\n");
}

#[test]
fn garbage_gets_an_error_answer_and_the_conversation_goes_on() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let mut conn = connect(server.addr);
    conn.write_all(b"\xff\xfe\x00garbage").unwrap();
    let error = b"socklab: error: the command is not valid UTF-8 text (send it encoded as UTF-8)\n";
    assert_eq!(recv_exact(&mut conn, error.len()), error);
    conn.write_all(b"echo ok").unwrap();
    assert_eq!(recv_exact(&mut conn, 3), b"ok\n");
}

#[test]
fn a_client_that_vanishes_mid_answer_does_not_stop_the_server() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let mut conn = connect(server.addr);
    conn.write_all(b"seq 1 300000").unwrap();
    assert!(!recv(&mut conn, 16).is_empty());
    // Close with a reset (RST), as a crashed client would, while most of the answer is unread.
    socket2::SockRef::from(&conn)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(conn);
    server.expect_line("dropped");

    let mut next = connect(server.addr);
    next.write_all(b"echo next").unwrap();
    assert_eq!(recv_exact(&mut next, 5), b"next\n");
}

#[test]
fn non_loopback_host_is_refused_without_allow_remote() {
    let out = run(BIN, &["server", "--host", "0.0.0.0", "--port", "0"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("--allow-remote"), "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(out.stdout.is_empty(), "it never listened: {}", out.stdout);
}

#[test]
fn trace_shows_each_send_and_recv() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let out = run(
        BIN,
        &["client", "--port", &server.port_arg(), "--trace", "echo hi"],
        "",
    );
    assert_eq!(out.stdout, "hi\n");
    assert!(
        out.stderr.contains("[client] send      7 bytes  echo hi"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("[client] recv      3 bytes  hi\\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn commands_come_from_stdin_too() {
    let server = ServerProcess::start(BIN, &["server", "--port", "0"]);
    let out = run(
        BIN,
        &["client", "--port", &server.port_arg()],
        "echo one\n\necho two\nquit\necho three\n",
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, "one\ntwo\n");
}

#[test]
fn a_client_whose_reader_has_gone_stops_quietly() {
    // `07-remote-cmd client ... | head -1` after `head` has exited. The test plays the server and
    // answers only once the client's stdout is already closed, so printing the answer surely
    // fails with a broken pipe: the client must stop without an error (and without a panic).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let client = spawn_with_stdout_closed(BIN, &["client", "--port", &port, "echo hi", "true"]);
    let mut conn = accept(&listener);
    assert_eq!(recv(&mut conn, 1024), b"echo hi");
    conn.write_all(b"hi\n").unwrap();
    let out = finish(client);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stderr, "");
}

#[test]
fn a_background_child_neither_holds_the_answer_nor_outlives_it() {
    // The limit is long: a server that waited for the pipes would answer only after 60 s,
    // with a "killed" note.
    let server = ServerProcess::start(BIN, &["server", "--port", "0", "--cmd-timeout", "60"]);
    let mut conn = connect(server.addr);
    conn.set_read_timeout(Some(common::WAIT)).unwrap();
    conn.write_all(common::BACKGROUND_CHILD.as_bytes()).unwrap();
    // One answer, perhaps in several reads: "hi\n" and the pid's line.
    let mut answer = Vec::new();
    while answer.iter().filter(|&&b| b == b'\n').count() < 2 {
        let got = recv(&mut conn, 1024);
        assert!(!got.is_empty(), "closed after {answer:?}");
        answer.extend_from_slice(&got);
    }
    common::assert_background_child_gone(&answer);
}
