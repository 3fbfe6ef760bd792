//! Lesson 12: validating a client (验证合法性) with an HMAC challenge and response.
//!
//! Server and client share a secret key that never crosses the network. When a client connects:
//!
//! 1. the server sends a *challenge*: 32 fresh random bytes (Python's `os.urandom(32)`);
//! 2. the client answers with `HMAC(key, challenge)`, the raw digest: 32 bytes with SHA-256 (the
//!    default), 16 with MD5 (what the tutorial's `hmac.new(key, msg)` computed on Python 2).
//!    The answer's size is fixed by the digest, so it needs no length header: the server reads
//!    exactly that many bytes, which is framing by fixed size;
//! 3. the server computes the same HMAC and compares the two in constant time. If they differ,
//!    or no full answer arrives within `--auth-timeout`, it closes the connection at once, before
//!    a single byte of conversation, and logs why. If they match, the conversation starts;
//! 4. then both sides talk in frames ([`crate::framing`]: a 4-byte little-endian length, then
//!    UTF-8 text): the client sends a line, the server answers one (upper-cased with `--echo`, or
//!    typed by whoever runs the server).
//!
//! That is tutorial 003's protocol exactly, so its client and server work with socklab's. Its
//! weakness: the server says nothing when the answer is right, so a client learns it was refused
//! only when its first message meets a closed connection (an end of stream, or a reset). With
//! `--welcome` on *both* sides, socklab's server confirms a right answer with one frame, the
//! payload `welcome`, and the client knows where it stands before anyone types a line. It is an
//! extension: the tutorial's programs know nothing of it, so it is off by default.
//!
//! A fresh random challenge per connection is what stops a replay: an eavesdropper who recorded
//! one answer cannot reuse it, because the next challenge is different. What this does *not*
//! give: the conversation itself is plain text, and someone who can alter the traffic can let the
//! handshake through and take over the connection afterwards. That needs TLS.
//!
//! Tutorial: 003 (验证合法性).

use std::fmt;
use std::io::{self, BufRead, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use md5::Md5;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::Sha256;

use crate::deadline::WithDeadline;
use crate::escape::escape_bytes;
use crate::framing::{read_fully, FrameError, Framing};
use crate::log::Log;
use crate::net::{self, NetError};
use crate::recording::{Handshake, MessageFormat};
use crate::server::{serve, Handler, ServerOptions, Shutdown};
use crate::tour::{Tour, TourError};
use crate::trace::{Traced, Tracer};

/// Size of the server's challenge, in bytes.
pub const CHALLENGE_LEN: usize = 32;
/// The payload of the frame a server started with `--welcome` sends when the answer was right.
pub const WELCOME: &[u8] = b"welcome";
/// The environment variable the key may come from.
pub const KEY_ENV: &str = "SOCKLAB_KEY";
/// Largest key file accepted (a key is short; a huge file is the wrong file).
pub const MAX_KEY_FILE: u64 = 64 * 1024;
/// Largest conversation message accepted: 64 KiB (these are typed lines).
pub const MAX_MESSAGE: u32 = 64 * 1024;
/// How long a client waits for each reply. Long, because a person may be typing it.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(600);

/// What can go wrong in this lesson.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("connection error: {0}")]
    Io(#[from] io::Error),
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error(
        "no key: give --key-file PATH or set the {KEY_ENV} environment variable \
         (never the key itself as an argument: `ps` would show it to everyone)"
    )]
    KeyMissing,
    #[error("could not read the key file {path}: {error}")]
    KeyFile { path: String, error: io::Error },
    #[error("the key file {path} is over {MAX_KEY_FILE} bytes; is it the right file?")]
    KeyFileTooLarge { path: String },
    #[error("the key from {0} is empty")]
    KeyEmpty(String),
    #[error("{KEY_ENV} is not valid UTF-8; put the key in a file and use --key-file")]
    KeyNotUnicode,
    #[error("the HMAC does not accept this key")]
    KeyRejected,
    #[error("could not get random bytes from the operating system: {0}")]
    Random(rand::Error),
    /// Server side: this client did not prove it knows the key.
    #[error("refused: {0}")]
    Refused(String),
    /// Client side: the server closed the connection right after our answer, before any reply:
    /// instead of the welcome (`--welcome`), or on our first message.
    #[error(
        "the server refused us: it closed the connection after our answer to its challenge \
         (wrong key, or a different --digest than the server's?)"
    )]
    RefusedByServer,
    /// Client side (`--welcome`): our answer went out, and no verdict came back in time. Either
    /// the server sends no welcome at all (it was started without `--welcome`, or it is the
    /// tutorial's), or it uses a longer digest and still waits for the rest of our answer.
    #[error(
        "no welcome from the server within {} s: was it started without --welcome (the \
         tutorial's server never sends one), or is it still waiting for the rest of our answer \
         (a different --digest than the server's)?",
        .0.as_secs_f64()
    )]
    NoWelcome(Duration),
    #[error("the server sent {got} bytes instead of a {CHALLENGE_LEN}-byte challenge; is it a 12-auth server?")]
    NoChallenge { got: usize },
    #[error("the server's first frame was '{0}' instead of the welcome; is it a 12-auth server?")]
    NotWelcome(String),
    #[error("no {waiting_for} from the server within {} s", .after.as_secs_f64())]
    TimedOut {
        waiting_for: &'static str,
        after: Duration,
    },
    #[error("the server closed the connection")]
    ServerClosed,
}

/// The shared secret. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Key(Vec<u8>);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({} bytes, hidden)", self.0.len())
    }
}

impl Key {
    /// A key from bytes; `from` says where they came from, for the error if they are empty.
    pub fn new(bytes: Vec<u8>, from: &str) -> Result<Key, AuthError> {
        if bytes.is_empty() {
            return Err(AuthError::KeyEmpty(from.to_string()));
        }
        Ok(Key(bytes))
    }

    /// The key from `--key-file` if given, else from `SOCKLAB_KEY`.
    pub fn load(key_file: Option<&Path>) -> Result<Key, AuthError> {
        match key_file {
            Some(path) => Key::from_file(path),
            None => Key::from_env(),
        }
    }

    /// The file's bytes, minus one trailing newline (`\n` or `\r\n`), because editors and
    /// `echo secret > key` add one that nobody means as part of the key. Any other whitespace is
    /// kept: it is part of the key.
    pub fn from_file(path: &Path) -> Result<Key, AuthError> {
        let shown = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|error| AuthError::KeyFile {
            path: shown.clone(),
            error,
        })?;
        let mut bytes = Vec::new();
        file.take(MAX_KEY_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(|error| AuthError::KeyFile {
                path: shown.clone(),
                error,
            })?;
        if bytes.len() as u64 > MAX_KEY_FILE {
            return Err(AuthError::KeyFileTooLarge { path: shown });
        }
        Key::new(strip_one_newline(bytes), &shown)
    }

    /// The value of `SOCKLAB_KEY`, as it is.
    pub fn from_env() -> Result<Key, AuthError> {
        let value = std::env::var_os(KEY_ENV).ok_or(AuthError::KeyMissing)?;
        let value = value.into_string().map_err(|_| AuthError::KeyNotUnicode)?;
        Key::new(value.into_bytes(), KEY_ENV)
    }
}

/// Removes one trailing `\n` or `\r\n`.
fn strip_one_newline(mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
    bytes
}

/// The hash inside the HMAC. Server and client must use the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Digest {
    /// HMAC-SHA256, 32-byte answer: `hmac.new(key, challenge, hashlib.sha256)`.
    #[default]
    Sha256,
    /// HMAC-MD5, 16-byte answer: the tutorial's `hmac.new(key, challenge)` on Python 2 (Python 3
    /// requires `digestmod` since 3.8). MD5 is broken as a hash; kept to match the tutorial.
    Md5,
}

impl Digest {
    /// Size of the answer, in bytes.
    pub fn answer_len(self) -> usize {
        match self {
            Digest::Sha256 => 32,
            Digest::Md5 => 16,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Digest::Sha256 => "hmac-sha256",
            Digest::Md5 => "hmac-md5",
        }
    }

    /// `HMAC(key, challenge)`: what a client that knows the key answers.
    pub fn answer(self, key: &Key, challenge: &[u8]) -> Result<Vec<u8>, AuthError> {
        Ok(match self {
            Digest::Sha256 => keyed::<Hmac<Sha256>>(key, challenge)?
                .finalize()
                .into_bytes()
                .to_vec(),
            Digest::Md5 => keyed::<Hmac<Md5>>(key, challenge)?
                .finalize()
                .into_bytes()
                .to_vec(),
        })
    }

    /// Is `answer` right? Compared in constant time (Python's `hmac.compare_digest`): a
    /// comparison that stops at the first wrong byte takes longer the more leading bytes are
    /// right, and an attacker who can time it can find the answer byte by byte.
    pub fn verify(self, key: &Key, challenge: &[u8], answer: &[u8]) -> Result<bool, AuthError> {
        Ok(match self {
            Digest::Sha256 => keyed::<Hmac<Sha256>>(key, challenge)?
                .verify_slice(answer)
                .is_ok(),
            Digest::Md5 => keyed::<Hmac<Md5>>(key, challenge)?
                .verify_slice(answer)
                .is_ok(),
        })
    }
}

/// An HMAC with `key` that has read `message`.
fn keyed<M: Mac + hmac::digest::KeyInit>(key: &Key, message: &[u8]) -> Result<M, AuthError> {
    // HMAC accepts keys of any length, so this does not fail; the type still says it could.
    let mut mac = <M as Mac>::new_from_slice(&key.0).map_err(|_| AuthError::KeyRejected)?;
    mac.update(message);
    Ok(mac)
}

/// 32 fresh random bytes from the operating system.
pub fn new_challenge() -> Result<[u8; CHALLENGE_LEN], AuthError> {
    let mut challenge = [0u8; CHALLENGE_LEN];
    OsRng
        .try_fill_bytes(&mut challenge)
        .map_err(AuthError::Random)?;
    Ok(challenge)
}

/// The conversation's frame format: the tutorials' 4-byte little-endian length, small limit.
fn conversation() -> Framing {
    Framing {
        max_frame: MAX_MESSAGE,
        ..Framing::default()
    }
}

/// How the client's stream divides for a picture: its answer, then frames.
fn answer_format(digest: Digest) -> MessageFormat {
    MessageFormat::AfterHandshake(Handshake::Answer, digest.answer_len() as u64)
}

/// How the server answers a client's lines.
#[derive(Clone)]
pub enum Replies {
    /// Upper-cased, at once (`--echo`).
    Echo,
    /// One line each from this source (the server's standard input), which all connections share:
    /// the server says which client the next line is for, and clients wait their turn.
    Typed(Arc<Mutex<Box<dyn BufRead + Send>>>),
}

impl Replies {
    pub fn typed(source: impl BufRead + Send + 'static) -> Replies {
        Replies::Typed(Arc::new(Mutex::new(Box::new(source))))
    }
}

impl fmt::Debug for Replies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Replies::Echo => "Echo",
            Replies::Typed(_) => "Typed",
        })
    }
}

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub key: Key,
    pub digest: Digest,
    /// How long a client has to answer the challenge.
    pub auth_timeout: Duration,
    pub replies: Replies,
    /// `--welcome`: confirm a right answer with a `welcome` frame (not in the tutorial).
    pub welcome: bool,
    /// `--trace`: one line per `send`/`recv`, labelled with the client's address.
    pub tracer: Tracer,
}

/// Serves clients, one thread each, until `shutdown` is requested.
pub fn run_server(
    listener: TcpListener,
    config: &ServerConfig,
    log: &Log,
    shutdown: &Shutdown,
) -> Result<(), AuthError> {
    let gate = Gatekeeper {
        config: config.clone(),
    };
    serve(listener, gate, &ServerOptions::default(), log, shutdown)?;
    Ok(())
}

/// The per-connection handler: challenge, check, then converse.
struct Gatekeeper {
    config: ServerConfig,
}

impl Handler for Gatekeeper {
    type Error = AuthError;

    fn handle(&self, stream: TcpStream, peer: SocketAddr, log: &Log) -> Result<(), AuthError> {
        let tracer = self
            .config
            .tracer
            .labelled(&format!("server {peer}"))
            .with_formats(
                MessageFormat::AfterHandshake(Handshake::Challenge, CHALLENGE_LEN as u64),
                answer_format(self.config.digest),
            );
        let mut stream = tracer.wrap(stream);
        // A refusal returns here: the stream is dropped (closed) before any conversation, and
        // the server logs `client ... dropped: refused: <why>`.
        check_client(&mut stream, &self.config)?;
        log.line(format!(
            "client {peer} authenticated ({})",
            self.config.digest.name()
        ));
        if self.config.welcome {
            conversation().write_frame(&mut stream, WELCOME)?;
        }
        converse(&mut stream, peer, &self.config.replies, log)
    }
}

/// Steps 1 to 3: send a challenge, read the fixed-size answer within the time limit, verify it.
fn check_client(stream: &mut Traced<TcpStream>, config: &ServerConfig) -> Result<(), AuthError> {
    let challenge = new_challenge()?;
    stream.write_all(&challenge)?;
    let mut answer = vec![0u8; config.digest.answer_len()];
    let got = read_within(stream, &mut answer, config.auth_timeout)?;
    if got < answer.len() {
        return Err(AuthError::Refused(format!(
            "closed after {got} of the {} bytes of its answer",
            answer.len()
        )));
    }
    if !config.digest.verify(&config.key, &challenge, &answer)? {
        return Err(AuthError::Refused(format!(
            "wrong answer to the challenge (wrong key, or not {})",
            config.digest.name()
        )));
    }
    Ok(())
}

/// Fills `buf` unless the client closes first (returns how much arrived) or `limit` passes in
/// total (a refusal), however the bytes trickle in.
fn read_within(
    stream: &mut Traced<TcpStream>,
    buf: &mut [u8],
    limit: Duration,
) -> Result<usize, AuthError> {
    let wanted = buf.len();
    let too_slow = |filled: usize| {
        let secs = limit.as_secs_f64();
        AuthError::Refused(if filled == 0 {
            format!("no answer within {secs} s (--auth-timeout)")
        } else {
            format!(
                "only {filled} of the {wanted} bytes of its answer within {secs} s \
                 (another --digest?)"
            )
        })
    };
    // One deadline for the whole answer, re-armed before every read (crate::deadline).
    let mut stream = WithDeadline::within(stream, limit);
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..).filter(|r| !r.is_empty()) {
        match stream.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if net::is_timeout(&e) => return Err(too_slow(filled)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(filled)
}

/// Step 4: a frame in, a frame out, until the client closes.
fn converse(
    stream: &mut Traced<TcpStream>,
    peer: SocketAddr,
    replies: &Replies,
    log: &Log,
) -> Result<(), AuthError> {
    let framing = conversation();
    // Each message must arrive whole, and each reply be taken, within the idle timeout: a
    // deadline per frame, so a peer trickling bytes or never reading cannot hold the thread.
    let limit = stream.get_ref().read_timeout()?.unwrap_or(REPLY_TIMEOUT);
    loop {
        let message = framing.read_frame(&mut WithDeadline::within(stream, limit))?;
        let Some(message) = message else { break };
        log.line(format!("client {peer} says: {}", escape_bytes(&message)));
        let reply = match replies {
            // Python's bytes.upper(): ASCII letters only, so it never breaks UTF-8.
            Replies::Echo => message.to_ascii_uppercase(),
            Replies::Typed(console) => match typed_reply(console, peer, log)? {
                Some(line) => line.into_bytes(),
                None => {
                    log.line(format!("no more replies (input ended); closing {peer}"));
                    return Ok(());
                }
            },
        };
        framing.write_frame(&mut WithDeadline::within(stream, limit), &reply)?;
        log.line(format!("replied to {peer}: {}", escape_bytes(&reply)));
    }
    Ok(())
}

/// Asks whoever runs the server for one reply line to `peer`. `None` when the input has ended.
fn typed_reply(
    console: &Mutex<Box<dyn BufRead + Send>>,
    peer: SocketAddr,
    log: &Log,
) -> Result<Option<String>, AuthError> {
    // One client at a time: the others wait here until this reply is typed.
    let mut console = console
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    log.line(format!("type the reply to {peer}:"));
    let mut line = String::new();
    if console.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_string()))
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub key: Key,
    pub digest: Digest,
    /// `--timeout`: the longest wait for the server: the whole challenge, the welcome, each
    /// whole reply, room to send a message.
    pub timeout: Duration,
    /// `--welcome`: wait for the server's welcome frame after answering (the server must have
    /// been started with `--welcome` too).
    pub welcome: bool,
    /// `--trace`: one line per `send`/`recv`.
    pub tracer: Tracer,
}

/// A connection whose challenge we answered.
pub struct Session {
    stream: Traced<TcpStream>,
    /// `--timeout`, for each reply.
    timeout: Duration,
    /// Has the server confirmed that it accepted our answer (a welcome, or a first reply)? Until
    /// then, a closed connection means the server refused us.
    accepted: bool,
}

impl Session {
    /// Connects and answers the challenge. With `config.welcome`, also waits for the welcome:
    /// `Err(RefusedByServer)` if the server closes instead. Without it (the tutorial's
    /// protocol) a refusal shows on the first [`ask`](Session::ask).
    pub fn connect(host: &str, port: u16, config: &ClientConfig) -> Result<Session, AuthError> {
        let stream = net::connect_tcp_within(host, port, config.timeout)?;
        stream.set_read_timeout(Some(config.timeout))?;
        // A server that never reads must not block a send for ever either.
        stream.set_write_timeout(Some(config.timeout))?;
        let mut stream = config
            .tracer
            .clone()
            .with_formats(
                answer_format(config.digest),
                MessageFormat::AfterHandshake(Handshake::Challenge, CHALLENGE_LEN as u64),
            )
            .wrap(stream);
        let timed_out = |waiting_for| AuthError::TimedOut {
            waiting_for,
            after: config.timeout,
        };

        let mut challenge = [0u8; CHALLENGE_LEN];
        // The whole challenge within --timeout, however the server trickles it.
        let got = match read_fully(
            &mut WithDeadline::within(&mut stream, config.timeout),
            &mut challenge,
        ) {
            Ok(got) => got,
            Err(e) if net::is_timeout(&e) => return Err(timed_out("challenge")),
            Err(e) => return Err(e.into()),
        };
        if got < CHALLENGE_LEN {
            return Err(AuthError::NoChallenge { got });
        }
        stream.write_all(&config.digest.answer(&config.key, &challenge)?)?;

        if !config.welcome {
            return Ok(Session {
                stream,
                timeout: config.timeout,
                accepted: false,
            });
        }
        // The server either welcomes us with a frame or closes at once. A close can arrive as a
        // clean end of stream or, if it had unread bytes from us, as a reset.
        match conversation().read_frame(&mut WithDeadline::within(&mut stream, config.timeout)) {
            Ok(Some(welcome)) if welcome == WELCOME => {}
            Ok(Some(other)) => return Err(AuthError::NotWelcome(escape_bytes(&other))),
            Ok(None) | Err(FrameError::Truncated { .. }) => return Err(AuthError::RefusedByServer),
            Err(FrameError::Io(e)) if net::is_timeout(&e) => {
                return Err(AuthError::NoWelcome(config.timeout))
            }
            Err(FrameError::Io(e)) if is_closed(&e) => return Err(AuthError::RefusedByServer),
            Err(e) => return Err(e.into()),
        }
        Ok(Session {
            stream,
            timeout: config.timeout,
            accepted: true,
        })
    }

    /// Sends one message as a frame and returns the server's reply.
    ///
    /// If the server has not yet shown that it accepted our answer, a connection that ends here
    /// (end of stream, or a reset because our message arrived after it closed) is its refusal:
    /// the tutorial's server closes a client it refuses, and says nothing more.
    pub fn ask(&mut self, message: &[u8]) -> Result<Vec<u8>, AuthError> {
        let framing = conversation();
        let refused = !self.accepted;
        match framing.write_frame(&mut self.stream, message) {
            Err(FrameError::Io(e)) if refused && is_closed(&e) => {
                return Err(AuthError::RefusedByServer)
            }
            written => written?,
        }
        // The whole reply within --timeout, however the server trickles it.
        match framing.read_frame(&mut WithDeadline::within(&mut self.stream, self.timeout)) {
            Ok(Some(reply)) => {
                self.accepted = true;
                Ok(reply)
            }
            Ok(None) | Err(FrameError::Truncated { .. }) if refused => {
                Err(AuthError::RefusedByServer)
            }
            Err(FrameError::Io(e)) if refused && is_closed(&e) => Err(AuthError::RefusedByServer),
            Ok(None) => Err(AuthError::ServerClosed),
            Err(FrameError::Io(e)) if net::is_timeout(&e) => Err(AuthError::TimedOut {
                waiting_for: "reply",
                after: self.timeout,
            }),
            Err(e) => Err(e.into()),
        }
    }
}

/// The peer closed or reset the connection.
fn is_closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

/// The lesson's stage in `00-tour`.
pub fn tour(t: &mut Tour) -> Result<(), TourError> {
    t.say(
        "The server and its clients share a key that never crosses the network. On connect the \
         server sends 32 random bytes; the client answers HMAC(key, challenge); the server \
         computes the same and compares in constant time. Right: a framed conversation. Wrong, \
         or silent: closed at once, so a refused client finds out on its first message.",
    );
    let key = Key::new(b"classroom secret".to_vec(), "the tour")?;
    let config = ServerConfig {
        key: key.clone(),
        digest: Digest::Sha256,
        auth_timeout: Duration::from_millis(500),
        replies: Replies::Echo,
        welcome: false,
        tracer: Tracer::off(),
    };
    let server =
        t.start_tcp(move |listener, log, shutdown| run_server(listener, &config, &log, &shutdown))?;
    let (port, lines) = (server.port(), &server.lines);

    let client = |key: &Key, digest| ClientConfig {
        key: key.clone(),
        digest,
        timeout: Duration::from_secs(5),
        welcome: false,
        tracer: Tracer::off(),
    };
    // Connects, answers, and sends a first message: where a refusal shows.
    let first_reply = |key: &Key, digest| {
        Session::connect("127.0.0.1", port, &client(key, digest))
            .and_then(|mut session| session.ask(b"hello"))
    };
    t.step("a client with the right key answers the challenge, then talks");
    let mut session = Session::connect("127.0.0.1", port, &client(&key, Digest::Sha256))?;
    t.expect_log("server", lines, "authenticated")?;
    let reply = session.ask(b"hello")?;
    t.expect_log("server", lines, "replied")?;
    t.show("client", &format!("reply: {}", escape_bytes(&reply)));
    t.check(reply == b"HELLO", "the right key gets a conversation")?;
    drop(session);
    t.expect_log("server", lines, "gone")?;

    t.step("a client with the wrong key");
    let wrong = Key::new(b"a guess".to_vec(), "the tour")?;
    let refused = first_reply(&wrong, Digest::Sha256);
    let line = t.expect_log("server", lines, "refused")?;
    t.show("client", &result_text(&refused));
    t.check(
        matches!(refused, Err(AuthError::RefusedByServer)) && line.contains("wrong answer"),
        "a wrong key is closed at once, before any conversation, and logged",
    )?;

    t.step("the right key but --digest md5 against a sha256 server");
    let refused = first_reply(&key, Digest::Md5);
    t.expect_log("server", lines, "refused")?;
    t.show("client", &result_text(&refused));
    t.check(
        matches!(refused, Err(AuthError::RefusedByServer)),
        "both sides must use the same digest",
    )?;

    t.step("a client that connects and never answers (--auth-timeout 0.5 s here)");
    let mut silent = net::connect_tcp("127.0.0.1", port)?;
    silent.set_read_timeout(Some(Duration::from_secs(5)))?;
    let line = t.expect_log("server", lines, "refused")?;
    let mut rest = Vec::new();
    let _ = silent.read_to_end(&mut rest);
    t.check(
        line.contains("no answer within") && rest.len() == CHALLENGE_LEN,
        "a silent client gets its challenge, then nothing but the closed connection",
    )?;

    server.server.stop().map_err(TourError::new)?;
    t.say(
        "A fresh challenge every time means a recorded answer is useless later (no replay). \
         But the conversation after the handshake is plain text, and anyone who can change \
         the traffic can take over an authenticated connection: that is what TLS is for.",
    );
    Ok(())
}

fn result_text(result: &Result<Vec<u8>, AuthError>) -> String {
    match result {
        Ok(reply) => format!("reply: {}", escape_bytes(reply)),
        Err(e) => format!("error: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(bytes: &[u8]) -> Key {
        Key::new(bytes.to_vec(), "test").unwrap()
    }

    #[test]
    fn answers_match_python_hmac() {
        // hmac.new(b'key', b'The quick brown fox jumps over the lazy dog', hashlib.sha256 / md5)
        let message = b"The quick brown fox jumps over the lazy dog";
        assert_eq!(
            hex::encode(Digest::Sha256.answer(&key(b"key"), message).unwrap()),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
        assert_eq!(
            hex::encode(Digest::Md5.answer(&key(b"key"), message).unwrap()),
            "80070713463e7749b90c2dc24911e275"
        );
    }

    #[test]
    fn verify_accepts_only_the_right_answer() {
        let challenge = new_challenge().unwrap();
        let right = Digest::Sha256.answer(&key(b"k"), &challenge).unwrap();
        assert!(Digest::Sha256
            .verify(&key(b"k"), &challenge, &right)
            .unwrap());
        assert!(!Digest::Sha256
            .verify(&key(b"K"), &challenge, &right)
            .unwrap());
        assert!(!Digest::Md5.verify(&key(b"k"), &challenge, &right).unwrap());
        assert!(!Digest::Sha256
            .verify(&key(b"k"), &challenge, &right[..31])
            .unwrap());
    }

    #[test]
    fn challenges_are_fresh() {
        assert_ne!(new_challenge().unwrap(), new_challenge().unwrap());
    }

    #[test]
    fn key_files_lose_exactly_one_trailing_newline() {
        assert_eq!(strip_one_newline(b"abc\n".to_vec()), b"abc");
        assert_eq!(strip_one_newline(b"abc\r\n".to_vec()), b"abc");
        assert_eq!(strip_one_newline(b"abc\n\n".to_vec()), b"abc\n");
        assert_eq!(strip_one_newline(b" abc ".to_vec()), b" abc ");
        assert!(matches!(
            Key::new(strip_one_newline(b"\n".to_vec()), "f"),
            Err(AuthError::KeyEmpty(_))
        ));
    }

    #[test]
    fn key_debug_hides_the_key() {
        assert_eq!(format!("{:?}", key(b"secret")), "Key(6 bytes, hidden)");
    }
}
