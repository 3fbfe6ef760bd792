//! One client connection on the server: login, then one request at a time until `quit`.
//!
//! The loop reads a JSON header, checks it ([`Request::parse`]), and hands the command to
//! [`super::commands`], which answers with the reply to send or an error reply. Before login only
//! `login` is accepted, and only until the login deadline; after it, the account is looked up
//! again before every command, so a deleted account or a changed password ends the session.

use std::fs;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::checksums::Checksums;
use super::commands::{execute, Failure, User};
use super::login::{server_login, LoginError};
use super::partials::Partials;
use super::paths::{Jail, VirtualPath};
use super::protocol::{Code, Refusal, Request};
use super::quota::Limits;
use super::server::Shared;
use super::users::{create_private_dir_all, home_dir};
use crate::deadline::WithDeadline;
use crate::escape::escape_bytes;
use crate::framing::{self, FrameError};
use crate::log::Log;
use crate::net;
use crate::transfer::TransferError;

/// How long the server goes on reading (and discarding) from a client it is closing on after a
/// bad frame, so the client gets the `bad_request` reply instead of a reset.
const LINGER: Duration = Duration::from_secs(2);

/// How long a reply may take to be sent on a stream without a write timeout of its own.
const REPLY_LIMIT: Duration = Duration::from_secs(60);

/// Why a session ended early. Logged as one line; other sessions never notice.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error(transparent)]
    Login(#[from] LoginError),
    #[error("upload of {path} stopped: {error}; the {kept} bytes received are kept for a resume")]
    UploadInterrupted {
        path: String,
        kept: u64,
        error: TransferError,
    },
    #[error("upload of {path} stopped before its md5 trailer: {why}; the whole body is kept for a resume")]
    TrailerMissing { path: String, why: String },
    #[error("download of {path} stopped: {error}")]
    DownloadInterrupted { path: String, error: TransferError },
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
}

/// What the loop does after a request.
enum Flow {
    Continue,
    Close,
}

/// One connection.
pub(super) struct Session<'a> {
    stream: TcpStream,
    peer: SocketAddr,
    shared: &'a Shared,
    log: &'a Log,
    user: Option<User>,
    /// A connection must have logged in by then, or it is closed: a connection that never logs
    /// in (a port scanner, a stuck script, someone trickling one byte per minute) must not hold
    /// one of the `--max-clients` places for ever.
    login_deadline: Instant,
}

impl<'a> Session<'a> {
    pub fn new(stream: TcpStream, peer: SocketAddr, shared: &'a Shared, log: &'a Log) -> Self {
        Session {
            stream,
            peer,
            shared,
            log,
            user: None,
            login_deadline: Instant::now() + shared.login_timeout,
        }
    }

    /// Serves requests until the client quits, closes, idles out or breaks the protocol.
    pub fn run(mut self) -> Result<(), SessionError> {
        // A client that stops reading holds a write (a reply, a file body) no longer than one
        // idle timeout; a reply frame as a whole has that long ([`send`]).
        self.stream
            .set_write_timeout(Some(self.shared.idle_timeout))?;
        loop {
            let Some(header) = self.read_request()? else {
                return Ok(());
            };
            if let Flow::Close = self.dispatch(header)? {
                return Ok(());
            }
        }
    }

    /// The next request header, or `None` when the session should end quietly.
    ///
    /// The whole header must arrive within the idle timeout, and before login also by the
    /// login deadline: a deadline for the whole frame, re-armed before every read
    /// ([`WithDeadline`]), so a client trickling one byte at a time cannot stretch it.
    fn read_request(&mut self) -> Result<Option<Map<String, Value>>, SessionError> {
        let waiting_for_login = self.user.is_none();
        let mut deadline = net::deadline_after(self.shared.idle_timeout);
        if waiting_for_login {
            if Instant::now() >= self.login_deadline {
                self.say_timed_out(true);
                return Ok(None);
            }
            deadline = deadline.min(self.login_deadline);
        }
        let read = framing::read_header(&mut WithDeadline::new(&mut self.stream, deadline));
        match read {
            Ok(header) => Ok(header),
            Err(FrameError::Io(e)) if net::is_timeout(&e) => {
                let past_deadline = waiting_for_login && Instant::now() >= self.login_deadline;
                self.say_timed_out(past_deadline);
                Ok(None)
            }
            Err(
                e @ (FrameError::TooLong { .. }
                | FrameError::NegativeLength(_)
                | FrameError::NotJson(_)
                | FrameError::NotObject(_)),
            ) => {
                let refusal = Refusal::new(Code::BadRequest, format!("{e}; closing"));
                let _ = send(&mut self.stream, &refusal.to_json());
                self.note(&format!("bad frame: {e}: disconnected"));
                net::close_gracefully(&mut self.stream, LINGER);
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Says goodbye to a client that took too long (to log in, or to send its next request).
    fn say_timed_out(&mut self, no_login: bool) {
        let (msg, note) = if no_login {
            (
                "no successful login within the time allowed; closing",
                "no login in time: disconnected",
            )
        } else {
            (
                "no request for longer than the server's --idle-timeout; closing",
                "idle for too long: disconnected",
            )
        };
        // The client may be gone already; the goodbye is a courtesy.
        let _ = send(
            &mut self.stream,
            &Refusal::new(Code::Timeout, msg).to_json(),
        );
        self.note(note);
        // A client still trickling bytes must get the goodbye, not a reset that discards it.
        net::close_gracefully(&mut self.stream, LINGER);
    }

    fn dispatch(&mut self, header: Map<String, Value>) -> Result<Flow, SessionError> {
        let is_login = header.get("cmd").and_then(Value::as_str) == Some("login");
        if self.user.is_none() && !is_login {
            let refusal = Refusal::new(
                Code::NotLoggedIn,
                "log in first: {\"cmd\":\"login\",\"user\":..,\"nonce\":..}",
            );
            send(&mut self.stream, &refusal.to_json())?;
            self.note(&format!("{refusal} (before login)"));
            return Ok(Flow::Continue);
        }
        let request = match Request::parse(header) {
            Ok(request) => request,
            Err(refusal) => {
                send(&mut self.stream, &refusal.to_json())?;
                self.note(&refusal.to_string());
                return Ok(Flow::Continue);
            }
        };
        let request = match request {
            Request::Login(login) if self.user.is_none() => return self.login(&login),
            Request::Login(_) => {
                let refusal = Refusal::new(Code::BadRequest, "already logged in");
                send(&mut self.stream, &refusal.to_json())?;
                return Ok(Flow::Continue);
            }
            Request::Quit => {
                send(&mut self.stream, &json!({"status": "ok"}))?;
                self.note("quit");
                return Ok(Flow::Close);
            }
            request => request,
        };
        if let Some(refusal) = self.refresh_account() {
            send(&mut self.stream, &refusal.to_json())?;
            self.note(&format!("{refusal}; logged out"));
            return Ok(Flow::Close);
        }
        let Some(user) = self.user.as_mut() else {
            return Ok(Flow::Close); // not reached: checked before parsing
        };
        let what = describe(&request);
        let outcome = execute(user, &mut self.stream, request);
        match outcome {
            Ok(done) => {
                if let Some(reply) = &done.reply {
                    send(&mut self.stream, reply)?;
                }
                self.note(&format!("{what}: {}", done.note));
                Ok(Flow::Continue)
            }
            Err(Failure::Refused(refusal)) => {
                send(&mut self.stream, &refusal.to_json())?;
                self.note(&format!("{what}: {refusal}"));
                Ok(Flow::Continue)
            }
            Err(Failure::Broken(e)) => Err(e),
        }
    }

    /// Looks the logged-in user up in users.json again (it may have changed since the last
    /// command). `Some(refusal)` if the session must end: the account was deleted, or its
    /// password changed. Otherwise the quota is brought up to date.
    fn refresh_account(&mut self) -> Option<Refusal> {
        let user = self.user.as_mut()?;
        let store = match self.shared.accounts.current() {
            Ok(store) => store,
            // A damaged users.json is the administrator's to fix; sessions carry on meanwhile
            // with what they knew.
            Err(_) => return None,
        };
        match store.user(&user.name) {
            None => Some(Refusal::new(
                Code::AuthFailed,
                "your account no longer exists; the server closes this connection",
            )),
            Some(record) if record.stored_key != user.stored_key => Some(Refusal::new(
                Code::AuthFailed,
                "your password was changed; log in again with the new one",
            )),
            Some(record) => {
                user.limits.bytes = record.quota;
                None
            }
        }
    }

    /// The login exchange ([`server_login`]), then the session's own `ok` reply.
    fn login(&mut self, login: &Map<String, Value>) -> Result<Flow, SessionError> {
        let claimed = login
            .get("user")
            .and_then(Value::as_str)
            .map(|u| cut(u, 40))
            .unwrap_or_else(|| "?".into());
        // users.json as it is now, so `14-ftp adduser` on a running server takes effect.
        let store = match self.shared.accounts.current() {
            Ok(store) => store,
            Err(e) => {
                self.note(&format!("login refused: cannot read the accounts: {e}"));
                let refusal = Refusal::new(
                    Code::ServerError,
                    "the server cannot read its accounts; tell its administrator",
                );
                send(&mut self.stream, &refusal.to_json())?;
                return Ok(Flow::Close);
            }
        };
        // The whole exchange (challenge out, proof in) happens before the login deadline.
        let verified = server_login(
            &mut WithDeadline::new(&mut self.stream, self.login_deadline),
            login,
            &store,
            &self.shared.secret,
            &self.shared.guard,
            self.peer.ip(),
        )?;
        let Some(verified) = verified else {
            self.note(&format!("login as '{claimed}' failed"));
            // Whatever the client sent after its proof must not reset the connection before
            // it has read the auth_failed reply.
            net::close_gracefully(&mut self.stream, LINGER);
            return Ok(Flow::Close);
        };
        let home = home_dir(&self.shared.root, &verified.user);
        if let Err(e) = prepare_home(&home) {
            self.note(&format!("login as '{claimed}' refused: home unusable: {e}"));
            let refusal = Refusal::new(
                Code::ServerError,
                "your home directory is unusable; tell the administrator",
            );
            send(&mut self.stream, &refusal.to_json())?;
            return Ok(Flow::Close);
        }
        let user = User {
            stored_key: verified.record.stored_key.clone(),
            jail: Jail::new(&home),
            cwd: VirtualPath::root(),
            limits: Limits {
                bytes: verified.record.quota,
                entries: self.shared.max_files,
            },
            ledger: self.shared.ledgers.for_user(&verified.user),
            partials: Partials::new(&home, self.shared.partial_ttl),
            checksums: Checksums::new(&self.shared.root, &verified.user),
            name: verified.user.clone(),
        };
        let used = {
            let guard = user.ledger.lock();
            // Tidiness only: an error here must not stop a login.
            let _ = user.partials.remove_expired(|f| guard.is_uploading(f));
            guard.used(&home).unwrap_or(0)
        };
        send(&mut self.stream, &verified.ok_reply(used))?;
        self.stream
            .set_read_timeout(Some(self.shared.idle_timeout))?;
        self.user = Some(user);
        self.note(&format!(
            "logged in (used {used} of {} bytes)",
            verified.record.quota
        ));
        Ok(Flow::Continue)
    }

    /// One log line about this connection: `alice@127.0.0.1:50312 put /a.txt: ...`. Names come
    /// from clients, so control characters are escaped: a file called "x\nfake log line" must
    /// not forge a line of the log.
    fn note(&self, text: &str) {
        let text = escape_bytes(text.as_bytes());
        match &self.user {
            Some(user) => self.log.line(format!("{}@{} {text}", user.name, self.peer)),
            None => self.log.line(format!("{} {text}", self.peer)),
        }
    }
}

/// Makes sure the home is a real directory: created (owner-only) if missing, refused if it is a
/// symlink or a file (someone may have planted one to point the home elsewhere).
fn prepare_home(home: &Path) -> io::Result<()> {
    match fs::symlink_metadata(home) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(io::Error::other("it is not a directory")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => create_private_dir_all(home),
        Err(e) => Err(e),
    }
}

/// Sends one reply frame, which the client must take within the stream's write timeout (the
/// idle timeout) in total: a client reading one byte a minute cannot stretch it.
pub(super) fn send(stream: &mut TcpStream, reply: &Value) -> Result<(), SessionError> {
    let limit = stream.write_timeout()?.unwrap_or(REPLY_LIMIT);
    framing::write_header(&mut WithDeadline::within(stream, limit), reply)?;
    Ok(())
}

/// A request in a log line: `put docs/a.txt (1200 bytes)`.
fn describe(request: &Request) -> String {
    let arg = |s: &str| cut(s, 80);
    match request {
        Request::Cd { path } | Request::Mkdir { path } | Request::Rm { path } => {
            format!("{} {}", request.name(), arg(path))
        }
        Request::Ls { path: Some(path) } => format!("ls {}", arg(path)),
        Request::Put {
            filename, filesize, ..
        } => format!("put {} ({filesize} bytes)", arg(filename)),
        Request::Get {
            filename, offset, ..
        } => format!("get {} (from {offset})", arg(filename)),
        other => other.name().to_string(),
    }
}

/// At most `max` characters of `text`, with `…` if it was longer.
pub(super) fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", text.get(..end).unwrap_or_default()),
        None => text.to_string(),
    }
}
