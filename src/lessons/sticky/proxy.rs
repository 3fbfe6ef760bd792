//! `09-sticky proxy`: a TCP proxy that forwards a byte stream unchanged but cut into other pieces.
//!
//! Put it between any client and server (of any lesson, or a student's Python program) and the
//! server receives exactly the bytes the client sent, in the same order, but in the pieces the
//! proxy chooses instead of the pieces the client wrote:
//!
//! - `--split N`: at most N bytes per write, the way a slow or lossy network delivers a large
//!   message in several segments;
//! - `--split MIN-MAX --seed S`: each piece a random size in that range. The sizes come from a
//!   generator seeded with S, so the same seed cuts the same stream at the same places and a
//!   failure can be replayed exactly;
//! - `--delay MS`: a pause after every piece, so a receiver that reads as data arrives sees each
//!   piece on its own;
//! - `--coalesce MS`: the opposite, merging: hold what arrives for MS after the first byte and
//!   forward it all in one write.
//!
//! Naive code breaks on demand; framed code keeps working. Each connection gets two threads, one
//! per direction ("pumps"). When one direction ends cleanly the proxy passes the end on as a
//! half-close (`shutdown(Write)`), so a client that says "that is all" and then waits for an
//! answer still gets it.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown as Close, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{pause, StickyError};
use crate::log::Log;
use crate::net;
use crate::server::{serve, Handler, ServerOptions, Shutdown};
use crate::trace::{Traced, Tracer};

/// Largest piece `--split` accepts, and the size of each pump's read buffer: 64 KiB.
pub const MAX_CHUNK: usize = 64 * 1024;
/// Most bytes `--coalesce` holds before it forwards them anyway, so memory stays bounded: 1 MiB.
pub const COALESCE_CAP: usize = 1024 * 1024;
/// How often a pump waiting for data looks at the shutdown flag.
const POLL: Duration = Duration::from_millis(200);

/// How `--split` cuts the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Every piece this many bytes (the last one of a read may be shorter).
    Fixed(usize),
    /// Every piece a random size between `min` and `max` bytes, both included.
    Range { min: usize, max: usize },
}

impl Split {
    /// Parses `N` or `MIN-MAX` (for clap).
    pub fn parse(text: &str) -> Result<Split, String> {
        let number = |s: &str| {
            s.trim()
                .parse::<usize>()
                .map_err(|_| format!("'{s}' is not a whole number (expected N or MIN-MAX)"))
        };
        let split = match text.split_once('-') {
            None => Split::Fixed(number(text)?),
            Some((min, max)) => Split::Range {
                min: number(min)?,
                max: number(max)?,
            },
        };
        let (min, max) = match split {
            Split::Fixed(n) => (n, n),
            Split::Range { min, max } => (min, max),
        };
        if min == 0 || max > MAX_CHUNK {
            return Err(format!(
                "piece sizes must be between 1 and {MAX_CHUNK} bytes"
            ));
        }
        if min > max {
            return Err(format!("MIN ({min}) is larger than MAX ({max})"));
        }
        Ok(split)
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Split::Fixed(n) => write!(f, "{n}"),
            Split::Range { min, max } => write!(f, "{min}-{max}"),
        }
    }
}

/// Where the proxy forwards to: `HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub host: String,
    pub port: u16,
}

impl Upstream {
    /// Parses `HOST:PORT` (`[::1]:9009` for IPv6), for clap.
    pub fn parse(text: &str) -> Result<Upstream, String> {
        let (host, port) = text
            .rsplit_once(':')
            .ok_or_else(|| "expected HOST:PORT, for example 127.0.0.1:9009".to_string())?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err("the host is missing (expected HOST:PORT)".into());
        }
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| format!("'{port}' is not a port number (1-65535)"))?;
        Ok(Upstream {
            host: host.to_string(),
            port,
        })
    }
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&net::display_addr(&self.host, self.port))
    }
}

/// How the proxy re-cuts the stream. The default forwards each read as it came.
#[derive(Debug, Clone, Default)]
pub struct Rechunking {
    /// Cut into pieces of these sizes (`None`: forward each read whole).
    pub split: Option<Split>,
    /// Seed of the `--split MIN-MAX` generator. The client-to-server direction of every
    /// connection starts from `seed`, the server-to-client direction from `seed + 1`.
    pub seed: u64,
    /// Pause after every piece.
    pub delay: Duration,
    /// Gather for this long after the first byte, then forward everything in one write.
    pub coalesce: Option<Duration>,
}

impl fmt::Display for Rechunking {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        match self.split {
            Some(split @ Split::Range { .. }) => {
                parts.push(format!("split {split} seed {}", self.seed))
            }
            Some(split) => parts.push(format!("split {split}")),
            None => {}
        }
        if let Some(window) = self.coalesce {
            parts.push(format!("coalesce {} ms", window.as_millis()));
        }
        if !self.delay.is_zero() {
            parts.push(format!("delay {} ms", self.delay.as_millis()));
        }
        if parts.is_empty() {
            f.write_str("unchanged")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// Proxy settings.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    pub upstream: Upstream,
    pub rechunking: Rechunking,
    /// `--trace`: one line per `recv`/`send` on either socket, labelled with the socket's peer.
    pub tracer: Tracer,
}

/// The endless sequence of piece sizes that `--split` cuts into.
#[derive(Debug, Clone)]
pub struct ChunkSizes {
    split: Split,
    rng: StdRng,
}

impl ChunkSizes {
    /// The same `split` and `seed` always give the same sequence.
    pub fn new(split: Split, seed: u64) -> ChunkSizes {
        ChunkSizes {
            split,
            rng: StdRng::seed_from_u64(seed),
        }
    }
}

impl Iterator for ChunkSizes {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        Some(match self.split {
            Split::Fixed(n) => n,
            Split::Range { min, max } => self.rng.gen_range(min..=max),
        })
    }
}

/// Decides where to cut. The cut points the sizes call for are kept across reads: if a piece of
/// 5000 bytes was called for and a read brought only 3000, those 3000 go out at once (the proxy
/// never holds data back waiting for more, which could stall a conversation) and the next 2000
/// bytes finish that piece. So the seed's cut points are always cut; the proxy may cut in a few
/// more places, where its reads happened to end.
#[derive(Debug, Clone)]
pub struct Chunker {
    sizes: Option<ChunkSizes>,
    left_in_piece: usize,
}

impl Chunker {
    /// `None`: every read is forwarded whole.
    pub fn new(split: Option<Split>, seed: u64) -> Chunker {
        Chunker {
            sizes: split.map(|s| ChunkSizes::new(s, seed)),
            left_in_piece: 0,
        }
    }

    /// How many of the `available` bytes go into the next write (at least 1 when any are
    /// available).
    pub fn next_len(&mut self, available: usize) -> usize {
        let Some(sizes) = &mut self.sizes else {
            return available;
        };
        if self.left_in_piece == 0 {
            self.left_in_piece = sizes.next().unwrap_or(1).max(1);
        }
        let n = self.left_in_piece.min(available);
        self.left_in_piece -= n;
        n
    }
}

/// Forwards bytes from `source` to `sink` until `source` ends (or `shutdown` is requested),
/// re-cut as `rechunking` says. Every piece is written with its own `write_all`; with TCP_NODELAY
/// on the sink, each one leaves as its own segment. Returns how many bytes were forwarded.
///
/// `sink` is any writer, so the demo can watch the pieces go by; the proxy itself writes to the
/// other socket.
pub fn pump(
    source: &mut Traced<TcpStream>,
    sink: &mut impl Write,
    rechunking: &Rechunking,
    chunker: &mut Chunker,
    shutdown: &Shutdown,
) -> io::Result<u64> {
    let mut buf = vec![0u8; MAX_CHUNK];
    let mut gathered = Vec::new();
    let mut forwarded = 0u64;
    loop {
        let n = read_or_stop(source, &mut buf, shutdown)?;
        let Some(data) = buf.get(..n).filter(|d| !d.is_empty()) else {
            return Ok(forwarded);
        };
        let (data, source_ended) = match rechunking.coalesce {
            None => (data, false),
            Some(window) => {
                gathered.clear();
                gathered.extend_from_slice(data);
                let ended = gather(source, &mut gathered, &mut buf, window, shutdown)?;
                (&gathered[..], ended)
            }
        };
        forward(data, sink, chunker, rechunking.delay)?;
        forwarded += data.len() as u64;
        if source_ended {
            return Ok(forwarded);
        }
    }
}

/// One read, waking every [`POLL`] to look at the shutdown flag. 0: the source ended, or the
/// proxy is shutting down.
fn read_or_stop(
    source: &mut Traced<TcpStream>,
    buf: &mut [u8],
    shutdown: &Shutdown,
) -> io::Result<usize> {
    source.get_ref().set_read_timeout(Some(POLL))?;
    loop {
        match source.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if net::is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {
                if shutdown.is_requested() {
                    return Ok(0);
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// `--coalesce`: keeps reading into `gathered` until `window` has passed, the source ends, or
/// [`COALESCE_CAP`] bytes are held. Returns whether the source ended (nothing more can come, so
/// there is no point waiting out the window).
fn gather(
    source: &mut Traced<TcpStream>,
    gathered: &mut Vec<u8>,
    buf: &mut [u8],
    window: Duration,
    shutdown: &Shutdown,
) -> io::Result<bool> {
    let deadline = Instant::now() + window;
    while gathered.len() < COALESCE_CAP {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        // A read timeout is how a blocking socket says "nothing more arrived in time".
        source.get_ref().set_read_timeout(Some(left.min(POLL)))?;
        let room = (COALESCE_CAP - gathered.len()).min(buf.len());
        let Some(space) = buf.get_mut(..room) else {
            return Ok(false);
        };
        match source.read(space) {
            Ok(0) => return Ok(true),
            Ok(n) => gathered.extend_from_slice(space.get(..n).unwrap_or_default()),
            Err(e) if net::is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {
                if shutdown.is_requested() {
                    return Ok(true);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// Writes `data` in the pieces the chunker calls for, pausing `delay` after each.
fn forward(
    data: &[u8],
    sink: &mut impl Write,
    chunker: &mut Chunker,
    delay: Duration,
) -> io::Result<()> {
    let mut rest = data;
    while !rest.is_empty() {
        let n = chunker.next_len(rest.len()).max(1);
        let (piece, tail) = rest.split_at_checked(n).unwrap_or((rest, &[]));
        sink.write_all(piece)?;
        sink.flush()?;
        pause(delay);
        rest = tail;
    }
    Ok(())
}

/// Runs the proxy, one connection per client and two threads per connection, until `shutdown`
/// is requested.
pub fn run_proxy(
    listener: TcpListener,
    config: &ProxyConfig,
    log: &Log,
    shutdown: &Shutdown,
) -> Result<(), StickyError> {
    let handler = Proxy {
        config: config.clone(),
        shutdown: shutdown.clone(),
    };
    // The pumps manage their own read timeouts; an idle conversation through the proxy is fine.
    let options = ServerOptions {
        read_timeout: None,
        ..ServerOptions::default()
    };
    serve(listener, handler, &options, log, shutdown)?;
    Ok(())
}

/// The per-connection handler: connect upstream, then pump both ways.
struct Proxy {
    config: ProxyConfig,
    shutdown: Shutdown,
}

impl Handler for Proxy {
    type Error = StickyError;

    fn handle(&self, client: TcpStream, peer: SocketAddr, log: &Log) -> Result<(), StickyError> {
        let upstream = net::connect_tcp(&self.config.upstream.host, self.config.upstream.port)?;
        let upstream_addr = upstream.peer_addr()?;
        // Without TCP_NODELAY, Nagle's algorithm could glue our small pieces back together.
        client.set_nodelay(true)?;
        upstream.set_nodelay(true)?;
        let rechunking = &self.config.rechunking;
        log.line(format!(
            "{peer} <-> {upstream_addr}: forwarding ({rechunking})"
        ));
        let client_side = self.config.tracer.labelled(&format!("client {peer}"));
        let upstream_side = self
            .config
            .tracer
            .labelled(&format!("upstream {upstream_addr}"));

        // Server to client, on a thread of its own.
        let mut down_source = upstream_side.wrap(upstream.try_clone()?);
        let mut down_sink = client_side.wrap(client.try_clone()?);
        let down_rechunking = rechunking.clone();
        let down_shutdown = self.shutdown.clone();
        let down = thread::Builder::new()
            .name(format!("proxy {upstream_addr} -> {peer}"))
            .spawn(move || {
                let seed = down_rechunking.seed.wrapping_add(1);
                let mut chunker = Chunker::new(down_rechunking.split, seed);
                let result = pump(
                    &mut down_source,
                    &mut down_sink,
                    &down_rechunking,
                    &mut chunker,
                    &down_shutdown,
                );
                end_direction(down_sink.get_ref(), down_source.get_ref(), &result);
                result
            })?;

        // Client to server, on this thread.
        let mut up_source = client_side.wrap(client);
        let mut up_sink = upstream_side.wrap(upstream);
        // For --picture: what the proxy writes keeps the colours of the messages it came from.
        client_side.relays(&up_source, &up_sink);
        let mut chunker = Chunker::new(rechunking.split, rechunking.seed);
        let up_result = pump(
            &mut up_source,
            &mut up_sink,
            rechunking,
            &mut chunker,
            &self.shutdown,
        );
        end_direction(up_sink.get_ref(), up_source.get_ref(), &up_result);

        let down_result = down
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the forwarding thread panicked")));
        let (up, down) = (up_result?, down_result?);
        log.line(format!(
            "{peer}: done, {up} bytes to {upstream_addr}, {down} bytes back"
        ));
        Ok(())
    }
}

/// After one direction ended. A clean end is passed on as a half-close (`shutdown(Write)` on the
/// socket we wrote to), so the other side can still answer; an error closes both sockets, so that
/// the other direction's pump ends too.
fn end_direction(sink: &TcpStream, source: &TcpStream, result: &io::Result<u64>) {
    match result {
        Ok(_) => {
            let _ = sink.shutdown(Close::Write);
        }
        Err(_) => {
            let _ = sink.shutdown(Close::Both);
            let _ = source.shutdown(Close::Both);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sizes_within_range() {
        let split = Split::Range { min: 3, max: 9 };
        let first: Vec<usize> = ChunkSizes::new(split, 7).take(50).collect();
        let again: Vec<usize> = ChunkSizes::new(split, 7).take(50).collect();
        let other: Vec<usize> = ChunkSizes::new(split, 8).take(50).collect();
        assert_eq!(first, again);
        assert_ne!(first, other);
        assert!(first.iter().all(|n| (3..=9).contains(n)), "{first:?}");
    }

    #[test]
    fn chunker_keeps_cut_points_across_reads() {
        let mut chunker = Chunker::new(Some(Split::Fixed(3)), 0);
        // A read of 2 bytes: 2 go out, 1 byte still owed to the first piece.
        assert_eq!(chunker.next_len(2), 2);
        // A read of 5 bytes: 1 finishes the first piece, then a piece of 3, then 1 of the next.
        assert_eq!(chunker.next_len(5), 1);
        assert_eq!(chunker.next_len(4), 3);
        assert_eq!(chunker.next_len(1), 1);
        assert_eq!(chunker.next_len(10), 2);
    }

    #[test]
    fn no_split_forwards_reads_whole() {
        let mut chunker = Chunker::new(None, 0);
        assert_eq!(chunker.next_len(1234), 1234);
    }

    #[test]
    fn forward_writes_one_call_per_piece() {
        struct Calls(Vec<Vec<u8>>);
        impl Write for Calls {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0.push(buf.to_vec());
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut calls = Calls(Vec::new());
        let mut chunker = Chunker::new(Some(Split::Fixed(4)), 0);
        forward(b"helloworld", &mut calls, &mut chunker, Duration::ZERO).unwrap();
        assert_eq!(calls.0, vec![&b"hell"[..], b"owor", b"ld"]);
    }

    #[test]
    fn split_and_upstream_parse_with_clear_errors() {
        assert_eq!(Split::parse("1"), Ok(Split::Fixed(1)));
        assert_eq!(
            Split::parse("1000-9000"),
            Ok(Split::Range {
                min: 1000,
                max: 9000
            })
        );
        assert!(Split::parse("0").unwrap_err().contains("between 1 and"));
        assert!(Split::parse("9-3").unwrap_err().contains("larger than"));
        assert!(Split::parse("x")
            .unwrap_err()
            .contains("not a whole number"));
        assert_eq!(
            Upstream::parse("[::1]:9009"),
            Ok(Upstream {
                host: "::1".into(),
                port: 9009
            })
        );
        assert!(Upstream::parse("localhost").is_err());
        assert!(Upstream::parse("localhost:0").is_err());
        assert_eq!(
            Upstream::parse("localhost:9009").unwrap().to_string(),
            "localhost:9009"
        );
    }
}
