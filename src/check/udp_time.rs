//! Checker of lesson 06: a student's UDP time server (one datagram holding a strftime format in,
//! one datagram holding the time out; an empty datagram asks for `%Y-%m-%d %H:%M:%S`).
//!
//! UDP cuts nothing, so the demanding part here is the content: Chinese text, an empty datagram,
//! bytes that are not UTF-8 and a directive that does not exist. After each hostile datagram the
//! server must still answer: the tutorial's server decodes without a `try` and is gone for
//! everyone.
//!
//! The checker's socket is connected to the server, so that when the server has died the
//! kernel's "port unreachable" reaches it at once (`ECONNREFUSED`) instead of a long silence.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use chrono::{Datelike, Local, NaiveDateTime};

use super::{quoted, Checker, Lesson, Verdict};
use crate::net;

pub const LESSON: Lesson = Lesson {
    binary: "06-udp-time",
    server: Some(check_server),
    client: None,
};

const HINT: &str = "06-udp-time, \"Protocol, for your own client\"";
const HINT_HOSTILE: &str =
    "06-udp-time, \"What the tutorial gets wrong\" (every datagram is hostile)";

/// The format an empty datagram stands for.
const DEFAULT_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// How long the checker waits for a reply to a datagram it sends only to see the server
/// survive; no reply is allowed there.
const SURVIVAL_WAIT: Duration = Duration::from_millis(300);

fn check_server(checker: &mut Checker, addr: SocketAddr) {
    let timeout = checker.timeout();
    checker.point("%Y: the year", HINT, |_| ask_year(addr, &[], timeout));
    checker.point("%Y-%m-%d %H:%M:%S: date and time", HINT, |_| {
        ask_date_time(addr, DEFAULT_FORMAT.as_bytes(), timeout)
    });
    checker.point("an empty datagram: the default format", HINT, |_| {
        ask_date_time(addr, b"", timeout)
    });
    checker.point("Chinese text around a directive", HINT, |_| {
        let format = "今天是 %Y 年";
        let sent = quoted(format.as_bytes());
        match exchange(addr, format.as_bytes(), timeout) {
            Ok(reply) => {
                let year = Local::now().year();
                let ok = [year - 1, year, year + 1]
                    .iter()
                    .any(|y| reply == format!("今天是 {y} 年").as_bytes());
                if !ok {
                    difference(format!("今天是 {year} 年").as_bytes(), &reply);
                }
                Verdict::when(ok, sent, quoted(&reply))
            }
            Err(e) => Verdict::fail(sent, e),
        }
    });
    checker.point(
        "bytes that are not UTF-8 (b'\\xff'), then %Y",
        HINT_HOSTILE,
        |_| ask_year(addr, b"\xff", timeout),
    );
    checker.point("an unknown directive (%Q), then %Y", HINT_HOSTILE, |_| {
        ask_year(addr, b"%Q", timeout)
    });
}

/// Sends `first` (if any) without needing an answer, then `%Y`: the reply must be the year.
fn ask_year(addr: SocketAddr, first: &[u8], timeout: Duration) -> Verdict {
    let sent = if first.is_empty() {
        "'%Y'".to_string()
    } else {
        format!("{}, then '%Y'", quoted(first))
    };
    let socket = match open(addr) {
        Ok(socket) => socket,
        Err(e) => return Verdict::fail(sent, e),
    };
    let mut answered_first = String::new();
    if !first.is_empty() {
        if let Err(e) = send(&socket, first) {
            return Verdict::fail(sent, format!("could not send: {e}"));
        }
        match receive(&socket, SURVIVAL_WAIT) {
            Ok(reply) => answered_first = format!("{} to the first; ", quoted(&reply)),
            Err(Received::Silence) => answered_first = "no reply to the first; ".to_string(),
            Err(Received::Failed(e)) => return Verdict::fail(sent, e),
        }
    }
    if let Err(e) = send(&socket, b"%Y") {
        return Verdict::fail(sent, format!("{answered_first}could not send: {e}"));
    }
    // A late reply to the first datagram may still come before the year: skip it.
    let deadline = net::deadline_after(timeout);
    let year = Local::now().year();
    let is_year = |reply: &[u8]| {
        [year - 1, year, year + 1]
            .iter()
            .any(|y| reply == y.to_string().as_bytes())
    };
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match receive(&socket, left) {
            Ok(reply) if is_year(&reply) => {
                return Verdict::pass(sent, format!("{answered_first}{}", quoted(&reply)))
            }
            Ok(reply) if !first.is_empty() => {
                answered_first = format!("{}{} (late); ", answered_first, quoted(&reply));
            }
            Ok(reply) => {
                difference(year.to_string().as_bytes(), &reply);
                return Verdict::fail(sent, quoted(&reply));
            }
            Err(e) => return Verdict::fail(sent, format!("{answered_first}{}", String::from(e))),
        }
    }
}

/// Sends `format`; the reply must be a date and time as `%Y-%m-%d %H:%M:%S`, within a day of
/// ours (the server may be in another time zone).
fn ask_date_time(addr: SocketAddr, format: &[u8], timeout: Duration) -> Verdict {
    let sent = quoted(format);
    match exchange(addr, format, timeout) {
        Ok(reply) => {
            let text = String::from_utf8_lossy(&reply);
            let near = NaiveDateTime::parse_from_str(text.trim(), DEFAULT_FORMAT)
                .map(|t| (t - Local::now().naive_local()).num_hours().abs() <= 26)
                .unwrap_or(false);
            if !near {
                super::transcript::note(
                    "expected: a date and time as %Y-%m-%d %H:%M:%S, within a day of the \
                     checker's clock (your server may be in another time zone)",
                );
                let now = Local::now().format(DEFAULT_FORMAT).to_string();
                difference(now.as_bytes(), &reply);
            }
            Verdict::when(near, sent, quoted(&reply))
        }
        Err(e) => Verdict::fail(sent, e),
    }
}

/// Marks where `reply` first differs from what this machine's clock gives.
fn difference(expected: &[u8], reply: &[u8]) {
    super::transcript::difference(expected, reply);
}

/// One request, one reply.
fn exchange(addr: SocketAddr, request: &[u8], timeout: Duration) -> Result<Vec<u8>, String> {
    let socket = open(addr)?;
    send(&socket, request).map_err(|e| format!("could not send: {e}"))?;
    receive(&socket, timeout).map_err(String::from)
}

/// Sends one datagram, recorded in the point's transcript.
fn send(socket: &UdpSocket, datagram: &[u8]) -> io::Result<usize> {
    let sent = socket.send(datagram)?;
    super::transcript::sent(datagram, 1, "one datagram");
    Ok(sent)
}

/// A UDP socket connected to `addr`.
fn open(addr: SocketAddr) -> Result<UdpSocket, String> {
    let any: SocketAddr = if addr.is_ipv4() {
        "0.0.0.0:0".parse().map_err(|_| "bad address".to_string())?
    } else {
        "[::]:0".parse().map_err(|_| "bad address".to_string())?
    };
    let socket = UdpSocket::bind(any).map_err(|e| format!("could not open a socket: {e}"))?;
    socket
        .connect(addr)
        .map_err(|e| format!("could not address {addr}: {e}"))?;
    Ok(socket)
}

/// Why no reply came.
enum Received {
    Silence,
    Failed(String),
}

impl From<Received> for String {
    fn from(r: Received) -> String {
        match r {
            Received::Silence => "no reply in time".to_string(),
            Received::Failed(e) => e,
        }
    }
}

/// Most bytes of a reply kept.
const MAX_REPLY: usize = 65_536;

/// One datagram, before `wait` has passed.
fn receive(socket: &UdpSocket, wait: Duration) -> Result<Vec<u8>, Received> {
    let deadline = net::deadline_after(wait);
    let mut buf = vec![0u8; MAX_REPLY];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Received::Silence);
        }
        socket
            .set_read_timeout(Some(left))
            .map_err(|e| Received::Failed(e.to_string()))?;
        match socket.recv(&mut buf) {
            Ok(n) => {
                let datagram = buf.get(..n).unwrap_or_default();
                super::transcript::received(datagram);
                super::transcript::note("(one datagram)");
                return Ok(datagram.to_vec());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if net::is_timeout(&e) => {
                super::transcript::timed_out(wait);
                return Err(Received::Silence);
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                if let Ok(addr) = socket.peer_addr() {
                    super::note_refused_datagram(addr, &e);
                }
                return Err(Received::Failed(
                    "the port is closed: your server is not running any more".to_string(),
                ));
            }
            Err(e) => return Err(Received::Failed(e.to_string())),
        }
    }
}
