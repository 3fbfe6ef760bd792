//! Lesson 10 over real loopback sockets.

// Unix-only: the commands these tests send are `sh` commands (seq, sleep, `;`, `$!`) and
// their expected answers end lines with `\n`. On Windows the tour covers the cmd.exe path.
#![cfg(unix)]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use common::{accept, connect, finish, run, spawn_with_stdout_closed, Finished, ServerProcess};
use serde_json::Value;
use socklab::shell::answer::seq_output;

const BIN: &str = env!("CARGO_BIN_EXE_10-remote-cmd-framed");

fn start(framing: &str, extra: &[&str]) -> ServerProcess {
    let mut args = vec!["server", "--port", "0", "--framing", framing];
    args.extend_from_slice(extra);
    ServerProcess::start(BIN, &args)
}

/// Python's `conn.recv(n)`: one read.
fn recv(conn: &mut impl Read, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    // net::recv, not read: a read interrupted by a signal is retried, as Python's recv does.
    let got = socklab::net::recv(conn, &mut buf).unwrap();
    buf.truncate(got);
    buf
}

/// The tutorials' loop: `while recv_size < size: data = recv(1024)`.
fn recv_exact(conn: &mut impl Read, size: usize) -> Vec<u8> {
    let mut data = Vec::new();
    while data.len() < size {
        let chunk = recv(conn, (size - data.len()).min(1024));
        assert!(
            !chunk.is_empty(),
            "closed after {} of {size} bytes",
            data.len()
        );
        data.extend(chunk);
    }
    data
}

/// Runs the client binary against `port` with `args`.
fn client(port: u16, args: &[&str]) -> Finished {
    let port = port.to_string();
    let mut all = vec!["client", "--port", &port];
    all.extend_from_slice(args);
    run(BIN, &all, "")
}

/// `struct.unpack('<i', head)[0]`
fn unpack_i32(head: &[u8]) -> i32 {
    i32::from_le_bytes(head.try_into().unwrap())
}

/// A tutorial-style `ack` client: send, recv the digits, send b"ok", recv that many bytes.
/// Returns the digits too, to check them byte for byte.
fn ask_ack(conn: &mut TcpStream, command: &[u8]) -> (Vec<u8>, Vec<u8>) {
    conn.write_all(command).unwrap();
    let digits = recv(conn, 1024);
    let size: usize = std::str::from_utf8(&digits).unwrap().parse().unwrap();
    conn.write_all(b"ok").unwrap();
    (digits, recv_exact(conn, size))
}

/// A tutorial-style `length` client: 4 bytes, struct.unpack('<i'), then that many bytes.
/// Returns the 4 header bytes too.
fn ask_length(conn: &mut TcpStream, command: &[u8]) -> (Vec<u8>, Vec<u8>) {
    conn.write_all(command).unwrap();
    let head = recv_exact(conn, 4);
    let size = unpack_i32(&head);
    assert!(size >= 0);
    (head.clone(), recv_exact(conn, size as usize))
}

/// A tutorial-style `json` client: header length, json.loads(header), data_size bytes.
fn ask_json(conn: &mut TcpStream, command: &[u8]) -> (Value, Vec<u8>) {
    conn.write_all(command).unwrap();
    let head_len = unpack_i32(&recv_exact(conn, 4));
    let header: Value = serde_json::from_slice(&recv_exact(conn, head_len as usize)).unwrap();
    let size = header["data_size"].as_u64().unwrap() as usize;
    (header, recv_exact(conn, size))
}

#[test]
fn ack_framing_interoperates_with_a_tutorial_style_client() {
    let server = start("ack", &[]);
    let mut conn = connect(server.addr);
    assert_eq!(
        ask_ack(&mut conn, b"printf x"),
        (b"1".to_vec(), b"x".to_vec())
    );
    // No output is sent as "(no output)": an empty answer's ack could merge with the next
    // command (see send_answer).
    assert_eq!(
        ask_ack(&mut conn, b"true"),
        (b"11".to_vec(), b"(no output)".to_vec())
    );
    assert_eq!(
        ask_ack(&mut conn, b"seq 1 5000"),
        (b"23893".to_vec(), seq_output(5000))
    );
    assert_eq!(ask_ack(&mut conn, b"echo next").1, b"next\n");
}

#[test]
fn length_framing_interoperates_byte_exact() {
    let server = start("length", &[]);
    let mut conn = connect(server.addr);
    // struct.pack('i', 1) + b'x'
    conn.write_all(b"printf x").unwrap();
    assert_eq!(recv_exact(&mut conn, 5), b"\x01\x00\x00\x00x");
    conn.write_all(b"true").unwrap();
    assert_eq!(recv_exact(&mut conn, 4), b"\x00\x00\x00\x00");
    let (head, body) = ask_length(&mut conn, b"seq 1 5000");
    assert_eq!(head, 23893i32.to_le_bytes());
    assert_eq!(body, seq_output(5000));
    assert_eq!(ask_length(&mut conn, b"echo next").1, b"next\n");
}

#[test]
fn network_byte_order_matches_struct_pack_big_endian() {
    // `--byte-order big`: the length is struct.pack('!I', n), for a Python client that follows
    // real protocols rather than the tutorials.
    let server = start("length", &["--byte-order", "big"]);
    let mut conn = connect(server.addr);
    conn.write_all(b"printf xy").unwrap();
    assert_eq!(recv_exact(&mut conn, 6), b"\x00\x00\x00\x02xy");
    // The socklab client speaks it too, in both framings that carry a length.
    for framing in ["length", "json"] {
        let server = start(framing, &["--byte-order", "big"]);
        let out = client(
            server.port(),
            &[
                "--framing",
                framing,
                "--byte-order",
                "big",
                "seq 1 3000",
                "echo next",
            ],
        );
        assert!(out.status.success(), "{out:?}");
        let mut expected = seq_output(3000);
        expected.extend_from_slice(b"next\n");
        assert_eq!(out.stdout.as_bytes(), expected.as_slice());
    }
}

#[test]
fn json_framing_interoperates_with_a_tutorial_style_client() {
    let server = start("json", &[]);
    let mut conn = connect(server.addr);
    let (header, body) = ask_json(&mut conn, b"printf x");
    assert_eq!(body, b"x");
    assert_eq!(header["data_size"], 1);
    assert_eq!(header["exit_code"], 0);
    assert_eq!(header["timed_out"], false);
    assert_eq!(header["truncated"], false);
    let (header, body) = ask_json(&mut conn, b"true");
    assert_eq!((header["data_size"].as_u64(), body.len()), (Some(0), 0));
    assert_eq!(ask_json(&mut conn, b"seq 1 5000").1, seq_output(5000));
    let (header, body) = ask_json(&mut conn, b"ls /no-such-dir");
    assert_ne!(header["exit_code"], 0);
    assert!(!body.is_empty(), "stderr is in the answer");
    assert_eq!(ask_json(&mut conn, b"echo next").1, b"next\n");
}

/// Over 10 MB through the socklab client, then a short answer that must be its own.
fn large_output_arrives_whole(framing: &str, bufsize: &str) {
    let server = start(framing, &[]);
    let out = client(
        server.port(),
        &[
            "--framing",
            framing,
            "--bufsize",
            bufsize,
            "seq 1 2000000",
            "echo next",
        ],
    );
    assert!(out.status.success(), "{}", out.stderr);
    let mut expected = seq_output(2_000_000);
    assert!(expected.len() > 10_000_000);
    expected.extend_from_slice(b"next\n");
    assert!(out.stdout.as_bytes() == expected, "output differs");
    server.expect_line(": 14888896 bytes (");
}

#[test]
fn large_output_arrives_whole_with_ack() {
    large_output_arrives_whole("ack", "1024");
}

#[test]
fn large_output_arrives_whole_with_length() {
    large_output_arrives_whole("length", "100000");
}

#[test]
fn large_output_arrives_whole_with_json() {
    large_output_arrives_whole("json", "333");
}

#[test]
fn one_byte_and_empty_answers_through_the_socklab_client() {
    for framing in ["ack", "length", "json"] {
        let server = start(framing, &[]);
        let out = client(
            server.port(),
            &["--framing", framing, "printf x", "true", "echo next"],
        );
        assert!(out.status.success(), "{framing}: {}", out.stderr);
        // "x" gets a newline for the terminal; the empty answer prints nothing, except in ack
        // framing, which cannot send an empty answer safely.
        let expected = if framing == "ack" {
            "x\n(no output)\nnext\n"
        } else {
            "x\nnext\n"
        };
        assert_eq!(out.stdout, expected, "{framing}");
    }
}

#[test]
fn time_limit_is_in_the_json_header_and_the_client_says_so() {
    let server = start("json", &["--cmd-timeout", "1"]);
    let out = client(server.port(), &["sleep 30", "echo ok"]);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(out.stdout, "ok\n");
    assert!(
        out.stderr
            .contains("socklab: the command was killed at the server's time limit"),
        "{}",
        out.stderr
    );
}

#[test]
fn time_limit_is_a_note_in_the_length_framed_answer() {
    let server = start("length", &["--cmd-timeout", "1"]);
    let mut conn = connect(server.addr);
    let (_, body) = ask_length(&mut conn, b"echo started; sleep 30");
    assert_eq!(
        body,
        b"started\n[socklab: command killed after 1 s (--cmd-timeout)]\n"
    );
    assert_eq!(ask_length(&mut conn, b"echo ok").1, b"ok\n");
}

#[test]
fn output_cap_is_in_the_json_header() {
    let server = start("json", &["--max-output", "10"]);
    let mut conn = connect(server.addr);
    let (header, body) = ask_json(&mut conn, b"seq 1 100");
    assert_eq!(body, b"1\n2\n3\n4\n5\n");
    assert_eq!(header["truncated"], true);
    assert_eq!(ask_json(&mut conn, b"echo ok").1, b"ok\n");
}

#[test]
fn output_cap_is_a_note_in_the_ack_framed_answer() {
    let server = start("ack", &["--max-output", "10"]);
    let mut conn = connect(server.addr);
    assert_eq!(
        ask_ack(&mut conn, b"seq 1 100").1,
        b"1\n2\n3\n4\n5\n[socklab: output cut at 10 bytes (--max-output)]\n"
    );
    assert_eq!(ask_ack(&mut conn, b"echo ok").1, b"ok\n");
}

#[test]
fn garbage_gets_an_error_answer_and_the_conversation_goes_on() {
    let server = start("json", &[]);
    let mut conn = connect(server.addr);
    let (header, body) = ask_json(&mut conn, b"\xff\xfe garbage");
    assert!(
        header["error"]
            .as_str()
            .unwrap()
            .contains("not valid UTF-8"),
        "{header}"
    );
    assert!(body.starts_with(b"socklab: error: "));
    assert_eq!(ask_json(&mut conn, b"echo ok").1, b"ok\n");
}

#[test]
fn a_client_that_vanishes_mid_answer_does_not_stop_the_server() {
    let server = start("length", &[]);
    let mut conn = connect(server.addr);
    conn.write_all(b"seq 1 300000").unwrap();
    let size = seq_output(300_000).len() as i32;
    assert_eq!(recv_exact(&mut conn, 4), size.to_le_bytes());
    assert!(!recv(&mut conn, 16).is_empty());
    // Close with a reset (RST), as a crashed client would, while most of the answer is unread.
    socket2::SockRef::from(&conn)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(conn);
    server.expect_line("dropped");

    let mut next = connect(server.addr);
    assert_eq!(ask_length(&mut next, b"echo next").1, b"next\n");
}

/// A fake server that answers any command with `reply`, to see what the client does with it.
fn fake_server(reply: &'static [u8]) -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let thread = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(common::WAIT)).unwrap();
        let _ = recv(&mut conn, 1024);
        let _ = conn.write_all(reply);
        let _ = recv(&mut conn, 1024); // until the client closes
    });
    (port, thread)
}

#[test]
fn an_announced_length_over_the_maximum_is_refused_before_reading() {
    let (port, fake) = fake_server(b"\xff\xff\xff\x7f"); // 2147483647
    let out = client(port, &["--framing", "length", "ls"]);
    fake.join().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        out.stderr,
        "error: the server announced a 2147483647-byte answer, over --max-answer 67108864; \
         refusing to read it\n"
    );

    let (port, fake) = fake_server(b"\xff\xff\xff\xff"); // -1
    let out = client(port, &["--framing", "length", "ls"]);
    fake.join().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("negative length -1"), "{}", out.stderr);
}

#[test]
fn client_max_answer_is_checked_against_a_real_server() {
    let server = start("json", &[]);
    let out = client(server.port(), &["--max-answer", "1000", "seq 1 5000"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr
            .contains("announced a 23893-byte answer, over --max-answer 1000"),
        "{}",
        out.stderr
    );
}

#[test]
fn mismatched_framings_are_a_clear_error() {
    let server = start("json", &[]);
    let out = client(server.port(), &["--framing", "ack", "echo hi"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr
            .starts_with("error: expected the answer's length in decimal digits"),
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
fn a_client_whose_reader_has_gone_stops_quietly() {
    // As in lesson 07: the answer arrives only once the client's stdout is closed, so writing it
    // out fails with a broken pipe, in the middle of `ask`, and the client stops without an error.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let client = spawn_with_stdout_closed(BIN, &["client", "--port", &port, "echo hi", "true"]);
    let mut conn = accept(&listener);
    assert_eq!(recv(&mut conn, 1024), b"echo hi");
    let header = br#"{"data_size":3}"#;
    conn.write_all(&(header.len() as i32).to_le_bytes())
        .unwrap();
    conn.write_all(header).unwrap();
    conn.write_all(b"hi\n").unwrap();
    let out = finish(client);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stderr, "");
}

// ---- --framing size: tutorial 000 §3, broken on purpose ---------------------------------------

/// The tutorial's client: `recv(1024)` for the size, then `int()`. The digits and the start of
/// the answer arrive stuck together (粘包), every time: '23893' + '1\n2\n...' is no number.
#[test]
fn size_framing_sticks_the_digits_to_the_answer_for_a_tutorial_style_client() {
    let server = start("size", &[]);
    let mut conn = connect(server.addr);
    conn.write_all(b"seq 1 5000").unwrap();
    let first = recv(&mut conn, 1024);
    assert!(first.starts_with(b"238931\n2\n3\n"), "{first:?}");
    assert!(std::str::from_utf8(&first).unwrap().parse::<u64>().is_err());
    // Everything after the digits is the answer, whole: the protocol's bytes are right, only
    // nothing marks where the digits end.
    let mut rest = first[5..].to_vec();
    rest.extend(recv_exact(&mut conn, seq_output(5000).len() - rest.len()));
    assert_eq!(rest, seq_output(5000));
}

#[test]
fn size_framing_client_reports_the_sticky_packets_and_exits_1() {
    let server = start("size", &[]);
    let out = client(server.port(), &["--framing", "size", "seq 1 5000"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.starts_with(
            "error: sticky packets (粘包): the size and the start of the answer arrived in one \
             recv: '238931\\n2\\n3\\n"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("--framing ack or length fixes this"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_background_child_neither_holds_the_answer_nor_outlives_it() {
    let server = start("json", &["--cmd-timeout", "60"]);
    let mut conn = connect(server.addr);
    let (header, body) = ask_json(&mut conn, common::BACKGROUND_CHILD.as_bytes());
    assert_eq!(header["timed_out"], false, "{header}");
    assert_eq!(header["exit_code"], 0, "{header}");
    common::assert_background_child_gone(&body);
    assert_eq!(ask_json(&mut conn, b"echo next").1, b"next\n");
}
