//! The control connection: command lines in, numbered replies out (RFC 959, section 4).
//!
//! A command is one line of text ending in CRLF: a verb of letters, maybe a space and an
//! argument (`RETR docs/a.txt`). A reply is a three-digit code and a text (`226 Transfer
//! complete`); a multi-line reply starts `211-` and ends with a line `211 ...`. Clients act on the
//! code alone; the text is for people.
//!
//! Lines are read from a buffer of our own, not a `BufReader`, for two reasons: the line length is
//! capped ([`MAX_LINE`]: a client sending a line without end must not fill the server's memory),
//! and during a transfer the buffer is filled *without waiting* ([`Control::poll_abort`]), to see
//! whether the client sent `ABOR`, while the command after it stays in the buffer for later.

use std::io::{self, Write};
use std::net::TcpStream;
use std::time::Instant;

use crate::deadline::WithDeadline;
use crate::net;
use crate::trace::{Traced, Tracer};

/// Longest command line accepted, CRLF included.
pub const MAX_LINE: usize = 2048;

/// What reading the next command gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// A whole line, without its line end.
    Line(Vec<u8>),
    /// The client closed the connection.
    Closed,
    /// A line longer than [`MAX_LINE`].
    TooLong,
}

/// What the client said while a transfer was running.
#[derive(Debug, PartialEq, Eq)]
pub enum DuringTransfer {
    /// Nothing (or a command that waits its turn).
    Nothing,
    /// `ABOR`: stop the transfer.
    Abort,
    /// The control connection closed: nobody is left to receive the file or the reply.
    Closed,
}

/// One control connection.
pub struct Control {
    /// Traced: with `--trace` or `--picture`, every command and reply is shown.
    stream: Traced<TcpStream>,
    /// Bytes received and not yet taken as a line.
    pending: Vec<u8>,
    closed: bool,
    /// The code of the last reply sent (for the log line of a transfer).
    last_code: u16,
}

impl Control {
    pub fn new(stream: TcpStream, tracer: &Tracer) -> Control {
        Control {
            stream: tracer.wrap(stream),
            pending: Vec::new(),
            closed: false,
            last_code: 0,
        }
    }

    pub fn stream(&self) -> &TcpStream {
        self.stream.get_ref()
    }

    pub fn stream_mut(&mut self) -> &mut TcpStream {
        self.stream.get_mut()
    }

    /// The next command line, waiting at most until `deadline`.
    pub fn read_line(&mut self, deadline: Instant) -> io::Result<Incoming> {
        loop {
            if let Some(line) = self.take_line() {
                return Ok(line);
            }
            if self.closed {
                return Ok(Incoming::Closed);
            }
            let mut chunk = [0u8; 1024];
            let got = net::recv(
                &mut WithDeadline::new(&mut self.stream, deadline),
                &mut chunk,
            )?;
            if got == 0 {
                self.closed = true;
            }
            self.pending
                .extend_from_slice(chunk.get(..got).unwrap_or_default());
        }
    }

    /// A whole line from the buffer, if one is there (or the sign that it can never fit).
    fn take_line(&mut self) -> Option<Incoming> {
        match self.pending.iter().position(|&b| b == b'\n') {
            Some(end) if end < MAX_LINE => {
                let mut line: Vec<u8> = self.pending.drain(..=end).collect();
                line.pop(); // the LF
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                Some(Incoming::Line(line))
            }
            Some(_) => Some(Incoming::TooLong),
            None if self.pending.len() >= MAX_LINE => Some(Incoming::TooLong),
            None => None,
        }
    }

    /// Called between chunks of a transfer: takes what the client has sent, without waiting,
    /// and says whether it asked to abort. Another command stays buffered for after the
    /// transfer (and an `ABOR` behind it is not seen: clients send ABOR alone).
    pub fn poll_abort(&mut self) -> io::Result<DuringTransfer> {
        if !self.closed && self.pending.len() < MAX_LINE {
            self.stream().set_nonblocking(true)?;
            let mut chunk = [0u8; 1024];
            let read = net::recv(&mut self.stream, &mut chunk);
            self.stream().set_nonblocking(false)?;
            match read {
                Ok(0) => self.closed = true,
                Ok(got) => self
                    .pending
                    .extend_from_slice(chunk.get(..got).unwrap_or_default()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        let first_line = self
            .pending
            .iter()
            .position(|&b| b == b'\n')
            .and_then(|end| self.pending.get(..end));
        if let Some(line) = first_line {
            if verb_of(line).eq_ignore_ascii_case("ABOR") {
                let _ = self.take_line();
                return Ok(DuringTransfer::Abort);
            }
        }
        if self.closed && first_line.is_none() {
            return Ok(DuringTransfer::Closed);
        }
        Ok(DuringTransfer::Nothing)
    }

    /// The code of the last reply sent.
    pub fn last_code(&self) -> u16 {
        self.last_code
    }

    /// Sends a one-line reply: `226 Transfer complete`.
    pub fn reply(&mut self, code: u16, text: &str) -> io::Result<()> {
        self.last_code = code;
        let line = format!("{code} {}\r\n", one_line(text));
        self.send(line.as_bytes())
    }

    /// Sends a multi-line reply: `211-first`, the middle lines each starting with a space, and
    /// `211 last`.
    pub fn reply_lines(
        &mut self,
        code: u16,
        first: &str,
        middle: &[String],
        last: &str,
    ) -> io::Result<()> {
        let mut text = format!("{code}-{}\r\n", one_line(first));
        for line in middle {
            text.push(' ');
            text.push_str(&one_line(line));
            text.push_str("\r\n");
        }
        text.push_str(&format!("{code} {}\r\n", one_line(last)));
        self.send(text.as_bytes())
    }

    /// One `write_all`, so a reply is never split across several segments by our own doing.
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }
}

/// The verb of a command line: its first word, without the Telnet bytes (`IAC IP`, `IAC DM`,
/// all above 127) that Python's `ftplib` and others send before an `ABOR`.
pub fn verb_of(line: &[u8]) -> String {
    let start = line.iter().position(|b| b.is_ascii()).unwrap_or(line.len());
    let rest = line.get(start..).unwrap_or_default();
    let end = rest
        .iter()
        .position(|&b| b == b' ' || b == b'\r')
        .unwrap_or(rest.len());
    String::from_utf8_lossy(rest.get(..end).unwrap_or_default()).into_owned()
}

/// A reply text with no line break in it (a name from the disk may hold one), so one reply can
/// never pose as two.
fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verb_skips_telnet_bytes() {
        assert_eq!(verb_of(b"\xff\xf4\xff\xf2ABOR"), "ABOR");
        assert_eq!(verb_of(b"RETR a b.txt"), "RETR");
        assert_eq!(verb_of(b"ABOR\r"), "ABOR");
        assert_eq!(verb_of(b""), "");
    }

    #[test]
    fn reply_texts_stay_on_one_line() {
        assert_eq!(one_line("a\r\n226 fake"), "a  226 fake");
    }
}
