//! Lesson 08: the remote shell over UDP (tutorial 002).
//!
//! One datagram carries a command, one datagram carries its answer. UDP keeps message
//! boundaries: each `recvfrom` returns exactly one datagram, never half of one and never two
//! glued together. So the lesson 07 bug cannot happen here, and a different one takes its place:
//! if the client's buffer (`--bufsize`) is smaller than the answer, `recvfrom` returns the
//! beginning and the kernel throws the rest away. Nothing sticks to the next answer; the rest is
//! simply lost. TCP merges, UDP loses.
//!
//! An answer can never be longer than the largest UDP payload, 65507 bytes over IPv4 (65535 for
//! the IP packet, minus 20 for the IP header and 8 for the UDP header; 65527 over IPv6). The
//! server cuts longer output to fit and says so in the answer.
//!
//! The client tells the student when an answer was cut: it first *peeks* at the waiting datagram
//! (`recvmsg` with `MSG_PEEK`), which reports whether the datagram is longer than the buffer
//! (`MSG_TRUNC` in the returned flags) and, on Linux, how long it really is; then it reads it.
//! Python can do the same with `sock.recvmsg(bufsize)`, whose third result holds the flags.
//!
//! Tutorial: 002 (基于udp套接字模拟实现UDP远程执行命令, and why TCP sticks while UDP loses).

use std::io;
use std::mem::MaybeUninit;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use socket2::{MaybeUninitSlice, SockRef};

use crate::escape::preview;
use crate::log::Log;
use crate::net::{self, NetError};
use crate::server::Shutdown;
use crate::shell::answer::{
    answer_never_empty, count_command, count_output, execute, push_note, timeout_note, Outcome,
    LINE_END,
};
use crate::shell::{self, Limits};
use crate::tour::{Tour, TourError};
use crate::trace::Tracer;

/// The largest UDP payload over IPv4: 65535 - 20 (IP header) - 8 (UDP header).
pub const MAX_PAYLOAD_V4: usize = 65_507;
/// The largest UDP payload over IPv6 (without jumbograms): 65535 - 8 (UDP header).
pub const MAX_PAYLOAD_V6: usize = 65_527;
/// Room kept free in an answer for the notes that may follow the output.
const NOTE_ROOM: usize = 256;
/// The server's receive buffer: big enough for any datagram, so a command is never cut.
const COMMAND_BUFFER: usize = 65_536;

/// What can go wrong in this lesson.
#[derive(Debug, thiserror::Error)]
pub enum UdpCmdError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("socket error: {0}")]
    Io(#[from] io::Error),
    #[error(
        "no answer within {} (--timeout). UDP cannot tell a missing server from a lost \
         datagram: is the server running, on that host and port?",
        shell::seconds(*.0)
    )]
    NoAnswer(Duration),
}

/// The largest answer the server can send from a socket bound to `addr`.
pub fn max_payload(addr: &SocketAddr) -> usize {
    if addr.is_ipv4() {
        MAX_PAYLOAD_V4
    } else {
        MAX_PAYLOAD_V6
    }
}

/// Server settings.
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// Time limit and output cap for each command (the cap is lowered to what fits in a
    /// datagram).
    pub limits: Limits,
    pub tracer: Tracer,
}

/// Answers commands until `shutdown`, one at a time.
///
/// One at a time is the tutorial's design and fine for a lesson: UDP has no connections to hand
/// to threads, every client talks to this one socket, and a command is bounded by
/// `--cmd-timeout`. The price is that a slow command delays everyone's answers (and a client
/// that gives up waiting may later take a late answer for the answer to its next command).
pub fn run_server(
    socket: UdpSocket,
    config: &ServerConfig,
    log: &Log,
    shutdown: &Shutdown,
) -> Result<(), UdpCmdError> {
    let payload_max = max_payload(&socket.local_addr()?);
    let room = payload_max - NOTE_ROOM;
    let limits = Limits {
        max_output: config.limits.max_output.min(room),
        ..config.limits
    };
    let mut buf = vec![0u8; COMMAND_BUFFER];
    loop {
        let (n, peer) = match socket.recv_from(&mut buf) {
            Ok(received) => received,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                if shutdown.is_requested() {
                    return Ok(());
                }
                // Windows reports "port unreachable" for an earlier answer here; nothing to
                // do but go on.
                log.line(format!("receive failed: {e}"));
                if e.kind() != io::ErrorKind::ConnectionReset {
                    std::thread::sleep(Duration::from_millis(100));
                }
                continue;
            }
        };
        if shutdown.is_requested() {
            return Ok(());
        }
        let command = buf.get(..n).unwrap_or_default();
        config.tracer.received(command);
        let outcome = execute(command, &limits, log, peer);
        let answer = datagram_answer(&outcome, &config.limits, room, payload_max);
        match socket.send_to(&answer, peer) {
            Ok(sent) => {
                config.tracer.sent(answer.get(..sent).unwrap_or_default());
                log.line(format!("sent {sent} bytes to {peer}"));
            }
            Err(e) => log.line(format!(
                "could not send {} bytes to {peer}: {e}",
                answer.len()
            )),
        }
    }
}

/// The answer as one datagram: output and notes as in lesson 07, never more than
/// `payload_max` bytes. `limits` are the server's own (to name the cap that cut the output).
fn datagram_answer(outcome: &Outcome, limits: &Limits, room: usize, payload_max: usize) -> Vec<u8> {
    let mut answer = match outcome {
        Outcome::Ran(output) if output.truncated && limits.max_output > room => {
            // Cut by the datagram size, not by --max-output: say so.
            let mut answer = output.combined();
            if output.timed_out {
                push_note(&mut answer, &timeout_note(limits.timeout));
            }
            push_note(
                &mut answer,
                &format!(
                    "[socklab: output cut at {room} bytes: one UDP datagram carries at most {payload_max}]"
                ),
            );
            answer
        }
        _ => answer_never_empty(outcome, limits),
    };
    // The output was capped at `room`, leaving space for the notes; this only guards it.
    answer.truncate(payload_max);
    answer
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The size of the buffer given to `recvfrom`: the most of an answer the client can get.
    pub bufsize: usize,
    /// How long to wait for an answer.
    pub timeout: Duration,
    pub tracer: Tracer,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            bufsize: 1024,
            timeout: Duration::from_secs(15),
            tracer: Tracer::off(),
        }
    }
}

/// One answer, as the client received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// What fitted into the buffer.
    pub bytes: Vec<u8>,
    /// What did not.
    pub lost: Lost,
}

/// How much of a datagram did not fit into the client's buffer and was thrown away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lost {
    Nothing,
    /// This many bytes (Linux reports the datagram's real length).
    Bytes(usize),
    /// Some; this system only says that the datagram was cut.
    Unknown,
}

/// The tutorial's UDP client: `sendto` a command, `recvfrom(bufsize)` the answer.
pub struct Client {
    socket: UdpSocket,
    server: SocketAddr,
    buf: Vec<u8>,
    /// Scratch space for the peek; its contents are never looked at.
    peek_buf: Vec<MaybeUninit<u8>>,
    config: ClientConfig,
}

impl Client {
    /// A UDP socket for talking to `host:port`. Nothing is sent yet: UDP has no connection, so
    /// this succeeds even when no server is there.
    pub fn new(host: &str, port: u16, config: &ClientConfig) -> Result<Client, UdpCmdError> {
        let (socket, server) = net::udp_client(host, port)?;
        let size = config.bufsize.max(1);
        Ok(Client {
            socket,
            server,
            buf: vec![0u8; size],
            peek_buf: vec![MaybeUninit::uninit(); size],
            config: config.clone(),
        })
    }

    /// Sends `command` in one datagram and returns the answer datagram, or as much of it as
    /// fits into `bufsize` bytes.
    pub fn ask(&mut self, command: &str) -> Result<Answer, UdpCmdError> {
        self.socket.send_to(command.as_bytes(), self.server)?;
        self.config.tracer.sent(command.as_bytes());
        // A timeout of centuries is past what the clock can add: then there is no deadline.
        let deadline = Instant::now().checked_add(self.config.timeout);
        loop {
            let left = deadline.map_or(self.config.timeout, |at| {
                at.saturating_duration_since(Instant::now())
            });
            if left.is_zero() {
                return Err(UdpCmdError::NoAnswer(self.config.timeout));
            }
            self.socket.set_read_timeout(Some(left))?;
            let waiting = match self.peek() {
                Ok(waiting) => waiting,
                Err(e) if net::is_timeout(&e) => {
                    return Err(UdpCmdError::NoAnswer(self.config.timeout))
                }
                // A signal, or the process stopped and resumed: look again.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            // Now take it off the queue for real, as much as fits (on Windows too, where a
            // plain recvfrom fails with WSAEMSGSIZE for a datagram longer than the buffer).
            let (n, _, _) = net::recv_from_cut(&self.socket, &mut self.buf)?;
            if waiting.from != Some(self.server) {
                continue; // Not from our server: anyone can send a datagram to any port.
            }
            let bytes = self.buf.get(..n).unwrap_or_default().to_vec();
            self.config.tracer.received(&bytes);
            let lost = if !waiting.truncated {
                Lost::Nothing
            } else if waiting.len > n {
                Lost::Bytes(waiting.len - n)
            } else {
                Lost::Unknown
            };
            return Ok(Answer { bytes, lost });
        }
    }

    /// Looks at the next datagram without taking it: who sent it, whether it is longer than
    /// our buffer and, where the system says, how long it is.
    fn peek(&mut self) -> io::Result<Waiting> {
        let socket = SockRef::from(&self.socket);
        let mut bufs = [MaybeUninitSlice::new(&mut self.peek_buf)];
        let (len, flags, from) = socket.recv_from_vectored_with_flags(&mut bufs, PEEK_FLAGS)?;
        Ok(Waiting {
            len,
            truncated: flags.is_truncated(),
            from: from.as_socket(),
        })
    }
}

/// What a peek learnt about the next datagram.
struct Waiting {
    /// Its length on Linux (thanks to MSG_TRUNC); elsewhere at most the buffer size.
    len: usize,
    truncated: bool,
    from: Option<SocketAddr>,
}

/// `MSG_PEEK` leaves the datagram queued. On Linux `MSG_TRUNC` as an input flag makes the call
/// return the datagram's real length even when it is longer than the buffer.
#[cfg(any(target_os = "linux", target_os = "android"))]
const PEEK_FLAGS: std::os::raw::c_int = libc::MSG_PEEK | libc::MSG_TRUNC;
#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
const PEEK_FLAGS: std::os::raw::c_int = libc::MSG_PEEK;
/// `MSG_PEEK` in winsock2.h.
#[cfg(windows)]
const PEEK_FLAGS: std::os::raw::c_int = 2;

/// The line the client prints (on stderr) when an answer did not fit.
pub fn lost_note(lost: Lost, bufsize: usize) -> Option<String> {
    match lost {
        Lost::Nothing => None,
        Lost::Bytes(n) => Some(format!(
            "socklab: answer truncated: {n} bytes lost (the datagram was longer than \
             --bufsize {bufsize}; UDP drops what does not fit)"
        )),
        Lost::Unknown => Some(format!(
            "socklab: answer truncated: the datagram was longer than --bufsize {bufsize} and \
             the rest is lost (this system does not say how much)"
        )),
    }
}

/// The lesson's stage in `00-tour`.
pub fn tour(t: &mut Tour) -> Result<(), TourError> {
    t.say(
        "The same remote shell over UDP: one datagram per command, one per answer. The \
         client's recvfrom(200) gets at most 200 bytes of each answer.",
    );
    let server = t.start_udp(|socket, log, shutdown| {
        run_server(socket, &ServerConfig::default(), &log, &shutdown)
    })?;
    let config = ClientConfig {
        bufsize: 200,
        ..ClientConfig::default()
    };
    let mut client = Client::new("127.0.0.1", server.port(), &config)?;

    let long = count_command(5000);
    t.step(&format!(
        "the client sends '{long}' ({} bytes of output) and calls recvfrom(200)",
        count_output(5000).len()
    ));
    let first = client.ask(&long)?;
    t.expect_log("server", &server.lines, "sent")?;
    t.show(
        "client",
        &format!(
            "recvfrom {} bytes: {}",
            first.bytes.len(),
            preview(&first.bytes, 40)
        ),
    );
    if let Some(note) = lost_note(first.lost, 200) {
        t.show("client", &note);
    }
    t.check(
        first.bytes.len() == 200
            && count_output(5000).starts_with(&first.bytes)
            && first.lost != Lost::Nothing,
        "the answer is cut at 200 bytes, and the kernel says the rest was dropped",
    )?;

    t.step("the client sends 'echo hi'");
    let second = client.ask("echo hi")?;
    t.expect_log("server", &server.lines, "sent")?;
    t.show(
        "client",
        &format!("recvfrom: {}", preview(&second.bytes, 40)),
    );
    t.check(
        second.bytes == [&b"hi"[..], LINE_END].concat() && second.lost == Lost::Nothing,
        "the next answer is its own: nothing of the first one stuck to it",
    )?;
    server.server.stop().map_err(TourError::new)?;
    t.say(
        "TCP is a byte stream: it never loses bytes, but it does not keep your message \
         boundaries (lesson 07). UDP keeps every boundary, but a datagram that does not fit is \
         cut and the rest is gone. TCP merges, UDP loses.",
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::answer::NO_OUTPUT;
    use crate::shell::CommandOutput;

    #[test]
    fn a_long_answer_is_cut_to_one_datagram_with_a_note() {
        let room = MAX_PAYLOAD_V4 - NOTE_ROOM;
        let output = CommandOutput {
            stdout: vec![b'x'; room],
            truncated: true,
            ..CommandOutput::default()
        };
        let answer = datagram_answer(
            &Outcome::Ran(output),
            &Limits::default(),
            room,
            MAX_PAYLOAD_V4,
        );
        assert!(answer.len() <= MAX_PAYLOAD_V4);
        assert!(answer.ends_with(b"one UDP datagram carries at most 65507]\n"));
    }

    #[test]
    fn empty_output_gets_the_placeholder() {
        let answer = datagram_answer(
            &Outcome::Ran(CommandOutput::default()),
            &Limits::default(),
            1000,
            MAX_PAYLOAD_V4,
        );
        assert_eq!(answer, NO_OUTPUT);
    }
}
