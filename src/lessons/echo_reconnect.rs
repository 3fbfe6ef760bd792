//! Lesson 03: the link loop (链接循环) around the communication loop.
//!
//! The server of lesson 02 exited after its one client. Put `accept` in a loop of its own and
//! the server serves clients one after another, for ever: while it talks to one, the next waits
//! in the listen backlog; when one leaves (normally or by a reset), the next is accepted. Still
//! one client at a time: lesson 11 serves many at once.
//!
//! Two things the tutorials talk about become visible here, through the server's flags:
//!
//! - `--backlog N`: the `listen(N)` argument, the queue of connections the kernel has finished
//!   but the server has not yet accepted (what happens when it is full: see walkthrough.md);
//! - `--no-reuseaddr`: leave SO_REUSEADDR off, as Python does, so that restarting the server
//!   while old connections sit in TIME_WAIT fails with "Address already in use".
//!
//! Tutorials: 000 §1, 001 §4 (listen, 半连接池) and §5.3 (循环连接), 002 (SO_REUSEADDR).

use std::io::{self, Write};
use std::net::TcpListener;
use std::time::Duration;

use crate::escape::preview;
use crate::lessons::echo_loop::{converse, log_ending, EchoClient, EchoError};
use crate::log::Log;
use crate::net;
use crate::server::{self, Shutdown};
use crate::tour::{Tour, TourError};

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Bytes asked for by each `recv`.
    pub bufsize: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig { bufsize: 1024 }
    }
}

/// Serves clients one after another until `shutdown` is requested.
///
/// The shutdown flag is checked after every `accept`, because that is where this server waits
/// between clients ([`Background::stop`](crate::server::Background::stop) wakes it by
/// connecting). A client being served keeps the server until that client leaves: a client that
/// connects and says nothing holds everyone else in the backlog (lesson 11's read timeout is the
/// cure).
pub fn run_server(
    listener: TcpListener,
    config: &ServerConfig,
    log: &Log,
    shutdown: &Shutdown,
) -> Result<(), EchoError> {
    loop {
        let (mut conn, peer) = server::accept(&listener, log);
        if shutdown.is_requested() {
            return Ok(());
        }
        log.line(format!("client {peer} connected"));
        let ending = converse(&mut conn, peer, config.bufsize, Some(log));
        log_ending(peer, &ending, log);
        // `conn` is dropped here: closed, and the loop goes back to accept the next client.
    }
}

/// The lesson's stage in `00-tour`.
pub fn tour(t: &mut Tour) -> Result<(), TourError> {
    t.say(
        "The link loop: accept() in a loop of its own, around the communication loop. The \
         server serves clients one after another; a client that vanishes with a reset is \
         logged, and the next one is accepted.",
    );
    let server = t.start_tcp(|listener, log, shutdown| {
        run_server(listener, &ServerConfig::default(), &log, &shutdown)
    })?;
    let (port, lines) = (server.port(), &server.lines);
    let timeout = Duration::from_secs(5);

    t.step("client A talks, then crashes (its close sends a reset, RST)");
    let mut a = EchoClient::connect("127.0.0.1", port, timeout)?;
    let reply = a.echo(b"I am A")?;
    t.expect_log("server", lines, "received")?;
    t.show("client", &format!("A recv: {}", preview(&reply, 60)));
    // SO_LINGER with a zero timeout: close() sends RST instead of FIN, like a killed process
    // whose socket still had unread data.
    socket2::SockRef::from(a.stream()).set_linger(Some(Duration::ZERO))?;
    drop(a);
    t.expect_log("server", lines, "vanished")?;
    t.check(
        true,
        "the server logged the reset (Python's ConnectionResetError) and kept running",
    )?;

    t.step("clients B and C connect; C must wait until B leaves");
    let mut b = EchoClient::connect("127.0.0.1", port, timeout)?;
    let reply_b = b.echo(b"I am B")?;
    t.expect_log("server", lines, "received")?;
    t.show("client", &format!("B recv: {}", preview(&reply_b, 60)));
    let mut c = net::connect_tcp("127.0.0.1", port)?;
    c.write_all(b"I am C")?;
    t.show(
        "client",
        "C connected and sent 'I am C'; it waits in the backlog",
    );
    drop(b);
    t.expect_log("server", lines, "gone")?;
    let mut reply_c = [0u8; 6];
    c.set_read_timeout(Some(timeout))?;
    io::Read::read_exact(&mut c, &mut reply_c)?;
    t.expect_log("server", lines, "received")?;
    t.show("client", &format!("C recv: {}", preview(&reply_c, 60)));
    t.check(
        &reply_c == b"I AM C",
        "C was accepted and answered as soon as B left",
    )?;
    drop(c);
    t.expect_log("server", lines, "gone")?;

    server.server.stop().map_err(TourError::new)?;
    t.check(
        true,
        "the server served three clients in turn and was stopped",
    )?;
    t.say(
        "One at a time is still one at a time: while B talked, C only waited. Lesson 11 \
         serves every client on its own thread.",
    );
    crate::lessons::phone_chat::tour(t)
}
