//! A load generator for the echo servers: many clients at once, each sending a fixed number of
//! requests and timing every reply.
//!
//! `11-threaded-echo bench` runs it against any echo server, so a student can see with numbers
//! what a thread per client changes: pointed at lesson 03's one-at-a-time server, the second
//! client waits until the first has finished, and the latency of its first request is the whole
//! of the first client's conversation; pointed at lesson 11's threaded server, every client is
//! served at once. The project's benchmark (`cargo bench`) uses the same function.
//!
//! The load generator shares the machine with the server it measures, so it must cost little.
//! A thread per client would cost a thread wake-up per request (a write, then a blocking read
//! that puts the thread to sleep until the reply comes), about as much CPU as a whole request
//! costs a minimal Rust server. So a few threads (`threads`) each drive a group of connections
//! in lock-step rounds: write one request on every connection of the group, then read each
//! connection's reply in turn. While the thread writes, the server is already answering; by the
//! time it reads, most replies are waiting, and the read takes them without sleeping. Each
//! connection still has exactly one request in flight, so the server sees `clients` independent
//! request/response clients, and each request's latency runs from its own write to the end of
//! its own reply.
//!
//! Lock-step needs a server that answers every connection at once. A server that serves one
//! connection at a time (lesson 03's) never answers the second connection of a group while the
//! first is still connected, so against it give as many threads as clients: a group of one is
//! the classic blocking client, and the second client waits for the first like a person would.
//!
//! Every socket has read and write timeouts of `timeout`, and a reply that has begun must be
//! whole within `timeout` of its request, so a silent or trickling server cannot hold the run.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::ops::Range;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::net;

/// Threads that drive the clients unless told otherwise: few enough that a thread finds most
/// of its replies waiting, enough that writing and reading overlap on two cores.
pub const DEFAULT_THREADS: usize = 4;

/// What the load generator does.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Clients connected at once, each with one request in flight.
    pub clients: usize,
    /// Requests each client sends, one after the other (the next when the reply is back).
    pub requests: usize,
    /// The message of every request; the server must answer it upper-cased.
    pub message: Vec<u8>,
    /// How long to wait for a connection or a reply before that client gives up.
    pub timeout: Duration,
    /// Threads driving the clients, each a group of them in lock-step (see the module doc);
    /// as many as `clients` gives every client its own thread.
    pub threads: usize,
}

impl Default for LoadConfig {
    fn default() -> Self {
        LoadConfig {
            clients: 100,
            requests: 500,
            message: b"0123456789abcdef".to_vec(),
            timeout: Duration::from_secs(30),
            threads: DEFAULT_THREADS,
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
    let threads = config.threads.clamp(1, clients);
    let expected: Arc<[u8]> = config.message.to_ascii_uppercase().into();
    let mut failures = Vec::new();
    // Each thread says "ready" once its clients are connected, then waits for "go": the closing
    // of `go`, so that all clients start together.
    let (ready, connected) = crossbeam_channel::unbounded::<()>();
    let (go, wait_for_go) = crossbeam_channel::bounded::<()>(0);
    let mut groups = Vec::with_capacity(threads);
    for members in split(clients, threads) {
        let (ready, wait_for_go) = (ready.clone(), wait_for_go.clone());
        let expected = Arc::clone(&expected);
        let config = config.clone();
        let first = members.start;
        let spawned = thread::Builder::new()
            .name(format!(
                "load clients {first}-{}",
                members.end.saturating_sub(1)
            ))
            // The threads need little stack; thousands of them must not reserve 8 MiB each.
            .stack_size(64 * 1024)
            .spawn(move || {
                let mut group = connect_group(addr, members, config.timeout);
                let _ = ready.send(());
                let _ = wait_for_go.recv();
                drive(&mut group, &config, &expected);
                // Close every connection here, not when `run_load` gets to this thread: a
                // one-at-a-time server serves the next client only once this one has gone.
                group.into_iter().map(Client::finish).collect::<Vec<_>>()
            });
        match spawned {
            Ok(t) => groups.push(t),
            Err(e) => {
                failures.push(format!("could not start the thread of client {first}: {e}"));
                break;
            }
        }
    }
    for _ in 0..groups.len() {
        // Connecting is bounded by `timeout` per client; the margin covers a slow thread start.
        if connected.recv_timeout(config.timeout * 2).is_err() {
            break;
        }
    }
    drop(go);
    let began = Instant::now();
    let mut answered = 0;
    let mut latencies = Vec::with_capacity(clients.saturating_mul(config.requests.min(10_000)));
    for t in groups {
        let Ok(group) = t.join() else {
            failures.push("a load thread panicked".to_string());
            continue;
        };
        for client in group {
            answered += client.latencies.len() as u64;
            latencies.extend(client.latencies);
            if let Some(e) = client.failure {
                failures.push(format!("client {}: {e}", client.index));
            }
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

/// `clients` numbered from 0, cut into `threads` runs of consecutive numbers whose sizes differ
/// by one at most.
fn split(clients: usize, threads: usize) -> impl Iterator<Item = Range<usize>> {
    let threads = threads.max(1);
    (0..threads).map(move |g| g * clients / threads..(g + 1) * clients / threads)
}

/// One client of a group: its connection (or why it failed, which also closes it), when its
/// request in flight was sent and by when its reply must be whole, and the latency of each
/// reply so far.
struct Client {
    index: usize,
    conn: io::Result<TcpStream>,
    sent: Instant,
    deadline: Instant,
    latencies: Vec<Duration>,
}

impl Client {
    /// Records why this client stopped; its connection is closed and it takes no further part.
    fn fail(&mut self, e: io::Error) {
        self.conn = Err(e);
    }

    /// Closes the connection; what is left is what the client did.
    fn finish(self) -> Outcome {
        Outcome {
            index: self.index,
            latencies: self.latencies,
            failure: self.conn.err(),
        }
    }

    /// Writes the next request, if this client is still in the run, and notes when.
    fn send(&mut self, config: &LoadConfig) {
        let Ok(conn) = self.conn.as_mut() else {
            return;
        };
        self.sent = Instant::now();
        self.deadline = net::deadline_after(config.timeout);
        if let Err(e) = conn.write_all(&config.message) {
            self.fail(e);
        }
    }
}

/// What one client did: the latency of each reply, and why it stopped early if it did.
struct Outcome {
    index: usize,
    latencies: Vec<Duration>,
    failure: Option<io::Error>,
}

fn connect_group(addr: SocketAddr, members: Range<usize>, timeout: Duration) -> Vec<Client> {
    members
        .map(|index| Client {
            index,
            conn: connect(addr, timeout),
            sent: Instant::now(),
            deadline: Instant::now(),
            latencies: Vec::new(),
        })
        .collect()
}

fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let conn = TcpStream::connect_timeout(&addr, timeout)?;
    // Small requests must leave at once, not wait for Nagle's algorithm.
    conn.set_nodelay(true)?;
    conn.set_read_timeout(Some(timeout))?;
    conn.set_write_timeout(Some(timeout))?;
    Ok(conn)
}

/// A group's requests in rounds: a first request on every connection, then each reply read in
/// turn, and the connection's next request written as soon as its reply is in, so that it
/// waits at the server while the thread reads the others. A client that fails drops out; the
/// others go on.
fn drive(group: &mut [Client], config: &LoadConfig, expected: &[u8]) {
    let alone = group.len() == 1;
    let mut reply = vec![0u8; expected.len()];
    for client in group.iter_mut() {
        // Room for the usual run up front; a huge --requests grows as replies come instead of
        // asking for all of its memory before the first request.
        client.latencies.reserve(config.requests.min(10_000));
        client.send(config);
    }
    for round in 1..=config.requests {
        let more = round < config.requests;
        for client in group.iter_mut() {
            let Ok(conn) = client.conn.as_mut() else {
                continue;
            };
            let deadline = client.deadline;
            match one_reply(conn, &mut reply, expected, deadline, config.timeout, alone) {
                Ok(()) => client.latencies.push(client.sent.elapsed()),
                Err(e) => client.fail(e),
            }
            if more {
                client.send(config);
            }
        }
    }
}

/// Reads one reply and checks it: the upper-cased message, whole by `deadline`.
fn one_reply(
    conn: &mut TcpStream,
    reply: &mut [u8],
    expected: &[u8],
    deadline: Instant,
    timeout: Duration,
    alone: bool,
) -> io::Result<()> {
    let got = read_reply(conn, reply, deadline).map_err(|e| {
        if net::is_timeout(&e) {
            no_reply(timeout, alone)
        } else {
            e
        }
    })?;
    let got = reply.get(..got).unwrap_or_default();
    if got != expected && is_busy_refusal(got) {
        return Err(io::Error::other(BUSY_REFUSAL));
    }
    if got.len() < expected.len() {
        return Err(io::Error::other("the server closed the connection"));
    }
    if got != expected {
        return Err(io::Error::other(format!(
            "wrong reply {:?}",
            crate::escape::preview(got, 60)
        )));
    }
    Ok(())
}

/// Reads until `reply` is full (the server may answer one message in several pieces) or the
/// server closes; returns how many bytes came. Each read waits at most the socket's timeout,
/// and once the reply has begun no further read starts after `deadline`, so a server that
/// trickles its reply cannot hold the run. The first read is not checked: a reply that came in
/// time but waited while the thread read its other connections is not the server's fault.
fn read_reply(conn: &mut TcpStream, reply: &mut [u8], deadline: Instant) -> io::Result<usize> {
    let mut got = 0;
    while let Some(rest) = reply.get_mut(got..).filter(|rest| !rest.is_empty()) {
        if got > 0 && Instant::now() >= deadline {
            return Err(crate::deadline::expired());
        }
        match net::recv(conn, rest)? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

/// The error of a reply that did not come in time. A thread that drives several connections
/// waits for them in turn, so a server that serves one connection at a time (lesson 03's)
/// leaves it waiting for the second for ever: say what to do about it.
fn no_reply(timeout: Duration, alone: bool) -> io::Error {
    let mut message = format!("no whole reply within {:?} of the request", timeout);
    if !alone {
        message.push_str(
            "; a server that serves one connection at a time needs one thread per client \
             (--threads as many as --clients)",
        );
    }
    io::Error::new(io::ErrorKind::TimedOut, message)
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
            // One thread for both clients (lock-step) and one thread each.
            for threads in [1, 2] {
                let config = LoadConfig {
                    clients: 2,
                    requests: 3,
                    message: message.as_bytes().to_vec(),
                    timeout: Duration::from_secs(5),
                    threads,
                };
                let report = run_load(busy_server(), &config);
                assert_eq!(report.failures.len(), 2, "{:?}", report.failures);
                for failure in &report.failures {
                    assert!(failure.contains("--max-clients"), "{message}: {failure}");
                }
            }
        }
    }

    /// An echo server; `one_at_a_time` serves each connection to its end before the next
    /// (lesson 03's), otherwise a thread per connection.
    fn echo_server(one_at_a_time: bool) -> SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        fn serve(mut conn: TcpStream) {
            let mut buf = [0u8; 1024];
            while let Ok(n) = net::recv(&mut conn, &mut buf) {
                let Some(got) = buf.get_mut(..n).filter(|got| !got.is_empty()) else {
                    return;
                };
                got.make_ascii_uppercase();
                if conn.write_all(got).is_err() {
                    return;
                }
            }
        }
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                if one_at_a_time {
                    serve(conn);
                } else {
                    thread::spawn(move || serve(conn));
                }
            }
        });
        addr
    }

    #[test]
    fn groups_in_lock_step_answer_every_request_of_every_client() {
        for threads in [1, 3, 7] {
            let config = LoadConfig {
                clients: 7,
                requests: 20,
                timeout: Duration::from_secs(10),
                threads,
                ..LoadConfig::default()
            };
            let report = run_load(echo_server(false), &config);
            assert!(report.failures.is_empty(), "{:?}", report.failures);
            assert_eq!(report.answered, 140);
            assert_eq!(report.latencies.len(), 140);
        }
    }

    #[test]
    fn a_one_at_a_time_server_needs_a_thread_per_client() {
        let mut config = LoadConfig {
            clients: 2,
            requests: 5,
            timeout: Duration::from_millis(300),
            threads: 1,
            ..LoadConfig::default()
        };
        // In lock-step the second client is never served while the first is connected: it
        // times out, and the error says what to do.
        let report = run_load(echo_server(true), &config);
        assert_eq!(report.answered, 5, "{:?}", report.failures);
        assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
        assert!(
            report.failures[0].contains("--threads"),
            "{:?}",
            report.failures
        );
        // One thread each: every client waits for those before it, then is served (each
        // closes its connection as soon as it is done, whatever the order of the threads).
        config.clients = 6;
        config.threads = 6;
        config.timeout = Duration::from_secs(10);
        let report = run_load(echo_server(true), &config);
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        assert_eq!(report.answered, 30);
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
