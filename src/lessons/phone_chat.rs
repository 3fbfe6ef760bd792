//! Lesson 03, second stage: the "phone call" (打电话) chat of tutorial 002.
//!
//! The same link loop and communication loop as the echo server, but the replies come from the
//! person at the server: each message is shown, and the next line typed at the server goes back
//! (`conn.sendall(input(">>>"))`). The client is the echo client with `--any-reply`: send a line,
//! print whatever one `recv(1024)` brings back. Both ends type, taking turns, like a phone call
//! where only one can speak at a time.
//!
//! What the tutorial's server gets wrong: an empty line typed at its prompt sends nothing at all
//! (`sendall(b"")`), and the client then waits for ever for a reply that never comes. Here an empty
//! line is not sent; the server asks again. A reply is one line, so it is short, and one `recv`
//! on the client's side gets it whole on any real network; nothing frames it, though (lesson 10).
//!
//! Tutorial: 002 (基于上述也可以实现一种模拟现实"打电话"的通信).

use std::io::{self, BufRead, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use crate::escape::preview;
use crate::lessons::echo_loop::{is_reset, log_ending, EchoClient, EchoError, Ending};
use crate::log::Log;
use crate::server::{self, Shutdown};
use crate::tour::{Tour, TourError};

/// Serves clients one after another, each reply typed at `typist` (the server's standard input),
/// until `shutdown` is requested or the typist's input ends.
pub fn run_server(
    listener: TcpListener,
    bufsize: usize,
    typist: &mut dyn BufRead,
    log: &Log,
    shutdown: &Shutdown,
) -> Result<(), EchoError> {
    loop {
        let (mut conn, peer) = server::accept(&listener, log);
        if shutdown.is_requested() {
            return Ok(());
        }
        log.line(format!("client {peer} connected (a phone call)"));
        match talk(&mut conn, peer, bufsize, typist, log) {
            Ok(Talk::InputEnded) => {
                // Dropping `conn` hangs up: the client's next read sees the end of the stream.
                log.line(format!(
                    "no more replies (input ended); hung up on {peer}, exiting"
                ));
                return Ok(());
            }
            Ok(Talk::Client(ending)) => log_ending(peer, &Ok(ending), log),
            Err(e) => log_ending(peer, &Err(e), log),
        }
    }
}

/// How one call ended.
#[derive(Debug, PartialEq, Eq)]
enum Talk {
    Client(Ending),
    /// The server's own input ended: nobody is left to answer.
    InputEnded,
}

impl From<Ending> for Talk {
    fn from(ending: Ending) -> Talk {
        Talk::Client(ending)
    }
}
/// The communication loop with one caller: show each message, send the line typed in reply.
fn talk(
    conn: &mut TcpStream,
    peer: SocketAddr,
    bufsize: usize,
    typist: &mut dyn BufRead,
    log: &Log,
) -> io::Result<Talk> {
    let mut buf = vec![0u8; bufsize.max(1)];
    loop {
        let n = match conn.read(&mut buf) {
            Ok(0) => return Ok(Ending::Closed.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if is_reset(&e) => return Ok(Ending::Reset.into()),
            Err(e) => return Err(e),
        };
        log.line(format!(
            "from {peer}: {}",
            preview(buf.get(..n).unwrap_or_default(), 200)
        ));
        let Some(reply) = typed_line(typist, log)? else {
            return Ok(Talk::InputEnded);
        };
        match conn.write_all(reply.as_bytes()) {
            Ok(()) => log.line(format!(
                "replied to {peer}: {}",
                preview(reply.as_bytes(), 60)
            )),
            Err(e) if is_reset(&e) => return Ok(Ending::Reset.into()),
            Err(e) => return Err(e),
        }
    }
}

/// The next non-empty line typed at the server (without its line end); `None` when the input
/// has ended. An empty line would send nothing, and the client would wait for ever: it is
/// skipped, and the prompt shown again.
fn typed_line(typist: &mut dyn BufRead, log: &Log) -> io::Result<Option<String>> {
    loop {
        log.line("type the reply:");
        let mut line = String::new();
        if typist.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if !line.is_empty() {
            return Ok(Some(line.to_string()));
        }
    }
}

/// This stage in `00-tour` (part of lesson 03's stop).
pub fn tour(t: &mut Tour) -> Result<(), TourError> {
    t.say(
        "Tutorial 002's 'phone call': the same loops, but the replies come from the person at \
         the server (03-echo-reconnect server --typed), so the client accepts any reply \
         (client --any-reply: one recv(1024), printed as it is).",
    );
    let server = t.start_tcp(|listener, log, shutdown| {
        let mut typist = io::Cursor::new("hello, who is calling?\n\nbye!\n");
        run_server(listener, 1024, &mut typist, &log, &shutdown)
    })?;
    let mut client = EchoClient::connect("127.0.0.1", server.port(), Duration::from_secs(10))?;
    for (said, expected) in [
        ("hi, it's me", "hello, who is calling?"),
        ("just saying hi", "bye!"),
    ] {
        t.step(&format!("the client says '{said}'"));
        let reply = client.exchange_any(said.as_bytes())?;
        t.expect_log("server", &server.lines, "replied")?;
        t.show("client", &format!("recv: {}", preview(&reply, 60)));
        t.check(
            reply == expected.as_bytes(),
            "the reply is the line typed at the server (an empty line is not sent)",
        )?;
    }
    drop(client);
    server.server.stop().map_err(TourError::new)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net;

    #[test]
    fn empty_typed_lines_are_skipped_and_the_end_of_input_ends() {
        let mut typist = io::Cursor::new("\n\r\nyes\n");
        let log = Log::silent();
        assert_eq!(
            typed_line(&mut typist, &log).unwrap().as_deref(),
            Some("yes")
        );
        assert_eq!(typed_line(&mut typist, &log).unwrap(), None);
    }

    #[test]
    fn a_call_gets_the_typed_replies_then_the_server_hangs_up() {
        let listener = net::listen_tcp("127.0.0.1", 0, &Default::default()).unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let mut typist = io::Cursor::new("first\nsecond\n");
            run_server(
                listener,
                1024,
                &mut typist,
                &Log::silent(),
                &Shutdown::new(),
            )
        });
        let mut client = EchoClient::connect("127.0.0.1", port, Duration::from_secs(20)).unwrap();
        assert_eq!(client.exchange_any(b"a").unwrap(), b"first");
        assert_eq!(client.exchange_any(b"b").unwrap(), b"second");
        // The input has ended: the server hangs up and exits.
        assert!(client.exchange_any(b"c").is_err());
        server.join().unwrap().unwrap();
    }
}
