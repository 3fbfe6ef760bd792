//! Checkers of lesson 09: a student's framed receiver (server) and framed sender (client).
//!
//! The frame is lesson 09's: `struct.pack('<i', len(data)) + data`.
//!
//! - The server reads frames and, so that the checker can see what it understood, sends each
//!   message back as a frame of its own. The checker sends frames merged, split into single
//!   bytes, cut at random, large, binary, and vanishes in the middle of one; a receiver that takes
//!   a `recv(n)` for `n` bytes reads a length from the middle of a message.
//! - The client sends every line of its standard input as one frame of its UTF-8 bytes. The
//!   checker's server reads the frames exactly and compares; a client that sends raw bytes, or
//!   takes the length of the text instead of its bytes, is found out.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::Rng;

use super::{
    close_with_reset, connect, describe_cut, input_lines, quoted, write_cut, Checker, Cut, Lesson,
    StudentClient, Timed, Verdict,
};
use crate::framing::Framing;

pub const LESSON: Lesson = Lesson {
    binary: "09-sticky",
    server: Some(check_server),
    client: Some(check_client),
};

const HINT_SERVER: &str =
    "09-sticky, \"Exercise\" and \"What the tutorial gets wrong\" (read exactly N bytes in a loop)";
const HINT_CLIENT: &str =
    "09-sticky, \"Wire format\" (struct.pack('<i', len(data)) + data, the length of the bytes)";

/// Largest frame the checkers send or accept.
const MAX_FRAME: u32 = 1024 * 1024;

fn framing() -> Framing {
    Framing {
        max_frame: MAX_FRAME,
        ..Framing::default()
    }
}

/// The frames `messages` make, back to back.
fn frames(messages: &[Vec<u8>]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for m in messages {
        // The checker's own messages are far below the limit.
        let _ = framing().write_frame(&mut bytes, m);
    }
    bytes
}

fn check_server(checker: &mut Checker, addr: SocketAddr) {
    let timeout = checker.timeout();
    let text = |s: &str| s.as_bytes().to_vec();
    checker.point("one frame, one write", HINT_SERVER, |rng| {
        exchange(addr, &[text("hello")], Cut::Whole, rng, timeout)
    });
    checker.point("three frames in one write (merged)", HINT_SERVER, |rng| {
        exchange(
            addr,
            &[text("one"), text("two"), text("three")],
            Cut::Whole,
            rng,
            timeout,
        )
    });
    checker.point("two frames in 1-byte writes (split)", HINT_SERVER, |rng| {
        exchange(
            addr,
            &[text("hello"), text("world")],
            Cut::OneByte,
            rng,
            timeout,
        )
    });
    checker.point(
        "20 frames of 100 bytes, random pieces",
        HINT_SERVER,
        |rng| {
            let messages: Vec<Vec<u8>> = (0..20)
                .map(|i| {
                    format!("message {i:02} ")
                        .into_bytes()
                        .into_iter()
                        .cycle()
                        .take(100)
                        .collect()
                })
                .collect();
            exchange(addr, &messages, Cut::Random, rng, timeout)
        },
    );
    checker.point(
        "Chinese text and binary bytes, random pieces",
        HINT_SERVER,
        |rng| {
            let binary: Vec<u8> = (0..=255).collect();
            exchange(
                addr,
                &[text("你好，粘包"), binary, Vec::new()],
                Cut::Random,
                rng,
                timeout,
            )
        },
    );
    checker.point("one 200000-byte frame, random pieces", HINT_SERVER, |rng| {
        let big: Vec<u8> = (0..200_000).map(|_| rng.gen_range(b'a'..=b'z')).collect();
        exchange(addr, &[big], Cut::Random, rng, timeout)
    });
    checker.point(
        "a client vanishes mid-frame (reset), the next one is served",
        "09-sticky, \"Exercise\" (and lesson 03: a reset must not stop the server)",
        |rng| {
            if let Ok(mut vanishing) = connect(addr) {
                let mut half = frames(&[b"never finished".to_vec()]);
                half.truncate(8);
                let _ = write_cut(&mut vanishing, &half, Cut::Whole, rng);
                std::thread::sleep(Duration::from_millis(50));
                close_with_reset(vanishing);
            }
            exchange(addr, &[b"still there?".to_vec()], Cut::Whole, rng, timeout)
        },
    );
}

/// Sends `messages` as frames, cut as `cut`, on a new connection, and reads one frame back for
/// each: they must be the same bytes.
fn exchange(
    addr: SocketAddr,
    messages: &[Vec<u8>],
    cut: Cut,
    rng: &mut StdRng,
    timeout: Duration,
) -> Verdict {
    let bytes = frames(messages);
    let mut conn = match connect(addr) {
        Ok(conn) => conn,
        Err(e) => return Verdict::fail("nothing", format!("could not connect: {e}")),
    };
    let sent = match write_cut(&mut conn, &bytes, cut, rng) {
        Ok(writes) => format!(
            "{} frame{} {}",
            messages.len(),
            if messages.len() == 1 { "" } else { "s" },
            describe_cut(&bytes, writes)
        ),
        Err(e) => return Verdict::fail("frames", super::could_not_send(&e)),
    };
    let framing = framing();
    let mut timed = Timed::new(&conn, timeout);
    for (i, expected) in messages.iter().enumerate() {
        match framing.read_frame(&mut timed) {
            Ok(Some(got)) if &got == expected => {}
            Ok(Some(got)) => {
                super::transcript::difference(expected, &got);
                return Verdict::fail(
                    sent,
                    format!(
                        "frame #{} back was {} instead of {}",
                        i + 1,
                        quoted(&got),
                        quoted(expected)
                    ),
                );
            }
            Ok(None) => {
                return Verdict::fail(
                    sent,
                    format!(
                        "the connection closed after {i} of {} frames back",
                        messages.len()
                    ),
                )
            }
            Err(e) => {
                return Verdict::fail(sent, format!("frame #{} back: {e}", i + 1));
            }
        }
    }
    let _ = conn.shutdown(std::net::Shutdown::Write);
    Verdict::pass(
        sent,
        format!("{} back, the same bytes", frames_counted(messages.len())),
    )
}

fn check_client(checker: &mut Checker, student: &StudentClient) {
    let long = "0123456789".repeat(10_000);
    let cases: [(&str, Vec<&str>); 4] = [
        ("two lines", vec!["hello", "world"]),
        (
            "Chinese text (length of the bytes, not the characters)",
            vec!["你好，世界", "粘包"],
        ),
        ("a 100000-byte line", vec![&long]),
        (
            "ten lines",
            vec!["a", "bb", "ccc", "d", "e", "f", "g", "h", "i", "the end"],
        ),
    ];
    for (name, lines) in cases {
        let timeout = checker.timeout();
        checker.point(name, HINT_CLIENT, |_rng: &mut StdRng| {
            receive_point(student, &lines, timeout)
        });
    }
}

/// Runs the client with `lines` as its input; its frames must be those lines' bytes.
fn receive_point(student: &StudentClient, lines: &[&str], timeout: Duration) -> Verdict {
    let sent = format!(
        "{} line{} on stdin: {}",
        lines.len(),
        if lines.len() == 1 { "" } else { "s" },
        quoted(lines.join(" | ").as_bytes())
    );
    let (run, served) = student.run(&input_lines(lines), &[], timeout, |conn| {
        read_frames(&conn, lines, timeout)
    });
    let mut frames = Vec::new();
    for connection in served {
        match connection {
            Ok(mut got) => frames.append(&mut got),
            Err(problem) => return Verdict::fail(sent, format!("{problem}; {}", run.ending())),
        }
    }
    let expected: Vec<Vec<u8>> = lines.iter().map(|l| l.as_bytes().to_vec()).collect();
    if frames == expected {
        return Verdict::pass(
            sent,
            format!("{}, the same bytes", frames_counted(frames.len())),
        );
    }
    let shown: Vec<String> = frames.iter().map(|f| quoted(f)).collect();
    Verdict::fail(
        sent,
        format!(
            "{} frame(s): {}; {}",
            frames.len(),
            shown.join(", "),
            run.ending()
        ),
    )
}

/// `1 frame`, `3 frames`.
fn frames_counted(n: usize) -> String {
    format!("{n} frame{}", if n == 1 { "" } else { "s" })
}

/// Reads frames from one connection until it ends (at most one per line). Where the bytes are
/// not the frames of `lines`, the point's transcript marks the first differing byte: a length
/// taken of the text instead of its bytes shows as byte 0 (`\x05` where `\x0f` was due).
fn read_frames(
    conn: &TcpStream,
    lines: &[&str],
    timeout: Duration,
) -> Result<Vec<Vec<u8>>, String> {
    let framing = framing();
    let mut expected = Vec::new();
    for line in lines {
        let _ = framing.write_frame(&mut expected, line.as_bytes());
    }
    let mut reader = Kept {
        inner: Timed::new(conn, timeout),
        kept: Vec::new(),
        room: expected.len() + 16,
    };
    let mut got = Vec::new();
    let result = loop {
        match framing.read_frame(&mut reader) {
            Ok(Some(frame)) => {
                got.push(frame);
                if got.len() > lines.len() {
                    break Err(format!("more frames than lines ({})", got.len()));
                }
            }
            Ok(None) => break Ok(got),
            Err(e) => {
                break Err(format!(
                    "after {} good frame(s), the next is not a frame: {e}",
                    got.len()
                ))
            }
        }
    };
    if reader.kept != expected {
        super::transcript::difference(&expected, &reader.kept);
    }
    result
}

/// A reader that keeps a copy of the first `room` bytes it passes on.
struct Kept<R> {
    inner: R,
    kept: Vec<u8>,
    room: usize,
}

impl<R: std::io::Read> std::io::Read for Kept<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let room = self.room.saturating_sub(self.kept.len());
        let new = buf.get(..n).unwrap_or_default();
        self.kept.extend_from_slice(new.get(..room).unwrap_or(new));
        Ok(n)
    }
}
