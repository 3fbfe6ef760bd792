//! Opening sockets, with errors a student can act on.
//!
//! `TcpStream::connect("127.0.0.1:9001")` fails with "Connection refused (os error 111)". That is
//! true but not helpful in class. Every lesson opens its sockets through these few functions so
//! that every failure reads the same way: what we tried, what the OS said, and what to do about it.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use crate::log::Log;

/// How long a client waits for a TCP connection before giving up (instead of hanging for minutes
/// on an address that drops packets).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Opening a socket failed.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("could not resolve host '{host}': {error}")]
    Resolve { host: String, error: io::Error },
    #[error("host '{host}' has no address")]
    NoAddress { host: String },
    #[error("could not connect to {addr}: {}", describe_connect_error(.error, *.within))]
    Connect {
        addr: String,
        error: io::Error,
        /// How long each attempt waited for an answer.
        within: Duration,
    },
    #[error("could not listen on {addr}: {}", describe_bind_error(.error))]
    Bind { addr: String, error: io::Error },
    #[error("socket error: {0}")]
    Io(#[from] io::Error),
}

fn describe_connect_error(e: &io::Error, within: Duration) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused; is the server running?".into(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => format!(
            "no answer within {} s; is the address right and the port open?",
            within.as_secs_f64()
        ),
        _ => lower(e),
    }
}

fn describe_bind_error(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::AddrInUse => {
            "address already in use: another server is running on that port, or (TCP) a \
             connection of an earlier server is still in TIME_WAIT, for about 60 s after it \
             closed (lesson 03); wait, or pick another port (--port 0 picks a free one)"
                .into()
        }
        io::ErrorKind::AddrNotAvailable => {
            "that address does not belong to this machine (try 127.0.0.1 or 0.0.0.0)".into()
        }
        io::ErrorKind::PermissionDenied => {
            "permission denied (ports below 1024 need administrator rights)".into()
        }
        _ => lower(e),
    }
}

/// "Connection refused (os error 111)" → "connection refused (os error 111)", to sit mid-sentence.
fn lower(e: &io::Error) -> String {
    let text = e.to_string();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text,
    }
}

/// Formats `host:port` the way a user would type it (`[::1]:9000` for IPv6 literals).
pub fn display_addr(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Looks up `host` (a name or an IP literal) and returns every address it has.
pub fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, NetError> {
    let trimmed = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = (trimmed, port)
        .to_socket_addrs()
        .map_err(|error| NetError::Resolve {
            host: host.to_string(),
            error,
        })?
        .collect();
    if addrs.is_empty() {
        return Err(NetError::NoAddress {
            host: host.to_string(),
        });
    }
    Ok(addrs)
}

/// Connects to `host:port`, trying each address the name resolves to, with [`CONNECT_TIMEOUT`].
pub fn connect_tcp(host: &str, port: u16) -> Result<TcpStream, NetError> {
    connect_tcp_within(host, port, CONNECT_TIMEOUT)
}

/// [`connect_tcp`] for a client with `--timeout`: each attempt waits at most `timeout`, and
/// never more than [`CONNECT_TIMEOUT`].
pub fn connect_tcp_within(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, NetError> {
    // A zero duration is refused by connect_timeout: the shortest wait is 1 ms.
    let within = timeout.clamp(Duration::from_millis(1), CONNECT_TIMEOUT);
    let mut last_error = None;
    for addr in resolve(host, port)? {
        match TcpStream::connect_timeout(&addr, within) {
            Ok(stream) => return Ok(stream),
            Err(e) => last_error = Some(e),
        }
    }
    Err(NetError::Connect {
        within,
        addr: display_addr(host, port),
        error: last_error.unwrap_or_else(|| io::Error::other("no address to try")),
    })
}

/// How a TCP listening socket is set up. The defaults are what `TcpListener::bind` does.
#[derive(Debug, Clone)]
pub struct ListenOptions {
    /// The `listen()` backlog: how many finished handshakes may wait for `accept()`.
    pub backlog: i32,
    /// Set SO_REUSEADDR (std does on Unix; Python's `socket` does not), so a restarted server can
    /// bind while old connections sit in TIME_WAIT.
    pub reuse_address: bool,
}

impl Default for ListenOptions {
    fn default() -> Self {
        ListenOptions {
            backlog: 128,
            reuse_address: cfg!(unix),
        }
    }
}

/// Binds a TCP listener on `host:port` (port 0: the OS chooses).
pub fn listen_tcp(host: &str, port: u16, options: &ListenOptions) -> Result<TcpListener, NetError> {
    let addr = first_addr(host, port)?;
    let bind_error = |error| NetError::Bind {
        addr: display_addr(host, port),
        error,
    };
    // socket2 rather than TcpListener::bind, because std offers no way to choose the backlog or
    // to leave SO_REUSEADDR off, and both are things the lessons let students try.
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .map_err(bind_error)?;
    // On Windows SO_REUSEADDR means something else: it lets a second socket bind a port that a
    // server is listening on (and take some of its clients). So there it stays off, as Python's
    // `socket.create_server` leaves it on Windows.
    socket
        .set_reuse_address(options.reuse_address && cfg!(unix))
        .map_err(bind_error)?;
    socket.bind(&addr.into()).map_err(bind_error)?;
    socket.listen(options.backlog).map_err(bind_error)?;
    Ok(socket.into())
}

/// Binds a UDP socket on `host:port` (port 0: the OS chooses).
pub fn bind_udp(host: &str, port: u16) -> Result<UdpSocket, NetError> {
    let addr = first_addr(host, port)?;
    UdpSocket::bind(addr).map_err(|error| NetError::Bind {
        addr: display_addr(host, port),
        error,
    })
}

/// A UDP socket for a client talking to `host:port`: bound to an ephemeral port of the same
/// address family, with the server's address returned for `send_to`.
pub fn udp_client(host: &str, port: u16) -> Result<(UdpSocket, SocketAddr), NetError> {
    let server = first_addr(host, port)?;
    let local: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local)?;
    Ok((socket, server))
}

fn first_addr(host: &str, port: u16) -> Result<SocketAddr, NetError> {
    resolve(host, port)?
        .into_iter()
        .next()
        .ok_or_else(|| NetError::NoAddress {
            host: host.to_string(),
        })
}

/// Prints the line every socklab server starts with, `listening on IP:PORT`, with the address the
/// OS really bound (so `--port 0` shows the port it chose). Tests and scripts wait for this line.
pub fn announce_listening(addr: SocketAddr, log: &Log) {
    log.line(format!("listening on {addr}"));
}

/// The address to use when connecting to a server bound on `addr`: a server bound to the
/// wildcard address (`0.0.0.0`, `::`) is reached through loopback.
pub fn reachable(addr: SocketAddr) -> SocketAddr {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        match addr {
            SocketAddr::V4(_) => addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into()),
            SocketAddr::V6(_) => addr.set_ip(std::net::Ipv6Addr::LOCALHOST.into()),
        }
    }
    addr
}

/// Closes a connection without losing the reply we just sent.
///
/// If a socket is closed while unread bytes sit in its receive buffer, the kernel answers with a
/// reset (RST) instead of a normal end (FIN), and the peer may lose data it had not read yet: the
/// one-shot servers would sometimes destroy their own reply. So: say "no more from me"
/// (`shutdown(Write)`), read and discard what the peer still sends until it closes too, then
/// close. `linger` bounds the whole wait, however slowly the peer trickles bytes in.
pub fn close_gracefully(stream: &mut TcpStream, linger: Duration) {
    use std::io::Read;
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let deadline = deadline_after(linger);
    let mut sink = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match stream.read(&mut sink) {
            Ok(0) => break,
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
}

/// Blocks until `stream` has data to read, or its peer closed it, without taking any byte
/// (`peek`): a server can wait for a client's first message before it allocates a buffer for it.
/// Returns the read timeout's error if one is set and passes; retries EINTR like [`recv`].
pub fn wait_readable(stream: &TcpStream) -> io::Result<()> {
    let mut probe = [0u8; 1];
    loop {
        match stream.peek(&mut probe) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Did a read fail because its timeout ran out? A socket read timeout shows up as `WouldBlock`
/// on Unix and as `TimedOut` on Windows, so checking one of the two is a portability bug.
///
/// Not to be confused with `Interrupted` (EINTR), which a loop around `read` or `recv_from`
/// must simply retry. On Linux a socket call *with a timeout* fails with EINTR instead of
/// resuming when a signal wakes its thread, even a signal whose action is to be ignored: a
/// process that starts child programs on one thread (the remote-shell lessons, the test
/// harness) gets SIGCHLD, and a timed `recv` on another thread may return EINTR.
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// The moment `timeout` from now. `Instant::now() + timeout` panics when the sum does not fit,
/// and a user may well type `--timeout 100000000d`; such a deadline is simply far away.
pub fn deadline_after(timeout: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);
    let now = Instant::now();
    now.checked_add(timeout.min(FAR)).unwrap_or(now)
}

/// Is `host` a loopback address (or a name that resolves only to loopback addresses)?
/// The remote-shell lessons refuse anything else unless told `--allow-remote`.
pub fn is_loopback_host(host: &str) -> bool {
    match resolve(host, 0) {
        Ok(addrs) => addrs.iter().all(|a| a.ip().is_loopback()),
        Err(_) => false,
    }
}

/// One `recv`: whatever has arrived, up to `buf.len()` bytes, like Python's `sock.recv(n)`.
///
/// A read that a signal interrupted before any byte arrived (`EINTR`) is simply tried again, as
/// Python has done since 3.5 (PEP 475). Rust's `read` reports it instead, and a lesson would take
/// it for a broken connection. On Linux it happens more than one would think: a read with a
/// timeout (`SO_RCVTIMEO`) is interrupted even when the process is merely stopped and resumed.
pub fn recv(r: &mut impl io::Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            result => return result,
        }
    }
}

/// One `recvfrom` into `buf`: how many bytes landed there, whether the datagram was longer (its
/// end is then lost), and who sent it.
///
/// The systems differ on a datagram longer than the buffer: Linux cuts it silently, Windows
/// fills the buffer and then fails with WSAEMSGSIZE (error 10040), which `UdpSocket::recv_from`
/// passes on as an error, losing the part that fitted. socket2 reports both as a "truncated"
/// flag, so a lesson can show the same thing everywhere: the first `buf.len()` bytes, and that
/// the rest was lost. A cut datagram filled the whole buffer, so that is the count returned
/// (wine reports 0 bytes with WSAEMSGSIZE). Retries `Interrupted` like [`recv`].
pub fn recv_from_cut(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<(usize, bool, SocketAddr)> {
    let len = buf.len();
    // SAFETY: `MaybeUninit<u8>` has the layout of `u8`, and `recvfrom` only writes initialised
    // bytes into the buffer, so `buf` stays fully initialised.
    let uninit = unsafe { &mut *(buf as *mut [u8] as *mut [std::mem::MaybeUninit<u8>]) };
    let mut bufs = [socket2::MaybeUninitSlice::new(uninit)];
    let socket = socket2::SockRef::from(socket);
    let (kept, flags, from) = loop {
        match socket.recv_from_vectored(&mut bufs) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            result => break result?,
        }
    };
    let from = from
        .as_socket()
        .ok_or_else(|| io::Error::other("a datagram from an address that is not IP"))?;
    let cut = flags.is_truncated();
    Ok((if cut { len } else { kept }, cut, from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_connection_says_what_to_do() {
        let listener = listen_tcp("127.0.0.1", 0, &ListenOptions::default()).unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let err = connect_tcp("127.0.0.1", port).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "could not connect to 127.0.0.1:{port}: connection refused; is the server running?"
            )
        );
    }

    #[test]
    fn address_in_use_is_explained() {
        let first = listen_tcp("127.0.0.1", 0, &ListenOptions::default()).unwrap();
        let port = first.local_addr().unwrap().port();
        let err = listen_tcp("127.0.0.1", port, &ListenOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("address already in use"), "{err}");
        assert!(
            err.contains("TIME_WAIT"),
            "the hint names the usual cause: {err}"
        );
    }

    #[test]
    fn ipv6_literals_are_bracketed() {
        assert_eq!(display_addr("::1", 9001), "[::1]:9001");
        assert_eq!(display_addr("localhost", 9001), "localhost:9001");
    }

    #[test]
    fn a_long_datagram_is_cut_to_the_buffer_and_says_so() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = server.local_addr().unwrap();
        client.send_to(b"0123456789", to).unwrap();
        client.send_to(b"abc", to).unwrap();
        let mut buf = [0u8; 4];
        let (kept, cut, from) = recv_from_cut(&server, &mut buf).unwrap();
        assert_eq!((&buf[..kept], cut), (&b"0123"[..], true));
        assert_eq!(from, client.local_addr().unwrap());
        let (kept, cut, _) = recv_from_cut(&server, &mut buf).unwrap();
        assert_eq!(
            (&buf[..kept], cut),
            (&b"abc"[..], false),
            "the rest was lost"
        );
    }

    #[test]
    fn wildcard_is_reached_through_loopback() {
        let addr: SocketAddr = "0.0.0.0:5000".parse().unwrap();
        assert_eq!(reachable(addr), "127.0.0.1:5000".parse().unwrap());
    }
}
