//! The upload server: one thread per connection (via [`crate::server::serve`]), each reading
//! requests one after another until the client closes.
//!
//! ## Why a client that never reads its replies cannot wedge the server
//!
//! The tutorial's client sends `put` after `put` and never reads a reply. The server answers each
//! one anyway, so the replies pile up, unread, on the client's side of the connection. That is
//! safe, and this is the bound that makes it so:
//!
//! - a `put` reply is written only after that put's whole body has been read, so the server is
//!   never waiting to write while the client is waiting for the server to read the body;
//! - every reply without a body is smaller than [`MAX_REPLY`] (1 KiB; in practice ~80 bytes);
//! - unread replies sit in the kernel's buffers: this socket's send buffer plus the client's
//!   receive buffer, together tens to hundreds of KiB (Linux starts at 16 KiB + 128 KiB).
//!
//! So a client must send many hundreds of requests without reading a single reply before a reply
//! `write` here can block at all. If one ever does, the write timeout (`--idle-timeout`, set on
//! every connection below) ends that one connection; every other client has its own thread and
//! never notices. (A `get` reply carries a body and fills the buffers quickly; a client that
//! pipelines gets without reading them only blocks itself, and the same timeout frees the thread.)

use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use md5::{Digest, Md5};
use serde_json::{Map, Value};

use super::digests::{DigestRecords, Fingerprint};
use super::protocol::{
    check_name, get_ok, parse_request, put_ok, put_ready, trailer_md5, ErrorCode, Refusal, Request,
    MAX_REPLY,
};
use super::ServerConfig;
use crate::deadline::WithDeadline;
use crate::escape::preview;
use crate::framing::{FrameError, Framing, LengthOrder};
use crate::log::Log;
use crate::net;
use crate::recording::MessageFormat;
use crate::server::Handler;
use crate::trace::{Traced, Tracer};
use crate::transfer::{
    copy_hashed, hash_prefix, hex_digest, PendingFile, Progress, TransferError, Writeback,
};

/// How long the server keeps reading (and discarding) after an error reply it closes on, so the
/// reply is not destroyed by a reset (see [`net::close_gracefully`]).
const LINGER: Duration = Duration::from_secs(2);

/// How much of a name a log line shows.
const NAME_PREVIEW: usize = 60;

/// Why one connection ended early. Logged as one line; no other connection is affected.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("silent for longer than the idle timeout ({0}); closed")]
    Idle(String),
    #[error("vanished after {got} of the {expected} bytes of '{name}'; nothing stored")]
    Vanished {
        name: String,
        got: u64,
        expected: u64,
    },
    #[error("closed the connection in the middle of a request header")]
    HalfHeader,
    #[error("'{0}' changed on disk while it was being sent; closed the connection")]
    ChangedWhileSending(String),
    #[error("reading '{name}' from disk failed: {error}")]
    Disk { name: String, error: io::Error },
    #[error("connection error: {0}")]
    Io(io::Error),
}

/// What happens to a connection after a request has been answered.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    /// Read the next request.
    Continue,
    /// The stream is no longer at a request boundary (a body was not read): close it.
    Close,
}

/// The upload service: what every connection thread shares.
pub struct UploadService {
    dir: PathBuf,
    records: DigestRecords,
    max_file_size: u64,
    idle_timeout: Option<Duration>,
    framing: Framing,
    tracer: Tracer,
}

impl UploadService {
    /// The service for `config.dir`, creating the folder (and its digest records) if needed.
    pub fn open(config: &ServerConfig) -> io::Result<UploadService> {
        std::fs::create_dir_all(&config.dir)?;
        Ok(UploadService {
            dir: config.dir.clone(),
            records: DigestRecords::open(&config.dir)?,
            max_file_size: config.max_file_size,
            idle_timeout: config.idle_timeout,
            framing: Framing::default(),
            tracer: config.tracer.clone(),
        })
    }

    /// Wraps a new connection for `--trace` and `--picture`, labelled with the client's address,
    /// its bytes divided into messages as the protocol served frames them.
    pub(super) fn traced(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        sends: MessageFormat,
        receives: MessageFormat,
    ) -> Conn {
        self.tracer
            .labelled(&format!("server {peer}"))
            .with_formats(sends, receives)
            .wrap(stream)
    }

    /// Reads the next request header, which must arrive whole within the idle timeout: a
    /// deadline for the frame, not for each read, so a client trickling a byte at a time cannot
    /// hold the connection (see [`crate::deadline`]).
    fn read_request(&self, stream: &mut Conn) -> Result<Option<Header>, FrameError> {
        match self.idle_timeout {
            Some(limit) => self
                .framing
                .read_header(&mut WithDeadline::within(stream, limit)),
            None => self.framing.read_header(stream),
        }
    }

    /// Sends one reply header, which the client must take within the idle timeout in total.
    fn reply(&self, stream: &mut Conn, reply: &Value) -> Result<(), SessionError> {
        debug_assert!(reply.to_string().len() < MAX_REPLY);
        let written = match self.idle_timeout {
            Some(limit) => self
                .framing
                .write_header(&mut WithDeadline::within(stream, limit), reply),
            None => self.framing.write_header(stream, reply),
        };
        written.map_err(|e| match e {
            FrameError::Io(e) => self.lost(e),
            other => SessionError::Io(io::Error::other(other)),
        })
    }

    /// Turns an error on the socket into a [`SessionError`], naming timeouts as such.
    fn lost(&self, error: io::Error) -> SessionError {
        match error.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => SessionError::Idle(
                self.idle_timeout
                    .map(|t| format!("{} s", t.as_secs_f64()))
                    .unwrap_or_else(|| "none".into()),
            ),
            _ => SessionError::Io(error),
        }
    }

    /// A header that could not be read. A malformed one (not JSON, not an object, over 64 KiB, a
    /// negative length) is answered with `bad_request`; a connection that broke or went silent
    /// cannot carry an answer and is an error. Either way the caller closes the connection: the
    /// server no longer knows where the next request would start.
    fn bad_frame(
        &self,
        stream: &mut Conn,
        peer: SocketAddr,
        error: FrameError,
        log: &Log,
    ) -> Result<(), SessionError> {
        match error {
            FrameError::Io(e) => Err(self.lost(e)),
            FrameError::Truncated { .. } => Err(SessionError::HalfHeader),
            malformed => {
                log.line(format!(
                    "client {peer} sent a malformed header ({malformed}); answered bad_request, closing"
                ));
                let refusal = Refusal::new(
                    ErrorCode::BadRequest,
                    format!("{malformed}; the server closes this connection"),
                );
                self.reply(stream, &refusal.to_reply())?;
                Ok(())
            }
        }
    }

    /// `put`: the body goes into a temporary file that becomes `DIR/NAME` only when it is complete
    /// and, if the header carried an MD5 or announced a trailer, verified.
    fn put(
        &self,
        stream: &mut Conn,
        peer: SocketAddr,
        name: &str,
        size: u64,
        expected: Expected<'_>,
        log: &Log,
    ) -> Result<Next, SessionError> {
        let shown = preview(name.as_bytes(), NAME_PREVIEW);
        // Refusals before the body: the body is not read, so the next bytes on the stream are
        // file contents, not a header. The only safe thing is to answer and close.
        let mut refuse_unread = |why: String, code: ErrorCode| -> Result<Next, SessionError> {
            log.line(format!(
                "put '{shown}' from {peer}: refused ({code}: {why}), closing"
            ));
            let msg = format!(
                "{why}; the {size} body bytes were not read, so the server closes this connection"
            );
            self.reply(stream, &Refusal::new(code, msg).to_reply())?;
            Ok(Next::Close)
        };
        if let Err(why) = check_name(name) {
            return refuse_unread(why.to_string(), ErrorCode::BadName);
        }
        if size > self.max_file_size {
            return refuse_unread(
                format!(
                    "{size} bytes is over this server's limit of {} bytes (--max-file-size)",
                    self.max_file_size
                ),
                ErrorCode::TooLarge,
            );
        }
        let mut pending = match PendingFile::create(&self.dir.join(name)) {
            Ok(pending) => pending,
            Err(e) => {
                return refuse_unread(
                    format!("cannot create a file: {e}"),
                    ErrorCode::StorageError,
                )
            }
        };

        // Through a Writeback: the disk writes while the bytes arrive, so the fsync of the
        // commit is short.
        if expected == Expected::Trailer {
            // Before the body: the client sends its trailer only once it has this.
            self.reply(stream, &put_ready())?;
        }
        let received = copy_hashed(
            stream,
            &mut Writeback::new(pending.file(), 0),
            size,
            Md5::new(),
            &Progress::hidden(),
        );
        // Dropping `pending` deletes the temporary file: a client that vanishes mid-upload
        // leaves nothing behind, and the old file (if any) is untouched.
        let md5 = match received {
            Ok(md5) => hex_digest(md5),
            Err(TransferError::Truncated { got, .. }) => {
                return Err(SessionError::Vanished {
                    name: shown,
                    got,
                    expected: size,
                })
            }
            Err(TransferError::Read { error, .. }) => return Err(self.lost(error)),
            Err(e @ (TransferError::Write { .. } | TransferError::Hasher)) => {
                drop(pending);
                log.line(format!("put '{shown}' from {peer}: storage error: {e}"));
                let msg =
                    format!("the server could not store the file ({e}); it closes this connection");
                self.reply(
                    stream,
                    &Refusal::new(ErrorCode::StorageError, msg).to_reply(),
                )?;
                return Ok(Next::Close);
            }
        };

        let expected_md5 = match expected {
            Expected::Nothing => None,
            Expected::Header(md5) => Some(md5.to_string()),
            Expected::Trailer => match self.read_trailer(stream) {
                Ok(md5) => Some(md5),
                Err(refusal) => {
                    drop(pending);
                    log.line(format!(
                        "put '{shown}' from {peer}: bad trailer ({refusal}); nothing stored, closing"
                    ));
                    self.reply(stream, &refusal.to_reply())?;
                    return Ok(Next::Close);
                }
            },
        };
        if let Some(expected) = expected_md5 {
            if expected != md5 {
                // Delete the temporary file *before* answering, so that a client that has the
                // answer can rely on it being gone.
                drop(pending);
                log.line(format!(
                    "put '{shown}' from {peer}: md5_mismatch (header {expected}, body {md5}); nothing stored"
                ));
                let msg = format!(
                    "the {size} bytes received have md5 {md5}, not {expected}; nothing was stored and any old file is unchanged"
                );
                self.reply(
                    stream,
                    &Refusal::new(ErrorCode::Md5Mismatch, msg).to_reply(),
                )?;
                return Ok(Next::Continue);
            }
        }

        // Fingerprint before the rename (the rename keeps inode, size and time), record after it.
        let fingerprint = pending
            .file()
            .metadata()
            .ok()
            .and_then(|m| Fingerprint::of(&m));
        if let Err(e) = pending.commit() {
            log.line(format!("put '{shown}' from {peer}: storage error: {e}"));
            let msg = format!("the server could not store the file: {e}");
            self.reply(
                stream,
                &Refusal::new(ErrorCode::StorageError, msg).to_reply(),
            )?;
            return Ok(Next::Continue);
        }
        if let Some(fingerprint) = fingerprint {
            if let Err(e) = self.records.record(name, &fingerprint, &md5) {
                log.line(format!("could not record the md5 of '{shown}': {e}"));
            }
        }
        log.line(format!(
            "put '{shown}' from {peer}: stored {size} bytes, md5 {md5}"
        ));
        self.reply(stream, &put_ok(size, &md5))?;
        Ok(Next::Continue)
    }

    /// A trailer put's trailer frame, which must arrive whole within the idle timeout. A frame
    /// that says nothing usable is refused; a connection that breaks or goes silent is an error
    /// (either way nothing is stored: the caller drops the temporary file).
    fn read_trailer(&self, stream: &mut Conn) -> Result<String, Refusal> {
        let frame = self.read_request(stream).map_err(|e| {
            Refusal::new(
                ErrorCode::BadRequest,
                format!("no trailer after the body ({e})"),
            )
        })?;
        let frame = frame.ok_or_else(|| {
            Refusal::new(
                ErrorCode::BadRequest,
                "the connection ended before the trailer",
            )
        })?;
        trailer_md5(&frame)
    }

    /// `get`: announce size and MD5, then send the very bytes that were hashed.
    fn get(
        &self,
        stream: &mut Conn,
        peer: SocketAddr,
        name: &str,
        log: &Log,
    ) -> Result<Next, SessionError> {
        let shown = preview(name.as_bytes(), NAME_PREVIEW);
        // A get has no body, so after any refusal the stream is still at a request boundary.
        let mut refuse = |refusal: Refusal| -> Result<Next, SessionError> {
            log.line(format!("get '{shown}' by {peer}: {refusal}"));
            self.reply(stream, &refusal.to_reply())?;
            Ok(Next::Continue)
        };
        let (mut file, size, md5) = match self.open_download(name) {
            Ok(found) => found,
            Err(refusal) => return refuse(refusal),
        };
        self.reply(stream, &get_ok(size, &md5))?;
        self.send_download(&mut file, stream, name, size, &md5)?;
        log.line(format!(
            "get '{shown}' by {peer}: sent {size} bytes, md5 {md5}"
        ));
        Ok(Next::Continue)
    }

    /// A stored file to send: checks the name, opens the file safely ([`open_stored`]) and finds
    /// its size and MD5. A refusal says why not, for the client.
    pub(super) fn open_download(&self, name: &str) -> Result<(File, u64, String), Refusal> {
        let shown = preview(name.as_bytes(), NAME_PREVIEW);
        check_name(name).map_err(|why| Refusal::new(ErrorCode::BadName, why.to_string()))?;
        let mut file = match open_stored(&self.dir.join(name)) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Refusal::new(
                    ErrorCode::NotFound,
                    format!("no file named '{shown}' is stored here"),
                ))
            }
            Err(e) => {
                return Err(Refusal::new(
                    ErrorCode::StorageError,
                    format!("cannot open '{shown}': {e}"),
                ))
            }
        };
        let (size, md5) = self.digest_of(&mut file, name).map_err(|e| {
            Refusal::new(
                ErrorCode::StorageError,
                format!("cannot read '{shown}': {e}; try again"),
            )
        })?;
        Ok((file, size, md5))
    }

    /// Sends the `size` bytes of a file opened by [`open_download`](Self::open_download),
    /// hashing them again as they go out (on a second thread, so it costs no time): if the file
    /// changed under us, or its digest record was wrong, the connection is closed.
    pub(super) fn send_download(
        &self,
        file: &mut File,
        stream: &mut Conn,
        name: &str,
        size: u64,
        md5: &str,
    ) -> Result<(), SessionError> {
        let shown = || preview(name.as_bytes(), NAME_PREVIEW);
        let sent = copy_hashed(file, stream, size, Md5::new(), &Progress::hidden());
        match sent.map(hex_digest) {
            Ok(sent) if sent == md5 => Ok(()),
            Ok(_) | Err(TransferError::Truncated { .. }) => {
                self.records.forget(name);
                Err(SessionError::ChangedWhileSending(shown()))
            }
            Err(TransferError::Write { error, .. }) => Err(self.lost(error)),
            Err(TransferError::Read { error, .. }) => Err(SessionError::Disk {
                name: shown(),
                error,
            }),
            Err(TransferError::Hasher) => Err(SessionError::Io(io::Error::other(
                "the hashing thread stopped",
            ))),
        }
    }

    /// The size and MD5 of an open stored file, from its record if the record still describes
    /// it, otherwise by reading it (and then recording it). Leaves the file at offset 0.
    fn digest_of(&self, file: &mut File, name: &str) -> io::Result<(u64, String)> {
        let metadata = file.metadata()?;
        let size = metadata.len();
        let fingerprint = Fingerprint::of(&metadata);
        if let Some(md5) = fingerprint.and_then(|f| self.records.lookup(name, &f)) {
            return Ok((size, md5));
        }
        let md5 = hex_digest(hash_prefix(file, size).map_err(io::Error::other)?);
        file.seek(SeekFrom::Start(0))?;
        let after = file.metadata()?;
        if Fingerprint::of(&after) != fingerprint || after.len() != size {
            return Err(io::Error::other(
                "the file changed while it was being hashed",
            ));
        }
        if let Some(fingerprint) = fingerprint {
            // Not fatal: without a record the next get just hashes again.
            let _ = self.records.record(name, &fingerprint, &md5);
        }
        Ok((size, md5))
    }
}

/// Opens a stored file for reading, refusing anything that is not a regular file.
///
/// The upload folder belongs to the server, but someone with a shell on the machine could plant a
/// symlink to `/etc/shadow` or a FIFO (whose `open` blocks for ever) in it. On Unix the file is
/// opened with `O_NOFOLLOW` (a symlink fails to open) and `O_NONBLOCK` (a FIFO opens at once);
/// then the open file itself is checked, so nothing can be swapped in between check and use.
fn open_stored(path: &Path) -> io::Result<File> {
    let not_regular = || io::Error::new(io::ErrorKind::NotFound, "not a regular file");
    if !std::fs::symlink_metadata(path)?.is_file() {
        return Err(not_regular());
    }
    let mut options = File::options();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            e
        } else {
            // ELOOP from O_NOFOLLOW: a symlink appeared since the check above.
            io::Error::new(io::ErrorKind::NotFound, format!("not a regular file ({e})"))
        }
    })?;
    if !file.metadata()?.is_file() {
        return Err(not_regular());
    }
    Ok(file)
}

/// The MD5 a put's body must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expected<'a> {
    /// None given (the tutorial's client): nothing to check, nothing to wait for.
    Nothing,
    /// From the header.
    Header(&'a str),
    /// From the trailer frame after the body.
    Trailer,
}

/// A request header as read from the wire.
type Header = Map<String, Value>;

/// A client's connection, as the handlers use it: every call goes through the tracer (which does
/// nothing when `--trace` and `--picture` are off).
pub(super) type Conn = Traced<TcpStream>;

/// socklab's requests and replies: a 4-byte little-endian length, a JSON header, then, when the
/// header has a `filesize`, the body.
pub(super) const FRAMES: MessageFormat = MessageFormat::JsonHeader(LengthOrder::Little);

impl Handler for UploadService {
    type Error = SessionError;

    fn handle(&self, stream: TcpStream, peer: SocketAddr, log: &Log) -> Result<(), SessionError> {
        // `serve` sets the read timeout; the write timeout is what bounds a client that stops
        // reading (see the module comment).
        stream
            .set_write_timeout(self.idle_timeout)
            .map_err(SessionError::Io)?;
        let mut stream = self.traced(stream, peer, FRAMES, FRAMES);
        loop {
            let header = match self.read_request(&mut stream) {
                Ok(Some(header)) => header,
                Ok(None) => return Ok(()),
                Err(e) => {
                    self.bad_frame(&mut stream, peer, e, log)?;
                    net::close_gracefully(stream.get_mut(), LINGER);
                    return Ok(());
                }
            };
            let next = match parse_request(&header) {
                Ok(Request::Put {
                    filename,
                    filesize,
                    md5,
                }) => {
                    let expected = match md5.as_deref() {
                        Some(md5) => Expected::Header(md5),
                        None => Expected::Nothing,
                    };
                    self.put(&mut stream, peer, &filename, filesize, expected, log)?
                }
                Ok(Request::PutTrailer { filename, filesize }) => self.put(
                    &mut stream,
                    peer,
                    &filename,
                    filesize,
                    Expected::Trailer,
                    log,
                )?,
                Ok(Request::Get { filename }) => self.get(&mut stream, peer, &filename, log)?,
                Err(refusal) => {
                    // An unknown command has no body we know of: carry on. A bad request may
                    // have had one (a put with a broken filesize): close.
                    let next = if refusal.code == ErrorCode::UnknownCommand {
                        Next::Continue
                    } else {
                        Next::Close
                    };
                    let closing = if next == Next::Close { ", closing" } else { "" };
                    log.line(format!("request from {peer} refused ({refusal}){closing}"));
                    let refusal = if next == Next::Close {
                        Refusal::new(
                            refusal.code,
                            format!("{}; the server closes this connection", refusal.msg),
                        )
                    } else {
                        refusal
                    };
                    self.reply(&mut stream, &refusal.to_reply())?;
                    next
                }
            };
            if next == Next::Close {
                net::close_gracefully(stream.get_mut(), LINGER);
                return Ok(());
            }
        }
    }

    fn refuse(&self, stream: &mut TcpStream, max_clients: usize) -> io::Result<()> {
        let refusal = Refusal::new(
            ErrorCode::TooManyClients,
            format!(
                "server busy: already serving {max_clients} clients (--max-clients); try again later"
            ),
        );
        // A tiny frame on a fresh connection: it fits the socket buffer, but never wait long.
        stream.set_write_timeout(Some(Duration::from_secs(1)))?;
        self.framing
            .write_header(stream, &refusal.to_reply())
            .map_err(io::Error::other)
    }
}
