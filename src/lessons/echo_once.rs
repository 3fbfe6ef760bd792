//! Lesson 01: the one-shot echo, the first program of every tutorial.
//!
//! The server goes through the whole life of a TCP server exactly once: `socket` + `bind` +
//! `listen` (one call in Rust, see [`crate::net::listen_tcp`]), `accept` one client, `recv` once,
//! `send` the upper-cased bytes back (Python's `data.upper()`), close, exit. The client does
//! `connect`, `send`, `recv`, close. Everything later in the course is this, repeated and fixed.
//!
//! Tutorials: 000 §1 (the first server and client), 001 §4 (打电话 example) and §5.1.

use std::io::{self, Read, Write};
use std::net::TcpListener;

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
const LINGER: std::time::Duration = std::time::Duration::from_secs(2);

/// Sends `message` to the server and returns its reply.
///
/// The tutorial's client calls `recv(1024)` once. That works on loopback for short messages, but
/// a single `recv` may return part of a reply (lesson 07 shows it). This server closes the
/// connection after replying, so the right way to get the whole reply is to read until the end
/// of the stream. `max_reply` bounds what we are willing to hold.
pub fn run_client(
    host: &str,
    port: u16,
    message: &[u8],
    max_reply: u64,
) -> Result<Vec<u8>, EchoError> {
    let mut conn = net::connect_tcp(host, port)?;
    conn.write_all(message)?;
    let mut reply = Vec::new();
    (&mut conn).take(max_reply).read_to_end(&mut reply)?;
    Ok(reply)
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
    let reply = run_client("127.0.0.1", server.port(), b"hello world", 1 << 20)?;
    t.expect_log("server", &server.lines, "sent")?;
    t.show("client", &format!("recv: {}", preview(&reply, 60)));
    t.check(
        reply == b"HELLO WORLD",
        "the reply is the message upper-cased",
    )?;

    server.server.join().map_err(TourError::new)?;
    t.check(true, "the server exited after its one client")?;
    t.say(
        "Run the client a second time and it is refused: nobody is listening any more. \
         Lesson 02 keeps the conversation going; lesson 03 keeps the server going.",
    );
    Ok(())
}
