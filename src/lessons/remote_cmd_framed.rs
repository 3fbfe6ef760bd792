//! Lesson 10: lesson 07's remote shell made correct, in the three ways the tutorials build up.
//!
//! Lesson 07's client could not know where an answer ends. Here the server tells it, first, how
//! long the answer is, and the client reads exactly that many bytes, in a loop, whatever its
//! `--bufsize` (the tutorials' `while recv_size < data_size: recv(1024)`). `--framing` chooses
//! how the length is told; server and client must agree:
//!
//! - `size` (tutorial 000 §3), the broken first try kept to be seen breaking: the length as
//!   ASCII decimal digits, then at once the answer. Nothing marks where the digits end, and the
//!   client's one `recv(1024)` for the size gets the digits and the start of the answer stuck
//!   together (粘包): `23893` + `1\n2\n3...` reads as `238931\n2\n3...`, which is no number
//!   (the tutorial's `int()` raises `ValueError`). On a real network this happens often; here it
//!   happens every time, because socklab's server hands both to the kernel in one `send`: TCP
//!   keeps no boundary between two sends anyway, so on the wire it is the same protocol;
//! - `ack` (tutorials 000, 003): the length as ASCII decimal digits (`23893`); the client answers
//!   with any acknowledgement (`ok`); then the answer. The wait for the ack keeps the digits and
//!   the answer from arriving in one `recv`, at the cost of a round trip per answer. An empty
//!   output is sent as `(no output)`, as in lesson 07 (`send_answer` says why);
//! - `length` (tutorials 003, 004): a 4-byte length, `struct.pack('i', n)` (little-endian signed
//!   32-bit), then the answer;
//! - `json` (tutorial 004's final version, 自定义报头): a 4-byte length, that many bytes of a JSON
//!   header `{"data_size": N, ...}`, then the answer. The header has room for more: here
//!   `exit_code`, `timed_out` and `truncated`.
//!
//! The command itself still goes from client to server raw, one `send` read by one `recv`, as in
//! the tutorials. That works because the conversation is lock-step: the client sends nothing
//! more until it has the whole answer, so two commands are never in the stream at once. See the
//! walkthrough for what would still break it.
//!
//! Tutorials: 000 §4, 001 §6, 003, 004.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::escape::preview;
use crate::framing::{self, FrameError, Framing, LengthOrder};
use crate::log::Log;
use crate::net::{self, NetError};
use crate::picture;
use crate::recording::{MessageFormat, Recorder};
use crate::server::{self, Handler, ServerOptions, Shutdown};
use crate::shell::answer::{
    answer_never_empty, answer_text, count_command, count_output, execute, Outcome, LINE_END,
};
use crate::shell::{self, Limits};
use crate::tour::{Tour, TourError};
use crate::trace::{Traced, Tracer};

/// How the server tells the client where an answer ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum AnswerFraming {
    /// Broken on purpose (tutorial 000 §3): ASCII decimal length and the answer right behind
    /// it, no acknowledgement. The client's recv of the digits gets the answer's start too.
    Size,
    /// ASCII decimal length, wait for the client's acknowledgement, then the answer (never
    /// empty: no output is sent as `(no output)`).
    Ack,
    /// 4-byte little-endian signed length (struct.pack('i')), then the answer.
    Length,
    /// 4-byte header length, a JSON header {"data_size": N, ...}, then the answer.
    #[default]
    Json,
}

impl AnswerFraming {
    pub fn name(self) -> &'static str {
        match self {
            AnswerFraming::Size => "size",
            AnswerFraming::Ack => "ack",
            AnswerFraming::Length => "length",
            AnswerFraming::Json => "json",
        }
    }

    /// How the answers divide into messages, for `--picture`'s colours.
    pub fn message_format(self, order: LengthOrder) -> MessageFormat {
        match self {
            // `size` sends the digits and the answer in one write: nothing marks where the
            // digits end, which is the lesson.
            AnswerFraming::Size | AnswerFraming::Ack => MessageFormat::Writes,
            AnswerFraming::Length => MessageFormat::LengthPrefixed(order),
            AnswerFraming::Json => MessageFormat::JsonHeader(order),
        }
    }
}

/// What can go wrong in this lesson.
#[derive(Debug, thiserror::Error)]
pub enum FramedError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("connection error: {0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    Frame(#[from] FrameError),
    #[error("the server closed the connection")]
    Closed,
    #[error(
        "expected the answer's length in decimal digits, got '{0}' (this client uses \
         --framing ack: was the server started with it too?)"
    )]
    BadLength(String),
    #[error(
        "sticky packets (粘包): the size and the start of the answer arrived in one recv: '{0}'; \
         nothing marks where the digits end (--framing ack or length fixes this)"
    )]
    Stuck(String),
    #[error("the JSON header has no usable data_size: {0} (this client uses --framing json: was the server started with it too?)")]
    BadHeader(String),
    #[error(
        "the server announced a {announced}-byte answer, over --max-answer {max}; refusing to \
         read it"
    )]
    TooLong { announced: u64, max: u64 },
    #[error("the connection closed after {got} of the {expected} bytes of the answer")]
    Truncated { expected: u64, got: u64 },
    #[error("could not write the answer out: {0}")]
    Output(io::Error),
    #[error("no answer within {} (--timeout)", shell::seconds(*.0))]
    NoAnswer(Duration),
    #[error(
        "nothing to send: an empty command would be no bytes at all, and no answer would come"
    )]
    EmptyCommand,
}

impl FramedError {
    /// A read that gave up at the socket's timeout, reported as such.
    fn or_no_answer(self, timeout: Duration) -> FramedError {
        match &self {
            FramedError::Io(e) | FramedError::Frame(FrameError::Io(e)) if net::is_timeout(e) => {
                FramedError::NoAnswer(timeout)
            }
            _ => self,
        }
    }
}

/// The most bytes of acknowledgement the server reads in `ack` framing.
const ACK_MAX: usize = 64;
/// What socklab's client sends as the acknowledgement (the tutorials send b"OK" or similar; any
/// bytes do).
pub const ACK: &[u8] = b"ok";
/// How long the server keeps trying to send to a client that is not reading.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Bytes asked for by the single `recv` that reads a command.
    pub bufsize: usize,
    pub framing: AnswerFraming,
    /// Byte order of the 4-byte lengths in `length` and `json` framing: little-endian, as the
    /// tutorials' `struct.pack('i')` writes, or big-endian ("network order", `'!I'`).
    pub length_order: LengthOrder,
    pub limits: Limits,
    pub tracer: Tracer,
    /// `--max-clients` and the idle timeout. Each client's answer is held in memory while it is
    /// sent (up to `--max-output`), so the cap on clients is also a cap on memory.
    pub options: ServerOptions,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bufsize: 1024,
            framing: AnswerFraming::default(),
            length_order: LengthOrder::default(),
            limits: Limits::default(),
            tracer: Tracer::off(),
            options: ServerOptions {
                max_clients: 16,
                ..ServerOptions::default()
            },
        }
    }
}

/// Serves clients, each on its own thread, until `shutdown`.
pub fn run_server(
    listener: TcpListener,
    config: &ServerConfig,
    log: &Log,
    shutdown: &Shutdown,
) -> Result<(), FramedError> {
    let handler = RemoteShell {
        config: config.clone(),
    };
    server::serve(listener, handler, &config.options, log, shutdown)?;
    Ok(())
}

/// The request handler: one client's conversation.
struct RemoteShell {
    config: ServerConfig,
}

impl Handler for RemoteShell {
    type Error = FramedError;

    fn handle(&self, stream: TcpStream, peer: SocketAddr, log: &Log) -> Result<(), FramedError> {
        stream.set_write_timeout(Some(SEND_TIMEOUT))?;
        // The length and the answer go out in separate writes. Without this, Nagle's algorithm
        // may hold the second write until the client acknowledges the first, and a client that
        // delays its acknowledgements turns every answer into a 40-200 ms wait.
        stream.set_nodelay(true)?;
        // Several clients at once: each connection's trace lines carry its address.
        let tracer = self
            .config
            .tracer
            .labelled(&format!("server {peer}"))
            .with_formats(
                self.config.framing.message_format(self.config.length_order),
                MessageFormat::Writes,
            );
        let mut conn = tracer.wrap(stream);
        let mut buf = vec![0u8; self.config.bufsize.max(1)];
        loop {
            // The command, raw: one recv, as in the tutorials. Safe only because the client
            // waits for each whole answer before it sends the next command.
            let n = net::recv(&mut conn, &mut buf)?;
            if n == 0 {
                return Ok(());
            }
            let command = buf.get(..n).unwrap_or_default();
            let outcome = execute(command, &self.config.limits, log, peer);
            let sent = send_answer(
                &mut conn,
                self.config.framing,
                Framing::with_order(self.config.length_order),
                &outcome,
                &self.config.limits,
            )?;
            match sent {
                Some(size) => log.line(format!(
                    "sent the answer to {peer}: {size} bytes ({} framing)",
                    self.config.framing.name()
                )),
                None => return Ok(()), // The client left instead of acknowledging.
            }
        }
    }

    /// A client over `--max-clients` gets a refusal it can read: a framed answer in `length`
    /// and `json` framing. (In `ack` framing the server would have to wait for an ack, so it
    /// sends the default text line, which the client reports as not being a length.)
    fn refuse(&self, stream: &mut TcpStream, max_clients: usize) -> io::Result<()> {
        let why = format!(
            "server busy ({max_clients} clients connected, the --max-clients limit); try again later"
        );
        if matches!(
            self.config.framing,
            AnswerFraming::Ack | AnswerFraming::Size
        ) {
            return writeln!(stream, "error: {why}");
        }
        send_answer(
            stream,
            self.config.framing,
            Framing::with_order(self.config.length_order),
            &Outcome::Refused(why),
            &self.config.limits,
        )
        .map(|_| ())
        .map_err(io::Error::other)
    }
}

/// Sends one answer in the chosen framing. Returns its size, or `None` if in `ack` framing the
/// client closed the connection instead of acknowledging.
fn send_answer(
    conn: &mut (impl Read + Write),
    framing: AnswerFraming,
    frames: Framing,
    outcome: &Outcome,
    limits: &Limits,
) -> Result<Option<usize>, FramedError> {
    match framing {
        AnswerFraming::Size => {
            // The tutorial's `send(str(len(answer)))` and `send(answer)`, handed to the kernel
            // together: TCP keeps no boundary between two sends, so the client cannot tell.
            let answer = answer_never_empty(outcome, limits);
            let mut wire = answer.len().to_string().into_bytes();
            wire.extend_from_slice(&answer);
            conn.write_all(&wire)?;
            Ok(Some(answer.len()))
        }
        AnswerFraming::Ack => {
            // Never empty: with nothing to read after its ack, the client would send its next
            // command at once, and our ack `recv` could get the ack and the command glued
            // together. So, like the tutorial, never send 0 bytes.
            let answer = answer_never_empty(outcome, limits);
            // 1. the length, as text;
            conn.write_all(answer.len().to_string().as_bytes())?;
            // 2. any acknowledgement (bounded: at most ACK_MAX bytes are read);
            let mut ack = [0u8; ACK_MAX];
            if net::recv(conn, &mut ack)? == 0 {
                return Ok(None);
            }
            // 3. the answer.
            conn.write_all(&answer)?;
            Ok(Some(answer.len()))
        }
        AnswerFraming::Length => {
            let answer = answer_text(outcome, limits);
            frames.write_length(conn, answer.len() as u64)?;
            conn.write_all(&answer)?;
            Ok(Some(answer.len()))
        }
        AnswerFraming::Json => {
            // The notes live in the header here, so the body is the command's output only.
            let (body, header) = match outcome {
                Outcome::Ran(output) => {
                    let body = output.combined();
                    let header = json!({
                        "data_size": body.len(),
                        "exit_code": output.exit_code(),
                        "timed_out": output.timed_out,
                        "truncated": output.truncated,
                    });
                    (body, header)
                }
                Outcome::Refused(why) => {
                    let body = answer_text(outcome, limits);
                    (body.clone(), json!({"data_size": body.len(), "error": why}))
                }
            };
            frames.write_header(conn, &header)?;
            framing::write_body(conn, &mut body.as_slice(), body.len() as u64)?;
            Ok(Some(body.len()))
        }
    }
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Bytes asked for by each `recv` of the answer: any size works, only the number of reads
    /// changes.
    pub bufsize: usize,
    pub framing: AnswerFraming,
    /// Byte order of the 4-byte lengths: must match the server's `--byte-order`.
    pub length_order: LengthOrder,
    /// How long to wait for each read.
    pub timeout: Duration,
    /// The longest answer the client accepts. The length comes from the network, so it is
    /// checked before anything is read; the answer itself is streamed out, never held whole.
    pub max_answer: u64,
    pub tracer: Tracer,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            bufsize: 1024,
            framing: AnswerFraming::default(),
            length_order: LengthOrder::default(),
            timeout: Duration::from_secs(60),
            max_answer: 64 * 1024 * 1024,
            tracer: Tracer::off(),
        }
    }
}

/// What the client learnt about one answer, besides its bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnswerInfo {
    /// Its length in bytes, as announced.
    pub size: u64,
    /// The last byte (to know whether the answer ended its line).
    pub last_byte: Option<u8>,
    /// From the JSON header (other framings carry these in the text of the answer).
    pub exit_code: Option<i64>,
    pub timed_out: bool,
    pub truncated: bool,
    pub error: Option<String>,
}

/// A client that reads whole answers.
pub struct Client {
    conn: Traced<TcpStream>,
    buf: Vec<u8>,
    config: ClientConfig,
}

impl Client {
    pub fn connect(host: &str, port: u16, config: &ClientConfig) -> Result<Client, FramedError> {
        let conn = net::connect_tcp_within(host, port, config.timeout)?;
        conn.set_read_timeout(Some(config.timeout))?;
        // A server that never reads must not block a send for ever either.
        conn.set_write_timeout(Some(config.timeout))?;
        Ok(Client {
            conn: config
                .tracer
                .clone()
                .with_formats(
                    MessageFormat::Writes,
                    config.framing.message_format(config.length_order),
                )
                .wrap(conn),
            buf: vec![0u8; config.bufsize.max(1)],
            config: config.clone(),
        })
    }

    /// Sends `command` and writes its whole answer to `out`, however many reads it takes.
    pub fn ask(&mut self, command: &str, out: &mut impl Write) -> Result<AnswerInfo, FramedError> {
        if command.is_empty() {
            return Err(FramedError::EmptyCommand);
        }
        self.exchange(command, out)
            .map_err(|e| e.or_no_answer(self.config.timeout))
    }

    fn exchange(&mut self, command: &str, out: &mut impl Write) -> Result<AnswerInfo, FramedError> {
        self.conn.write_all(command.as_bytes())?;
        let mut info = match self.config.framing {
            AnswerFraming::Size => AnswerInfo {
                size: self.read_decimal_length().map_err(|e| match e {
                    FramedError::BadLength(text) => FramedError::Stuck(text),
                    other => other,
                })?,
                ..AnswerInfo::default()
            },
            AnswerFraming::Ack => {
                let size = self.read_decimal_length()?;
                self.conn.write_all(ACK)?;
                AnswerInfo {
                    size,
                    ..AnswerInfo::default()
                }
            }
            AnswerFraming::Length => {
                let size = Framing::with_order(self.config.length_order)
                    .read_length(&mut self.conn)?
                    .ok_or(FramedError::Closed)?;
                AnswerInfo {
                    size: size.into(),
                    ..AnswerInfo::default()
                }
            }
            AnswerFraming::Json => {
                let header = Framing::with_order(self.config.length_order)
                    .read_header(&mut self.conn)?
                    .ok_or(FramedError::Closed)?;
                info_from_header(&header)?
            }
        };
        if info.size > self.config.max_answer {
            return Err(FramedError::TooLong {
                announced: info.size,
                max: self.config.max_answer,
            });
        }
        info.last_byte = receive_exactly(&mut self.conn, out, info.size, &mut self.buf)?;
        Ok(info)
    }

    /// Reads the `ack` framing's decimal length: one `recv`, as the tutorials do. Nothing marks
    /// where the digits end; this works only because the server sends nothing more until it
    /// has our acknowledgement (and the digits, a few bytes sent at once, arrive together).
    fn read_decimal_length(&mut self) -> Result<u64, FramedError> {
        let mut digits = [0u8; 20]; // u64::MAX has 20 digits
        let n = net::recv(&mut self.conn, &mut digits)?;
        if n == 0 {
            return Err(FramedError::Closed);
        }
        let text = digits.get(..n).unwrap_or_default();
        std::str::from_utf8(text)
            .ok()
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| FramedError::BadLength(preview(text, 40)))
    }
}

/// Takes what socklab needs from a JSON header; other keys are allowed and ignored.
fn info_from_header(header: &Map<String, Value>) -> Result<AnswerInfo, FramedError> {
    let size = match header.get("data_size") {
        Some(value) => value
            .as_u64()
            .ok_or_else(|| FramedError::BadHeader(format!("data_size is {value}")))?,
        None => return Err(FramedError::BadHeader("the key is missing".into())),
    };
    let flag = |key: &str| header.get(key).and_then(Value::as_bool).unwrap_or(false);
    Ok(AnswerInfo {
        size,
        last_byte: None,
        exit_code: header.get("exit_code").and_then(Value::as_i64),
        timed_out: flag("timed_out"),
        truncated: flag("truncated"),
        error: header
            .get("error")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

/// Reads exactly `len` bytes from `conn`, at most `buf.len()` per read, and writes them to
/// `out` as they come: the tutorials' `while recv_size < data_size: data = recv(1024)`. Memory
/// stays at one buffer whatever `len` is. Returns the last byte read.
pub fn receive_exactly(
    conn: &mut impl Read,
    out: &mut impl Write,
    len: u64,
    buf: &mut [u8],
) -> Result<Option<u8>, FramedError> {
    let mut got: u64 = 0;
    let mut last = None;
    while got < len {
        let want = usize::try_from(len - got)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let Some(chunk) = buf.get_mut(..want) else {
            break;
        };
        let n = match conn.read(chunk) {
            Ok(0) => return Err(FramedError::Truncated { expected: len, got }),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        let data = chunk.get(..n).unwrap_or_default();
        out.write_all(data).map_err(FramedError::Output)?;
        last = data.last().copied().or(last);
        got += n as u64;
    }
    Ok(last)
}

/// The lines the client prints on stderr about a JSON-framed answer.
pub fn header_notes(info: &AnswerInfo) -> Vec<String> {
    let mut notes = Vec::new();
    if info.timed_out {
        notes.push(
            "socklab: the command was killed at the server's time limit (--cmd-timeout); \
             above is what it printed before"
                .to_string(),
        );
    }
    if info.truncated {
        notes.push(
            "socklab: the output was cut at the server's output cap (--max-output)".to_string(),
        );
    }
    notes
}

/// How far the tour's long command counts: over a megabyte of output with `seq`. `cmd.exe`'s
/// `for /L` loop is far slower (under wine even 20000 can pass the 10 s command time limit on
/// a busy machine), so on Windows 5000: still 28893 bytes, some thirty reads of recv(1024).
const TOUR_COUNT: u32 = if cfg!(windows) { 5_000 } else { 200_000 };

/// The lesson's stage in `00-tour`.
pub fn tour(t: &mut Tour) -> Result<(), TourError> {
    let expected = count_output(TOUR_COUNT);
    t.say(&format!(
        "Lesson 07's shell with the answer's length sent first, in the three framings the \
         tutorials build up. The client reads exactly that many bytes with recv(1024) in a \
         loop. '{}' prints {} bytes; after it, 'echo next' must get 'next'.",
        count_command(TOUR_COUNT),
        expected.len()
    ));
    t.step("--framing size (tutorial 000 §3): the size in digits, then at once the answer");
    let config = ServerConfig {
        framing: AnswerFraming::Size,
        ..ServerConfig::default()
    };
    let server =
        t.start_tcp(move |listener, log, shutdown| run_server(listener, &config, &log, &shutdown))?;
    let client_config = ClientConfig {
        framing: AnswerFraming::Size,
        ..ClientConfig::default()
    };
    let mut client = Client::connect("127.0.0.1", server.port(), &client_config)?;
    let stuck = client.ask(&count_command(5000), &mut Vec::new());
    t.expect_log("server", &server.lines, "sent the answer")?;
    if let Err(e) = &stuck {
        t.show("client", &format!("error: {e}"));
    }
    t.check(
        matches!(stuck, Err(FramedError::Stuck(_))),
        format!(
            "the client's recv for the size got '{}' and the answer's '1\\n2\\n...' stuck \
             together: no number",
            count_output(5000).len()
        ),
    )?;
    drop(client);
    server.server.stop().map_err(TourError::new)?;

    for framing in [
        AnswerFraming::Ack,
        AnswerFraming::Length,
        AnswerFraming::Json,
    ] {
        t.step(&format!("--framing {}", framing.name()));
        let config = ServerConfig {
            framing,
            ..ServerConfig::default()
        };
        let server = t.start_tcp(move |listener, log, shutdown| {
            run_server(listener, &config, &log, &shutdown)
        })?;
        let (trace, traced) = Log::channel();
        let client_config = ClientConfig {
            framing,
            tracer: Tracer::to_log("client", trace),
            ..ClientConfig::default()
        };
        let mut client = Client::connect("127.0.0.1", server.port(), &client_config)?;
        let mut answer = Vec::new();
        client.ask(&count_command(TOUR_COUNT), &mut answer)?;
        t.expect_log("server", &server.lines, "sent the answer")?;
        let calls: Vec<String> = traced.try_iter().collect();
        for line in calls.iter().take(4) {
            t.show("client", line);
        }
        t.show(
            "client",
            &format!("... {} more recv calls", calls.len().saturating_sub(4)),
        );
        t.check(
            answer == expected,
            format!("all {} bytes arrived, exactly", expected.len()),
        )?;
        let mut next = Vec::new();
        client.ask("echo next", &mut next)?;
        t.expect_log("server", &server.lines, "sent the answer")?;
        t.show(
            "client",
            &format!("answer to 'echo next': {}", preview(&next, 40)),
        );
        t.check(
            next == [&b"next"[..], LINE_END].concat(),
            "the next answer is its own",
        )?;
        drop(client);
        server.server.stop().map_err(TourError::new)?;
        if t.wants_pictures() && framing != AnswerFraming::Ack {
            picture_stage(t, framing)?;
        }
    }
    t.say(
        "Only 'length' and 'json' are real fixes: 'ack' costs a round trip per answer and its \
         digits are still read with a plain recv that nothing delimits. The JSON header has room \
         for more than the size: here exit_code, timed_out and truncated.",
    );
    Ok(())
}

/// For `00-tour --pictures`: a conversation small enough to read in a picture, `seq 1 1000`
/// (3893 bytes, four reads of recv(1024)) then `echo next`, with both sides recorded.
fn picture_stage(t: &mut Tour, framing: AnswerFraming) -> Result<(), TourError> {
    let count = count_command(1000);
    let calls = Recorder::new(format!(
        "10-remote-cmd-framed --framing {}: '{count}', then 'echo next'; the client reads \
         the length, then recv(1024) until it has that many bytes",
        framing.name()
    ));
    let config = ServerConfig {
        framing,
        tracer: Tracer::recording("server", &calls),
        ..ServerConfig::default()
    };
    let server =
        t.start_tcp(move |listener, log, shutdown| run_server(listener, &config, &log, &shutdown))?;
    let client_config = ClientConfig {
        framing,
        tracer: Tracer::recording("client", &calls),
        ..ClientConfig::default()
    };
    let mut client = Client::connect("127.0.0.1", server.port(), &client_config)?;
    for command in [count.as_str(), "echo next"] {
        client.ask(command, &mut Vec::new())?;
        t.expect_log("server", &server.lines, "sent the answer")?;
    }
    t.picture(&format!("10-remote-cmd-framed-{}", framing.name()), || {
        picture::render(&calls.recording())
    })?;
    drop(client);
    server.server.stop().map_err(TourError::new)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most 3 bytes per read, like a slow network.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(3).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn receive_exactly_loops_and_stops_at_the_length() {
        let mut out = Vec::new();
        let mut buf = [0u8; 1024];
        let mut wire = Trickle(b"hello world, and the next answer");
        let last = receive_exactly(&mut wire, &mut out, 11, &mut buf).unwrap();
        assert_eq!(out, b"hello world");
        assert_eq!(last, Some(b'd'));
        assert_eq!(
            wire.0, b", and the next answer",
            "nothing past the length was read"
        );
    }

    #[test]
    fn receive_exactly_reports_a_short_stream() {
        let mut out = Vec::new();
        let err = receive_exactly(&mut Trickle(b"abc"), &mut out, 5, &mut [0u8; 2]).unwrap_err();
        assert!(matches!(
            err,
            FramedError::Truncated {
                expected: 5,
                got: 3
            }
        ));
    }

    #[test]
    fn header_needs_a_usable_data_size() {
        let header = |v: Value| v.as_object().unwrap().clone();
        let info = info_from_header(&header(json!({"data_size": 5, "extra": 1}))).unwrap();
        assert_eq!(info.size, 5);
        assert!(info_from_header(&header(json!({"data_size": -5}))).is_err());
        assert!(info_from_header(&header(json!({"size": 5}))).is_err());
        assert!(info_from_header(&header(json!({"data_size": "5"}))).is_err());
    }
}
