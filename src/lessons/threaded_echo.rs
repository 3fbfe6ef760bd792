//! Lesson 11: the threaded echo server, Python's `socketserver.ThreadingTCPServer`.
//!
//! The echo of lesson 03, but the link loop no longer waits for one client to leave before
//! accepting the next: every accepted connection gets its own thread running the communication
//! loop, so many clients talk at once. The accept loop and the threads are
//! [`crate::server::serve`] (the tutorial's "server class"); this lesson only supplies the
//! per-connection part, an [`EchoHandler`] (the tutorial's `BaseRequestHandler.handle`).
//!
//! Threads cost memory, so the server caps them (`--max-clients`: the next client gets a
//! one-line refusal), and a client that stays silent for `--idle-timeout`, or leaves our replies
//! unread that long, is dropped so that it does not hold a thread for ever.
//!
//! Tutorials: 000 §2 (socketserver), 003 (socketserver 多线程服务), 004 (socketserver 的类结构).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use crate::escape::preview;
use crate::lessons::echo_loop::{converse, EchoClient, Ending};
use crate::log::Log;
use crate::net::{self, is_timeout};
use crate::server::{serve, Handler, ServerOptions, Shutdown};
use crate::tour::{Tour, TourError};

/// Why a connection ended other than by the client closing it.
#[derive(Debug, thiserror::Error)]
pub enum ThreadedError {
    #[error("vanished (connection reset)")]
    Reset,
    #[error("silent for {} s (--idle-timeout); closed", .0.as_secs_f32())]
    Idle(Duration),
    #[error("connection error: {0}")]
    Io(#[from] io::Error),
}

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Bytes asked for by each `recv`.
    pub bufsize: usize,
    /// Most clients served at once.
    pub max_clients: usize,
    /// A client that sends nothing for this long, or reads nothing we send, is disconnected.
    pub idle_timeout: Duration,
    /// Log a line for every message (`received ...`), or only connections coming and going
    /// (`--quiet`).
    pub log_messages: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bufsize: 1024,
            max_clients: 256,
            idle_timeout: Duration::from_secs(300),
            log_messages: true,
        }
    }
}

/// The per-connection part: lesson 02's communication loop.
#[derive(Debug, Clone)]
pub struct EchoHandler {
    bufsize: usize,
    idle_timeout: Duration,
    log_messages: bool,
}

impl Handler for EchoHandler {
    type Error = ThreadedError;

    fn handle(
        &self,
        mut stream: TcpStream,
        peer: SocketAddr,
        log: &Log,
    ) -> Result<(), Self::Error> {
        // `serve` has set the read timeout to `idle_timeout`, so a silent client makes `read`
        // fail with a timeout instead of blocking this thread for ever. The write timeout does
        // the same for a client that sends and sends but never reads our replies: once its
        // receive buffer and our send buffer are full, `write` would otherwise block for ever.
        stream.set_write_timeout(Some(self.idle_timeout))?;
        let messages = self.log_messages.then_some(log);
        match converse(&mut stream, peer, self.bufsize, messages) {
            Ok(Ending::Closed) => Ok(()),
            Ok(Ending::Reset) => Err(ThreadedError::Reset),
            Err(e) if is_timeout(&e) => Err(ThreadedError::Idle(self.idle_timeout)),
            Err(e) => Err(e.into()),
        }
    }
}

/// Serves clients, each on its own thread, until `shutdown` is requested.
pub fn run_server(
    listener: TcpListener,
    config: &ServerConfig,
    log: &Log,
    shutdown: &Shutdown,
) -> io::Result<()> {
    let handler = EchoHandler {
        bufsize: config.bufsize,
        idle_timeout: config.idle_timeout,
        log_messages: config.log_messages,
    };
    let options = ServerOptions {
        max_clients: config.max_clients,
        read_timeout: Some(config.idle_timeout),
    };
    serve(listener, handler, &options, log, shutdown)
}

/// The lesson's stage in `00-tour`.
pub fn tour(t: &mut Tour) -> Result<(), TourError> {
    t.say(
        "ThreadingTCPServer: the accept loop hands each connection to a thread of its own, \
         so clients no longer wait for each other. A cap on threads (--max-clients) refuses \
         the client too many.",
    );
    let config = ServerConfig {
        max_clients: 3,
        ..ServerConfig::default()
    };
    let server =
        t.start_tcp(move |listener, log, shutdown| run_server(listener, &config, &log, &shutdown))?;
    let (port, lines) = (server.port(), &server.lines);
    let timeout = Duration::from_secs(5);

    t.step("three clients connect and stay connected (the server runs with --max-clients 3)");
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(EchoClient::connect("127.0.0.1", port, timeout)?);
        t.expect_log("server", lines, "connected")?;
    }

    t.step("they take turns, each message answered while all three are connected");
    for round in 1..=2 {
        for (i, client) in clients.iter_mut().enumerate() {
            let message = format!("client {} round {round}", i + 1);
            let reply = client.echo(message.as_bytes())?;
            t.expect_log("server", lines, "received")?;
            t.show("client", &format!("recv: {}", preview(&reply, 60)));
            t.check(
                reply == message.to_ascii_uppercase().as_bytes(),
                format!("client {} answered at once", i + 1),
            )?;
        }
    }

    t.step("a fourth client connects and sends 'hello?' at once, as the tutorial's client does");
    let mut fourth = net::connect_tcp("127.0.0.1", port)?;
    fourth.write_all(b"hello?")?;
    t.expect_log("server", lines, "refused")?;
    fourth.set_read_timeout(Some(timeout))?;
    // `read_to_string` reads until the end of the stream: a reset would make it fail.
    let mut refusal = String::new();
    fourth.read_to_string(&mut refusal)?;
    t.show("client", &format!("recv: {}", refusal.trim_end()));
    t.check(
        refusal.starts_with("error: server busy") && refusal.lines().count() == 1,
        "the client too many got a one-line refusal, then a clean end of stream, not a reset",
    )?;
    t.say(
        "Closing a socket whose unread bytes ('hello?') sit in its buffer sends a reset, which \
         the client would see as ConnectionResetError. So the server ends with shutdown(Write) \
         (a FIN) and reads what is left before it closes.",
    );

    t.step("one client leaves; now there is room again");
    clients.pop();
    t.expect_log("server", lines, "gone")?;
    let mut fifth = EchoClient::connect("127.0.0.1", port, timeout)?;
    let reply = fifth.echo(b"my turn")?;
    t.expect_log("server", lines, "received")?;
    t.check(reply == b"MY TURN", "the next client is served")?;

    // Three clients are still connected: stopping the server closes their connections and
    // joins their threads, so nothing is left running.
    server.server.stop().map_err(TourError::new)?;
    t.check(
        true,
        "stopping the server closed every connection and joined every thread",
    )?;
    drop((clients, fifth));
    Ok(())
}
