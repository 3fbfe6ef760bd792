//! Lesson 01: the one-shot echo, the first program of every tutorial.
//!
//! The server goes through the whole life of a TCP server exactly once: `socket` + `bind` +
//! `listen` (one call in Rust, see [`crate::net::listen_tcp`]), `accept` one client, `recv` once,
//! `send` the upper-cased bytes back (Python's `data.upper()`), close, exit. The client does
//! `connect`, `send`, `recv`, close. Everything later in the course is this, repeated and fixed.
//!
//! Tutorials: 000 §1 (the first server and client), 001 §4 (打电话 example) and §5.1.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::escape::preview;
use crate::log::Log;
use crate::net::{self, NetError};
use crate::server::Shutdown;
use crate::tour::{Tour, TourError};

/// What can go wrong in this lesson.
#[derive(Debug, thiserror::Error)]
pub enum EchoError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("connection error: {0}")]
    Io(#[from] io::Error),
}

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Bytes asked for by the single `recv` (`recv(1024)` in the tutorial).
    pub bufsize: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig { bufsize: 1024 }
    }
}

/// Serves exactly one client, then returns.
pub fn run_server(
    listener: TcpListener,
    config: &ServerConfig,
    log: &Log,
    shutdown: &Shutdown,
) -> Result<(), EchoError> {
    let (mut conn, peer) = listener.accept()?;
    if shutdown.is_requested() {
        return Ok(());
    }
    log.line(format!("client {peer} connected"));

    // One read, as in the tutorial: whatever has arrived, up to `bufsize` bytes. A longer
    // message is cut here; lesson 02 reads in a loop.
    let mut buf = vec![0u8; config.bufsize.max(1)];
    let n = net::recv(&mut conn, &mut buf)?;
    let data = buf.get(..n).unwrap_or_default();
    if n == 0 {
        log.line(format!("client {peer} closed without sending anything"));
        return Ok(());
    }
    log.line(format!("received {n} bytes: {}", preview(data, 60)));

    let reply = data.to_ascii_uppercase();
    conn.write_all(&reply)?;
    log.line(format!(
        "sent {} bytes back; closing and exiting",
        reply.len()
    ));
    // The tutorial just calls `conn.close()`. If the message was longer than `bufsize`, the rest
    // is still unread, and closing now would reset the connection and could destroy the reply
    // before the client reads it. See `close_gracefully`.
    net::close_gracefully(&mut conn, LINGER);
    Ok(())
}

/// How long the server waits for the client to finish before closing anyway.
const LINGER: Duration = Duration::from_secs(2);

/// How the server's side of a connection ended, as the client saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// A clean end of stream (FIN): everything the server sent has arrived.
    Closed,
    /// A reset (RST). Linux delivers the bytes that arrived before it first, so what was read is
    /// kept; more may have been lost. A server that closes with bytes of ours still unread (the
    /// greeting server of tutorial 002, which never reads) resets instead of closing.
    Reset,
    /// The server neither closed nor sent more within the timeout: tutorial 000's link-loop
    /// server keeps a finished connection open until its next client arrives.
    TimedOut(Duration),
    /// `max_reply` bytes arrived and the client stopped reading.
    TooLong,
}

/// What a client received: the bytes, and how the connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub data: Vec<u8>,
    pub ending: Ending,
}

/// Sends `message` to the server (nothing at all if it is empty) and reads until the server
/// closes: the server's whole reply.
///
/// The tutorial's client calls `recv(1024)` once. That works on loopback for short messages, but
/// a single `recv` may return part of a reply (lesson 07 shows it). This server closes the
/// connection after replying, so the right way to get the whole reply is to read until the end
/// of the stream. `max_reply` bounds what we are willing to hold, and `timeout` (a deadline for
/// the whole reply, not per read) how long we wait for the end.
///
/// A reset or a timeout is not an error here: what arrived before it is still the reply, and
/// the caller shows it before saying how the connection ended ([`Received::ending`]).
pub fn run_client(
    host: &str,
    port: u16,
    message: &[u8],
    max_reply: usize,
    timeout: Duration,
) -> Result<Received, EchoError> {
    let mut conn = net::connect_tcp_within(host, port, timeout)?;
    // A server that never reads must not block the send for ever either.
    conn.set_write_timeout(Some(timeout))?;
    if !message.is_empty() {
        conn.write_all(message)?;
    }
    receive_until_closed(&mut conn, max_reply, timeout)
}

/// Reads until the end of the stream, a reset, `max_reply` bytes, or the deadline.
pub fn receive_until_closed(
    conn: &mut TcpStream,
    max_reply: usize,
    timeout: Duration,
) -> Result<Received, EchoError> {
    let deadline = net::deadline_after(timeout);
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let ending = loop {
        let room = max_reply.saturating_sub(data.len());
        if room == 0 {
            break Ending::TooLong;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break Ending::TimedOut(timeout);
        }
        conn.set_read_timeout(Some(left))?;
        let want = buf.len().min(room);
        match conn.read(buf.get_mut(..want).unwrap_or_default()) {
            Ok(0) => break Ending::Closed,
            Ok(n) => data.extend_from_slice(buf.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if net::is_timeout(&e) => break Ending::TimedOut(timeout),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break Ending::Reset,
            Err(e) => return Err(e.into()),
        }
    };
    Ok(Received { data, ending })
}

/// One line that says how a connection ended, for the client to print after the data; `None`
/// for a clean close, which needs no comment.
pub fn describe_ending(received: &Received) -> Option<String> {
    let got = received.data.len();
    match received.ending {
        Ending::Closed => None,
        Ending::Reset => Some(format!(
            "the server reset the connection (after {got} bytes, shown above): it closed with \
             bytes of ours unread, so its kernel answered with RST; more of its reply may have \
             been lost"
        )),
        Ending::TimedOut(after) => Some(format!(
            "the server did not close the connection within {} s (--timeout); shown above is \
             what arrived ({got} bytes)",
            after.as_secs_f64()
        )),
        Ending::TooLong => Some(format!("stopped reading after {got} bytes")),
    }
}

/// The lesson's stage in `00-tour`.
pub fn tour(t: &mut Tour) -> Result<(), TourError> {
    t.say(
        "A server binds a port and listens; accept() blocks until a client connects and \
         returns a new socket just for that client. One recv(), one send() of the \
         upper-cased bytes, and both sides close.",
    );
    let server = t.start_tcp(|listener, log, shutdown| {
        run_server(listener, &ServerConfig::default(), &log, &shutdown)
    })?;

    t.step("the client connects and sends 'hello world'");
    let reply = run_client(
        "127.0.0.1",
        server.port(),
        b"hello world",
        1 << 20,
        Duration::from_secs(10),
    )?;
    t.expect_log("server", &server.lines, "sent")?;
    t.show("client", &format!("recv: {}", preview(&reply.data, 60)));
    t.check(
        reply.data == b"HELLO WORLD" && reply.ending == Ending::Closed,
        "the reply is the message upper-cased",
    )?;

    server.server.join().map_err(TourError::new)?;
    t.check(true, "the server exited after its one client")?;
    t.say(
        "Run the client a second time and it is refused: nobody is listening any more. \
         Lesson 02 keeps the conversation going; lesson 03 keeps the server going.",
    );
    crate::lessons::greeting::tour(t)
}
