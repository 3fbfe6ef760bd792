//! Lesson 02: the communication loop (通信循环).
//!
//! Lesson 01 hung up after one message. Here the server keeps talking to its one client: `recv`,
//! reply with the upper-cased bytes, `recv` again, until the client goes away. A client can go
//! away in two ways, and the server must tell them apart:
//!
//! - it closes the connection normally: the kernel delivers a FIN, and `recv` returns 0 bytes
//!   (Python: `data == b''`), which is *not* an error;
//! - it vanishes (killed, crashed, or closed with unread data): the kernel delivers a reset
//!   (RST), and `recv` fails with ECONNRESET (Python's `ConnectionResetError`).
//!
//! Then the server exits: it has no link loop yet (lesson 03 adds it). A second client that
//! connects meanwhile is not refused: the kernel completes its handshake and keeps it in the
//! listen backlog, where nobody will ever `accept` it.
//!
//! The communication loop ([`converse`]) and the client ([`EchoClient`], [`echo_each`]) are
//! reused by lessons 03 and 11.
//!
//! Tutorials: 000 §1 (one user sending many times, catching ConnectionResetError), 001 §5.2
//! (循环通信).

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::escape::{preview, push_preview, server_text};
use crate::log::Log;
use crate::net::{self, is_timeout, NetError};
use crate::server::Shutdown;
use crate::tour::{Tour, TourError};

/// What can go wrong in this lesson.
#[derive(Debug, thiserror::Error)]
pub enum EchoError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error(
        "no reply within {} s (is the server busy with another client? then this one waits in \
         the listen backlog)",
        .0.as_secs_f32()
    )]
    NoReply(Duration),
    #[error("the server closed the connection after {got} of {expected} reply bytes")]
    ServerClosed { got: usize, expected: usize },
    #[error("the server closed the connection instead of replying")]
    HungUp,
    #[error("the server reset the connection (it exited, or dropped this client unread)")]
    Reset,
    #[error("the server refused: {0}")]
    Refused(String),
    #[error("the reply was not the message upper-cased: {0}")]
    NotAnEcho(String),
    #[error("connection error: {0}")]
    Io(#[from] io::Error),
}

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Bytes asked for by each `recv` (`recv(1024)` in the tutorial).
    pub bufsize: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig { bufsize: 1024 }
    }
}

/// How a conversation with one client ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The client closed its side: `recv` returned 0 bytes.
    Closed,
    /// The connection was reset: the client vanished without closing (`ConnectionResetError`).
    Reset,
}

/// Is this the error a socket call gives when the peer reset the connection?
///
/// `recv` reports a reset as ECONNRESET; `send` to a peer that has gone may report EPIPE
/// (broken pipe) instead; Windows says ECONNABORTED in some of the same cases.
pub fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// The communication loop: read up to `bufsize` bytes, send them back upper-cased, until the
/// client goes away. Returns how it went away; other errors (such as a read timeout set by the
/// caller) are returned as errors.
///
/// Each read is answered at once, whatever it holds: if a message arrives in two pieces, it is
/// answered in two pieces. That is why the client reads until it has the whole reply.
///
/// If the caller set a write timeout (lesson 11 does) and the client leaves our replies unread
/// until it runs out, that is an error saying so.
///
/// Nothing here allocates per message (lesson 11 serves thousands of clients with it, issue 11):
/// a buffer of up to [`STACK_BUFFER`] bytes lives on the thread's stack (a larger `--bufsize` is
/// allocated once, when the first data arrives), the reply is upper-cased in place, and the log
/// line is formatted into one `String` kept for the whole conversation.
///
/// `messages` is where each message's `received` line goes; `None` logs none (lesson 11's
/// `--quiet`, for a server under load, where a line per message would scroll past unread).
pub fn converse(
    conn: &mut TcpStream,
    peer: SocketAddr,
    bufsize: usize,
    messages: Option<&Log>,
) -> io::Result<Ending> {
    let mut on_stack = [0u8; STACK_BUFFER];
    let mut on_heap = Vec::new();
    let mut line = String::new();
    // Formatting an address is not free: do it once, not once per message.
    let peer_text = peer.to_string();
    loop {
        let buf = if bufsize <= STACK_BUFFER {
            on_stack.get_mut(..bufsize.max(1)).unwrap_or_default()
        } else {
            if on_heap.is_empty() {
                // Wait for the first data before allocating a large buffer for this client.
                match net::wait_readable(conn) {
                    Ok(()) => {}
                    Err(e) if is_reset(&e) => return Ok(Ending::Reset),
                    Err(e) => return Err(e),
                }
                on_heap = vec![0u8; bufsize];
            }
            on_heap.as_mut_slice()
        };
        let n = match conn.read(buf) {
            Ok(0) => return Ok(Ending::Closed),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if is_reset(&e) => return Ok(Ending::Reset),
            Err(e) => return Err(e),
        };
        let data = buf.get_mut(..n).unwrap_or_default();
        if let Some(log) = messages {
            line.clear();
            // Writing to a `String` cannot fail.
            let _ = write!(line, "received {n} bytes from {peer_text}: ");
            push_preview(&mut line, data, 60);
            log.line(&line);
        }
        data.make_ascii_uppercase();
        match conn.write_all(data) {
            Ok(()) => {}
            Err(e) if is_reset(&e) => return Ok(Ending::Reset),
            Err(e) if is_timeout(&e) => {
                return Err(io::Error::other(
                    "the client stopped reading its replies (send timed out)",
                ))
            }
            Err(e) => return Err(e),
        }
    }
}

/// The largest receive buffer [`converse`] keeps on the stack: the tutorials' `recv(1024)`.
pub const STACK_BUFFER: usize = 1024;

/// Logs how a conversation ended, one line.
pub fn log_ending(peer: SocketAddr, ending: &io::Result<Ending>, log: &Log) {
    match ending {
        Ok(Ending::Closed) => log.line(format!("client {peer} gone (it closed the connection)")),
        Ok(Ending::Reset) => log.line(format!("client {peer} vanished (connection reset)")),
        Err(e) => log.line(format!("client {peer} dropped: {e}")),
    }
}

/// Serves exactly one client, for as long as it stays, then returns.
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
    let ending = converse(&mut conn, peer, config.bufsize, Some(log));
    log_ending(peer, &ending, log);
    log.line("served my one client; exiting (lesson 03 adds the link loop)");
    // Returning drops the listener: any client still waiting in the backlog is reset.
    Ok(())
}

/// How long a client waits for each reply by default.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// A client of the echo servers of lessons 02, 03 and 11: one connection, many messages.
#[derive(Debug)]
pub struct EchoClient {
    conn: TcpStream,
    timeout: Duration,
}

impl EchoClient {
    /// Connects to `host:port`. `timeout` bounds the wait for each reply.
    pub fn connect(host: &str, port: u16, timeout: Duration) -> Result<EchoClient, EchoError> {
        let conn = net::connect_tcp_within(host, port, timeout)?;
        // A server that never reads must not block a send for ever either.
        conn.set_write_timeout(Some(timeout))?;
        Ok(EchoClient { conn, timeout })
    }

    /// The underlying connection (the tour and tests use it to reset it on purpose).
    pub fn stream(&self) -> &TcpStream {
        &self.conn
    }

    /// Sends `message` and returns the reply.
    ///
    /// The tutorial's client does one `recv(1024)` and hopes it holds the whole reply. Upper-casing
    /// keeps the length, so we know exactly how many bytes are coming back: we read until we have
    /// them all, however many pieces they arrive in. An empty message is not sent at all:
    /// `send(b"")` puts nothing on the wire, and waiting for its reply would wait for ever.
    pub fn echo(&mut self, message: &[u8]) -> Result<Vec<u8>, EchoError> {
        if message.is_empty() {
            return Ok(Vec::new());
        }
        self.conn.write_all(message).map_err(classify)?;
        let mut reply = vec![0u8; message.len()];
        let mut got = 0;
        let deadline = net::deadline_after(self.timeout);
        while let Some(rest) = reply.get_mut(got..).filter(|rest| !rest.is_empty()) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(EchoError::NoReply(self.timeout));
            }
            self.conn.set_read_timeout(Some(left))?;
            match self.conn.read(rest) {
                Ok(0) => {
                    // A refusal shorter than our message arrives whole, followed by the end.
                    reply.truncate(got);
                    if reply.starts_with(b"error: ") {
                        return Err(self.not_an_echo(reply, deadline));
                    }
                    return Err(EchoError::ServerClosed {
                        got,
                        expected: message.len(),
                    });
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(match classify(e) {
                        EchoError::Io(e) if is_timeout(&e) => EchoError::NoReply(self.timeout),
                        other => other,
                    })
                }
            }
        }
        if reply != message.to_ascii_uppercase() {
            return Err(self.not_an_echo(reply, deadline));
        }
        Ok(reply)
    }

    /// The reply was not the upper-cased message: most likely the server's one-line refusal
    /// (lesson 11's `--max-clients`), of which we have read only the first bytes. Reads the rest
    /// of that line (bounded, until the deadline) and says what the server said.
    fn not_an_echo(&mut self, mut reply: Vec<u8>, deadline: Instant) -> EchoError {
        let mut byte = [0u8; 1];
        while reply.len() < MAX_REFUSAL && !reply.ends_with(b"\n") {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.conn.set_read_timeout(Some(left)).is_err() {
                break;
            }
            match self.conn.read(&mut byte) {
                Ok(1) => reply.extend_from_slice(&byte),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                _ => break,
            }
        }
        let text = String::from_utf8_lossy(&reply).trim_end().to_string();
        match text.strip_prefix("error: ") {
            // The server's words, made safe to print (see `escape::server_text`).
            Some(why) => EchoError::Refused(server_text(why)),
            None => EchoError::NotAnEcho(preview(&reply, 60)),
        }
    }
}

/// The longest refusal line the client reads.
const MAX_REFUSAL: usize = 1024;

/// Bytes asked for by the one `recv` of [`EchoClient::exchange_any`]: the tutorials' `recv(1024)`.
pub const ANY_REPLY_RECV: usize = 1024;

impl EchoClient {
    /// Sends `message` and returns whatever one `recv(1024)` brings back (`--any-reply`), as the
    /// tutorials' clients do: for servers whose replies are not the echo, such as the "phone
    /// call" chat of tutorial 002 (a person types them) or tutorial 001's servers that answer
    /// `data.upper() + b'sb'`.
    ///
    /// Nothing says how long such a reply is, so one `recv` is all we can do: a long reply is
    /// cut, and its rest is read as the reply to the next message (lesson 07 shows this going
    /// wrong; lesson 10 frames the replies). An empty message is not sent (see [`echo`]).
    ///
    /// [`echo`]: EchoClient::echo
    pub fn exchange_any(&mut self, message: &[u8]) -> Result<Vec<u8>, EchoError> {
        if message.is_empty() {
            return Ok(Vec::new());
        }
        self.conn.write_all(message).map_err(classify)?;
        self.conn.set_read_timeout(Some(self.timeout))?;
        let mut reply = vec![0u8; ANY_REPLY_RECV];
        match net::recv(&mut self.conn, &mut reply) {
            Ok(0) => Err(EchoError::HungUp),
            Ok(n) => {
                reply.truncate(n);
                Ok(reply)
            }
            Err(e) if is_timeout(&e) => Err(EchoError::NoReply(self.timeout)),
            Err(e) => Err(classify(e)),
        }
    }
}

/// Like [`echo_each`], but any reply is accepted (`--any-reply`): see
/// [`EchoClient::exchange_any`].
pub fn any_reply_each<E: From<EchoError>>(
    host: &str,
    port: u16,
    timeout: Duration,
    messages: impl IntoIterator<Item = String>,
    mut on_reply: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), E> {
    let mut client = EchoClient::connect(host, port, timeout)?;
    for message in messages {
        let reply = client.exchange_any(message.as_bytes())?;
        on_reply(&reply)?;
    }
    Ok(())
}

/// The client of lessons 02, 03 and 11: connects to `host:port`, sends each message on that one
/// connection and hands each reply to `on_reply` (the binaries print it). Stops at the first
/// error, including one from `on_reply`.
pub fn echo_each<E: From<EchoError>>(
    host: &str,
    port: u16,
    timeout: Duration,
    messages: impl IntoIterator<Item = String>,
    mut on_reply: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), E> {
    let mut client = EchoClient::connect(host, port, timeout)?;
    for message in messages {
        let reply = client.echo(message.as_bytes())?;
        on_reply(&reply)?;
    }
    Ok(())
}

fn classify(e: io::Error) -> EchoError {
    if is_reset(&e) {
        EchoError::Reset
    } else {
        EchoError::Io(e)
    }
}

/// The lesson's stage in `00-tour`.
pub fn tour(t: &mut Tour) -> Result<(), TourError> {
    t.say(
        "The communication loop: the server keeps calling recv() on the same connection and \
         answers each read, until recv() returns 0 bytes (the client closed) or fails with a \
         reset (the client vanished). It serves one client, then exits.",
    );
    let server = t.start_tcp(|listener, log, shutdown| {
        run_server(listener, &ServerConfig::default(), &log, &shutdown)
    })?;
    let (port, lines) = (server.port(), &server.lines);

    t.step("one client, three messages on the same connection");
    let mut first = EchoClient::connect("127.0.0.1", port, Duration::from_secs(5))?;
    for message in ["hello", "how are you", "bye"] {
        let reply = first.echo(message.as_bytes())?;
        t.expect_log("server", lines, "received")?;
        t.show(
            "client",
            &format!("send: {message}  recv: {}", preview(&reply, 60)),
        );
        t.check(
            reply == message.to_ascii_uppercase().as_bytes(),
            format!("'{message}' came back upper-cased on the same connection"),
        )?;
    }

    t.step("a second client connects while the first is still being served");
    let mut second = net::connect_tcp("127.0.0.1", port)?;
    second.write_all(b"me too")?;
    t.show(
        "client",
        "second client: connect() succeeded, sent 'me too', no reply",
    );
    t.say(
        "The kernel finished the second client's handshake and queued it in the listen \
         backlog; its bytes wait in the kernel too. The server is busy in recv() on the \
         first connection and never calls accept() again.",
    );

    t.step("the first client closes its connection");
    drop(first);
    t.expect_log("server", lines, "gone")?;
    t.expect_log("server", lines, "exiting")?;
    server.server.join().map_err(TourError::new)?;
    t.check(true, "recv() returned 0 bytes and the server exited")?;

    second.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut buf = [0u8; 64];
    let read = loop {
        match second.read(&mut buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => break other,
        }
    };
    let outcome = match read {
        Ok(0) => "end of stream".to_string(),
        Ok(n) => format!("{n} bytes"),
        Err(e) if is_reset(&e) => "connection reset".to_string(),
        Err(e) => e.to_string(),
    };
    t.show("client", &format!("second client: recv -> {outcome}"));
    t.check(
        outcome == "connection reset" || outcome == "end of stream",
        "the waiting client got no reply: closing the listener reset its queued connection",
    )?;
    t.say("Lesson 03 adds the link loop, so the next client in the backlog gets its turn.");
    Ok(())
}
