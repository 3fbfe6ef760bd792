//! The command-line convention every lesson binary follows.
//!
//! Once a student has run one lesson, they can run them all: `NN-name server` in one terminal,
//! `NN-name client` in another, `--host`/`--port` to choose where (port 9000 + the lesson number
//! by default), messages as arguments or typed at a `>>: ` prompt. The pieces here are flattened
//! into each binary's clap parser so the flags are spelled the same everywhere.
//!
//! Clients print what came back with [`print_line`], not `println!`: a client piped into
//! `head -1` must stop quietly when `head` goes away, where `println!` would panic.

use std::fmt::Display;
use std::io::{self, BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Args;

use crate::framing::LengthOrder;

/// A server's `--host` and `--port`. `PORT` is the lesson's default port (9000 + lesson number).
#[derive(Args, Debug, Clone)]
pub struct Endpoint<const PORT: u16> {
    /// Address to listen on. Use 0.0.0.0 or :: to let the whole classroom LAN connect (the
    /// remote-shell lessons 07, 08 and 10 also need --allow-remote for that).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// TCP/UDP port. 0 lets the operating system choose a free one (the `listening on` line
    /// shows which).
    #[arg(long, default_value_t = PORT)]
    pub port: u16,
}

/// A client's `--host` and `--port`: the same flags as [`Endpoint`], with help that speaks of
/// connecting, since that is what a client does with them.
#[derive(Args, Debug, Clone)]
pub struct Remote<const PORT: u16> {
    /// Address to connect to: the server's IP address or host name.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// The server's TCP/UDP port.
    #[arg(long, default_value_t = PORT)]
    pub port: u16,
}

/// `--bufsize`: how many bytes one `recv` asks for, in lessons that read with a fixed buffer.
#[derive(Args, Debug, Clone)]
pub struct BufSize {
    /// Bytes asked for by each read (the tutorials' `recv(1024)`); over UDP, the longest
    /// datagram kept whole (the rest of a longer one is lost). Make it small to watch what
    /// changes.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=16 * 1024 * 1024))]
    pub bufsize: u32,
}

impl BufSize {
    pub fn get(&self) -> usize {
        self.bufsize as usize
    }
}

/// Where a client's messages come from: the command line, or standard input.
///
/// With messages on the command line, those are sent and the client exits. Otherwise lines are
/// read from standard input until it ends or the user types `quit`. Empty lines are skipped:
/// `send(b"")` sends nothing at all, so a server waiting in `recv` would never wake up and the
/// client would then wait for a reply for ever (the tutorials' "empty input blocks" problem).
pub fn messages(args: Vec<String>) -> Box<dyn Iterator<Item = String>> {
    if !args.is_empty() {
        return Box::new(args.into_iter());
    }
    let interactive = std::io::stdin().is_terminal();
    Box::new(StdinMessages {
        interactive,
        keep_empty: false,
    })
}

/// Like [`messages`], but an empty line of stdin is kept and yielded as an empty message.
///
/// For UDP lessons where an empty datagram means something: unlike TCP's `send(b"")`, which
/// sends nothing, `sendto(b"", addr)` sends a real (empty) datagram, and the server's
/// `recvfrom` returns it.
pub fn messages_keeping_empty(args: Vec<String>) -> Box<dyn Iterator<Item = String>> {
    if !args.is_empty() {
        return Box::new(args.into_iter());
    }
    let interactive = std::io::stdin().is_terminal();
    Box::new(StdinMessages {
        interactive,
        keep_empty: true,
    })
}

struct StdinMessages {
    interactive: bool,
    keep_empty: bool,
}

/// True while the `>>: ` prompt is on the screen waiting for a line, so that a line arriving
/// from the network meanwhile knows it must redraw the prompt (see [`print_line_at_prompt`]).
static PROMPT_SHOWN: AtomicBool = AtomicBool::new(false);

/// The prompt an interactive client shows before each line it reads.
pub const PROMPT: &str = ">>: ";

impl Iterator for StdinMessages {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        loop {
            if self.interactive {
                // `write!`, not `print!`: a closed stdout must not panic (see [`print_line`]).
                // The flag changes under the stdout lock, as [`print_line_at_prompt`] reads it:
                // a line from the network comes either before the prompt or after it, whole.
                let mut out = io::stdout().lock();
                PROMPT_SHOWN.store(true, Ordering::Relaxed);
                let _ = write!(out, "{PROMPT}");
                let _ = out.flush();
            }
            let mut line = String::new();
            let read = std::io::stdin().lock().read_line(&mut line);
            if self.interactive {
                let _out = io::stdout().lock();
                PROMPT_SHOWN.store(false, Ordering::Relaxed);
            }
            match read {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() && !self.keep_empty {
                continue;
            }
            if line == "quit" {
                return None;
            }
            return Some(line.to_string());
        }
    }
}

/// Runs a binary's body and turns any error into one line on stderr and exit code 1, instead of
/// a panic and a backtrace. [`StdoutClosed`] is not an error: the reader of our output went
/// away (`| head -1`), so we stop quietly, with exit code 0.
pub fn run(body: impl FnOnce() -> anyhow::Result<()>) -> ExitCode {
    let outcome = body();
    // A server's last log lines may still be on their way to stdout (see `log`).
    crate::log::flush_stdout();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<StdoutClosed>() => ExitCode::SUCCESS,
        // A report (a checker's) has already said everything.
        Err(e) if e.is::<Reported>() => {
            ExitCode::from(e.downcast_ref::<Reported>().map_or(1, |r| r.status))
        }
        Err(e) => {
            // `writeln!`, not `eprintln!`, which would panic if stderr were closed too.
            let _ = writeln!(io::stderr().lock(), "error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The program has already said everything on its output (a checker's report): [`run`] exits
/// with `status` and prints no further line.
#[derive(Debug, thiserror::Error)]
#[error("exit status {status}")]
pub struct Reported {
    pub status: u8,
}

/// Standard output was closed by whoever reads it, say `head -1` after its one line. Not a
/// failure: the client should stop, quietly. [`run`] exits with code 0 when it sees this.
#[derive(Debug, thiserror::Error)]
#[error("standard output was closed")]
pub struct StdoutClosed;

/// Prints one line on standard output, flushed at once, for a client's replies.
///
/// `println!` panics ("failed printing to stdout") when the program reading our output has gone
/// away: Rust ignores SIGPIPE, so a write to a closed pipe fails with `BrokenPipe` instead of
/// killing the process, and `println!` turns that failure into a panic. This returns
/// [`StdoutClosed`] instead, which `?` carries up to [`run`]. Other write errors (a full disk
/// behind `> file`) are real errors.
pub fn print_line(line: impl Display) -> anyhow::Result<()> {
    // Log lines queued before this line come out before it.
    crate::log::flush_stdout();
    let mut out = io::stdout().lock();
    match writeln!(out, "{line}").and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        Err(e) => Err(anyhow::Error::new(e).context("could not write to standard output")),
    }
}

/// Prints a line that arrived from the network while the user may be sitting at the `>>: `
/// prompt (lesson 05's receiving thread), then draws the prompt again.
///
/// Without this the incoming line is glued after `>>: ` and the prompt is gone, so the user
/// types on an empty line. `\r` goes back to the start of the line and `ESC [K` erases it; what
/// the user had half typed stays in the terminal's input buffer (only the picture of it is
/// erased) and is still sent when they press Enter. When no prompt is showing (stdin is not a
/// terminal, or the client is not waiting for a line) this is [`print_line`].
pub fn print_line_at_prompt(line: impl Display) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    let written = if PROMPT_SHOWN.load(Ordering::Relaxed) && out.is_terminal() {
        write!(out, "\r\x1b[K{line}\n{PROMPT}")
    } else {
        writeln!(out, "{line}")
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        Err(e) => Err(anyhow::Error::new(e).context("could not write to standard output")),
    }
}

/// The error and its causes on one line, `outer: inner: innermost`, skipping a cause whose text
/// the line already holds (many errors quote their source in their own message).
pub fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// `--byte-order little|big`: how a frame's 4-byte length is written. Little-endian is what the
/// tutorials' `struct.pack('i', n)` produces on x86 and ARM; big-endian is "network order",
/// `struct.pack('!I', n)`, what real protocols use.
pub fn length_order_parser() -> impl clap::builder::TypedValueParser<Value = LengthOrder> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(["little", "big"]).map(|order| match order.as_str() {
        "big" => LengthOrder::Big,
        _ => LengthOrder::Little,
    })
}
