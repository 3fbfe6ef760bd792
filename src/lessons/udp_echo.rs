//! Lesson 04: UDP echo, `recv_from` and `send_to`.
//!
//! UDP has no connection: no `listen`, no `accept`, no stream. The server binds a port and calls
//! `recv_from`, which returns one whole datagram and the address it came from; it answers with
//! `send_to` to that address. One `recv_from` is one datagram, never half of one and never two
//! glued together (so UDP has no sticky packets, 粘包), but nothing is retransmitted: a lost
//! datagram is simply gone, which is why the client waits only `--timeout` for a reply.
//!
//! The buffer given to `recv_from` matters: a datagram longer than it is cut to fit and the rest
//! is thrown away (Linux does it silently; Windows raises an error). This server asks the kernel
//! for the real length of each datagram, so it can say when that happened.
//!
//! [`recv_datagram`], [`answer_datagrams`] and [`UdpClient`] are reused by lessons 05 and 06.
//!
//! Tutorials: 001 §7.1, §7.2 and §7.4 (recvfrom 的参数), 002 (UDP).

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use crate::escape::preview;
use crate::log::Log;
use crate::net::{self, is_timeout, NetError};
use crate::server::Shutdown;
use crate::tour::{Tour, TourError};

/// The largest payload one UDP datagram can carry over IPv4 (65535 minus the IP and UDP
/// headers). Clients read with a buffer this big so that they never truncate a reply.
pub const MAX_DATAGRAM: usize = 65_507;

/// What can go wrong in the UDP lessons.
#[derive(Debug, thiserror::Error)]
pub enum UdpError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error(
        "no reply from {server} within {} s; UDP does not retransmit, so the datagram or its \
         reply was lost, or no server is running there",
        .waited.as_secs_f32()
    )]
    NoReply {
        server: SocketAddr,
        waited: Duration,
    },
    #[error("{server} answered that its port is closed; is the server running?")]
    PortClosed { server: SocketAddr },
    #[error("message of {0} bytes is too long for one UDP datagram (at most {MAX_DATAGRAM})")]
    TooLong(usize),
    #[error("socket error: {0}")]
    Io(#[from] io::Error),
}

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Size of the buffer given to `recv_from` (`recvfrom(1024)` in the tutorial).
    pub bufsize: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig { bufsize: 1024 }
    }
}

/// One datagram taken from the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datagram {
    /// Who sent it.
    pub from: SocketAddr,
    /// How many bytes landed in the buffer.
    pub kept: usize,
    /// How long the datagram really was, when the system can tell (Linux).
    pub length: Option<usize>,
    /// Was it longer than the buffer, so that its end was thrown away? Known everywhere, even
    /// where the real length is not (Windows).
    pub cut: bool,
}

impl Datagram {
    /// Was the datagram longer than the buffer, so that its end was thrown away?
    pub fn truncated(&self) -> bool {
        self.cut || self.length.is_some_and(|length| length > self.kept)
    }

    /// The log line for this datagram: "received 5 bytes from ADDR: hello", or with truncation
    /// "received 10 of 30 bytes from ADDR (datagram truncated: ...): ...".
    pub fn describe(&self, data: &[u8], bufsize: usize) -> String {
        let shown = if data.is_empty() {
            " (an empty datagram)".to_string()
        } else {
            format!(": {}", preview(data, 60))
        };
        match self.length {
            _ if !self.truncated() => {
                format!("received {} bytes from {}{shown}", self.kept, self.from)
            }
            Some(length) => format!(
                "received {} of {length} bytes from {} (datagram truncated: --bufsize {bufsize}; \
                 the rest is lost){shown}",
                self.kept, self.from
            ),
            None => format!(
                "received the first {} bytes from {} (datagram truncated: --bufsize {bufsize}; \
                 the rest is lost){shown}",
                self.kept, self.from
            ),
        }
    }
}

/// `recv_from` that also finds out whether the datagram was truncated.
///
/// On Linux, `recvfrom` with the MSG_TRUNC flag returns the datagram's *real* length even when
/// the buffer is smaller. We ask that first with MSG_PEEK (look, do not take) and an empty
/// buffer, then take the datagram into `buf` with [`net::recv_from_cut`], which also says
/// whether it was cut (Windows reports that as an error, WSAEMSGSIZE, after filling the
/// buffer). Elsewhere the real length stays unknown.
pub fn recv_datagram(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<Datagram> {
    let length = peek_length(socket)?;
    let (kept, cut, from) = net::recv_from_cut(socket, buf)?;
    Ok(Datagram {
        from,
        kept,
        length,
        cut,
    })
}

#[cfg(target_os = "linux")]
fn peek_length(socket: &UdpSocket) -> io::Result<Option<usize>> {
    let (length, _) = socket2::SockRef::from(socket)
        .recv_from_with_flags(&mut [], libc::MSG_PEEK | libc::MSG_TRUNC)?;
    Ok(Some(length))
}

#[cfg(not(target_os = "linux"))]
fn peek_length(_socket: &UdpSocket) -> io::Result<Option<usize>> {
    Ok(None)
}

/// Answers every datagram with its upper-cased bytes until `shutdown` is requested.
pub fn run_server(
    socket: UdpSocket,
    config: &ServerConfig,
    log: &Log,
    shutdown: &Shutdown,
) -> Result<(), UdpError> {
    answer_datagrams(&socket, config.bufsize, log, shutdown, |datagram, data| {
        log.line(datagram.describe(data, config.bufsize));
        data.to_ascii_uppercase()
    })
}

/// The loop of a request/response UDP server (lessons 04 and 06): take one datagram into a
/// buffer of `bufsize` bytes, send back to its sender whatever `answer` makes of it (`answer`
/// also logs), and again, until `shutdown` is requested.
///
/// There is no connection and no per-client state: every datagram is a request on its own, so
/// one thread serves everyone, and nothing one sender does can stop the loop.
pub fn answer_datagrams(
    socket: &UdpSocket,
    bufsize: usize,
    log: &Log,
    shutdown: &Shutdown,
    mut answer: impl FnMut(&Datagram, &[u8]) -> Vec<u8>,
) -> Result<(), UdpError> {
    let mut buf = vec![0u8; bufsize.max(1)];
    loop {
        let datagram = match recv_datagram(socket, &mut buf) {
            Ok(datagram) => datagram,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // One bad datagram (or, on Windows, an ICMP "port unreachable" from an earlier
                // reply) must not stop the server. The pause keeps an error that repeats from
                // turning into a busy loop.
                log.line(format!("recv_from failed: {e}"));
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        // Checked before answering: an empty datagram is also how `Background::stop` wakes us.
        if shutdown.is_requested() {
            return Ok(());
        }
        let data = buf.get(..datagram.kept).unwrap_or_default();
        let reply = answer(&datagram, data);
        if let Err(e) = socket.send_to(&reply, datagram.from) {
            log.line(format!("could not reply to {}: {e}", datagram.from));
        }
    }
}

/// A UDP client that sends a datagram and waits, a bounded time, for the server's answer.
#[derive(Debug)]
pub struct UdpClient {
    socket: UdpSocket,
    server: SocketAddr,
    timeout: Duration,
}

impl UdpClient {
    /// A socket for talking to `host:port`. Nothing is sent yet: with UDP there is no connection
    /// to open, so even a missing server shows only when no answer comes.
    pub fn new(host: &str, port: u16, timeout: Duration) -> Result<UdpClient, UdpError> {
        let (socket, server) = net::udp_client(host, port)?;
        Ok(UdpClient {
            socket,
            server,
            timeout,
        })
    }

    /// The server's address.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// Sends `message` as one datagram and returns the first datagram that comes back from the
    /// server (datagrams from anyone else are ignored).
    pub fn request(&self, message: &[u8]) -> Result<Vec<u8>, UdpError> {
        if message.len() > MAX_DATAGRAM {
            return Err(UdpError::TooLong(message.len()));
        }
        self.socket.send_to(message, self.server)?;
        let mut buf = vec![0u8; MAX_DATAGRAM + 1];
        let deadline = net::deadline_after(self.timeout);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.no_reply());
            }
            self.socket.set_read_timeout(Some(left))?;
            match self.socket.recv_from(&mut buf) {
                Ok((n, from)) if from == self.server => {
                    return Ok(buf.get(..n).unwrap_or_default().to_vec())
                }
                Ok(_) => continue,
                Err(e) if is_timeout(&e) => return Err(self.no_reply()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // Windows (and connected sockets) report an ICMP "port unreachable" this way.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionRefused
                    ) =>
                {
                    return Err(UdpError::PortClosed {
                        server: self.server,
                    })
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn no_reply(&self) -> UdpError {
        UdpError::NoReply {
            server: self.server,
            waited: self.timeout,
        }
    }
}

/// The lesson's stage in `00-tour`.
pub fn tour(t: &mut Tour) -> Result<(), TourError> {
    t.say(
        "UDP: no listen(), no accept(), no connection. The server binds and calls \
         recv_from(), which returns one whole datagram and the sender's address; send_to() \
         answers that address.",
    );
    let config = ServerConfig { bufsize: 16 };
    let server =
        t.start_udp(move |socket, log, shutdown| run_server(socket, &config, &log, &shutdown))?;
    let lines = &server.lines;
    let client = UdpClient::new("127.0.0.1", server.port(), Duration::from_secs(5))?;

    t.step("the client sends one datagram, 'hello udp'");
    let reply = client.request(b"hello udp")?;
    t.expect_log("server", lines, "received")?;
    t.show("client", &format!("recvfrom: {}", preview(&reply, 60)));
    t.check(reply == b"HELLO UDP", "the datagram came back upper-cased")?;

    t.step("the server reads with a 16-byte buffer (--bufsize 16); the client sends 40 bytes");
    let long = b"this datagram is forty bytes long, see?!";
    let reply = client.request(long)?;
    let line = t.expect_log("server", lines, "received")?;
    t.show("client", &format!("recvfrom: {}", preview(&reply, 60)));
    t.check(
        reply == b"THIS DATAGRAM IS",
        "only the first 16 bytes reached the server; the other 24 were thrown away",
    )?;
    if cfg!(target_os = "linux") {
        t.check(
            line.contains("received 16 of 40 bytes") && line.contains("truncated"),
            "the server saw the truncation (MSG_TRUNC) and said so",
        )?;
    } else {
        t.check(
            line.contains("received the first 16 bytes") && line.contains("truncated"),
            "the server saw the truncation and said so",
        )?;
    }
    t.say(
        "With TCP the other 24 bytes would wait for the next recv() (and stick to the next \
         message). With UDP they are gone: one recv_from() takes exactly one datagram.",
    );
    server.server.stop().map_err(TourError::new)?;
    Ok(())
}
