//! `09-sticky server`: a naive or a framed receiver behind the thread-per-connection server.
//!
//! For every connection the server prints one line per message it *believes* it received,
//! `#N LEN bytes: TEXT`, with N counting from 1 on each connection. Send `hello` and `world` with
//! two writes: the framed server prints two lines, the naive server usually prints one,
//! `#1 10 bytes: helloworld`. The `--read-delay` pause before each read (the tutorials'
//! `time.sleep`) makes "usually" into "every time": by the time the naive server reads, both
//! writes have arrived.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use super::{describe_message, framed, naive, ReceiverMode, StickyError};
use crate::log::Log;
use crate::server::{serve, Handler, ServerOptions, Shutdown};
use crate::trace::Tracer;

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Naive (`recv(bufsize)` = one message) or framed.
    pub mode: ReceiverMode,
    /// Pause before each read (naive) or each frame (framed).
    pub read_delay: Duration,
    /// Bytes asked for by each naive read.
    pub bufsize: usize,
    /// `--trace`: one line per `recv`, labelled with the client's address.
    pub tracer: Tracer,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            mode: ReceiverMode::Naive,
            read_delay: Duration::from_millis(200),
            bufsize: 1024,
            tracer: Tracer::off(),
        }
    }
}

/// Serves clients, one thread each, until `shutdown` is requested.
pub fn run_server(
    listener: TcpListener,
    config: &ServerConfig,
    log: &Log,
    shutdown: &Shutdown,
) -> Result<(), StickyError> {
    let handler = Receiver {
        config: config.clone(),
    };
    serve(listener, handler, &ServerOptions::default(), log, shutdown)?;
    Ok(())
}

/// Receives one connection's messages until the client closes, logging each as
/// `#N LEN bytes: TEXT`. Returns how many messages the receiver saw. This is what the server runs
/// for every connection; tests and the demo call it on a connection they set up themselves.
pub fn receive_and_log(
    stream: &mut impl Read,
    config: &ServerConfig,
    log: &Log,
) -> Result<u64, StickyError> {
    let mut number = 0;
    let report = |message: &[u8]| {
        number += 1;
        log.line(describe_message(number, message));
    };
    let count = match config.mode {
        ReceiverMode::Naive => naive::receive(stream, config.bufsize, config.read_delay, report)?,
        ReceiverMode::Framed => framed::receive(stream, config.read_delay, report)?,
    };
    Ok(count)
}

/// The per-connection handler.
struct Receiver {
    config: ServerConfig,
}

impl Handler for Receiver {
    type Error = StickyError;

    fn handle(&self, stream: TcpStream, peer: SocketAddr, log: &Log) -> Result<(), StickyError> {
        let tracer = self
            .config
            .tracer
            .labelled(&format!("server {peer}"))
            .with_format(self.config.mode.message_format());
        let mut stream = tracer.wrap(stream);
        receive_and_log(&mut stream, &self.config, log)?;
        Ok(())
    }
}
