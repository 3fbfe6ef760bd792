//! Lesson 01, second stage: the server speaks first (tutorial 002's greeting server).
//!
//! In tutorial 002 the first server does not wait for a message at all: it accepts a client,
//! sends `welcome to JinCheng!\r\n`, closes, and goes back to `accept` for the next one. Its
//! client only receives: `connect`, one `recv(1024)`, print, close. Nothing says the client must
//! talk first; who speaks first is part of a protocol, and both sides must agree on it.
//!
//! What the tutorial's server gets wrong shows up as soon as a client *does* send something (say
//! lesson 01's echo client): the server closes without reading it, and a socket closed with
//! unread bytes in its receive buffer makes the kernel answer with a reset (RST), not a normal
//! end. The client may then lose the greeting it was about to read. socklab's greeting server
//! closes gracefully instead ([`net::close_gracefully`]): "no more from me", then it reads and
//! discards whatever the client still sends until the client closes, so the greeting always
//! arrives.
//!
//! Tutorial: 002 (the first server.py and client.py).

use std::io::Write;
use std::net::TcpListener;
use std::time::Duration;

use crate::escape::preview;
use crate::lessons::echo_once::{receive_until_closed, EchoError, Ending, Received};
use crate::log::Log;
use crate::net;
use crate::server::{self, Shutdown};
use crate::tour::{Tour, TourError};

/// The greeting socklab's server sends by default (the tutorial's, with socklab's name).
pub const DEFAULT_GREETING: &str = "welcome to socklab!";

/// How long the server waits for a client to finish before closing anyway. The server serves
/// clients one after another, so this also bounds how long one client can hold up the next.
const LINGER: Duration = Duration::from_secs(2);

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Sent to every client, followed by `\r\n` as in the tutorial.
    pub greeting: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            greeting: DEFAULT_GREETING.to_string(),
        }
    }
}

/// Greets clients one after another (the tutorial's `while True: accept ...`) until `shutdown`
/// is requested.
pub fn run_server(
    listener: TcpListener,
    config: &ServerConfig,
    log: &Log,
    shutdown: &Shutdown,
) -> Result<(), EchoError> {
    let message = format!("{}\r\n", config.greeting);
    loop {
        let (mut conn, peer) = server::accept(&listener, log);
        if shutdown.is_requested() {
            return Ok(());
        }
        log.line(format!("client {peer} connected"));
        // A client that vanished before its greeting is not the server's problem: next client.
        match conn.write_all(message.as_bytes()) {
            Ok(()) => log.line(format!(
                "sent {} bytes to {peer}: {}; closing",
                message.len(),
                preview(message.as_bytes(), 60)
            )),
            Err(e) => log.line(format!("could not greet {peer}: {e}")),
        }
        net::close_gracefully(&mut conn, LINGER);
    }
}

/// Connects and only receives: everything the server sends until it closes (or resets, or
/// `timeout` passes). Sends nothing, like the tutorial's client.
pub fn run_client(
    host: &str,
    port: u16,
    max_reply: usize,
    timeout: Duration,
) -> Result<Received, EchoError> {
    let mut conn = net::connect_tcp(host, port)?;
    receive_until_closed(&mut conn, max_reply, timeout)
}

/// This stage in `00-tour` (part of lesson 01's stop).
pub fn tour(t: &mut Tour) -> Result<(), TourError> {
    t.say(
        "Who speaks first is part of the protocol. Tutorial 002's first server does not wait \
         for a message: it greets each client and closes. Its client only receives.",
    );
    let server = t.start_tcp(|listener, log, shutdown| {
        run_server(listener, &ServerConfig::default(), &log, &shutdown)
    })?;
    let timeout = Duration::from_secs(10);

    t.step("01-echo-once greet-client: connect, send nothing, read until the end");
    let got = run_client("127.0.0.1", server.port(), 1 << 20, timeout)?;
    t.expect_log("server", &server.lines, "closing")?;
    t.show("client", &format!("recv: {}", preview(&got.data, 60)));
    t.check(
        got.data == b"welcome to socklab!\r\n" && got.ending == Ending::Closed,
        "the client received the greeting, then a clean end of stream",
    )?;

    t.step("the echo client sends a message the greeting server never reads");
    let got = crate::lessons::echo_once::run_client(
        "127.0.0.1",
        server.port(),
        b"hello",
        1 << 20,
        timeout,
    )?;
    t.expect_log("server", &server.lines, "closing")?;
    t.show("client", &format!("recv: {}", preview(&got.data, 60)));
    t.check(
        got.data == b"welcome to socklab!\r\n" && got.ending == Ending::Closed,
        "the greeting still arrives whole: the server drains what it did not read before it \
         closes (the tutorial's server closes at once, and the client sees a reset instead)",
    )?;
    server.server.stop().map_err(TourError::new)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_greeting_ends_with_crlf_like_the_tutorials() {
        let listener = net::listen_tcp("127.0.0.1", 0, &Default::default()).unwrap();
        let port = listener.local_addr().unwrap().port();
        let shutdown = Shutdown::new();
        let stop = shutdown.clone();
        let thread = std::thread::spawn(move || {
            run_server(listener, &ServerConfig::default(), &Log::silent(), &stop)
        });
        let got = run_client("127.0.0.1", port, 1024, Duration::from_secs(20)).unwrap();
        assert_eq!(got.data, b"welcome to socklab!\r\n");
        assert_eq!(got.ending, Ending::Closed);
        shutdown.request();
        // Wake the accept so the server sees the request.
        let _ = net::connect_tcp("127.0.0.1", port);
        thread.join().unwrap().unwrap();
    }
}
