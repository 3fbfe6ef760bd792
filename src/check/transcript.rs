//! The conversation of one point, kept so that a FAIL can show it.
//!
//! A verdict alone ("got 'HEL'") leaves a student guessing what happened before. Like the test
//! harnesses of good networking courses, a failed point shows its numbered steps up to the
//! failure: connected, sent these bytes in so many writes, received those in so many reads, then
//! the end of the stream, or a reset, or "timed out after 10 s waiting for more". Bytes are shown
//! escaped (never raw: a student's program may send terminal escapes) and, where they are not
//! printable text, in hex too; where an expected answer is known, the first differing byte is
//! marked.
//!
//! The checker's helpers ([`super::connect`], [`super::write_cut`], [`super::Timed`]) record into
//! a per-thread transcript, so each lesson's points need not. Memory is bounded whatever the
//! peer sends: a few steps, a few hundred bytes of each.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::time::Duration;

use crate::escape::preview;

/// Most steps kept for one point; later ones are only counted.
const MAX_STEPS: usize = 40;
/// Most bytes kept of one step's data.
const KEPT_BYTES: usize = 256;
/// Most bytes of one step's data shown.
const SHOWN_BYTES: usize = 64;
/// Most bytes shown in hex.
const HEX_BYTES: usize = 24;

/// One thing that happened in a point.
#[derive(Debug, Clone)]
enum Step {
    Connected(String),
    Sent {
        bytes: Vec<u8>,
        total: usize,
        writes: usize,
        how: String,
    },
    Received {
        bytes: Vec<u8>,
        total: usize,
        reads: usize,
    },
    /// A text of its own: how a read ended, a difference found, a client's run.
    Note(String),
}

#[derive(Default)]
struct Transcript {
    steps: Vec<Step>,
    /// Steps not kept.
    dropped: usize,
}

thread_local! {
    static TRANSCRIPT: RefCell<Transcript> = RefCell::new(Transcript::default());
}

fn push(step: Step) {
    TRANSCRIPT.with(|t| {
        let mut t = t.borrow_mut();
        if t.steps.len() < MAX_STEPS {
            t.steps.push(step);
        } else {
            t.dropped += 1;
        }
    });
}

fn kept(bytes: &[u8]) -> Vec<u8> {
    bytes.get(..KEPT_BYTES).unwrap_or(bytes).to_vec()
}

/// Starts a new transcript on this thread (a new point).
pub fn clear() {
    TRANSCRIPT.with(|t| *t.borrow_mut() = Transcript::default());
}

/// A connection was made to `to`.
pub fn connected(to: impl std::fmt::Display) {
    push(Step::Connected(to.to_string()));
}

/// `bytes` were sent in `writes` writes, cut as `how` says.
pub fn sent(bytes: &[u8], writes: usize, how: &str) {
    push(Step::Sent {
        bytes: kept(bytes),
        total: bytes.len(),
        writes,
        how: how.to_string(),
    });
}

/// `bytes` came in one read; reads in a row make one step.
pub fn received(bytes: &[u8]) {
    TRANSCRIPT.with(|t| {
        let mut t = t.borrow_mut();
        if let Some(Step::Received {
            bytes: kept_bytes,
            total,
            reads,
        }) = t.steps.last_mut()
        {
            let room = KEPT_BYTES.saturating_sub(kept_bytes.len());
            kept_bytes.extend_from_slice(bytes.get(..room).unwrap_or(bytes));
            *total += bytes.len();
            *reads += 1;
            return;
        }
        drop(t);
        push(Step::Received {
            bytes: kept(bytes),
            total: bytes.len(),
            reads: 1,
        });
    });
}

/// `bytes` went out in one write of a stream; writes in a row make one step (a frame written as
/// a length and then a payload shows as one step of 2 writes).
pub fn sent_more(bytes: &[u8]) {
    TRANSCRIPT.with(|t| {
        let mut t = t.borrow_mut();
        if let Some(Step::Sent {
            bytes: kept_bytes,
            total,
            writes,
            ..
        }) = t.steps.last_mut()
        {
            let room = KEPT_BYTES.saturating_sub(kept_bytes.len());
            kept_bytes.extend_from_slice(bytes.get(..room).unwrap_or(bytes));
            *total += bytes.len();
            *writes += 1;
            return;
        }
        drop(t);
        push(Step::Sent {
            bytes: kept(bytes),
            total: bytes.len(),
            writes: 1,
            how: "as socklab's code wrote it".to_string(),
        });
    });
}

/// A stream whose every read and write goes into the point's transcript: for the checkers that
/// talk through code of the lesson's own (14's login), which knows nothing of transcripts.
pub struct Recorded<S>(pub S);

impl<S: std::io::Read> std::io::Read for Recorded<S> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let result = self.0.read(buf);
        match &result {
            Ok(0) if !buf.is_empty() => {
                note("then the server closed the connection (end of stream)")
            }
            Ok(0) => {}
            Ok(n) => received(buf.get(..*n).unwrap_or_default()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if crate::net::is_timeout(e) => note("then nothing more came in time"),
            Err(e) => note(format!("then reading failed: {e}")),
        }
        result
    }
}

impl<S: std::io::Write> std::io::Write for Recorded<S> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let result = self.0.write(buf);
        match &result {
            Ok(0) => {}
            Ok(n) => sent_more(buf.get(..*n).unwrap_or_default()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => note(format!("sending failed: {e}")),
        }
        result
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// A step in words of its own.
pub fn note(text: impl Into<String>) {
    push(Step::Note(text.into()));
}

/// A read waited `waited` and nothing (more) came.
pub fn timed_out(waited: Duration) {
    note(format!(
        "timed out after {} waiting for your program to send (more)",
        seconds(waited)
    ));
}

/// `expected` was the answer and `got` came: marks the first byte where they differ.
pub fn difference(expected: &[u8], got: &[u8]) {
    note(describe_difference(expected, got));
}

/// The first difference between `expected` and `got`, in words.
pub fn describe_difference(expected: &[u8], got: &[u8]) -> String {
    let at = expected
        .iter()
        .zip(got)
        .position(|(e, g)| e != g)
        .unwrap_or(expected.len().min(got.len()));
    let byte = |bytes: &[u8]| match bytes.get(at) {
        Some(b) => format!("{} (0x{b:02x})", shown(&[*b])),
        None => "nothing (it ends there)".to_string(),
    };
    // A few bytes of context before the difference, and the difference marked with `>>`.
    let from = at.saturating_sub(16);
    let context = |bytes: &[u8]| {
        let before = bytes.get(from..at).unwrap_or_default();
        let after = bytes.get(at..).unwrap_or_default();
        format!(
            "'{}{}>>{}'",
            if from > 0 { "…" } else { "" },
            preview(before, 16),
            preview(after, 16)
        )
    };
    format!(
        "expected {} ({} bytes) but got {} ({} bytes): they differ first at byte {at}: expected {}, got {}",
        context(expected),
        expected.len(),
        context(got),
        got.len(),
        byte(expected),
        byte(got)
    )
}

/// Takes this thread's steps (another thread's transcript joins the point's with [`extend`]).
pub fn take() -> Vec<String> {
    TRANSCRIPT.with(|t| {
        let t = std::mem::take(&mut *t.borrow_mut());
        let mut lines: Vec<String> = t.steps.iter().map(render).collect();
        if t.dropped > 0 {
            lines.push(format!("… {} more steps not kept", t.dropped));
        }
        lines
    })
}

/// Adds steps rendered on another thread (the checker's server of a client check).
pub fn extend(lines: Vec<String>) {
    for line in lines {
        note(line);
    }
}

fn render(step: &Step) -> String {
    match step {
        Step::Connected(to) => format!("connected to {to}"),
        Step::Sent {
            bytes,
            total,
            writes,
            how,
        } => format!(
            "sent {} ({total} bytes in {writes} write{}, {how}){}",
            shown_cut(bytes, *total),
            if *writes == 1 { "" } else { "s" },
            hex_if_binary(bytes)
        ),
        Step::Received {
            bytes,
            total,
            reads,
        } => format!(
            "received {} ({total} bytes in {reads} read{}){}",
            shown_cut(bytes, *total),
            if *reads == 1 { "" } else { "s" },
            hex_if_binary(bytes)
        ),
        Step::Note(text) => text.clone(),
    }
}

/// Bytes as escaped text in quotes, cut to [`SHOWN_BYTES`], saying how many more there were.
fn shown_cut(bytes: &[u8], total: usize) -> String {
    let first = bytes.get(..SHOWN_BYTES).unwrap_or(bytes);
    let more = total.saturating_sub(first.len());
    if more > 0 {
        format!("'{}'… (+{more} bytes)", preview(first, SHOWN_BYTES))
    } else {
        format!("'{}'", preview(first, SHOWN_BYTES))
    }
}

fn shown(bytes: &[u8]) -> String {
    format!("'{}'", preview(bytes, SHOWN_BYTES))
}

/// ` hex 05 00 00 00 …` when `bytes` hold something that is not printable text.
fn hex_if_binary(bytes: &[u8]) -> String {
    let printable = match std::str::from_utf8(bytes) {
        Ok(text) => !text.chars().any(|c| c.is_control() && c != '\n'),
        // A UTF-8 character cut at the end of what was kept is still text.
        Err(e) => e.error_len().is_none() && e.valid_up_to() + 4 > bytes.len(),
    };
    if printable {
        return String::new();
    }
    let mut out = String::from(" hex");
    for b in bytes.iter().take(HEX_BYTES) {
        let _ = write!(out, " {b:02x}");
    }
    if bytes.len() > HEX_BYTES {
        out.push_str(" …");
    }
    out
}

/// `2.5 s`, `10 s`.
fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if (s - s.round()).abs() < 0.05 {
        format!("{} s", s.round())
    } else {
        format!("{s:.1} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_in_a_row_make_one_step_and_binary_shows_in_hex() {
        clear();
        connected("127.0.0.1:9");
        sent(b"\x05\x00\x00\x00hello", 1, "one write");
        received(b"HE");
        received(b"L");
        note("then the connection closed");
        let lines = take();
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert_eq!(
            lines[1],
            "sent '\\x05\\x00\\x00\\x00hello' (9 bytes in 1 write, one write) hex 05 00 00 00 68 65 6c 6c 6f"
        );
        assert_eq!(lines[2], "received 'HEL' (3 bytes in 2 reads)");
        assert!(take().is_empty());
    }

    #[test]
    fn the_first_difference_is_marked() {
        let text = describe_difference(b"HELLO", b"HELxO!");
        assert!(text.contains("differ first at byte 3"), "{text}");
        assert!(text.contains("'HEL>>LO'"), "{text}");
        assert!(text.contains("got 'x' (0x78)"), "{text}");
        let short = describe_difference(b"HELLO", b"HE");
        assert!(short.contains("got nothing (it ends there)"), "{short}");
    }

    #[test]
    fn a_flood_keeps_bounded_memory_and_no_raw_escape() {
        clear();
        for _ in 0..10_000 {
            received(b"\x1b]0;pwned\x07\x1b[2J");
            note("x");
        }
        let lines = take();
        assert!(lines.len() <= MAX_STEPS + 1);
        assert!(lines.iter().all(|l| !l.contains('\x1b') && l.len() < 1000));
    }
}
