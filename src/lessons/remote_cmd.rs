//! Lesson 07: the tutorials' toy remote shell, naive on purpose.
//!
//! The server reads a command with a single `recv(--bufsize)`, runs it through the system shell,
//! and sends back stdout then stderr as raw bytes, with nothing to say where the answer ends. The
//! client sends a command and does a single `recv(--bufsize)`. Ask for `seq 1 5000` (23893 bytes)
//! and then `echo hi`: the first answer is cut at `--bufsize`, and the second answer is not `hi`
//! but the next piece of `seq`'s output, which was still waiting in the client's receive buffer.
//! That is sticky packets (粘包) seen from the receiving side; lesson 09 shows the phenomenon
//! on its own and lesson 10 fixes this shell.
//!
//! How a command becomes an answer, and how a client prints one, is the same in lessons 08 and
//! 10 (this lesson over UDP, and done right): see [`crate::shell::answer`] and
//! [`crate::shell::terminal`].
//!
//! Tutorials: 000 §3, 001 §6, 002 (TCP remote commands), 003 (the incomplete output).

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use crate::escape::preview;
use crate::log::Log;
use crate::net::{self, NetError};
use crate::picture;
use crate::recording::Recorder;
use crate::server::Shutdown;
use crate::shell::answer::{answer_never_empty, count_command, count_output, execute};
use crate::shell::{self, Limits};
use crate::tour::{Tour, TourError};
use crate::trace::{Traced, Tracer};

/// What can go wrong in this lesson.
#[derive(Debug, thiserror::Error)]
pub enum RemoteCmdError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("connection error: {0}")]
    Io(#[from] io::Error),
    #[error("the server closed the connection")]
    Closed,
    #[error("no answer within {} (--timeout)", shell::seconds(*.0))]
    NoAnswer(Duration),
    #[error(
        "nothing to send: an empty command would be no bytes at all, and no answer would come"
    )]
    EmptyCommand,
}

/// How long the server waits for the next command before giving up on a silent client: this
/// server serves one client at a time, so a silent one holds up everyone behind it.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// How long the server keeps trying to send an answer to a client that is not reading.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Bytes asked for by the single `recv` that reads a command (`recv(1024)`).
    pub bufsize: usize,
    /// Time limit and output cap for each command.
    pub limits: Limits,
    /// `--trace`: one line per `send`/`recv`.
    pub tracer: Tracer,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bufsize: 1024,
            limits: Limits::default(),
            tracer: Tracer::off(),
        }
    }
}

/// Serves one client after another (the link loop, 链接循环, of lesson 03), until `shutdown`.
/// Nothing a client does ends the server: its errors are logged and the next client is served.
pub fn run_server(
    listener: TcpListener,
    config: &ServerConfig,
    log: &Log,
    shutdown: &Shutdown,
) -> Result<(), RemoteCmdError> {
    loop {
        let (conn, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                log.line(format!("accept failed: {e}"));
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if shutdown.is_requested() {
            return Ok(());
        }
        log.line(format!("client {peer} connected"));
        match serve_client(conn, peer, config, log) {
            Ok(()) => log.line(format!("client {peer} gone")),
            Err(e) => log.line(format!("client {peer} dropped: {e}")),
        }
    }
}

/// The communication loop (通信循环) with one client: one read, one command, one answer.
fn serve_client(
    conn: TcpStream,
    peer: SocketAddr,
    config: &ServerConfig,
    log: &Log,
) -> Result<(), RemoteCmdError> {
    conn.set_read_timeout(Some(IDLE_TIMEOUT))?;
    conn.set_write_timeout(Some(SEND_TIMEOUT))?;
    let mut conn = config.tracer.wrap(conn);
    let mut buf = vec![0u8; config.bufsize.max(1)];
    loop {
        // The naive part: one read is taken to be one whole command. A command longer than
        // `bufsize` is cut, and its rest is read as the next command.
        let n = net::recv(&mut conn, &mut buf)?;
        if n == 0 {
            return Ok(());
        }
        let command = buf.get(..n).unwrap_or_default();
        let outcome = execute(command, &config.limits, log, peer);
        // Never empty: zero bytes would be no `send` at all, and the client would wait for ever.
        let answer = answer_never_empty(&outcome, &config.limits);
        // Raw bytes, nothing saying how many: the client cannot know where this answer ends.
        conn.write_all(&answer)?;
        log.line(format!("sent {} bytes to {peer}", answer.len()));
    }
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Bytes asked for by the single `recv` that reads an answer.
    pub bufsize: usize,
    /// How long to wait for an answer.
    pub timeout: Duration,
    pub tracer: Tracer,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            bufsize: 1024,
            timeout: Duration::from_secs(60),
            tracer: Tracer::off(),
        }
    }
}

/// The tutorials' client: send a command, `recv(bufsize)` once, call that the answer.
pub struct Client {
    conn: Traced<TcpStream>,
    buf: Vec<u8>,
    timeout: Duration,
}

impl Client {
    pub fn connect(host: &str, port: u16, config: &ClientConfig) -> Result<Client, RemoteCmdError> {
        let conn = net::connect_tcp_within(host, port, config.timeout)?;
        conn.set_read_timeout(Some(config.timeout))?;
        // A server that never reads must not block a send for ever either.
        conn.set_write_timeout(Some(config.timeout))?;
        Ok(Client {
            conn: config.tracer.wrap(conn),
            buf: vec![0u8; config.bufsize.max(1)],
            timeout: config.timeout,
        })
    }

    /// Sends `command` and returns what ONE read of `bufsize` bytes brings back: the beginning
    /// of its answer, or of an earlier answer that did not fit into earlier reads.
    pub fn ask(&mut self, command: &str) -> Result<Vec<u8>, RemoteCmdError> {
        if command.is_empty() {
            return Err(RemoteCmdError::EmptyCommand);
        }
        self.conn.write_all(command.as_bytes())?;
        let n = match net::recv(&mut self.conn, &mut self.buf) {
            Ok(n) => n,
            Err(e) if net::is_timeout(&e) => return Err(RemoteCmdError::NoAnswer(self.timeout)),
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            return Err(RemoteCmdError::Closed);
        }
        Ok(self.buf.get(..n).unwrap_or_default().to_vec())
    }
}

/// The lesson's stage in `00-tour`.
pub fn tour(t: &mut Tour) -> Result<(), TourError> {
    t.say(
        "The tutorials' remote shell: the server runs each command it receives and sends the \
         output back as raw bytes; the client reads the answer with ONE recv(1024). Nothing on \
         the wire says where an answer ends.",
    );
    // Every send and recv of both sides, for `00-tour --pictures`.
    let long = count_command(5000);
    let calls = Recorder::new(format!(
        "07-remote-cmd: '{long}', then 'echo hi'; the client reads each answer with ONE recv(1024)"
    ));
    let server_config = ServerConfig {
        tracer: Tracer::recording("server", &calls),
        ..ServerConfig::default()
    };
    let server = t.start_tcp(move |listener, log, shutdown| {
        run_server(listener, &server_config, &log, &shutdown)
    })?;
    let client_config = ClientConfig {
        tracer: Tracer::recording("client", &calls),
        ..ClientConfig::default()
    };
    let mut client = Client::connect("127.0.0.1", server.port(), &client_config)?;
    let expected = count_output(5000);

    t.step(&format!(
        "the client sends '{long}' ({} bytes of output) and calls recv(1024) once",
        expected.len()
    ));
    let first = client.ask(&long)?;
    t.expect_log("server", &server.lines, "sent")?;
    t.show(
        "client",
        &format!("recv {} bytes: {}", first.len(), preview(&first, 40)),
    );
    t.check(
        first.len() <= 1024 && expected.starts_with(&first),
        format!(
            "the answer is cut short: {} of {} bytes; the rest waits in the client's receive buffer",
            first.len(),
            expected.len()
        ),
    )?;

    t.step("the client sends 'echo hi' and calls recv(1024) once more");
    let second = client.ask("echo hi")?;
    t.expect_log("server", &server.lines, "sent")?;
    t.show(
        "client",
        &format!("recv {} bytes: {}", second.len(), preview(&second, 40)),
    );
    let rest = expected.get(first.len()..).unwrap_or_default();
    t.check(
        !second.starts_with(b"hi") && rest.starts_with(&second),
        "the 'answer' to echo hi is the next piece of the count: the old answer spilled over",
    )?;
    // Drawn before the client closes: what the server does after that depends on timing.
    t.picture("07-remote-cmd", || picture::render(&calls.recording()))?;
    drop(client);
    server.server.stop().map_err(TourError::new)?;
    t.say(
        "The bytes were all delivered, in order: TCP lost nothing. The client simply has no way \
         to know where one answer ends, so it reads a fixed amount and calls it an answer. \
         Lesson 10 sends the length first.",
    );
    Ok(())
}
