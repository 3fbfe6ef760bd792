//! The client: `put` any number of files over one connection, pipelined like the tutorial's
//! client, and `get` one file into a temporary file that is renamed into place only once its MD5
//! checks out.
//!
//! ## Pipelining without a deadlock
//!
//! The tutorial's client sends put after put and never reads a reply. socklab's client also sends
//! all its puts back to back (no round trip per file), but a second thread reads the replies *as
//! they arrive*. That matters: a client that only reads once it has sent everything relies on
//! the kernel buffers holding every reply meanwhile (see `server.rs`), which is fine for a handful
//! of files and not for ten thousand. When every request is sent, the client half-closes the
//! connection (`shutdown(Write)`: "no more requests"); the server answers what is left and closes,
//! and the reader thread sees the end of the stream.
//!
//! ## Never into an unconfirmed file
//!
//! Pipelining is only safe with a server that reads *exactly* `filesize` bytes per file.
//! Tutorial 004's server reads `recv(8192)` until it has *at least* `filesize` bytes and never
//! answers, so a second file sent right behind a small first one is swallowed into it. So until
//! a server has confirmed something on a connection, the client sends no second file on it: it
//! waits up to [`CONFIRM_WAIT`] for the first confirmation; if none comes, it shuts the
//! connection's write side ("that was all") and sends each further file on a connection of its
//! own, which the tutorial's server reads to the end like its own client's. A server that has
//! confirmed once is socklab's kind, and gets the files back to back.
//!
//! ## The MD5 after the body, only to a server that asked for it
//!
//! With an MD5 in the put header (the default) the server refuses bytes that arrive damaged,
//! but the client must read its file twice: once to hash it, once to send it. For a file of
//! [`TRAILER_FROM`] bytes or more the client instead announces `"md5": "trailer"`, hashes the
//! bytes while it sends them (one read) and sends `{"md5": ...}` right after the body, so the
//! server still checks before it stores. A trailer must never reach tutorial 004's servers:
//! they read `recv(8192)` until they have at least `filesize` bytes, so it could end up inside
//! the stored file. So socklab's server answers `{"status": "ready"}` as soon as it has read a
//! trailer put's header, and the client sends the trailer only once it has that answer. For a
//! file this large the answer has long arrived when the body is sent (the server sends it before
//! reading the body, and the body is larger than the sockets' buffers); a server that never
//! answers gets no trailer, after at most [`CONFIRM_WAIT`], and the file is "sent; unconfirmed".
//!
//! ## Trusting no reply
//!
//! Replies wait in a small bounded queue (`REPLY_QUEUE`): a server that floods replies fills
//! it and then waits, so memory stays bounded. A reply that cannot be read (a huge length, JSON
//! nested too deep, bytes that are not UTF-8, a reset mid-frame) fails the files still waiting:
//! only *silence* from a server that has never answered means "sent; unconfirmed".

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::net::Shutdown;
use std::path::{Path, PathBuf};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, TryRecvError};
use md5::{Digest, Md5};
use serde_json::{Map, Value};

use super::protocol::{
    check_name, get_header, is_ready, parse_reply, put_header, put_trailer_header, reply_md5,
    reply_size, trailer, ErrorCode, NameError, Reply,
};
use super::server::{Conn, FRAMES};
use crate::download;
use crate::framing::{FrameError, Framing};
use crate::log::Log;
use crate::net::{self, NetError};
use crate::trace::Tracer;
use crate::transfer::{
    copy_exact, copy_hashed, hash_prefix, hex_digest, PendingFile, Progress, TransferError,
    Writeback,
};

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub host: String,
    pub port: u16,
    /// Send each file's MD5, so the server refuses to store bytes that arrive damaged: in the
    /// put header (one extra read of the file before sending it), or, for a file of
    /// [`TRAILER_FROM`] bytes or more sent to a server that answers `ready`, in a trailer after
    /// the body (hashed while it is sent).
    pub send_md5: bool,
    /// Draw a progress bar (only when stderr is a terminal).
    pub progress: bool,
    /// The longest wait for the server: for the next reply, or for room to send more bytes.
    pub timeout: Duration,
    /// `--max-size`: the largest download accepted; a larger announced size is refused before
    /// the first byte. `None`: the free space of the folder the file is saved in.
    pub max_size: Option<u64>,
    /// `--trace` and `--picture`: every `send`/`recv` on the connection. Off, it costs nothing
    /// per call (the file's bytes are never copied for it).
    pub tracer: Tracer,
}

impl ClientConfig {
    /// Defaults for `host:port`.
    pub fn new(host: &str, port: u16) -> ClientConfig {
        ClientConfig {
            host: host.to_string(),
            port,
            send_md5: true,
            progress: false,
            timeout: Duration::from_secs(60),
            max_size: None,
            tracer: Tracer::off(),
        }
    }
}

/// A failure of the whole operation (as opposed to one file of a put).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("connection error: {0}")]
    Io(#[from] io::Error),
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error(transparent)]
    BadName(#[from] NameError),
    #[error("the server refused: {code}: {msg}")]
    Refused { code: String, msg: String },
    /// A refusal in one of the tutorials' download protocols, which carry no error code.
    #[error("the server refused: {0}")]
    RefusedWhy(String),
    #[error("the server is busy: {0}")]
    Busy(String),
    #[error("the server's reply is not this protocol: {0}")]
    Protocol(String),
    #[error("{} already exists (use --force to replace it)", .0.display())]
    Exists(PathBuf),
    #[error("cannot write {}: {error}", .path.display())]
    Local { path: PathBuf, error: io::Error },
    #[error("the download is corrupt: the server announced md5 {announced} but the bytes received have md5 {received}; nothing was saved")]
    Mismatch { announced: String, received: String },
    #[error("the download broke off: {0}; nothing was saved")]
    Transfer(TransferError),
    #[error("no reply from the server within {} s (--timeout)", .0.as_secs_f64())]
    Timeout(Duration),
    #[error("{0}")]
    TooLarge(String),
}

/// A file sent whole: stored, as the server confirmed, or at least sent (`confirmed: false`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The name it is stored under (the local file's own name).
    pub name: String,
    pub size: u64,
    /// The MD5 the server computed, which is also the MD5 of what was sent. Unconfirmed: the
    /// MD5 of what was sent.
    pub md5: String,
    /// Did the server confirm it? `false` when the server never replied to anything on the
    /// connection: tutorial 004's servers store the file and answer nothing, ever. socklab's
    /// server answers every request, so once it has answered one, a missing reply is a failure.
    pub confirmed: bool,
}

/// Why one file of a put was not stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PutFailure {
    #[error("{0}")]
    Local(String),
    #[error("refused by the server: {code}: {msg}")]
    Refused { code: String, msg: String },
    #[error("the server reports md5 {stored} but the bytes sent have md5 {sent}")]
    Mismatch { sent: String, stored: String },
    #[error("no reply: {0}")]
    NoReply(String),
    #[error("not sent: {0}")]
    NotSent(String),
}

/// What happened to one file of a put, in the order the files were given.
#[derive(Debug, Clone)]
pub struct PutOutcome {
    pub file: PathBuf,
    pub result: Result<Stored, PutFailure>,
}

/// A request that went out whole and waits for its reply.
struct Sent {
    index: usize,
    name: String,
    size: u64,
    /// The MD5 of the bytes actually sent (hashed as they went).
    md5: String,
    /// Was the whole body sent? (If not, only an error reply makes sense.)
    complete: bool,
    /// A trailer put: the MD5 to send after the body once the server says `ready`.
    trailer: Option<String>,
}

/// Why a file could not be sent.
enum SendError {
    /// Nothing was sent (the local file is unreadable, or its name is not allowed).
    Skipped(String),
    /// The header went out but the local file could not be read to the end: the connection is
    /// unusable (the server expects bytes we do not have).
    LocalMidBody(String),
    /// The connection failed. `header_sent`: the server may still explain why in a reply.
    Connection { header_sent: bool, why: String },
}

/// How long the client waits for a server that has never answered yet to confirm a file
/// before it sends the next one (bounded by `--timeout` too). socklab's server confirms each
/// file as soon as it is stored; tutorial 004's never does, and it reads each body with
/// `recv(8192)` until it has *at least* `filesize` bytes, so a next file sent on the same
/// connection would be swallowed into this one. When no confirmation comes within this bound,
/// each further file gets a connection of its own (see the module doc).
pub const CONFIRM_WAIT: Duration = Duration::from_secs(2);

/// Files at least this large go with their MD5 in a trailer (see the module doc): larger than
/// the sockets' buffers together (a few MiB on Linux), so a server that answers "ready" has
/// done so before the client finishes sending; below it, reading the file twice costs little.
pub const TRAILER_FROM: u64 = 16 << 20;

/// Most replies read ahead and not yet matched to their put. A server that floods replies (or
/// answers requests never made) fills this queue, then its socket, then waits: the client's
/// memory stays bounded whatever the server sends.
const REPLY_QUEUE: usize = 16;

/// Uploads `files` and returns what happened to each, in order.
///
/// `wire` gets one line per header sent or received (the `--show-headers` flag, and the tour).
pub fn put_files(
    config: &ClientConfig,
    files: &[PathBuf],
    wire: &Log,
) -> Result<Vec<PutOutcome>, ClientError> {
    let session = Session::open(config, wire)?;
    let mut uploads = Uploads {
        config,
        wire,
        results: vec![None; files.len()],
        session,
        retired: Vec::new(),
        silent_server: false,
        stop: None,
    };
    let sent = uploads.send_all(files);
    // However it went, every connection is finished (its replies read, within --timeout) and
    // closed, so its reader thread ends too.
    let deadline = net::deadline_after(config.timeout);
    let Uploads {
        mut results,
        session,
        retired,
        ..
    } = uploads;
    let mut finished = Ok(());
    for mut session in retired.into_iter().chain([session]) {
        let outcome = match (&sent, &finished) {
            (Ok(()), Ok(())) => session.finish(deadline, &mut results, config),
            _ => Ok(()),
        };
        session.close();
        if finished.is_ok() {
            finished = outcome;
        }
    }
    sent?;
    finished?;

    Ok(files
        .iter()
        .zip(results)
        .map(|(file, result)| PutOutcome {
            file: file.clone(),
            result: result.unwrap_or_else(|| Err(PutFailure::NoReply("no reply".into()))),
        })
        .collect())
}

/// One `put_files` call: the current connection, the ones already finished with, and what
/// happened to each file so far.
struct Uploads<'a> {
    config: &'a ClientConfig,
    wire: &'a Log,
    results: Vec<Option<Result<Stored, PutFailure>>>,
    session: Session,
    /// Connections no longer sent on (write side shut), still owed replies.
    retired: Vec<Session>,
    /// The server confirmed nothing within [`CONFIRM_WAIT`]: every file goes on its own
    /// connection from now on.
    silent_server: bool,
    /// Why the remaining files are not sent.
    stop: Option<String>,
}

impl Uploads<'_> {
    /// Sends every put, reading replies as they come; one connection while the server confirms,
    /// one per file while it does not.
    fn send_all(&mut self, files: &[PathBuf]) -> Result<(), ClientError> {
        for (index, path) in files.iter().enumerate() {
            self.session.collect_ready(&mut self.results)?;
            self.before_next_file()?;
            if self.stop.is_none() {
                self.stop = self.session.broken.clone();
            }
            if let Some(why) = &self.stop {
                self.results[index] = Some(Err(PutFailure::NotSent(why.clone())));
                continue;
            }
            let config = self.config;
            match send_put(&mut self.session.stream, index, path, config, self.wire) {
                Ok(sent) => {
                    let trailer = sent.trailer.clone();
                    self.session.waiting.push_back(sent);
                    if let Some(md5) = trailer {
                        let limit = if self.session.answered {
                            config.timeout
                        } else {
                            CONFIRM_WAIT.min(config.timeout)
                        };
                        self.session.send_trailer(
                            index,
                            &md5,
                            limit,
                            &mut self.results,
                            self.wire,
                        )?;
                    }
                }
                Err(SendError::Skipped(why)) => {
                    self.results[index] = Some(Err(PutFailure::Local(why)))
                }
                Err(SendError::LocalMidBody(why)) => {
                    self.results[index] = Some(Err(PutFailure::Local(why)));
                    self.stop = Some("an earlier file could not be read to the end".into());
                }
                Err(SendError::Connection { header_sent, why }) => {
                    if header_sent {
                        // The server may have refused the header before reading the body (too
                        // large): its reply says why better than our broken pipe does.
                        self.session.waiting.push_back(Sent {
                            index,
                            name: String::new(),
                            size: 0,
                            md5: String::new(),
                            complete: false,
                            trailer: None,
                        });
                    }
                    self.results[index] = Some(Err(PutFailure::NoReply(why.clone())));
                    self.stop = Some(format!("the connection failed ({why})"));
                }
            }
        }
        Ok(())
    }

    /// Never pipelines a file into one the server has not confirmed, unless the server has
    /// already shown it answers: waits up to [`CONFIRM_WAIT`] for the confirmation, and
    /// without one moves to a new connection.
    fn before_next_file(&mut self) -> Result<(), ClientError> {
        let session = &mut self.session;
        if session.answered || (session.waiting.is_empty() && !session.ended) {
            return Ok(());
        }
        if !self.silent_server && !session.ended {
            let limit = CONFIRM_WAIT.min(self.config.timeout);
            session.wait_front(limit, &mut self.results)?;
            if session.answered || session.broken.is_some() {
                return Ok(());
            }
            self.silent_server = !session.ended;
        }
        // No confirmation: this connection carries nothing more. Its end is read later.
        let _ = session.stream.get_ref().shutdown(Shutdown::Write);
        match Session::open(self.config, self.wire) {
            Ok(new) => self.retired.push(std::mem::replace(&mut self.session, new)),
            Err(e) => self.stop = Some(format!("cannot open a new connection: {e}")),
        }
        self.reap_retired()
    }

    /// Finishes and closes the retired connections the server has already closed, so a put of
    /// many files to a server that confirms nothing keeps a few sockets open, not one per file.
    fn reap_retired(&mut self) -> Result<(), ClientError> {
        let mut still_open = Vec::with_capacity(self.retired.len());
        let mut outcome = Ok(());
        for mut session in std::mem::take(&mut self.retired) {
            if session.replies.thread.is_finished() {
                // Its reader has ended: every reply it read is queued; nothing more will come.
                let finished = session.finish(Instant::now(), &mut self.results, self.config);
                session.close();
                outcome = outcome.and(finished);
            } else {
                still_open.push(session);
            }
        }
        self.retired = still_open;
        outcome
    }
}

/// One connection of a put: its write half, the thread reading its replies, and the puts sent
/// on it that wait for a reply, oldest first.
struct Session {
    stream: Conn,
    replies: ReplyReader,
    waiting: VecDeque<Sent>,
    /// The server has answered something on this connection.
    answered: bool,
    /// The server closed this connection (its reader saw the end).
    ended: bool,
    /// A reply could not be read or answered nothing we asked: nothing more is sent here.
    broken: Option<String>,
}

impl Session {
    fn open(config: &ClientConfig, wire: &Log) -> Result<Session, ClientError> {
        let stream = net::connect_tcp_within(&config.host, config.port, config.timeout)?;
        stream.set_write_timeout(Some(config.timeout))?;
        // Two handles on one connection, both traced: this thread writes, the reader thread reads.
        let tracer = config.tracer.clone().with_format(FRAMES);
        let replies = ReplyReader::start(tracer.wrap(stream.try_clone()?), wire.clone())?;
        Ok(Session {
            stream: tracer.wrap(stream),
            replies,
            waiting: VecDeque::new(),
            answered: false,
            ended: false,
            broken: None,
        })
    }

    /// Takes every reply already read, without waiting.
    fn collect_ready(&mut self, results: &mut [Option<PutResult>]) -> Result<(), ClientError> {
        while self.broken.is_none() {
            match self.replies.headers.try_recv() {
                Ok(reply) => self.take(reply, results)?,
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    self.ended = true;
                    break;
                }
            }
        }
        Ok(())
    }

    /// Waits up to `limit` for one reply.
    fn wait_front(
        &mut self,
        limit: Duration,
        results: &mut [Option<PutResult>],
    ) -> Result<(), ClientError> {
        match self.replies.headers.recv_timeout(limit) {
            Ok(reply) => self.take(reply, results),
            Err(RecvTimeoutError::Timeout) => Ok(()),
            Err(RecvTimeoutError::Disconnected) => {
                self.ended = true;
                Ok(())
            }
        }
    }

    /// Matches one reply (or a reply that could not be read) to the oldest waiting put.
    fn take(
        &mut self,
        reply: Result<Map<String, Value>, FrameError>,
        results: &mut [Option<PutResult>],
    ) -> Result<(), ClientError> {
        let header = match reply {
            Ok(header) => header,
            // Garbage is not silence: a frame that cannot be read (a huge length, JSON nested
            // too deep, bytes that are not UTF-8, a reset mid-frame) fails every put still
            // waiting here, confirmed by nothing.
            Err(e) => {
                self.fail_waiting(&format!("the reply cannot be read: {e}"), results);
                return Ok(());
            }
        };
        // A busy server refuses the connection as soon as it is accepted, possibly before the
        // first request has gone out: that is the answer to the whole put, whatever is waiting.
        if let Ok(Reply::Error { code, msg }) = parse_reply(header.clone()) {
            if code == ErrorCode::TooManyClients.as_str() {
                return Err(ClientError::Busy(msg));
            }
        }
        let Some(sent) = self.waiting.pop_front() else {
            self.fail_waiting("the server sent a reply to no request", results);
            return Ok(());
        };
        self.answered = true;
        let slot = &mut results[sent.index];
        match parse_reply(header).map_err(ClientError::Protocol)? {
            Reply::Error { code, msg } if code == ErrorCode::TooManyClients.as_str() => {
                return Err(ClientError::Busy(msg))
            }
            Reply::Error { code, msg } => *slot = Some(Err(PutFailure::Refused { code, msg })),
            Reply::Ok(header) if sent.complete => *slot = Some(check_stored(&sent, &header)),
            Reply::Ok(_) => {} // keep the connection error already recorded
        }
        Ok(())
    }

    /// A trailer put's body is sent: waits up to `limit` for the server's `ready` (socklab's
    /// server sends it before reading the body, so it is normally here already), taking the
    /// replies to earlier puts that come first, then sends the trailer. No `ready`: the server is
    /// not socklab's (tutorial 004's never answers) and gets no trailer.
    fn send_trailer(
        &mut self,
        index: usize,
        md5: &str,
        limit: Duration,
        results: &mut [Option<PutResult>],
        wire: &Log,
    ) -> Result<(), ClientError> {
        let deadline = Instant::now() + limit;
        // Until this put is answered (a refusal of its header, say) or the connection breaks.
        while self.broken.is_none() && self.waiting.back().is_some_and(|s| s.index == index) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.replies.headers.recv_timeout(left) {
                Ok(Ok(header)) if is_ready(&header) => {
                    self.answered = true;
                    let frame = trailer(md5);
                    wire.line(format!("send {frame}"));
                    if let Err(e) = Framing::default().write_header(&mut self.stream, &frame) {
                        self.fail_waiting(&format!("sending the md5 trailer failed: {e}"), results);
                    }
                    return Ok(());
                }
                Ok(reply) => self.take(reply, results)?,
                Err(RecvTimeoutError::Timeout) => return Ok(()),
                Err(RecvTimeoutError::Disconnected) => {
                    self.ended = true;
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Every put still waiting on this connection failed for `why`; nothing more is sent here.
    fn fail_waiting(&mut self, why: &str, results: &mut [Option<PutResult>]) {
        for sent in self.waiting.drain(..) {
            let slot = &mut results[sent.index];
            if slot.is_none() {
                *slot = Some(Err(PutFailure::NoReply(why.to_string())));
            }
        }
        self.broken = Some(why.to_string());
    }

    /// "No more requests" (the server answers what is queued, then closes), then the replies
    /// still owed, until `deadline`. Silence (no reply, or the end of the connection) from a
    /// server that has answered nothing here leaves a whole file "sent; unconfirmed"; from one
    /// that has answered, it is a failure.
    fn finish(
        &mut self,
        deadline: Instant,
        results: &mut [Option<PutResult>],
        config: &ClientConfig,
    ) -> Result<(), ClientError> {
        let _ = self.stream.get_ref().shutdown(Shutdown::Write);
        while !self.waiting.is_empty() && self.broken.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.replies.headers.recv_timeout(left) {
                Ok(reply) => self.take(reply, results)?,
                Err(e) => {
                    let why = match e {
                        RecvTimeoutError::Timeout => format!(
                            "no reply within {} s (--timeout)",
                            config.timeout.as_secs_f64()
                        ),
                        RecvTimeoutError::Disconnected => "the server closed the connection".into(),
                    };
                    for sent in self.waiting.drain(..) {
                        let slot = &mut results[sent.index];
                        if slot.is_some() {
                            continue;
                        }
                        *slot = Some(if !self.answered && sent.complete {
                            Ok(Stored {
                                name: sent.name,
                                size: sent.size,
                                md5: sent.md5,
                                confirmed: false,
                            })
                        } else {
                            Err(PutFailure::NoReply(why.clone()))
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Ends the connection, so the reader thread ends too, and waits for it.
    fn close(self) {
        let _ = self.stream.get_ref().shutdown(Shutdown::Both);
        self.replies.join();
    }
}

/// What happened to one file, once known.
type PutResult = Result<Stored, PutFailure>;

/// An ok reply to a put: does it describe what was sent?
fn check_stored(sent: &Sent, header: &Map<String, Value>) -> Result<Stored, PutFailure> {
    let protocol = |why: String| PutFailure::NoReply(format!("unexpected reply: {why}"));
    let size = reply_size(header, "size").map_err(protocol)?;
    let md5 = reply_md5(header).map_err(protocol)?;
    if size != sent.size {
        return Err(protocol(format!(
            "the server stored {size} bytes, {} were sent",
            sent.size
        )));
    }
    if sent.md5 != md5 {
        return Err(PutFailure::Mismatch {
            sent: sent.md5.clone(),
            stored: md5,
        });
    }
    Ok(Stored {
        name: sent.name.clone(),
        size,
        md5,
        confirmed: true,
    })
}

/// Sends one put: header, then the file's bytes, hashed as they go.
fn send_put(
    stream: &mut Conn,
    index: usize,
    path: &Path,
    config: &ClientConfig,
    wire: &Log,
) -> Result<Sent, SendError> {
    let name = upload_name(path).map_err(SendError::Skipped)?;
    let local = |e: io::Error| format!("{}: {e}", path.display());
    let mut file = File::open(path).map_err(|e| SendError::Skipped(local(e)))?;
    let metadata = file.metadata().map_err(|e| SendError::Skipped(local(e)))?;
    if !metadata.is_file() {
        return Err(SendError::Skipped(format!(
            "{}: not a regular file",
            path.display()
        )));
    }
    let size = metadata.len();
    if config.send_md5 && size >= TRAILER_FROM {
        return send_trailer_put(stream, index, &mut file, &name, size, config, wire);
    }
    let announced = if config.send_md5 {
        let md5 = hash_prefix(&mut file, size)
            .map_err(|e| SendError::Skipped(format!("{}: {e}", path.display())))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| SendError::Skipped(local(e)))?;
        Some(hex_digest(md5))
    } else {
        None
    };

    let header = put_header(&name, size, announced.as_deref());
    wire.line(format!("send {header} + {size} bytes"));
    Framing::default()
        .write_header(stream, &header)
        .map_err(|e| SendError::Connection {
            header_sent: false,
            why: e.to_string(),
        })?;
    let progress = Progress::new(size, &name, config.progress);
    // With an md5 in the header the bytes were hashed already; without, hash them as they go, to
    // compare with the md5 the server reports.
    let sent = match announced {
        Some(md5) => copy_exact(&mut file, stream, size, &progress).map(|()| md5),
        None => copy_hashed(&mut file, stream, size, Md5::new(), &progress).map(hex_digest),
    };
    progress.finish();
    let md5 = match sent {
        Ok(md5) => md5,
        Err(TransferError::Write { error, .. }) => {
            return Err(SendError::Connection {
                header_sent: true,
                why: error.to_string(),
            })
        }
        Err(e) => return Err(SendError::LocalMidBody(format!("{}: {e}", path.display()))),
    };
    Ok(Sent {
        index,
        name,
        size,
        md5,
        complete: true,
        trailer: None,
    })
}

/// Sends a trailer put's header and body, hashing the body as it goes; the trailer itself is
/// sent by [`Session::send_trailer`], once the server has said `ready`.
fn send_trailer_put(
    stream: &mut Conn,
    index: usize,
    file: &mut File,
    name: &str,
    size: u64,
    config: &ClientConfig,
    wire: &Log,
) -> Result<Sent, SendError> {
    let header = put_trailer_header(name, size);
    wire.line(format!("send {header} + {size} bytes"));
    Framing::default()
        .write_header(stream, &header)
        .map_err(|e| SendError::Connection {
            header_sent: false,
            why: e.to_string(),
        })?;
    let progress = Progress::new(size, name, config.progress);
    let sent = copy_hashed(file, stream, size, Md5::new(), &progress).map(hex_digest);
    progress.finish();
    let md5 = match sent {
        Ok(md5) => md5,
        Err(TransferError::Write { error, .. }) => {
            return Err(SendError::Connection {
                header_sent: true,
                why: error.to_string(),
            })
        }
        Err(e) => return Err(SendError::LocalMidBody(format!("{name}: {e}"))),
    };
    Ok(Sent {
        index,
        name: name.to_string(),
        size,
        md5: md5.clone(),
        complete: true,
        trailer: Some(md5),
    })
}

/// The name a local file is uploaded under: its own file name, if the server would accept it.
pub fn upload_name(path: &Path) -> Result<String, String> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("{}: has no file name in UTF-8", path.display()))?;
    check_name(name).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(name.to_string())
}

/// The thread that reads replies while the main thread sends.
struct ReplyReader {
    headers: Receiver<Result<Map<String, Value>, FrameError>>,
    thread: JoinHandle<()>,
}

impl ReplyReader {
    fn start(mut stream: Conn, wire: Log) -> io::Result<ReplyReader> {
        let (tx, headers) = bounded(REPLY_QUEUE);
        let thread = thread::Builder::new()
            .name("reply reader".into())
            .spawn(move || loop {
                match Framing::default().read_header(&mut stream) {
                    Ok(Some(header)) => {
                        wire.line(format!("recv {}", Value::Object(header.clone())));
                        if tx.send(Ok(header)).is_err() {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            })?;
        Ok(ReplyReader { headers, thread })
    }

    fn join(self) {
        drop(self.headers);
        let _ = self.thread.join();
    }
}

/// A downloaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub path: PathBuf,
    pub size: u64,
    pub md5: String,
}

/// Where `get NAME [--out PATH]` saves: `./NAME` by default, `PATH/NAME` when PATH is a folder,
/// else PATH. An existing file is only replaced when `overwrite` is set.
pub fn download_path(
    name: &str,
    out: Option<&Path>,
    overwrite: bool,
) -> Result<PathBuf, ClientError> {
    // The name becomes a local path: the server's rules protect this machine too.
    check_name(name)?;
    let path = match out {
        None => PathBuf::from(name),
        Some(dir) if dir.is_dir() => dir.join(name),
        Some(path) => path.to_path_buf(),
    };
    if !overwrite && std::fs::symlink_metadata(&path).is_ok() {
        return Err(ClientError::Exists(path));
    }
    Ok(path)
}

/// Downloads `name` into `out`: into a temporary file beside it, renamed to `out` only after the
/// bytes' MD5 matches the one the server announced. On any failure nothing is left behind.
pub fn get_file(
    config: &ClientConfig,
    name: &str,
    out: &Path,
    wire: &Log,
) -> Result<Fetched, ClientError> {
    check_name(name)?;
    let local = |error| ClientError::Local {
        path: out.to_path_buf(),
        error,
    };
    // First the local side: an unwritable destination fails before the server is bothered.
    let mut pending = PendingFile::create(out).map_err(local)?;
    let stream = net::connect_tcp_within(&config.host, config.port, config.timeout)?;
    stream.set_read_timeout(Some(config.timeout))?;
    stream.set_write_timeout(Some(config.timeout))?;
    let mut stream = config.tracer.clone().with_format(FRAMES).wrap(stream);
    let framing = Framing::default();

    let request = get_header(name);
    wire.line(format!("send {request}"));
    framing.write_header(&mut stream, &request)?;
    let header = match framing.read_header(&mut stream) {
        Ok(Some(header)) => header,
        Ok(None) => {
            return Err(ClientError::Protocol(
                "the server closed the connection without replying".into(),
            ))
        }
        Err(FrameError::Io(e)) if net::is_timeout(&e) => {
            return Err(ClientError::Timeout(config.timeout))
        }
        Err(e) => return Err(e.into()),
    };
    wire.line(format!("recv {}", Value::Object(header.clone())));
    let header = match parse_reply(header).map_err(ClientError::Protocol)? {
        Reply::Ok(header) => header,
        Reply::Error { code, msg } if code == ErrorCode::TooManyClients.as_str() => {
            return Err(ClientError::Busy(msg))
        }
        Reply::Error { code, msg } => return Err(ClientError::Refused { code, msg }),
    };
    let size = reply_size(&header, "filesize").map_err(ClientError::Protocol)?;
    let announced = reply_md5(&header).map_err(ClientError::Protocol)?;

    let received = receive_body(&mut stream, &mut pending, size, name, out, config)?;
    wire.line(format!("recv {size} body bytes, md5 {received}"));
    keep_if_verified(pending, out, size, announced, received)
}

/// Receives a download's `size` body bytes into `pending`, hashing them as they arrive, behind
/// a progress bar, and returns their MD5: the part every download protocol of this lesson
/// (`get`, and the `--protocol` stages) shares.
pub(super) fn receive_body(
    stream: &mut impl std::io::Read,
    pending: &mut PendingFile,
    size: u64,
    name: &str,
    out: &Path,
    config: &ClientConfig,
) -> Result<String, ClientError> {
    check_announced_size(size, out, config)?;
    let progress = Progress::new(size, name, config.progress);
    // Through a Writeback: the disk writes while the bytes arrive, so the final fsync is short.
    let mut body = Writeback::new(pending.file(), 0);
    let received = copy_hashed(stream, &mut body, size, Md5::new(), &progress);
    progress.finish();
    match received {
        Ok(md5) => Ok(hex_digest(md5)),
        Err(TransferError::Write { error, .. }) => Err(ClientError::Local {
            path: out.to_path_buf(),
            error,
        }),
        Err(e) => Err(ClientError::Transfer(e)),
    }
}

/// Refuses a download over `--max-size` (default: the free space where it is saved), before its
/// first byte: a server announcing a terabyte does not get to fill the disk.
pub(super) fn check_announced_size(
    size: u64,
    out: &Path,
    config: &ClientConfig,
) -> Result<(), ClientError> {
    let max = config
        .max_size
        .unwrap_or_else(|| download::default_max_size(download::folder_of(out)));
    download::check_size(size, max).map_err(ClientError::TooLarge)
}

/// Puts a download in place under its name, but only if what arrived hashes to what the server
/// announced; otherwise `pending` is dropped and the temporary file with it.
pub(super) fn keep_if_verified(
    pending: PendingFile,
    out: &Path,
    size: u64,
    announced: String,
    received: String,
) -> Result<Fetched, ClientError> {
    if received != announced {
        return Err(ClientError::Mismatch {
            announced,
            received,
        });
    }
    pending.commit().map_err(|error| ClientError::Local {
        path: out.to_path_buf(),
        error,
    })?;
    Ok(Fetched {
        path: out.to_path_buf(),
        size,
        md5: received,
    })
}
