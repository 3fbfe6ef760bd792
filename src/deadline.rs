//! Deadlines that hold however the peer trickles its bytes.
//!
//! A socket timeout (`SO_RCVTIMEO`, `set_read_timeout`) limits *one* `read`. A promise such as
//! "log in within 60 s" is about a whole exchange, made of many reads: a frame header, then its
//! payload, which a client may send one byte every 59 s. Each read then waits less than its
//! timeout, and the exchange lasts as long as the client likes. So a deadline is an *instant*,
//! and before every single read or write the socket's timeout is set to the time left until it
//! ([`WithDeadline`]). When the instant has passed, the next read or write fails at once with a
//! `TimedOut` error that says so, and [`crate::net::is_timeout`] recognises it like any timeout.
//!
//! Writes need the same care: a client that never reads makes `write` block once the socket's
//! send buffer is full, and without a deadline the server's thread waits for it for ever.
//!
//! [`WithDeadline`] borrows the stream for one exchange (a request header, a login, a reply) and
//! wraps any reader that framing understands: `framing::read_header(&mut WithDeadline::new(&mut
//! stream, at))`. When dropped it gives the socket its previous timeouts back, so what follows
//! (a file body with its own per-read idle timeout) is not cut short by an old deadline.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::net;
use crate::trace::Traced;

/// Something that reads and writes through a TCP socket whose timeouts can be set.
pub trait Socket: Read + Write {
    fn socket(&self) -> &TcpStream;
}

impl Socket for TcpStream {
    fn socket(&self) -> &TcpStream {
        self
    }
}

impl Socket for Traced<TcpStream> {
    fn socket(&self) -> &TcpStream {
        self.get_ref()
    }
}

/// A stream whose every read and write must be done by one instant (see the module doc).
pub struct WithDeadline<'a, S: Socket> {
    inner: &'a mut S,
    at: Instant,
    /// The socket's timeouts before, given back on drop.
    saved: (Option<Duration>, Option<Duration>),
}

impl<'a, S: Socket> WithDeadline<'a, S> {
    /// Reads and writes through `inner` until `at`.
    pub fn new(inner: &'a mut S, at: Instant) -> WithDeadline<'a, S> {
        let socket = inner.socket();
        let saved = (
            socket.read_timeout().ok().flatten(),
            socket.write_timeout().ok().flatten(),
        );
        WithDeadline { inner, at, saved }
    }

    /// Reads and writes through `inner` for at most `limit` from now.
    pub fn within(inner: &'a mut S, limit: Duration) -> WithDeadline<'a, S> {
        WithDeadline::new(inner, net::deadline_after(limit))
    }

    /// Time left, or the error every read and write gives once the deadline has passed.
    fn left(&self) -> io::Result<Duration> {
        match self.at.checked_duration_since(Instant::now()) {
            Some(left) if !left.is_zero() => Ok(left),
            _ => Err(expired()),
        }
    }
}

/// The error of a read or write attempted (or cut) at the deadline.
pub fn expired() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "the deadline has passed")
}

impl<S: Socket> Read for WithDeadline<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.left()?;
        self.inner.socket().set_read_timeout(Some(left))?;
        match self.inner.read(buf) {
            Err(e) if net::is_timeout(&e) => Err(expired()),
            result => result,
        }
    }
}

impl<S: Socket> Write for WithDeadline<'_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = self.left()?;
        self.inner.socket().set_write_timeout(Some(left))?;
        match self.inner.write(buf) {
            Err(e) if net::is_timeout(&e) => Err(expired()),
            result => result,
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<S: Socket> Drop for WithDeadline<'_, S> {
    fn drop(&mut self) {
        let socket = self.inner.socket();
        let _ = socket.set_read_timeout(self.saved.0);
        let _ = socket.set_write_timeout(self.saved.1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing;
    use std::net::TcpListener;
    use std::thread;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    #[test]
    fn a_trickled_frame_cannot_outlast_the_deadline() {
        let (mut client, mut server) = pair();
        // A frame announcing 1000 bytes, then one byte every 50 ms: each read is quick, the
        // frame is not.
        let trickler = thread::spawn(move || {
            let _ = client.write_all(&1000u32.to_le_bytes());
            for _ in 0..1000 {
                if client.write_all(b"x").is_err() {
                    break;
                }
                thread::sleep(Duration::from_millis(50));
            }
        });
        server
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let started = Instant::now();
        let result = framing::read_frame(&mut WithDeadline::within(
            &mut server,
            Duration::from_millis(500),
        ));
        let Err(framing::FrameError::Io(e)) = result else {
            panic!("expected a timeout, got {result:?}");
        };
        assert!(net::is_timeout(&e), "{e}");
        // Not a speed test: far below the 50 s the trickle would take.
        assert!(started.elapsed() < Duration::from_secs(10));
        // The socket's own timeout is given back.
        assert_eq!(
            server.read_timeout().unwrap(),
            Some(Duration::from_secs(20))
        );
        drop(server);
        trickler.join().unwrap();
    }

    #[test]
    fn a_peer_that_never_reads_cannot_hold_a_writer_past_the_deadline() {
        let (_client, mut server) = pair();
        let big = vec![0u8; 64 << 20];
        let started = Instant::now();
        let result = WithDeadline::within(&mut server, Duration::from_millis(300)).write_all(&big);
        assert!(result.is_err_and(|e| net::is_timeout(&e)));
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(server.write_timeout().unwrap(), None);
    }
}
