//! A load generator for the echo servers: many clients at once, each sending a fixed number of
//! requests and timing every reply.
//!
//! `11-threaded-echo bench` runs it against any echo server, so a student can see with numbers
//! what a thread per client changes: pointed at lesson 03's one-at-a-time server, the second
//! client waits until the first has finished, and the latency of its first request is the whole
//! of the first client's conversation; pointed at lesson 11's threaded server, every client is
//! served at once. The project's benchmark (`cargo bench`) uses the same function.
//!
//! Each client is a thread with a blocking socket, like the servers: connect, wait until every
//! client is connected (so they start together), then `requests` times send the message and read
//! until the whole upper-cased reply is back. Every read has a timeout, so the whole run is
//! bounded by `requests` × `timeout` per client.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::net;

/// What the load generator does.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Clients connected at once, one thread each.
    pub clients: usize,
    /// Requests each client sends, one after the other (the next when the reply is back).
    pub requests: usize,
    /// The message of every request; the server must answer it upper-cased.
    pub message: Vec<u8>,
    /// How long to wait for a connection or a reply before that client gives up.
    pub timeout: Duration,
}

impl Default for LoadConfig {
    fn default() -> Self {
        LoadConfig {
            clients: 100,
            requests: 500,
            message: b"0123456789abcdef".to_vec(),
            timeout: Duration::from_secs(30),
        }
    }
}

/// What the clients measured.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Requests answered correctly.
    pub answered: u64,
    /// From the moment all clients started until the last one finished.
    pub elapsed: Duration,
    /// Time from each send to its whole reply, sorted, shortest first.
    pub latencies: Vec<Duration>,
    /// One line per client that failed (could not connect, timed out, got a wrong reply).
    pub failures: Vec<String>,
}

impl LoadReport {
    /// Answered requests per second.
    pub fn per_second(&self) -> f64 {
        self.answered as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The latency that `p` percent of requests did not exceed (`p` from 0 to 100).
    pub fn percentile(&self, p: f64) -> Duration {
        let last = self.latencies.len().saturating_sub(1);
        let rank = ((p.clamp(0.0, 100.0) / 100.0) * last as f64).round() as usize;
        self.latencies
            .get(rank.min(last))
            .copied()
            .unwrap_or_default()
    }

    /// `50000 requests in 0.41 s: 121951 req/s; latency p50 0.74 ms, p90 ..., p99 ..., max ...`
    pub fn summary(&self) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        format!(
            "{} requests in {:.2} s: {:.0} req/s; latency p50 {:.2} ms, p90 {:.2} ms, \
             p99 {:.2} ms, max {:.2} ms",
            self.answered,
            self.elapsed.as_secs_f64(),
            self.per_second(),
            ms(self.percentile(50.0)),
            ms(self.percentile(90.0)),
            ms(self.percentile(99.0)),
            ms(self.percentile(100.0)),
        )
    }
}

/// Runs `config.clients` clients against the echo server at `addr` and collects their timings.
pub fn run_load(addr: SocketAddr, config: &LoadConfig) -> LoadReport {
    let clients = config.clients.max(1);
    let expected: Arc<[u8]> = config.message.to_ascii_uppercase().into();
    let mut failures = Vec::new();
    // Each client says "ready" once connected, then waits for "go": the closing of `go`.
    let (ready, connected) = crossbeam_channel::unbounded::<()>();
    let (go, wait_for_go) = crossbeam_channel::bounded::<()>(0);
    let mut threads = Vec::with_capacity(clients);
    for i in 0..clients {
        let (ready, wait_for_go) = (ready.clone(), wait_for_go.clone());
        let expected = Arc::clone(&expected);
        let config = config.clone();
        let spawned = thread::Builder::new()
            .name(format!("load client {i}"))
            // The clients need little stack; thousands of them must not reserve 8 MiB each.
            .stack_size(64 * 1024)
            .spawn(move || {
                let conn = connect(addr, config.timeout);
                let _ = ready.send(());
                let _ = wait_for_go.recv();
                one_client(conn?, &config, &expected)
            });
        match spawned {
            Ok(t) => threads.push(t),
            Err(e) => {
                failures.push(format!("could not start client {i}: {e}"));
                break;
            }
        }
    }
    for _ in 0..threads.len() {
        // Connecting is bounded by `timeout`; the margin covers a slow thread start.
        if connected.recv_timeout(config.timeout * 2).is_err() {
            break;
        }
    }
    drop(go);
    let began = Instant::now();
    let mut answered = 0;
    let mut latencies = Vec::with_capacity(clients.saturating_mul(config.requests.min(10_000)));
    for (i, t) in threads.into_iter().enumerate() {
        match t.join() {
            Ok(Ok(mine)) => {
                answered += mine.len() as u64;
                latencies.extend(mine);
            }
            Ok(Err(e)) => failures.push(format!("client {i}: {e}")),
            Err(_) => failures.push(format!("client {i}: panicked")),
        }
    }
    let elapsed = began.elapsed();
    latencies.sort_unstable();
    LoadReport {
        answered,
        elapsed,
        latencies,
        failures,
    }
}

fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let conn = TcpStream::connect_timeout(&addr, timeout)?;
    // Small requests must leave at once, not wait for Nagle's algorithm.
    conn.set_nodelay(true)?;
    conn.set_read_timeout(Some(timeout))?;
    conn.set_write_timeout(Some(timeout))?;
    Ok(conn)
}

/// One client's requests; returns the latency of each.
fn one_client(
    mut conn: TcpStream,
    config: &LoadConfig,
    expected: &[u8],
) -> io::Result<Vec<Duration>> {
    let mut latencies = Vec::with_capacity(config.requests);
    let mut reply = vec![0u8; expected.len()];
    for _ in 0..config.requests {
        let sent = Instant::now();
        conn.write_all(&config.message)?;
        let got = read_reply(&mut conn, &mut reply)?;
        let got = reply.get(..got).unwrap_or_default();
        if got != expected && is_busy_refusal(got) {
            return Err(io::Error::other(BUSY_REFUSAL));
        }
        if got.len() < expected.len() {
            return Err(io::Error::other("the server closed the connection"));
        }
        latencies.push(sent.elapsed());
        if reply != expected {
            return Err(io::Error::other(format!(
                "wrong reply {:?}",
                crate::escape::preview(&reply, 60)
            )));
        }
    }
    Ok(latencies)
}

/// Reads until `reply` is full (the server may answer one message in several pieces) or the
/// server closes; returns how many bytes came.
fn read_reply(conn: &mut TcpStream, reply: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while let Some(rest) = reply.get_mut(got..).filter(|rest| !rest.is_empty()) {
        match net::recv(conn, rest)? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

/// The start of the line a server at its `--max-clients` limit sends before closing (see
/// `server.rs`).
const BUSY: &[u8] = b"error: server busy";

/// What a client refused by `--max-clients` reports, instead of "wrong reply".
const BUSY_REFUSAL: &str = "refused: the server is busy (it was started with --max-clients \
     and that many clients are connected); restart it without --max-clients or use fewer --clients";

/// Is `reply` (cut to the length of the expected reply, or short because the server closed)
/// the busy line of a server at its `--max-clients` limit?
fn is_busy_refusal(reply: &[u8]) -> bool {
    reply.len() >= 2 && (BUSY.starts_with(reply) || reply.starts_with(BUSY))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server at its `--max-clients` limit: the busy line, then close.
    fn busy_server() -> SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            for conn in listener.incoming().take(4) {
                let Ok(mut conn) = conn else { return };
                let _ = conn.write_all(
                    b"error: server busy (2 connected, the --max-clients limit); try again later\n",
                );
            }
        });
        addr
    }

    #[test]
    fn a_busy_refusal_names_max_clients_whatever_the_message_length() {
        for message in [
            "a message of 16b",
            "hi",
            "a much longer message than the busy line",
        ] {
            let config = LoadConfig {
                clients: 2,
                requests: 3,
                message: message.as_bytes().to_vec(),
                timeout: Duration::from_secs(5),
            };
            let report = run_load(busy_server(), &config);
            assert_eq!(report.failures.len(), 2, "{:?}", report.failures);
            for failure in &report.failures {
                assert!(failure.contains("--max-clients"), "{message}: {failure}");
            }
        }
    }

    #[test]
    fn percentiles_pick_from_the_sorted_latencies() {
        let report = LoadReport {
            answered: 100,
            elapsed: Duration::from_secs(2),
            latencies: (1..=100).map(Duration::from_millis).collect(),
            failures: Vec::new(),
        };
        assert_eq!(report.per_second(), 50.0);
        assert_eq!(report.percentile(0.0), Duration::from_millis(1));
        assert_eq!(report.percentile(50.0), Duration::from_millis(51));
        assert_eq!(report.percentile(100.0), Duration::from_millis(100));
    }
}
