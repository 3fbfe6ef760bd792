//! The data connection: a second TCP connection for each listing or file (RFC 959, 3.2).
//!
//! Commands and replies use the control connection; the bytes of a file or a listing go over a
//! new connection, opened for that one transfer and closed at its end (in stream mode the end of
//! the file *is* the close). Who opens it:
//!
//! - **passive** (`PASV`, `EPSV`): the server listens on a new port and says which in its reply
//!   (`227 Entering Passive Mode (127,0,0,1,195,80)`: port 195×256+80, or `229 Entering Extended
//!   Passive Mode (|||50000|)`), and the client connects to it. This is what clients use today,
//!   because the client is usually behind a NAT router that would not let the server in.
//! - **active** (`PORT`, `EPRT`): the client listens and the server connects to it. Off unless the
//!   server runs with `--allow-port`, and then only to the control connection's own address:
//!   otherwise `PORT` makes the server connect anywhere a client asks (the "FTP bounce" attack).
//!
//! A passive port is open to anyone who finds it, so the server takes a connection on it only
//! from the address the control connection comes from, and only until a deadline; a connection
//! from elsewhere is closed and logged, and the wait goes on.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::ops::RangeInclusive;
use std::thread;
use std::time::{Duration, Instant};

use crate::log::Log;

/// How the next data connection will be made.
#[derive(Debug, Default)]
pub enum DataPlan {
    /// Neither PASV/EPSV nor PORT/EPRT came since the last transfer.
    #[default]
    None,
    /// The server listens (PASV, EPSV).
    Passive(TcpListener),
    /// The server connects there (PORT, EPRT with `--allow-port`).
    Active(SocketAddr),
}

/// Why no data connection came.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("use PASV or EPSV first")]
    NoPlan,
    #[error("no data connection came from your address in time")]
    Timeout,
    #[error("cannot open the data connection: {0}")]
    Io(#[from] io::Error),
}

/// Opens a passive listener on `ip` (the address the client reached the server on), on a port of
/// `ports` if given (tried from a random place in the range), else one the system picks.
pub fn listen_passive(ip: IpAddr, ports: Option<&RangeInclusive<u16>>) -> io::Result<TcpListener> {
    let Some(ports) = ports else {
        return TcpListener::bind(SocketAddr::new(ip, 0));
    };
    let (first, last) = (*ports.start(), *ports.end());
    let count = u32::from(last.saturating_sub(first)) + 1;
    let start = rand::random::<u32>() % count;
    for step in 0..count {
        let port = u32::from(first) + (start + step) % count;
        let Ok(port) = u16::try_from(port) else {
            continue;
        };
        match TcpListener::bind(SocketAddr::new(ip, port)) {
            Ok(listener) => return Ok(listener),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        format!("every port of the passive range {first}-{last} is in use"),
    ))
}

/// Takes the data connection: accepts on the passive listener (only from `peer_ip`) or connects
/// to the active address, by `deadline`.
pub fn open(
    plan: DataPlan,
    peer_ip: IpAddr,
    deadline: Instant,
    log: &Log,
) -> Result<TcpStream, DataError> {
    let stream = match plan {
        DataPlan::None => return Err(DataError::NoPlan),
        DataPlan::Passive(listener) => accept_from(&listener, peer_ip, deadline, log)?,
        DataPlan::Active(addr) => {
            let left = deadline.saturating_duration_since(Instant::now());
            TcpStream::connect_timeout(&addr, left.max(Duration::from_millis(1)))?
        }
    };
    // An accepted socket inherits non-blocking mode on some systems (Windows, the BSDs).
    stream.set_nonblocking(false)?;
    Ok(stream)
}

/// How often a waiting passive listener looks for a connection (std's `accept` has no timeout).
const ACCEPT_POLL: Duration = Duration::from_millis(10);

fn accept_from(
    listener: &TcpListener,
    peer_ip: IpAddr,
    deadline: Instant,
    log: &Log,
) -> Result<TcpStream, DataError> {
    listener.set_nonblocking(true)?;
    loop {
        match listener.accept() {
            Ok((stream, from)) if same_host(from.ip(), peer_ip) => return Ok(stream),
            Ok((stream, from)) => {
                log.line(format!(
                    "data connection from {from} refused: the control connection is from {peer_ip}"
                ));
                drop(stream);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
        if Instant::now() >= deadline {
            return Err(DataError::Timeout);
        }
        thread::sleep(ACCEPT_POLL);
    }
}

/// Are these the same host? An IPv4 client on a dual-stack socket shows up as `::ffff:a.b.c.d`.
pub fn same_host(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

/// The `227` reply's text for a passive listener: `Entering Passive Mode (h1,h2,h3,h4,p1,p2)`.
/// `None` if the listener is not IPv4 (PASV cannot say an IPv6 address; clients use EPSV there).
pub fn pasv_text(addr: SocketAddr) -> Option<String> {
    let ip = match addr.ip().to_canonical() {
        IpAddr::V4(ip) => ip,
        IpAddr::V6(_) => return None,
    };
    let [a, b, c, d] = ip.octets();
    let port = addr.port();
    Some(format!(
        "Entering Passive Mode ({a},{b},{c},{d},{},{})",
        port >> 8,
        port & 0xff
    ))
}

/// The `229` reply's text: `Entering Extended Passive Mode (|||port|)` (RFC 2428: the client
/// uses the control connection's address).
pub fn epsv_text(addr: SocketAddr) -> String {
    format!("Entering Extended Passive Mode (|||{}|)", addr.port())
}

/// Reads `PORT h1,h2,h3,h4,p1,p2`.
pub fn parse_port(arg: &str) -> Option<SocketAddr> {
    let numbers: Vec<u8> = arg
        .split(',')
        .map(|n| n.trim().parse::<u8>())
        .collect::<Result<_, _>>()
        .ok()?;
    let [a, b, c, d, p1, p2] = numbers.as_slice() else {
        return None;
    };
    let port = u16::from(*p1) << 8 | u16::from(*p2);
    Some(SocketAddr::new(Ipv4Addr::new(*a, *b, *c, *d).into(), port))
}

/// Reads `EPRT |1|132.235.1.2|6275|` (RFC 2428: any delimiter, 1 = IPv4, 2 = IPv6).
pub fn parse_eprt(arg: &str) -> Option<SocketAddr> {
    let delimiter = arg.chars().next()?;
    let parts: Vec<&str> = arg.split(delimiter).collect();
    let ["", family, ip, port, ""] = parts.as_slice() else {
        return None;
    };
    let ip: IpAddr = ip.parse().ok()?;
    let family_matches = matches!((*family, ip), ("1", IpAddr::V4(_)) | ("2", IpAddr::V6(_)));
    if !family_matches {
        return None;
    }
    Some(SocketAddr::new(ip, port.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasv_says_the_port_in_two_bytes() {
        let addr: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        assert_eq!(
            pasv_text(addr).unwrap(),
            "Entering Passive Mode (127,0,0,1,195,80)"
        );
        assert_eq!(parse_port("127,0,0,1,195,80"), Some(addr));
        assert_eq!(parse_port("127,0,0,1,195"), None);
        assert_eq!(parse_port("127,0,0,1,195,800"), None);
        assert!(pasv_text("[::1]:21".parse().unwrap()).is_none());
    }

    #[test]
    fn eprt_names_its_family() {
        assert_eq!(
            parse_eprt("|1|127.0.0.1|6275|"),
            Some("127.0.0.1:6275".parse().unwrap())
        );
        assert_eq!(
            parse_eprt("|2|::1|6275|"),
            Some("[::1]:6275".parse().unwrap())
        );
        assert_eq!(parse_eprt("|2|127.0.0.1|6275|"), None);
        assert_eq!(parse_eprt("|1|127.0.0.1|99999|"), None);
        assert_eq!(parse_eprt(""), None);
    }

    #[test]
    fn a_mapped_address_is_the_same_host() {
        let v4: IpAddr = "127.0.0.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert!(same_host(v4, mapped));
        assert!(!same_host(v4, "127.0.0.2".parse().unwrap()));
    }
}
