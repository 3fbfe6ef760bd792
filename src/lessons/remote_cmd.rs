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
//! The answer-building pieces here ([`execute`], [`answer_text`], the notes) and the client-side
//! [`Decoding`] are shared with lessons 08 and 10, which are this lesson done over UDP and done
//! right.
//!
//! Tutorials: 000 §3, 001 §6, 002 (TCP remote commands), 003 (the incomplete output).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use encoding_rs::{CoderResult, Decoder, Encoding, UTF_8};

use crate::escape::preview;
use crate::log::Log;
use crate::net::{self, NetError};
use crate::server::{Background, Shutdown};
use crate::shell::{self, CommandOutput, Limits};
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

/// What the server sends when a command printed nothing: the tutorials' "cmd has no output".
/// Without it the server would send zero bytes, which is no `send` at all, and the client would
/// wait in `recv` for ever.
pub const NO_OUTPUT: &[u8] = b"(no output)";

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
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        let command = buf.get(..n).unwrap_or_default();
        let outcome = execute(command, &config.limits, log, peer);
        let mut answer = answer_text(&outcome, &config.limits);
        if answer.is_empty() {
            answer = NO_OUTPUT.to_vec();
        }
        // Raw bytes, nothing saying how many: the client cannot know where this answer ends.
        conn.write_all(&answer)?;
        log.line(format!("sent {} bytes to {peer}", answer.len()));
    }
}

/// What the server makes of one command.
#[derive(Debug)]
pub enum Outcome {
    /// The command ran (perhaps killed at a limit).
    Ran(CommandOutput),
    /// It could not run; the text says why (the command was not UTF-8 text, the shell would
    /// not start).
    Refused(String),
}

/// Decodes `command`, runs it within `limits` and logs what happened. Garbage is not an error
/// for the server: it becomes an answer that says what was wrong.
pub fn execute(command: &[u8], limits: &Limits, log: &Log, peer: SocketAddr) -> Outcome {
    let Ok(text) = std::str::from_utf8(command) else {
        log.line(format!(
            "{peer} sent {} bytes that are not UTF-8 text: {}",
            command.len(),
            preview(command, 40)
        ));
        return Outcome::Refused(
            "the command is not valid UTF-8 text (send it encoded as UTF-8)".into(),
        );
    };
    log.line(format!("command from {peer}: {}", preview(command, 60)));
    match shell::run(text, limits) {
        Ok(output) => {
            log.line(format!("command done: {}", output.summary()));
            Outcome::Ran(output)
        }
        Err(e) => {
            log.line(format!("command failed: {e}"));
            Outcome::Refused(e.to_string())
        }
    }
}

/// The bytes of an answer: stdout then stderr, then one line for each limit that was hit; or
/// an error line. Empty when the command printed nothing.
pub fn answer_text(outcome: &Outcome, limits: &Limits) -> Vec<u8> {
    match outcome {
        Outcome::Refused(why) => format!("socklab: error: {why}\n").into_bytes(),
        Outcome::Ran(output) => {
            let mut answer = output.combined();
            if output.timed_out {
                push_note(&mut answer, &timeout_note(limits.timeout));
            }
            if output.truncated {
                push_note(&mut answer, &cap_note(limits.max_output));
            }
            answer
        }
    }
}

/// The line that tells the client its command was killed at the time limit.
pub fn timeout_note(limit: Duration) -> String {
    format!(
        "[socklab: command killed after {} (--cmd-timeout)]",
        shell::seconds(limit)
    )
}

/// The line that tells the client its answer was cut at the output cap.
pub fn cap_note(max_output: usize) -> String {
    format!("[socklab: output cut at {max_output} bytes (--max-output)]")
}

/// Appends `note` on a line of its own.
pub fn push_note(answer: &mut Vec<u8>, note: &str) {
    if !answer.is_empty() && !answer.ends_with(b"\n") {
        answer.push(b'\n');
    }
    answer.extend_from_slice(note.as_bytes());
    answer.push(b'\n');
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
        let conn = net::connect_tcp(host, port)?;
        conn.set_read_timeout(Some(config.timeout))?;
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
        let n = match self.conn.read(&mut self.buf) {
            Ok(n) => n,
            Err(e) if is_timeout(&e) => return Err(RemoteCmdError::NoAnswer(self.timeout)),
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            return Err(RemoteCmdError::Closed);
        }
        Ok(self.buf.get(..n).unwrap_or_default().to_vec())
    }
}

/// Did a read give up because of its timeout? (Unix says WouldBlock, Windows TimedOut.)
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Parses `--encoding`: any label the WHATWG Encoding Standard knows (`utf-8`, `gbk`,
/// `gb18030`, `big5`, `shift_jis`, `windows-1252`, ...).
pub fn parse_encoding(label: &str) -> Result<&'static Encoding, String> {
    Encoding::for_label(label.trim().as_bytes())
        .ok_or_else(|| format!("unknown encoding '{label}' (try utf-8 or gbk)"))
}

/// Writes a server's answer as text in the terminal's UTF-8.
///
/// A Windows server answers in its console's code page (GBK on a Chinese Windows), which is why
/// the tutorials' clients call `decode('gbk')`. With `--encoding gbk` this decodes it. With the
/// default UTF-8 the bytes pass through unchanged, so what is printed is exactly what arrived.
/// The decoder keeps a character split across two writes whole, so an answer streamed in
/// pieces decodes as well as one in a single piece.
pub struct Decoding<W: Write> {
    decoder: Option<Decoder>,
    out: W,
}

impl<W: Write> Decoding<W> {
    pub fn new(encoding: &'static Encoding, out: W) -> Decoding<W> {
        let decoder = if encoding == UTF_8 {
            None
        } else {
            Some(encoding.new_decoder_without_bom_handling())
        };
        Decoding { decoder, out }
    }

    /// Ends the text (an incomplete character at the very end becomes U+FFFD) and returns the
    /// writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.decode(&[], true)?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn decode(&mut self, mut input: &[u8], last: bool) -> io::Result<()> {
        let Some(decoder) = &mut self.decoder else {
            return self.out.write_all(input);
        };
        loop {
            let mut text = String::with_capacity(4096);
            let (result, read, _had_errors) = decoder.decode_to_string(input, &mut text, last);
            self.out.write_all(text.as_bytes())?;
            input = input.get(read..).unwrap_or_default();
            if result == CoderResult::InputEmpty {
                return Ok(());
            }
        }
    }
}

impl<W: Write> Write for Decoding<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.decode(buf, false)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Prints one answer as Python's `print(data.decode(...))` would, except that a newline is
/// added only when the answer does not already end with one.
pub fn print_answer(answer: &[u8], encoding: &'static Encoding, out: impl Write) -> io::Result<()> {
    let mut text = Decoding::new(encoding, out);
    text.write_all(answer)?;
    if !answer.is_empty() && !answer.ends_with(b"\n") {
        text.write_all(b"\n")?;
    }
    text.finish()?;
    Ok(())
}

/// What `seq 1 N` prints, to compare answers with.
pub fn seq_output(n: u32) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 1..=n {
        out.extend_from_slice(format!("{i}\n").as_bytes());
    }
    out
}

/// The lesson's stage in `00-tour`.
pub fn tour(t: &mut Tour) -> Result<(), TourError> {
    t.say(
        "The tutorials' remote shell: the server runs each command it receives and sends the \
         output back as raw bytes; the client reads the answer with ONE recv(1024). Nothing on \
         the wire says where an answer ends.",
    );
    let listener = net::listen_tcp("127.0.0.1", 0, &net::ListenOptions::default())?;
    let (log, lines) = Log::channel();
    net::announce_listening(listener.local_addr()?, &log);
    let port = listener.local_addr()?.port();
    let server = Background::tcp(listener, move |l, s| {
        run_server(l, &ServerConfig::default(), &log, &s)
    })?;
    t.expect_log("server", &lines, "listening on")?;
    let mut client = Client::connect("127.0.0.1", port, &ClientConfig::default())?;
    let expected = seq_output(5000);

    t.step("the client sends 'seq 1 5000' (23893 bytes of output) and calls recv(1024) once");
    let first = client.ask("seq 1 5000")?;
    t.expect_log("server", &lines, "sent")?;
    t.show(
        "client",
        &format!("recv {} bytes: {}", first.len(), preview(&first, 40)),
    );
    t.check(
        first.len() <= 1024 && expected.starts_with(&first),
        format!(
            "the answer is cut short: {} of 23893 bytes; the rest waits in the client's receive buffer",
            first.len()
        ),
    )?;

    t.step("the client sends 'echo hi' and calls recv(1024) once more");
    let second = client.ask("echo hi")?;
    t.expect_log("server", &lines, "sent")?;
    t.show(
        "client",
        &format!("recv {} bytes: {}", second.len(), preview(&second, 40)),
    );
    let rest = expected.get(first.len()..).unwrap_or_default();
    t.check(
        !second.starts_with(b"hi") && rest.starts_with(&second),
        "the 'answer' to echo hi is the next piece of seq's output: the old answer spilled over",
    )?;
    drop(client);
    server.stop().map_err(TourError::new)?;
    t.say(
        "The bytes were all delivered, in order: TCP lost nothing. The client simply has no way \
         to know where one answer ends, so it reads a fixed amount and calls it an answer. \
         Lesson 10 sends the length first.",
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_go_on_their_own_line() {
        let mut answer = b"partial".to_vec();
        push_note(&mut answer, "[note]");
        assert_eq!(answer, b"partial\n[note]\n");
        let mut answer = b"line\n".to_vec();
        push_note(&mut answer, "[note]");
        assert_eq!(answer, b"line\n[note]\n");
        let mut answer = Vec::new();
        push_note(&mut answer, "[note]");
        assert_eq!(answer, b"[note]\n");
    }

    #[test]
    fn garbage_is_answered_not_run() {
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let outcome = execute(b"\xff\xfe", &Limits::default(), &Log::silent(), peer);
        let answer = answer_text(&outcome, &Limits::default());
        assert!(answer.starts_with(b"socklab: error: the command is not valid UTF-8"));
    }

    #[test]
    fn gbk_is_decoded_even_when_split() {
        let gbk = encoding_rs::GBK.encode("你好").0.into_owned();
        let mut out = Decoding::new(parse_encoding("gbk").unwrap(), Vec::new());
        // Split in the middle of the first character.
        out.write_all(&gbk[..1]).unwrap();
        out.write_all(&gbk[1..]).unwrap();
        assert_eq!(out.finish().unwrap(), "你好".as_bytes());
    }

    #[test]
    fn utf8_passes_through_unchanged() {
        let mut out = Vec::new();
        print_answer(b"a\xffb", UTF_8, &mut out).unwrap();
        assert_eq!(out, b"a\xffb\n");
        assert!(parse_encoding("klingon").is_err());
    }

    #[test]
    fn seq_output_matches_the_real_size() {
        assert_eq!(seq_output(5000).len(), 23893);
    }
}
