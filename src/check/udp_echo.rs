//! Checker of lesson 04: a student's UDP echo client.
//!
//! The client reads one message per line of its standard input, sends each as one datagram,
//! prints the reply (the message upper-cased), and, since UDP never sends anything again by
//! itself, waits at most a second or so for a reply and then sends the message again. The
//! checker's server loses the first datagram of one message on purpose: a client without a
//! timeout (the tutorials' `recvfrom(1024)`) waits for ever, and is killed at `--timeout`.

use std::io;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use super::{client_verdict, input_lines, quoted, Checker, Lesson, StudentClient, Verdict};

pub const LESSON: Lesson = Lesson {
    binary: "04-udp-echo",
    server: None,
    client: Some(check_client),
};

const HINT: &str = "04-udp-echo, \"What the tutorial gets wrong\" (no timeout)";

/// How often the checker's server looks whether the client has ended.
const POLL: Duration = Duration::from_millis(50);

fn check_client(checker: &mut Checker, student: &StudentClient) {
    let cases: [(&str, &[&str], Option<usize>); 3] = [
        ("one message, one reply", &["hello"], None),
        (
            "Chinese text and two messages",
            &["你好，世界", "udp 数据报"],
            None,
        ),
        (
            "the first datagram is lost: your client sends it again",
            &["are you there?", "still here"],
            Some(0),
        ),
    ];
    for (name, messages, lost) in cases {
        let timeout = checker.timeout();
        checker.point(name, HINT, |_| udp_point(student, messages, lost, timeout));
    }
}

/// Runs the client with `messages` as input against an echo server that drops the first
/// datagram of message number `lost`.
fn udp_point(
    student: &StudentClient,
    messages: &[&str],
    lost: Option<usize>,
    timeout: Duration,
) -> Verdict {
    let sent = format!(
        "{}{}",
        messages
            .iter()
            .map(|m| quoted(m.as_bytes()))
            .collect::<Vec<_>>()
            .join(", "),
        match lost.and_then(|i| messages.get(i)) {
            Some(m) => format!(" (the first datagram of {} lost)", quoted(m.as_bytes())),
            None => String::new(),
        }
    );
    let socket = match UdpSocket::bind("127.0.0.1:0") {
        Ok(socket) => socket,
        Err(e) => return Verdict::fail(sent, format!("could not open the checker's socket: {e}")),
    };
    let addr = match socket.local_addr() {
        Ok(addr) => addr,
        Err(e) => return Verdict::fail(sent, e.to_string()),
    };
    let done = AtomicBool::new(false);
    let (run, served) = thread::scope(|scope| {
        let server = scope.spawn(|| serve(&socket, messages, lost, &done));
        let run = student.run_against(addr, &input_lines(messages), &[], timeout);
        done.store(true, Ordering::SeqCst);
        let served = server
            .join()
            .unwrap_or_else(|_| Err("the checker failed".to_string()));
        (run, served)
    });
    // No datagram at all: the client never used the network (whatever it printed).
    let served = match served {
        Ok(0) => Vec::new(),
        Ok(_) => vec![Ok(())],
        Err(e) => vec![Err(e)],
    };
    let replies: Vec<String> = messages.iter().map(|m| m.to_ascii_uppercase()).collect();
    let replies: Vec<&str> = replies.iter().map(String::as_str).collect();
    client_verdict(sent, &run, &served, &replies)
}

/// Answers datagrams until `done`: each message upper-cased, except the first datagram of
/// message `lost`, which is dropped. A datagram that is no expected message is an error.
/// Returns how many datagrams came.
fn serve(
    socket: &UdpSocket,
    messages: &[&str],
    lost: Option<usize>,
    done: &AtomicBool,
) -> Result<usize, String> {
    socket
        .set_read_timeout(Some(POLL))
        .map_err(|e| e.to_string())?;
    let mut dropped = false;
    let mut received = 0;
    let mut buf = [0u8; 65_536];
    while !done.load(Ordering::SeqCst) {
        let (n, from) = match socket.recv_from(&mut buf) {
            Ok(got) => got,
            Err(e) if e.kind() == io::ErrorKind::Interrupted || crate::net::is_timeout(&e) => {
                continue
            }
            Err(e) => return Err(e.to_string()),
        };
        received += 1;
        let data = buf.get(..n).unwrap_or_default();
        let Some(index) = messages.iter().position(|m| m.as_bytes() == data) else {
            return Err(format!(
                "the server received {}, no message of ours",
                quoted(data)
            ));
        };
        if lost == Some(index) && !dropped {
            dropped = true;
            continue;
        }
        socket
            .send_to(&data.to_ascii_uppercase(), from)
            .map_err(|e| e.to_string())?;
    }
    Ok(received)
}
