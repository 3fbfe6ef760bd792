//! Checkers of lessons 01 and 02: a student's echo client.
//!
//! The client reads one message per line of its standard input, sends each, and prints each
//! reply as text. The checker's server answers with the message upper-cased (ASCII letters
//! only, Python's `bytes.upper()`), cut the way a network may cut it. A client that takes one
//! `recv(1024)` for the whole reply prints part of it (and, in lesson 02, the rest as the reply
//! to the next message).

use std::net::TcpStream;
use std::time::Duration;

use rand::rngs::StdRng;

use super::{
    client_verdict, close_with_reset, input_lines, quoted, read_exactly, read_to_close, write_cut,
    Checker, Cut, Ending, Lesson, StudentClient, Verdict,
};

/// Lesson 01: one message, one reply, then the server closes.
pub const ECHO_ONCE: Lesson = Lesson {
    binary: "01-echo-once",
    server: None,
    client: Some(check_echo_once_client),
};

/// Lesson 02: several messages on one connection.
pub const ECHO_LOOP: Lesson = Lesson {
    binary: "02-echo-loop",
    server: None,
    client: Some(check_echo_loop_client),
};

const HINT_01: &str = "01-echo-once, \"What the tutorial gets wrong\" (recv(1024) is a maximum)";
const HINT_02: &str = "02-echo-loop, \"What the tutorial gets wrong\" (one recv per message)";

fn check_echo_once_client(checker: &mut Checker, student: &StudentClient) {
    let long = "abcdefghijklmnopqrstuvwxyz".repeat(80);
    let cases: [(&str, &str, Cut); 4] = [
        ("one message, one write", "hello world", Cut::Whole),
        ("reply in 1-byte writes", "hello sticky world", Cut::OneByte),
        (
            "Chinese text in random pieces",
            "你好 socket 世界",
            Cut::Random,
        ),
        ("2080 bytes in random pieces", &long, Cut::Random),
    ];
    for (name, message, cut) in cases {
        let timeout = checker.timeout();
        checker.point(name, HINT_01, |rng| {
            echo_point(
                student,
                &[message],
                cut,
                rng,
                timeout,
                Closing::ServerCloses,
            )
        });
    }
}

fn check_echo_loop_client(checker: &mut Checker, student: &StudentClient) {
    let cases: [(&str, &[&str], Cut); 4] = [
        (
            "two messages, one write each",
            &["hello", "how are you"],
            Cut::Whole,
        ),
        (
            "replies in 1-byte writes",
            &["abcdefghij", "next"],
            Cut::OneByte,
        ),
        (
            "Chinese text in random pieces",
            &["你好", "粘包 sticky"],
            Cut::Random,
        ),
        (
            "five messages, random pieces",
            &["one", "two", "three", "four", "five"],
            Cut::Random,
        ),
    ];
    for (name, messages, cut) in cases {
        let timeout = checker.timeout();
        checker.point(name, HINT_02, |rng| {
            echo_point(student, messages, cut, rng, timeout, Closing::ClientCloses)
        });
    }
    let timeout = checker.timeout();
    checker.point(
        "closes with a reset (the exercise: SO_LINGER 0)",
        "02-echo-loop, \"Exercise\" (SO_LINGER 0 sends a reset)",
        |rng| {
            let (run, served) = student.run(&input_lines(&["bye"]), &[], timeout, |conn| {
                let mut rng = rng.clone();
                serve_echo(
                    conn,
                    &["bye"],
                    Cut::Whole,
                    &mut rng,
                    timeout,
                    Closing::ClientCloses,
                )
            });
            match served.first() {
                Some(Ok(Ending::Reset)) => {
                    Verdict::pass("'bye'", "your client reset the connection")
                }
                Some(Ok(Ending::Complete)) => Verdict::fail(
                    "'bye'",
                    "your client closed normally (a FIN, recv got b''), not with a reset",
                ),
                Some(Ok(ending)) => Verdict::fail("'bye'", format!("the reply, {ending}")),
                Some(Err(e)) => Verdict::fail("'bye'", e.clone()),
                None => Verdict::fail("'bye'", format!("no connection; {}", run.ending())),
            }
        },
    );
}

/// Who ends the connection after the last reply.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Closing {
    /// Lesson 01: the server closes after its one reply.
    ServerCloses,
    /// Lesson 02: the server waits for the client to go.
    ClientCloses,
}

/// Runs the client with `messages` as its input and checks that it printed every reply.
fn echo_point(
    student: &StudentClient,
    messages: &[&str],
    cut: Cut,
    rng: &mut StdRng,
    timeout: Duration,
    closing: Closing,
) -> Verdict {
    let sent = messages
        .iter()
        .map(|m| quoted(m.as_bytes()))
        .collect::<Vec<_>>()
        .join(", ");
    let sent = format!("{sent} (replies in {cut})");
    let (run, served) = student.run(&input_lines(messages), &[], timeout, |conn| {
        let mut rng = rng.clone();
        serve_echo(conn, messages, cut, &mut rng, timeout, closing).map(|_| ())
    });
    let replies: Vec<String> = messages
        .iter()
        .map(|m| String::from_utf8_lossy(&upper(m.as_bytes())).into_owned())
        .collect();
    let replies: Vec<&str> = replies.iter().map(String::as_str).collect();
    client_verdict(sent, &run, &served, &replies)
}

/// The checker's echo server for one connection: reads each message exactly, answers it
/// upper-cased and cut, then (lesson 01) closes or (lesson 02) waits for the client's end and
/// reports how it came.
fn serve_echo(
    mut conn: TcpStream,
    messages: &[&str],
    cut: Cut,
    rng: &mut StdRng,
    timeout: Duration,
    closing: Closing,
) -> Result<Ending, String> {
    for message in messages {
        let (got, ending) = read_exactly(&conn, message.len(), timeout);
        if got != message.as_bytes() {
            return Err(format!(
                "it expected {} and received {} ({ending})",
                quoted(message.as_bytes()),
                quoted(&got)
            ));
        }
        write_cut(&mut conn, &upper(message.as_bytes()), cut, rng)
            .map_err(|e| format!("your client went while it was sending the reply ({e})"))?;
    }
    match closing {
        Closing::ServerCloses => {
            crate::net::close_gracefully(&mut conn, Duration::from_secs(2));
            Ok(Ending::Closed)
        }
        Closing::ClientCloses => {
            let (extra, ending) = read_to_close(&conn, 4096, timeout);
            if !extra.is_empty() {
                return Err(format!("your client sent more: {}", quoted(&extra)));
            }
            // Answer a client that is still there at the deadline with a reset, as a server
            // that gives up would.
            if ending == Ending::TimedOut {
                close_with_reset(conn);
            }
            Ok(ending)
        }
    }
}

/// Python's `bytes.upper()`: ASCII letters only.
fn upper(bytes: &[u8]) -> Vec<u8> {
    bytes.to_ascii_uppercase()
}
