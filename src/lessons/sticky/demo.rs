//! `09-sticky demo` and the lesson's tour stage: the scenarios side by side, every run the same.
//!
//! Each scenario sends some messages over loopback and receives them twice, once with the naive
//! receiver (`recv(1024)` = one message) and once with the framed one:
//!
//! - (a) two small writes, read after both have arrived: the naive receiver sees one message;
//! - (b) one write of 5000 bytes, read 1024 at a time: the naive receiver sees five;
//! - (c) two small writes through the proxy's forwarding code with `--split 1`, read as each piece
//!   arrives: the naive receiver sees ten messages of one byte.
//!
//! The framed receiver sees the original messages every time.
//!
//! On a real network these things happen *sometimes*. A demo that shows them only sometimes
//! teaches nothing, so here the timing is made certain rather than hoped for: in (a) the receiver
//! waits for the sender's "all written" signal and then until every byte is in its receive buffer
//! (`peek`) before its first read; in (c) the proxy waits, after each piece, until the receiver
//! has read it. The receivers themselves are the server's; the framed one asks for at most 1024
//! bytes per `recv`, as lesson 10's client does, so a long message is cut for it too.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::client::{self, ClientConfig, SenderMode};
use super::proxy::{self, Chunker, ProxyConfig, Rechunking, Split, Upstream};
use super::server::{self, ServerConfig};
use super::{describe_message, framed, naive, ReceiverMode, StickyError};
use crate::escape::escape_bytes;
use crate::framing::LENGTH_SIZE;
use crate::net::{self, ListenOptions};
use crate::picture::{self, Panel};
use crate::recording::{Direction, Recorder, Recording};
use crate::server::Shutdown;
use crate::tour::{Tour, TourError};
use crate::trace::{Traced, Tracer};

/// The naive receiver's buffer in every scenario: the tutorials' `recv(1024)`.
pub const DEMO_BUFSIZE: usize = 1024;
/// Longest any step of a scenario may wait.
const WAIT: Duration = Duration::from_secs(5);

/// What the naive receiver must show in a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NaiveShows {
    /// All the writes come out of one read.
    Merged,
    /// The bytes come out of exactly this many reads.
    SplitInto(usize),
}

/// One row of the demo.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// `(a) two small writes`
    pub name: &'static str,
    /// The scenario's picture is `09-sticky-SLUG.svg`.
    pub slug: &'static str,
    /// How the receiver reads, in a few words.
    pub how: &'static str,
    /// What happens and why, for the tour.
    pub explanation: &'static str,
    /// Each message is one write call.
    pub messages: Vec<Vec<u8>>,
    /// Through the proxy's forwarding code cutting the stream this way (`--split 1`), or
    /// straight to the receiver.
    pub proxy: Option<Rechunking>,
    pub naive_shows: NaiveShows,
}

/// The three scenarios.
pub fn scenarios() -> Vec<Scenario> {
    let two_small = vec![b"hello".to_vec(), b"world".to_vec()];
    vec![
        Scenario {
            name: "(a) two small writes",
            slug: "a-merged",
            how: "read once both are in",
            explanation: "The sender writes 'hello' and 'world' with two send() calls, back to \
                back. The receiver reads once both have arrived (a busy server, or the tutorials' \
                time.sleep), and one recv(1024) returns all ten bytes. On the sender, Nagle's \
                algorithm can do the same by putting both writes into one segment.",
            messages: two_small.clone(),
            proxy: None,
            naive_shows: NaiveShows::Merged,
        },
        Scenario {
            name: "(b) one large write",
            slug: "b-split",
            how: "5000 bytes, recv(1024)",
            explanation: "One send() of 5000 bytes, and a receiver that asks for 1024 bytes at a \
                time: the message comes out of five reads, and the first read is not the message. \
                The framed receiver reads the same five pieces and puts them together. Over a \
                real network a message larger than one segment (about 1460 bytes on \
                Ethernet) is cut on the way as well.",
            messages: client::generated_messages(1, Some(5000)),
            proxy: None,
            naive_shows: NaiveShows::SplitInto(5),
        },
        Scenario {
            name: "(c) proxy --split 1",
            slug: "c-proxy-split-1",
            how: "read as pieces arrive",
            explanation:
                "The same two writes through the proxy with --split 1, which forwards one \
                byte per write, to a receiver that reads each piece as it arrives (here the proxy \
                waits until a piece has been read before sending the next, which a slow network \
                does by accident). Ten reads of one byte.",
            messages: two_small,
            proxy: Some(Rechunking {
                split: Some(Split::Fixed(1)),
                ..Rechunking::default()
            }),
            naive_shows: NaiveShows::SplitInto(10),
        },
    ]
}

/// A scenario drawn in the pictures only: the proxy's seeded random split
/// (`--split 1-4 --seed 7`), which cuts the same stream at the same places on every run.
pub fn random_split_scenario() -> Scenario {
    let rechunking = Rechunking {
        split: Some(Split::Range { min: 1, max: 4 }),
        seed: 7,
        ..Rechunking::default()
    };
    Scenario {
        name: "(d) proxy --split 1-4 --seed 7",
        slug: "d-proxy-split-1-4-seed-7",
        how: "read as pieces arrive",
        explanation: "The proxy cuts the stream into pieces of 1 to 4 bytes, the sizes drawn from \
            seed 7: the same cuts on every run.",
        messages: vec![b"hello".to_vec(), b"world".to_vec()],
        proxy: Some(rechunking),
        // Only drawn, not checked: how many pieces depends on the seed.
        naive_shows: NaiveShows::SplitInto(0),
    }
}

/// A scenario drawn in the pictures only: the proxy's `--coalesce`, merging instead of splitting.
/// The sender writes each message only once the proxy has read the one before.
pub fn coalesce_scenario() -> Scenario {
    Scenario {
        name: "(e) proxy --coalesce",
        slug: "e-proxy-coalesce",
        how: "read as pieces arrive",
        explanation: "The proxy reads 'hello' and 'world' separately, gathers, and forwards both \
            in one write: a merge made on the way.",
        messages: vec![b"hello".to_vec(), b"world".to_vec()],
        proxy: Some(Rechunking {
            // The sender's end of stream ends the gathering, long before this.
            coalesce: Some(WAIT),
            ..Rechunking::default()
        }),
        naive_shows: NaiveShows::Merged,
    }
}

/// What the two receivers made of one scenario.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub scenario: Scenario,
    /// Every read of the naive receiver.
    pub naive: Vec<Vec<u8>>,
    /// Every message of the framed receiver.
    pub framed: Vec<Vec<u8>>,
    /// Every send and recv of the naive run, for its picture.
    pub naive_calls: Recording,
    /// Every send and recv of the framed run.
    pub framed_calls: Recording,
}

impl Outcome {
    /// What the naive receiver should have shown, as a claim.
    pub fn naive_claim(&self) -> String {
        let writes = count(self.scenario.messages.len(), "write");
        match self.scenario.naive_shows {
            NaiveShows::Merged => {
                format!("the naive receiver took {writes} for 1 message (merged)")
            }
            NaiveShows::SplitInto(reads) => format!(
                "the naive receiver took {writes} for {} (split)",
                count(reads, "message")
            ),
        }
    }

    /// What the framed receiver should have shown, as a claim.
    pub fn framed_claim(&self) -> String {
        format!(
            "the framed receiver got the original {}, intact",
            count(self.scenario.messages.len(), "message")
        )
    }

    /// Did the naive receiver merge or split exactly as the scenario says (losing no byte)?
    pub fn naive_as_expected(&self) -> bool {
        let sent = self.scenario.messages.concat();
        let reads = self.naive.len();
        self.naive.concat() == sent
            && match self.scenario.naive_shows {
                NaiveShows::Merged => reads == 1,
                NaiveShows::SplitInto(expected) => reads == expected,
            }
    }

    /// Did the framed receiver get the original messages?
    pub fn framed_as_expected(&self) -> bool {
        self.framed == self.scenario.messages
    }

    /// `Ok` if the scenario showed what it should, else which receiver did not.
    pub fn check(&self) -> Result<(), StickyError> {
        let problem = |claim: String, got: &[Vec<u8>]| StickyError::Scenario {
            scenario: self.scenario.name.to_string(),
            problem: format!("expected {claim}, but it got {} message(s)", got.len()),
        };
        if !self.naive_as_expected() {
            return Err(problem(self.naive_claim(), &self.naive));
        }
        if !self.framed_as_expected() {
            return Err(problem(self.framed_claim(), &self.framed));
        }
        Ok(())
    }
}

/// Runs every scenario with both receivers. Does not judge them: see [`Outcome::check`].
pub fn run_demo() -> Result<Vec<Outcome>, StickyError> {
    scenarios().into_iter().map(run_both).collect()
}

/// Runs one scenario with both receivers.
pub fn run_both(scenario: Scenario) -> Result<Outcome, StickyError> {
    let naive_calls = Recorder::new("");
    let framed_calls = Recorder::new("");
    let naive = run_scenario(&scenario, ReceiverMode::Naive, &naive_calls)?;
    let framed = run_scenario(&scenario, ReceiverMode::Framed, &framed_calls)?;
    Ok(Outcome {
        scenario,
        naive,
        framed,
        naive_calls: naive_calls.recording(),
        framed_calls: framed_calls.recording(),
    })
}

/// Runs one scenario with one receiver and returns what that receiver took for messages. The
/// sender writes raw bytes for the naive receiver and frames for the framed one. Every call is
/// recorded into `recorder`, each party under its own name.
pub fn run_scenario(
    scenario: &Scenario,
    receiver: ReceiverMode,
    recorder: &Recorder,
) -> Result<Vec<Vec<u8>>, StickyError> {
    let parties = Parties::new(receiver, recorder, scenario.proxy.as_ref());
    if let Some(rechunking) = &scenario.proxy {
        run_through_proxy(&scenario.messages, receiver, &parties, rechunking)
    } else {
        run_direct(&scenario.messages, receiver, &parties)
    }
}

/// The tracers of a scenario's sender, proxy and receiver, recording for the picture.
struct Parties {
    sender: Tracer,
    proxy: Tracer,
    receiver: Tracer,
    /// For `--coalesce`: the sender writes its next message only once the proxy has read the
    /// last one, so the proxy's reads are the same every run; they hold the recorder to see that.
    paced_by_proxy: Option<Recorder>,
}

impl Parties {
    fn new(receiver: ReceiverMode, recorder: &Recorder, proxy: Option<&Rechunking>) -> Parties {
        let format = receiver.message_format();
        let party = |name: &str| Tracer::recording(name, recorder).with_format(format);
        let coalescing = proxy.is_some_and(|r| r.coalesce.is_some());
        Parties {
            paced_by_proxy: coalescing.then(|| recorder.clone()),
            sender: party("sender"),
            proxy: party(&format!(
                "proxy ({})",
                proxy.map(Rechunking::to_string).unwrap_or_default()
            )),
            receiver: party("receiver"),
        }
    }
}

/// Sender and receiver on one connection; the receiver reads only once everything has arrived.
fn run_direct(
    messages: &[Vec<u8>],
    receiver: ReceiverMode,
    parties: &Parties,
) -> Result<Vec<Vec<u8>>, StickyError> {
    let listener = net::listen_tcp("127.0.0.1", 0, &ListenOptions::default())?;
    let (written_tx, written_rx) = crossbeam_channel::bounded(1);
    let sender = spawn_sender(
        listener.local_addr()?,
        messages,
        receiver,
        written_tx,
        parties,
    );
    let conn = accept_within(&listener, WAIT)?;
    // The deterministic "late read": the sender has made all its write calls, and every byte
    // they wrote is in our receive buffer, before we call recv for the first time.
    written_rx
        .recv_timeout(WAIT)
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the sender did not finish"))?;
    wait_until_arrived(&conn, wire_len(messages, receiver), WAIT)?;
    let received = receive_all(&mut parties.receiver.wrap(&conn), receiver)?;
    join(sender)?;
    Ok(received)
}

/// Sender, then the proxy's own forwarding code cutting into 1-byte pieces, then the receiver,
/// in lock step: the proxy sends the next piece only once the receiver has read the last one.
fn run_through_proxy(
    messages: &[Vec<u8>],
    receiver: ReceiverMode,
    parties: &Parties,
    rechunking: &Rechunking,
) -> Result<Vec<Vec<u8>>, StickyError> {
    let receiver_listener = net::listen_tcp("127.0.0.1", 0, &ListenOptions::default())?;
    let proxy_listener = net::listen_tcp("127.0.0.1", 0, &ListenOptions::default())?;
    let receiver_addr = receiver_listener.local_addr()?;
    let (written_tx, _) = crossbeam_channel::bounded(1);
    let sender = spawn_sender(
        proxy_listener.local_addr()?,
        messages,
        receiver,
        written_tx,
        parties,
    );
    let (read_tx, read_rx) = crossbeam_channel::unbounded();
    let proxy = parties.proxy.clone();
    let wire = wire_len(messages, receiver);
    let paced = parties.paced_by_proxy.is_some();
    let rechunking = rechunking.clone();
    let forwarder: JoinHandle<Result<(), StickyError>> = thread::spawn(move || {
        let client = accept_within(&proxy_listener, WAIT)?;
        let upstream = TcpStream::connect_timeout(&receiver_addr, WAIT)?;
        upstream.set_nodelay(true)?;
        let mut chunker = Chunker::new(rechunking.split, rechunking.seed);
        let mut sink = Lockstep {
            inner: proxy.wrap(&upstream),
            read: read_rx,
        };
        // Read only once the sender's bytes are all in, so the proxy's reads are the same on
        // every run (and so is the picture). A paced sender waits for each read instead.
        if !paced {
            wait_until_arrived(&client, wire, WAIT)?;
        }
        let mut source = proxy.wrap(client);
        proxy.relays(&source, &sink.inner);
        proxy::pump(
            &mut source,
            &mut sink,
            &rechunking,
            &mut chunker,
            &Shutdown::new(),
        )?;
        upstream.shutdown(std::net::Shutdown::Write)?;
        Ok(())
    });
    let conn = accept_within(&receiver_listener, WAIT)?;
    let mut reader = ReadReceipts {
        inner: parties.receiver.wrap(&conn),
        read: read_tx,
    };
    let received = receive_all(&mut reader, receiver)?;
    join(forwarder)?;
    join(sender)?;
    Ok(received)
}

/// The receiver's side of the lock step: after every read, tell the proxy how many bytes it got.
struct ReadReceipts<'a> {
    inner: Traced<&'a TcpStream>,
    read: Sender<usize>,
}

impl Read for ReadReceipts<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let _ = self.read.send(n);
        Ok(n)
    }
}

/// The proxy's side of the lock step: after every write, wait until the receiver has read every
/// byte of it (which may take it more than one read), so the next piece never joins the rest of
/// this one in the receiver's buffer.
struct Lockstep<'a> {
    inner: Traced<&'a TcpStream>,
    read: Receiver<usize>,
}

impl Write for Lockstep<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        let mut unread = n;
        while unread > 0 {
            let got = self.read.recv_timeout(WAIT).map_err(|_| {
                io::Error::new(io::ErrorKind::TimedOut, "the receiver did not read a piece")
            })?;
            unread = unread.saturating_sub(got);
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Starts a thread that connects to `addr`, writes the messages (raw for a naive receiver,
/// framed for a framed one, one write call each, back to back), signals `written`, and closes
/// its sending side.
fn spawn_sender(
    addr: SocketAddr,
    messages: &[Vec<u8>],
    receiver: ReceiverMode,
    written: Sender<()>,
    parties: &Parties,
) -> JoinHandle<Result<(), StickyError>> {
    let messages = messages.to_vec();
    let tracer = parties.sender.clone();
    let paced_by = parties
        .paced_by_proxy
        .clone()
        .zip(Some(parties.proxy.party()));
    let config = ClientConfig {
        mode: match receiver {
            ReceiverMode::Naive => SenderMode::Naive,
            ReceiverMode::Framed => SenderMode::Framed,
        },
        ..ClientConfig::default()
    };
    thread::spawn(move || {
        let mut stream = tracer.wrap(TcpStream::connect_timeout(&addr, WAIT)?);
        match paced_by {
            Some((recorder, proxy)) => {
                let mut paced = PacedByProxy {
                    inner: &mut stream,
                    recorder,
                    proxy,
                    written: 0,
                };
                client::send_messages(&mut paced, &messages, &config)?;
            }
            None => client::send_messages(&mut stream, &messages, &config)?,
        }
        let _ = written.send(());
        stream.get_ref().shutdown(std::net::Shutdown::Write)?;
        Ok(())
    })
}

/// The sender's side of the `--coalesce` scenario: after every write, wait until the proxy has
/// read every byte so far (its reads are in the recording), so it reads each message on its own
/// and has to gather them.
struct PacedByProxy<'a, W> {
    inner: &'a mut W,
    recorder: Recorder,
    proxy: String,
    written: u64,
}

impl<W: Write> Write for PacedByProxy<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        let deadline = Instant::now() + WAIT;
        while self.recorder.bytes(&self.proxy, Direction::Recv) < self.written {
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the proxy did not read a message",
                ));
            }
            thread::sleep(Duration::from_millis(1));
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Everything the receiver takes for a message, until the sender closes.
fn receive_all(
    stream: &mut impl Read,
    receiver: ReceiverMode,
) -> Result<Vec<Vec<u8>>, StickyError> {
    let mut messages = Vec::new();
    let collect = |m: &[u8]| messages.push(m.to_vec());
    match receiver {
        ReceiverMode::Naive => {
            naive::receive(stream, DEMO_BUFSIZE, Duration::ZERO, collect)?;
        }
        ReceiverMode::Framed => {
            // Asks for at most 1024 bytes per recv, as lesson 10's client does: a long message
            // is still cut into several reads, and the receiver puts it together.
            let mut capped = AtMost {
                inner: stream,
                most: DEMO_BUFSIZE,
            };
            framed::receive(&mut capped, Duration::ZERO, collect)?;
        }
    }
    Ok(messages)
}

/// A reader whose every `read` asks for at most `most` bytes: `recv(1024)` in a loop.
struct AtMost<R> {
    inner: R,
    most: usize,
}

impl<R: Read> Read for AtMost<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let most = buf.len().min(self.most);
        self.inner.read(buf.get_mut(..most).unwrap_or_default())
    }
}

/// How many bytes the sender puts on the wire for these messages.
fn wire_len(messages: &[Vec<u8>], receiver: ReceiverMode) -> usize {
    let payload: usize = messages.iter().map(Vec::len).sum();
    match receiver {
        ReceiverMode::Naive => payload,
        ReceiverMode::Framed => payload + LENGTH_SIZE * messages.len(),
    }
}

/// Waits until at least `n` bytes wait in `stream`'s receive buffer, looking with `peek` (a read
/// that leaves the bytes where they are). After this, one read of up to `n` bytes returns all of
/// them: this is how "the receiver reads late" is made to happen every time instead of by luck.
pub fn wait_until_arrived(stream: &TcpStream, n: usize, timeout: Duration) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut buf = vec![0u8; n];
    // peek blocks while nothing at all has arrived; the timeout bounds that.
    stream.set_read_timeout(Some(timeout))?;
    loop {
        let waiting = match stream.peek(&mut buf) {
            Ok(waiting) => waiting,
            // A signal, or the process stopped and resumed (see `net::recv`): look again.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if waiting >= n {
            return Ok(());
        }
        if waiting == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the connection closed before {n} bytes arrived"),
            ));
        }
        if Instant::now() >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("only {waiting} of {n} bytes arrived in {timeout:?}"),
            ));
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// `accept` that gives up after `timeout` instead of waiting for ever.
fn accept_within(listener: &TcpListener, timeout: Duration) -> io::Result<TcpStream> {
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + timeout;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false)?;
                stream.set_read_timeout(Some(timeout))?;
                return Ok(stream);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(2));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no connection arrived",
                ))
            }
            Err(e) => return Err(e),
        }
    }
}

fn join(thread: JoinHandle<Result<(), StickyError>>) -> Result<(), StickyError> {
    thread
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("a demo thread panicked").into()))
}

/// `1 write`, `2 writes`.
fn count(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// A message in a table cell: its length and its first bytes.
fn cell(message: &[u8]) -> String {
    const SHOWN: usize = 10;
    match message.get(..SHOWN) {
        Some(start) if message.len() > SHOWN => {
            format!("{} bytes: {}…", message.len(), escape_bytes(start))
        }
        _ => format!("{} bytes: {}", message.len(), escape_bytes(message)),
    }
}

/// The outcomes as a side-by-side table: scenario, what was sent, what each receiver saw.
pub fn table(outcomes: &[Outcome]) -> String {
    const WIDTHS: [usize; 4] = [26, 24, 32, 26];
    let row = |cells: [&str; 4]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(WIDTHS)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join(" | ").trim_end().to_string()
    };
    let mut lines = vec![
        row([
            "scenario",
            "sent: one write each",
            "naive: recv(1024) = a message",
            "framed: length + message",
        ]),
        WIDTHS
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("-+-"),
    ];
    for outcome in outcomes {
        let s = &outcome.scenario;
        let sent: Vec<String> = s.messages.iter().map(|m| cell(m)).collect();
        let numbered = |messages: &[Vec<u8>]| -> Vec<String> {
            (1..)
                .zip(messages)
                .map(|(i, m)| format!("#{i} {}", cell(m)))
                .collect()
        };
        let naive = numbered(&outcome.naive);
        let framed = numbered(&outcome.framed);
        let height = [2, sent.len(), naive.len(), framed.len()]
            .into_iter()
            .max()
            .unwrap_or(2);
        let label = [s.name.to_string(), format!("    {}", s.how)];
        let at = |column: &[String], i: usize| column.get(i).cloned().unwrap_or_default();
        for i in 0..height {
            lines.push(row([
                &at(&label, i),
                &at(&sent, i),
                &at(&naive, i),
                &at(&framed, i),
            ]));
        }
        let verdict = |ok: bool, text: String| {
            if ok {
                format!("=> {text}")
            } else {
                format!("=> NOT AS EXPECTED: {text}")
            }
        };
        let naive_verdict = match s.naive_shows {
            NaiveShows::Merged => "merged".to_string(),
            NaiveShows::SplitInto(_) => "split".to_string(),
        };
        lines.push(row([
            "",
            "",
            &verdict(
                outcome.naive_as_expected(),
                format!(
                    "{naive_verdict}: {}, {}",
                    count(s.messages.len(), "write"),
                    count(outcome.naive.len(), "read")
                ),
            ),
            &verdict(
                outcome.framed_as_expected(),
                format!("intact: {}", count(outcome.framed.len(), "message")),
            ),
        ]));
        lines.push(String::new());
    }
    lines.join("\n")
}

/// The picture of one scenario: the naive and the framed receiver side by side, so that the same
/// bytes are seen cut wrongly and rightly.
pub fn picture(outcome: &Outcome) -> String {
    let s = &outcome.scenario;
    picture::render_panels(
        &format!("09-sticky demo, scenario {} ({})", s.name, s.how),
        &[
            Panel {
                title: "naive receiver, recv(1024) = a message".to_string(),
                recording: &outcome.naive_calls,
            },
            Panel {
                title: "framed receiver, 4-byte length + message".to_string(),
                recording: &outcome.framed_calls,
            },
        ],
    )
}

/// `09-sticky demo --pictures DIR`: one picture per scenario, `DIR/09-sticky-SLUG.svg`, and one
/// of [`random_split_scenario`]. Returns the files written.
pub fn write_pictures(outcomes: &[Outcome], dir: &Path) -> Result<Vec<PathBuf>, StickyError> {
    let extra = [
        run_both(random_split_scenario())?,
        run_both(coalesce_scenario())?,
    ];
    let mut written = Vec::new();
    for outcome in outcomes.iter().chain(&extra) {
        let file = dir.join(format!("09-sticky-{}.svg", outcome.scenario.slug));
        picture::save(&file, &picture(outcome))?;
        written.push(file);
    }
    Ok(written)
}

/// The lesson's stage in `00-tour`: the demo's scenarios, then the real proxy and server.
pub fn tour(t: &mut Tour) -> Result<(), TourError> {
    t.say(
        "TCP is a byte stream: a recv() returns whatever bytes have arrived, up to its buffer \
         size, and nothing says where one send() ended. A receiver that takes each recv() for a \
         message (naive) sees messages merged (粘包) and split; one that reads a 4-byte length \
         and then exactly that many bytes (framed) does not care.",
    );
    for scenario in scenarios() {
        t.step(&format!("{} ({})", scenario.name, scenario.how));
        t.say(scenario.explanation);
        let outcome = run_both(scenario)?;
        t.picture(&format!("09-sticky-{}", outcome.scenario.slug), || {
            picture(&outcome)
        })?;
        for message in &outcome.scenario.messages {
            t.show("sent", &format!("one write of {}", cell(message)));
        }
        for (i, message) in (1..).zip(&outcome.naive) {
            t.show("naive", &format!("#{i} {}", cell(message)));
        }
        for (i, message) in (1..).zip(&outcome.framed) {
            t.show("framed", &format!("#{i} {}", cell(message)));
        }
        t.check(outcome.naive_as_expected(), outcome.naive_claim())?;
        t.check(outcome.framed_as_expected(), outcome.framed_claim())?;
    }
    if t.wants_pictures() {
        for scenario in [random_split_scenario(), coalesce_scenario()] {
            let outcome = run_both(scenario)?;
            t.picture(&format!("09-sticky-{}", outcome.scenario.slug), || {
                picture(&outcome)
            })?;
        }
    }
    real_proxy_stage(t)
}

/// The real `09-sticky proxy --split 1` between a framed client and a framed server.
fn real_proxy_stage(t: &mut Tour) -> Result<(), TourError> {
    t.step(
        "09-sticky client --mode framed hello world, through `proxy --split 1`, to a framed server",
    );
    let config = ServerConfig {
        mode: ReceiverMode::Framed,
        read_delay: Duration::ZERO,
        ..ServerConfig::default()
    };
    let server = t.start_tcp(move |listener, log, shutdown| {
        server::run_server(listener, &config, &log, &shutdown)
    })?;
    let config = ProxyConfig {
        upstream: Upstream {
            host: "127.0.0.1".into(),
            port: server.port(),
        },
        rechunking: Rechunking {
            split: Some(Split::Fixed(1)),
            ..Rechunking::default()
        },
        tracer: Tracer::off(),
    };
    let proxy = t.start_tcp_as("proxy", move |listener, log, shutdown| {
        proxy::run_proxy(listener, &config, &log, &shutdown)
    })?;

    let messages = [b"hello".to_vec(), b"world".to_vec()];
    let client_config = ClientConfig {
        mode: SenderMode::Framed,
        ..ClientConfig::default()
    };
    client::run_client("127.0.0.1", proxy.port(), &messages, &client_config)?;
    let first = t.expect_log("server", &server.lines, "#1 ")?;
    let second = t.expect_log("server", &server.lines, "#2 ")?;
    t.expect_log("proxy", &proxy.lines, "done")?;
    t.check(
        first.ends_with(&describe_message(1, b"hello"))
            && second.ends_with(&describe_message(2, b"world")),
        "cut into 18 one-byte writes, the frames still give the server 'hello' and 'world'",
    )?;
    proxy.server.stop().map_err(TourError::new)?;
    server.server.stop().map_err(TourError::new)?;
    t.say(
        "Put the proxy in front of any lesson (or your own Python server) with \
         `09-sticky proxy --listen 9109 --upstream 127.0.0.1:PORT --split 1` and point the \
         client at 9109: code that takes one recv() for one message breaks at once.",
    );
    Ok(())
}
