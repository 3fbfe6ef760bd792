//! Lesson 05: a UDP chat relay.
//!
//! UDP has no connections, so the server cannot "have" clients the way a TCP server does. It
//! remembers instead: every address a datagram came from joins the chat, and each message is
//! sent on to every remembered address, the sender included, prefixed with the sender's label
//! (`127.0.0.1:5555: hello`, or a nickname chosen with `/nick NAME`). Because nobody ever
//! "disconnects" in UDP, the server forgets an address that has been silent for `--idle` seconds
//! and bounds how many it remembers.
//!
//! The client needs two things at once: read the keyboard and receive relayed messages. The
//! tutorial's client does them in turn, so it only sees what others said right after it speaks
//! itself. Here a receiving thread prints messages as they arrive while the main thread sends.
//!
//! The wire format, for writing your own client (all text is UTF-8):
//!
//! | you send                 | you get back                                                    |
//! | ------------------------ | --------------------------------------------------------------- |
//! | an empty datagram        | `* welcome ...` if you were not in the chat (joins you)        |
//! | `/nick NAME`             | `* you are now NAME`, or `* error: ...`                         |
//! | `/leave`                 | `* bye` (the server forgets you)                                |
//! | any other text           | `LABEL: text`, sent to everyone in the chat, you included       |
//!
//! Lines from the server itself start with `* `. After `--idle` seconds of silence you get
//! `* you were silent ...` and are forgotten; anything you send joins you again.
//!
//! Tutorials: 001 §7.3 (实现两个客户端之间的通信), 002 (UDP chat).

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError};

use crate::escape::preview;
use crate::lessons::udp_echo::{recv_datagram, UdpError, MAX_DATAGRAM};
use crate::log::Log;
use crate::net::{self, is_timeout};
use crate::server::Shutdown;
use crate::tour::{Tour, TourError};

/// Longest nickname, in characters.
pub const MAX_NICK_CHARS: usize = 16;

/// How socklab's server's answer to a client joining begins.
pub const WELCOME_PREFIX: &[u8] = b"* welcome ";
/// What the server answers to `/leave`.
pub const BYE: &[u8] = b"* bye";

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Size of the buffer given to `recv_from`: the longest message relayed whole.
    pub bufsize: usize,
    /// A client silent for this long is forgotten.
    pub idle: Duration,
    /// Most clients remembered at once; a new sender beyond that is turned away.
    pub max_clients: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bufsize: 1024,
            idle: Duration::from_secs(600),
            max_clients: 100,
        }
    }
}

/// Someone the server remembers.
#[derive(Debug)]
struct Member {
    nick: Option<String>,
    last_heard: Instant,
}

/// Everyone in the chat, by address.
#[derive(Debug, Default)]
struct Room {
    members: HashMap<SocketAddr, Member>,
}

impl Room {
    /// How the member at `addr` is shown: its nickname, or its address.
    fn label(&self, addr: SocketAddr) -> String {
        match self.members.get(&addr).and_then(|m| m.nick.clone()) {
            Some(nick) => nick,
            None => addr.to_string(),
        }
    }

    /// Removes and returns everyone silent for `idle` or longer, except `keep`.
    fn forget_idle(
        &mut self,
        now: Instant,
        idle: Duration,
        keep: Option<SocketAddr>,
    ) -> Vec<(SocketAddr, String)> {
        let expired: Vec<SocketAddr> = self
            .members
            .iter()
            .filter(|(addr, m)| {
                Some(**addr) != keep && now.saturating_duration_since(m.last_heard) >= idle
            })
            .map(|(addr, _)| *addr)
            .collect();
        expired
            .into_iter()
            .map(|addr| {
                let label = self.label(addr);
                self.members.remove(&addr);
                (addr, label)
            })
            .collect()
    }

    fn nick_taken(&self, nick: &str, by_other_than: SocketAddr) -> bool {
        self.members.iter().any(|(addr, m)| {
            *addr != by_other_than
                && m.nick
                    .as_deref()
                    .is_some_and(|taken| taken.to_lowercase() == nick.to_lowercase())
        })
    }
}

/// What one datagram asks for.
#[derive(Debug, PartialEq, Eq)]
enum Request<'a> {
    /// An empty datagram: join (or just say "still here").
    Join,
    Nick(&'a str),
    Leave,
    Unknown(String),
    Say(&'a [u8]),
}

fn parse_request(data: &[u8]) -> Request<'_> {
    if data.is_empty() {
        return Request::Join;
    }
    if !data.starts_with(b"/") {
        return Request::Say(data);
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return Request::Unknown(preview(data, 20));
    };
    let text = text.trim_end();
    let (command, argument) = text.split_once(' ').unwrap_or((text, ""));
    match command {
        "/nick" => Request::Nick(argument.trim()),
        "/leave" => Request::Leave,
        _ => Request::Unknown(preview(command.as_bytes(), 20)),
    }
}

/// Checks a nickname: 1 to [`MAX_NICK_CHARS`] letters, digits, `-`, `_` or `.`. No spaces and no
/// `:` or `*`, so a nickname cannot pose as an address, a server notice or another speaker.
pub fn validate_nick(nick: &str) -> Result<(), String> {
    if nick.is_empty() {
        return Err("usage: /nick NAME".into());
    }
    if nick.chars().count() > MAX_NICK_CHARS {
        return Err(format!(
            "nickname too long (at most {MAX_NICK_CHARS} characters)"
        ));
    }
    if !nick
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err("a nickname may hold only letters, digits, '-', '_' and '.'".into());
    }
    Ok(())
}

/// How often the server wakes up to forget idle clients when nobody talks.
fn tick(idle: Duration) -> Duration {
    (idle / 2).clamp(Duration::from_millis(10), Duration::from_secs(1))
}

/// Relays messages between everyone who writes to `socket` until `shutdown` is requested.
pub fn run_server(
    socket: UdpSocket,
    config: &ServerConfig,
    log: &Log,
    shutdown: &Shutdown,
) -> Result<(), UdpError> {
    // The read timeout makes recv_from return now and then even when nobody talks, so idle
    // clients are forgotten on time.
    socket.set_read_timeout(Some(tick(config.idle)))?;
    let mut buf = vec![0u8; config.bufsize.max(1)];
    let mut room = Room::default();
    loop {
        let received = recv_datagram(&socket, &mut buf);
        if shutdown.is_requested() {
            return Ok(());
        }
        let sender = received.as_ref().ok().map(|d| d.from);
        for (addr, label) in room.forget_idle(Instant::now(), config.idle, sender) {
            let silence = config.idle.as_secs_f32();
            let who = if label == addr.to_string() {
                label
            } else {
                format!("{label} ({addr})")
            };
            log.line(format!("forgot {who}: silent for {silence} s"));
            let notice = format!(
                "* you were silent for {silence} s and have been forgotten; send anything to rejoin"
            );
            send(&socket, notice.as_bytes(), addr, log);
        }
        let datagram = match received {
            Ok(datagram) => datagram,
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // Windows reports an ICMP "port unreachable" (a client that went away) here.
                log.line(format!("recv_from failed: {e}"));
                continue;
            }
        };
        let data = buf.get(..datagram.kept).unwrap_or_default();
        if datagram.truncated() {
            log.line(datagram.describe(data, config.bufsize));
        }
        handle(&socket, &mut room, datagram.from, data, config, log);
    }
}

/// Acts on one datagram from `from`.
fn handle(
    socket: &UdpSocket,
    room: &mut Room,
    from: SocketAddr,
    data: &[u8],
    config: &ServerConfig,
    log: &Log,
) {
    let now = Instant::now();
    let request = parse_request(data);
    if request == Request::Leave {
        let label = room.label(from);
        room.members.remove(&from);
        log.line(format!("{label} left ({} in the chat)", room.members.len()));
        send(socket, BYE, from, log);
        return;
    }
    let newcomer = !room.members.contains_key(&from);
    if newcomer {
        if room.members.len() >= config.max_clients {
            log.line(format!(
                "turned away {from}: the chat is full (--max-clients {})",
                config.max_clients
            ));
            let notice = format!(
                "* error: the chat is full ({} clients); try again later",
                config.max_clients
            );
            send(socket, notice.as_bytes(), from, log);
            return;
        }
        room.members.insert(
            from,
            Member {
                nick: None,
                last_heard: now,
            },
        );
        log.line(format!(
            "{from} joined ({} in the chat)",
            room.members.len()
        ));
    } else if let Some(member) = room.members.get_mut(&from) {
        member.last_heard = now;
    }

    match request {
        Request::Join if newcomer => {
            let welcome = format!(
                "* welcome {from}; {} in the chat. /nick NAME sets your name, /leave leaves",
                room.members.len()
            );
            send(socket, welcome.as_bytes(), from, log);
        }
        Request::Join | Request::Leave => {}
        Request::Nick(nick) => set_nick(socket, room, from, nick, log),
        Request::Unknown(command) => {
            let notice = format!(
                "* error: unknown command '{command}'; the commands are /nick NAME and /leave"
            );
            send(socket, notice.as_bytes(), from, log);
        }
        Request::Say(text) => relay(socket, room, from, text, log),
    }
}

fn set_nick(socket: &UdpSocket, room: &mut Room, from: SocketAddr, nick: &str, log: &Log) {
    let checked = validate_nick(nick).and_then(|()| {
        if room.nick_taken(nick, from) {
            Err(format!("the nickname '{nick}' is taken"))
        } else {
            Ok(())
        }
    });
    let notice = match checked {
        Ok(()) => {
            log.line(format!("{} is now {nick}", room.label(from)));
            if let Some(member) = room.members.get_mut(&from) {
                member.nick = Some(nick.to_string());
            }
            format!("* you are now {nick}")
        }
        Err(why) => format!("* error: {why}"),
    };
    send(socket, notice.as_bytes(), from, log);
}

/// Sends `LABEL: text` to everyone in the chat, the sender included.
fn relay(socket: &UdpSocket, room: &Room, from: SocketAddr, text: &[u8], log: &Log) {
    let label = room.label(from);
    let mut message = format!("{label}: ").into_bytes();
    message.extend_from_slice(text);
    if message.len() > MAX_DATAGRAM {
        let notice = "* error: message too long to relay in one datagram";
        send(socket, notice.as_bytes(), from, log);
        return;
    }
    let mut delivered = 0;
    for addr in room.members.keys() {
        if send(socket, &message, *addr, log) {
            delivered += 1;
        }
    }
    let clients = if delivered == 1 { "client" } else { "clients" };
    log.line(format!(
        "{label} said {} bytes, relayed to {delivered} {clients}: {}",
        text.len(),
        preview(text, 60)
    ));
}

/// Sends one datagram; a failure is logged and concerns only that receiver.
fn send(socket: &UdpSocket, data: &[u8], to: SocketAddr, log: &Log) -> bool {
    match socket.send_to(data, to) {
        Ok(_) => true,
        Err(e) => {
            log.line(format!("could not send to {to}: {e}"));
            false
        }
    }
}

/// How often the client's receiving thread looks up from `recv_from` to see if it should stop.
const CLIENT_TICK: Duration = Duration::from_millis(100);

/// A chat client: a socket, and a thread that hands every datagram from the server to a
/// callback as soon as it arrives.
pub struct ChatClient {
    socket: UdpSocket,
    server: SocketAddr,
    /// Sends the receiving thread the moment it must give up waiting for `* bye`. Dropping it
    /// stops the thread at once.
    stop: Option<Sender<Instant>>,
    receiver: Option<JoinHandle<bool>>,
    /// Did the server answer our joining with socklab's `* welcome`? Only socklab's server knows
    /// `/leave`: the tutorials' chat servers relay it as text, or answer it like any message.
    socklab_server: bool,
}

impl ChatClient {
    /// Joins the chat at `host:port`: sends an empty datagram and waits up to `timeout` for the
    /// server's welcome (without an answer we would not know whether anyone is there: UDP does
    /// not say). The welcome, and everything after it, goes to `on_message`, on the receiving
    /// thread.
    pub fn join(
        host: &str,
        port: u16,
        timeout: Duration,
        mut on_message: impl FnMut(&[u8]) + Send + 'static,
    ) -> Result<ChatClient, UdpError> {
        let (socket, server) = net::udp_client(host, port)?;
        socket.send_to(&[], server)?;
        let welcome = wait_from(&socket, server, timeout)?;
        let socklab_server = welcome.starts_with(WELCOME_PREFIX);
        on_message(&welcome);

        let (stop, stop_rx) = crossbeam_channel::bounded(1);
        let thread_socket = socket.try_clone()?;
        thread_socket.set_read_timeout(Some(CLIENT_TICK))?;
        let receiver = thread::Builder::new()
            .name("chat receiver".into())
            .spawn(move || receive(thread_socket, server, stop_rx, on_message))?;
        Ok(ChatClient {
            socket,
            server,
            stop: Some(stop),
            receiver: Some(receiver),
            socklab_server,
        })
    }

    /// Is the server socklab's (it answered our joining with `* welcome`)? Then it answers
    /// `/leave` with `* bye`, and a missing `* bye` means something went wrong.
    pub fn is_socklab_server(&self) -> bool {
        self.socklab_server
    }

    /// Sends one message (or command) to the chat.
    pub fn say(&self, text: &[u8]) -> Result<(), UdpError> {
        if text.len() > MAX_DATAGRAM {
            return Err(UdpError::TooLong(text.len()));
        }
        self.socket.send_to(text, self.server)?;
        Ok(())
    }

    /// Leaves: sends `/leave` and lets the receiving thread print what is still in flight until
    /// the server's `* bye` arrives, or `grace` has passed. Returns whether `* bye` came.
    ///
    /// A server that is not socklab's (the tutorials' relay, which would pass `/leave` on to
    /// everyone as text) is sent nothing: the receiving thread just prints what still arrives
    /// within `grace`, and this returns `false`.
    pub fn leave(mut self, grace: Duration) -> Result<bool, UdpError> {
        if let Some(stop) = &self.stop {
            let _ = stop.send(net::deadline_after(grace));
        }
        if self.socklab_server {
            self.socket.send_to(b"/leave", self.server)?;
        }
        let said_bye = match self.receiver.take() {
            Some(receiver) => receiver.join().unwrap_or(false),
            None => false,
        };
        Ok(said_bye)
    }
}

impl Drop for ChatClient {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(receiver) = self.receiver.take() {
            let _ = receiver.join();
        }
    }
}

/// Waits up to `timeout` for a datagram from `server` (ignoring anyone else).
fn wait_from(
    socket: &UdpSocket,
    server: SocketAddr,
    timeout: Duration,
) -> Result<Vec<u8>, UdpError> {
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    let deadline = net::deadline_after(timeout);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(UdpError::NoReply {
                server,
                waited: timeout,
            });
        }
        socket.set_read_timeout(Some(left))?;
        match socket.recv_from(&mut buf) {
            Ok((n, from)) if from == server => {
                return Ok(buf.get(..n).unwrap_or_default().to_vec())
            }
            Ok(_) => {}
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                return Err(UdpError::PortClosed { server })
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The receiving thread: hands each datagram from the server to `on_message` until `* bye`
/// arrives, the stop deadline passes, or the client is dropped. Returns whether `* bye` came.
fn receive(
    socket: UdpSocket,
    server: SocketAddr,
    stop: Receiver<Instant>,
    mut on_message: impl FnMut(&[u8]),
) -> bool {
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    let mut deadline: Option<Instant> = None;
    loop {
        if deadline.is_none() {
            match stop.try_recv() {
                Ok(at) => deadline = Some(at),
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => return false,
            }
        }
        if deadline.is_some_and(|at| Instant::now() >= at) {
            return false;
        }
        match socket.recv_from(&mut buf) {
            Ok((n, from)) if from == server => {
                let data = buf.get(..n).unwrap_or_default();
                on_message(data);
                if data == BYE {
                    return true;
                }
            }
            Ok(_) => {}
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            // Windows: an ICMP "port unreachable" for something we sent. Keep listening.
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            Err(_) => return false,
        }
    }
}

/// A client for the tour and tests: its messages go to a channel.
fn channel_client(port: u16) -> Result<(ChatClient, Receiver<String>), UdpError> {
    let (tx, rx) = crossbeam_channel::unbounded();
    let client = ChatClient::join("127.0.0.1", port, Duration::from_secs(5), move |data| {
        let _ = tx.send(String::from_utf8_lossy(data).into_owned());
    })?;
    Ok((client, rx))
}

/// Shows and returns the next message a tour client received.
fn next(t: &mut Tour, who: &str, rx: &Receiver<String>) -> Result<String, TourError> {
    let message = rx
        .recv_timeout(Duration::from_secs(5))
        .map_err(|_| TourError::new(format!("{who} received nothing within 5 s")))?;
    t.show(who, &message);
    Ok(message)
}

/// The lesson's stage in `00-tour`.
pub fn tour(t: &mut Tour) -> Result<(), TourError> {
    t.say(
        "A UDP chat relay: the server remembers every address that sends it a datagram and \
         sends each message on to all of them. Each client has a receiving thread, so it \
         sees messages as they arrive, not only after it speaks.",
    );
    let server = t.start_udp(|socket, log, shutdown| {
        run_server(socket, &ServerConfig::default(), &log, &shutdown)
    })?;
    let (port, lines) = (server.port(), &server.lines);

    t.step("ann, bob and cat join (each sends an empty datagram and gets a welcome)");
    let (ann, ann_rx) = channel_client(port)?;
    t.expect_log("server", lines, "joined")?;
    next(t, "ann", &ann_rx)?;
    let (bob, bob_rx) = channel_client(port)?;
    t.expect_log("server", lines, "joined")?;
    next(t, "bob", &bob_rx)?;
    let (cat, cat_rx) = channel_client(port)?;
    t.expect_log("server", lines, "joined")?;
    next(t, "cat", &cat_rx)?;

    t.step("ann sends '/nick ann'");
    ann.say(b"/nick ann")?;
    t.expect_log("server", lines, "is now ann")?;
    let confirm = next(t, "ann", &ann_rx)?;
    t.check(
        confirm == "* you are now ann",
        "the server confirmed the nickname",
    )?;

    t.step("ann says 'hello everyone'");
    ann.say(b"hello everyone")?;
    t.expect_log("server", lines, "relayed")?;
    for (who, rx) in [("ann", &ann_rx), ("bob", &bob_rx), ("cat", &cat_rx)] {
        let got = next(t, who, rx)?;
        t.check(
            got == "ann: hello everyone",
            format!("{who} received it, labelled with the nickname"),
        )?;
    }

    t.step("cat leaves ('/leave', answered by '* bye'); bob, who has no nickname, speaks");
    let said_bye = cat.leave(Duration::from_secs(5))?;
    t.expect_log("server", lines, "left")?;
    next(t, "cat", &cat_rx)?;
    t.check(said_bye, "cat got '* bye' and stopped listening")?;
    bob.say(b"is cat gone?")?;
    let relayed = t.expect_log("server", lines, "relayed")?;
    t.check(
        relayed.contains("relayed to 2 clients"),
        "the message went to ann and bob only",
    )?;
    let to_ann = next(t, "ann", &ann_rx)?;
    next(t, "bob", &bob_rx)?;
    t.check(
        to_ann.ends_with(": is cat gone?") && to_ann.starts_with("127.0.0.1:"),
        "without a nickname, a message is labelled with the sender's address",
    )?;
    drop(ann);
    drop(bob);
    server.server.stop().map_err(TourError::new)?;

    t.step("a second server forgets clients after 0.3 s of silence (--idle); dan joins");
    let config = ServerConfig {
        idle: Duration::from_millis(300),
        ..ServerConfig::default()
    };
    let server =
        t.start_udp(move |socket, log, shutdown| run_server(socket, &config, &log, &shutdown))?;
    let lines = &server.lines;
    let (dan, dan_rx) = channel_client(server.port())?;
    t.expect_log("server", lines, "joined")?;
    next(t, "dan", &dan_rx)?;
    t.expect_log("server", lines, "forgot")?;
    let notice = next(t, "dan", &dan_rx)?;
    t.check(
        notice.starts_with("* you were silent"),
        "nobody spoke, yet the server forgot dan on time (its recv_from has a timeout)",
    )?;
    drop(dan);
    server.server.stop().map_err(TourError::new)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_parsed() {
        assert_eq!(parse_request(b""), Request::Join);
        assert_eq!(parse_request(b"/nick  ann \n"), Request::Nick("ann"));
        assert_eq!(parse_request(b"/leave"), Request::Leave);
        assert_eq!(parse_request(b"hi /nick"), Request::Say(b"hi /nick"));
        assert_eq!(parse_request(b"/who"), Request::Unknown("/who".into()));
        assert_eq!(
            parse_request(&[b'/', 0xff]),
            Request::Unknown("/\\xff".into())
        );
    }

    #[test]
    fn nicknames_are_validated() {
        assert!(validate_nick("ann").is_ok());
        assert!(validate_nick("小明").is_ok());
        assert!(validate_nick("a.b-c_d").is_ok());
        assert!(validate_nick("").is_err());
        assert!(validate_nick("two words").is_err());
        assert!(validate_nick("127.0.0.1:5555").is_err());
        assert!(validate_nick("*server").is_err());
        assert!(validate_nick("bell\x07").is_err());
        assert!(validate_nick(&"x".repeat(MAX_NICK_CHARS + 1)).is_err());
    }

    #[test]
    fn idle_members_are_forgotten_except_the_sender() {
        let mut room = Room::default();
        let start = Instant::now();
        let a: SocketAddr = "127.0.0.1:1000".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:2000".parse().unwrap();
        for addr in [a, b] {
            room.members.insert(
                addr,
                Member {
                    nick: None,
                    last_heard: start,
                },
            );
        }
        let later = start + Duration::from_secs(10);
        let forgotten = room.forget_idle(later, Duration::from_secs(5), Some(b));
        assert_eq!(forgotten, vec![(a, a.to_string())]);
        assert!(room.members.contains_key(&b));
    }
}
