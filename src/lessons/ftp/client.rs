//! The 14-ftp client library: one method per command, each returning what the server said.
//!
//! [`FtpClient::connect`] opens the connection and logs in (the SCRAM exchange of [`super::login`], which also
//! checks that the server knows the account: an impostor is refused). Every other method sends
//! one request header and reads one reply; `put` and `get` move a body in between.
//!
//! Resuming (断点续传) works the same way in both directions:
//! - **put**: the server keeps what it received of an interrupted upload; the next put of the
//!   same file (same remote path, size, and md5 or md5-in-a-trailer) is answered
//!   `{"status":"ready","offset":K}` and the client sends only the bytes from K.
//!
//! Where a put's md5 goes: [`FtpClient::put`] announces `"md5": "trailer"`, hashes the file while
//! sending it, and sends `{"md5": ...}` right after the body, so the file is read once and its
//! md5 costs no time of its own. [`FtpClient::put_with_md5`] puts a known md5 in the header, the
//! tutorial's way.
//! - **get**: the client writes to `LOCAL.part` and renames it to `LOCAL` only once the md5 of the
//!   whole file matches. After an interruption, the next get of the same file asks for
//!   `"offset": <size of LOCAL.part>`, hashes the bytes it already has, and continues the same
//!   md5 over the rest ([`transfer::hash_prefix`] then [`transfer::copy_hashed`]), so the check
//!   still covers every byte. The get header says `"md5": "trailer"`: a server with no md5
//!   recorded for the file may then send it after the body, hashed while sending, instead of
//!   reading the whole file once before the first byte goes out.

use std::fs::{self, File};
use std::io::{self, Seek, SeekFrom};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::login::{client_login, LoginError, LoginOk};
use super::protocol::{check_reply, md5_field, Code, Entry, Refusal, TRAILER};
use crate::deadline::WithDeadline;
use crate::download;
use crate::escape::server_text;
use crate::framing::{self, FrameError};
use crate::net::{self, NetError};
use crate::transfer::{self, Progress, TransferError};

/// What went wrong on the client's side of a command.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error reply. The connection is fine.
    #[error("{0}")]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Login(#[from] LoginError),
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("connection: {0}")]
    Frame(#[from] FrameError),
    #[error("transfer: {0}")]
    Transfer(#[from] TransferError),
    /// A local file could not be read or written. The connection is fine.
    #[error("{0}")]
    Local(String),
    /// A download's md5 did not match; its partial file was removed. The connection is fine.
    #[error("{path}: the bytes received have md5 {got}, the server announced {expected}; partial download removed")]
    Md5Mismatch {
        path: String,
        expected: String,
        got: String,
    },
    #[error("the server broke the protocol: {0}")]
    Protocol(String),
    #[error("the server closed the connection")]
    Closed,
    /// Nothing happened for `--timeout`: no reply, no byte of a body, no room to send one.
    #[error("timed out after {} s waiting for {1} (--timeout)", .0.as_secs_f64())]
    Timeout(Duration, &'static str),
}

impl ClientError {
    /// The code for an `error: CODE: msg` line: the server's code, or `local`, `connection`...
    pub fn code(&self) -> String {
        match self {
            ClientError::Refused(r) => r.code.to_string(),
            ClientError::Login(LoginError::AuthFailed(_)) => Code::AuthFailed.to_string(),
            ClientError::Login(LoginError::Refused { code, .. }) => code.clone(),
            ClientError::Login(_) => "login".into(),
            ClientError::Md5Mismatch { .. } => Code::Md5Mismatch.to_string(),
            ClientError::Local(_) => "local".into(),
            ClientError::Net(_)
            | ClientError::Frame(_)
            | ClientError::Closed
            | ClientError::Timeout(..) => "connection".into(),
            ClientError::Transfer(_) => "transfer".into(),
            ClientError::Protocol(_) => "protocol".into(),
        }
    }

    /// The message without the code.
    pub fn message(&self) -> String {
        match self {
            ClientError::Refused(r) => r.msg.clone(),
            ClientError::Login(LoginError::AuthFailed(msg)) => msg.clone(),
            ClientError::Login(LoginError::Refused { msg, .. }) => msg.clone(),
            other => other.to_string(),
        }
    }

    /// Can the session go on after this error? (A refusal, a local file problem or a bad md5
    /// leave the connection in step; a broken connection or a half-sent body do not.)
    pub fn is_recoverable(&self) -> bool {
        matches!(
            self,
            ClientError::Refused(_) | ClientError::Local(_) | ClientError::Md5Mismatch { .. }
        )
    }
}

/// An `ls` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub entries: Vec<Entry>,
    /// The directory has more entries than fit in one reply; these are the first by name.
    pub truncated: bool,
}

/// A finished upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutDone {
    pub remote: String,
    pub size: u64,
    /// Where the upload started: more than 0 when it resumed a kept partial upload.
    pub offset: u64,
    pub md5: String,
    pub used: u64,
    pub quota: u64,
}

/// A finished download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetDone {
    pub local: PathBuf,
    pub size: u64,
    /// Where the download started: more than 0 when it resumed `LOCAL.part`.
    pub offset: u64,
    pub md5: String,
}

/// The default `--timeout`: how long the client waits for the server to answer, to send the
/// next bytes of a body or to take more, before it gives up. Generous: before a download of a
/// file whose md5 is not recorded, the server reads the whole file, and after an upload it
/// flushes it to disk.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// A logged-in connection to a 14-ftp server.
pub struct FtpClient {
    stream: TcpStream,
    progress: bool,
    timeout: Duration,
    /// `--max-size`: the largest download accepted. `None`: the free space of the folder the
    /// file goes to ([`download::default_max_size`]).
    max_size: Option<u64>,
}

impl FtpClient {
    /// Connects to `host:port` and logs in as `user`, waiting at most [`DEFAULT_TIMEOUT`] for
    /// anything.
    pub fn connect(
        host: &str,
        port: u16,
        user: &str,
        password: &str,
    ) -> Result<(FtpClient, LoginOk), ClientError> {
        FtpClient::connect_within(host, port, user, password, DEFAULT_TIMEOUT)
    }

    /// [`FtpClient::connect`] with `--timeout`: the whole login exchange must be done within
    /// `timeout` ([`WithDeadline`]: a server that trickles its challenge byte by byte gains
    /// nothing), and every later wait is bounded by it too.
    pub fn connect_within(
        host: &str,
        port: u16,
        user: &str,
        password: &str,
        timeout: Duration,
    ) -> Result<(FtpClient, LoginOk), ClientError> {
        let mut stream = net::connect_tcp_within(host, port, timeout)?;
        set_timeouts(&stream, timeout).map_err(NetError::Io)?;
        let ok = match client_login(
            &mut WithDeadline::within(&mut stream, timeout),
            user,
            password,
        ) {
            Err(LoginError::Frame(FrameError::Io(e))) if net::is_timeout(&e) => {
                return Err(ClientError::Timeout(timeout, "the login exchange"))
            }
            other => other?,
        };
        let mut client = FtpClient::logged_in(stream);
        client.set_timeout(timeout);
        Ok((client, ok))
    }

    /// Wraps a connection on which the login exchange has already succeeded (the tour does the
    /// exchange by hand, to show each message).
    pub fn logged_in(stream: TcpStream) -> FtpClient {
        // Only fails for a closed socket, which shows at first use.
        let _ = set_timeouts(&stream, DEFAULT_TIMEOUT);
        FtpClient {
            stream,
            progress: false,
            timeout: DEFAULT_TIMEOUT,
            max_size: None,
        }
    }

    /// `--timeout`: the longest wait for a reply, for the next bytes of a download, or for the
    /// server to take more bytes of an upload.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
        let _ = set_timeouts(&self.stream, timeout);
    }

    /// `--max-size`: a `get` of a larger file is refused before its first byte. `None`: the
    /// free space of the folder it would be saved in.
    pub fn set_max_size(&mut self, max: Option<u64>) {
        self.max_size = max;
    }

    /// Shows a progress bar on every put and get (when stderr is a terminal).
    pub fn set_progress(&mut self, on: bool) {
        self.progress = on;
    }

    /// Sends one request and reads its reply; an error reply becomes [`ClientError::Refused`].
    pub fn request(&mut self, header: &Value) -> Result<Map<String, Value>, ClientError> {
        framing::write_header(&mut self.stream, header)?;
        self.reply()
    }

    fn reply(&mut self) -> Result<Map<String, Value>, ClientError> {
        let reply = match framing::read_header(&mut self.stream) {
            Ok(Some(reply)) => reply,
            Ok(None) => return Err(ClientError::Closed),
            Err(FrameError::Io(e)) if net::is_timeout(&e) => {
                return Err(ClientError::Timeout(self.timeout, "the server's reply"))
            }
            Err(e) => return Err(e.into()),
        };
        Ok(check_reply(reply)?)
    }

    /// A get's trailer frame, `{"md5": "<32 hex digits>"}`, right after the body.
    fn trailer_md5(&mut self) -> Result<String, ClientError> {
        let trailer = match framing::read_header(&mut self.stream) {
            Ok(Some(trailer)) => trailer,
            Ok(None) => return Err(ClientError::Closed),
            Err(FrameError::Io(e)) if net::is_timeout(&e) => {
                return Err(ClientError::Timeout(self.timeout, "the md5 after the file"))
            }
            Err(e) => return Err(e.into()),
        };
        md5_field(&trailer).map_err(|refusal| {
            ClientError::Protocol(format!(
                "the frame after the file must be {{\"md5\": \"<32 hex digits>\"}}: {}",
                refusal.msg
            ))
        })
    }

    pub fn pwd(&mut self) -> Result<String, ClientError> {
        let reply = self.request(&json!({"cmd": "pwd"}))?;
        text(&reply, "cwd")
    }

    /// Changes the remote directory; returns the new one.
    pub fn cd(&mut self, path: &str) -> Result<String, ClientError> {
        let reply = self.request(&json!({"cmd": "cd", "path": path}))?;
        text(&reply, "cwd")
    }

    /// Lists a directory (the current one without `path`), sorted by name.
    pub fn ls(&mut self, path: Option<&str>) -> Result<Listing, ClientError> {
        let header = match path {
            Some(path) => json!({"cmd": "ls", "path": path}),
            None => json!({"cmd": "ls"}),
        };
        let reply = self.request(&header)?;
        let entries = reply.get("entries").cloned().unwrap_or(Value::Null);
        let entries = serde_json::from_value(entries)
            .map_err(|e| ClientError::Protocol(format!("bad \"entries\" in an ls reply: {e}")))?;
        let truncated = reply.get("truncated").and_then(Value::as_bool) == Some(true);
        Ok(Listing { entries, truncated })
    }

    pub fn mkdir(&mut self, path: &str) -> Result<(), ClientError> {
        self.request(&json!({"cmd": "mkdir", "path": path}))?;
        Ok(())
    }

    pub fn rm(&mut self, path: &str) -> Result<(), ClientError> {
        self.request(&json!({"cmd": "rm", "path": path}))?;
        Ok(())
    }

    /// `(used, quota)` in bytes.
    pub fn quota(&mut self) -> Result<(u64, u64), ClientError> {
        let reply = self.request(&json!({"cmd": "quota"}))?;
        Ok((number(&reply, "used")?, number(&reply, "quota")?))
    }

    /// Says goodbye and closes.
    pub fn quit(mut self) -> Result<(), ClientError> {
        self.request(&json!({"cmd": "quit"}))?;
        Ok(())
    }

    /// Uploads `local` as `remote`, resuming a kept partial upload if the server has one. The
    /// md5 is computed while the bytes are sent and follows the body in a trailer frame.
    pub fn put(&mut self, local: &Path, remote: &str) -> Result<PutDone, ClientError> {
        self.upload(local, remote, None)
    }

    /// Uploads `local` as `remote` with its md5, already known, in the put header (the
    /// tutorial's protocol): the body is only copied.
    pub fn put_with_md5(
        &mut self,
        local: &Path,
        remote: &str,
        md5: &str,
    ) -> Result<PutDone, ClientError> {
        self.upload(local, remote, Some(md5))
    }

    fn upload(
        &mut self,
        local: &Path,
        remote: &str,
        known_md5: Option<&str>,
    ) -> Result<PutDone, ClientError> {
        let local_error = |e: io::Error| ClientError::Local(format!("{}: {e}", local.display()));
        let mut file = File::open(local).map_err(local_error)?;
        let meta = file.metadata().map_err(local_error)?;
        if !meta.is_file() {
            return Err(ClientError::Local(format!(
                "{} is not a regular file",
                local.display()
            )));
        }
        let size = meta.len();
        let md5_in_header = known_md5.unwrap_or(TRAILER);
        let ready = self.request(
            &json!({"cmd": "put", "filename": remote, "filesize": size, "md5": md5_in_header}),
        )?;
        if ready.get("status").and_then(Value::as_str) != Some("ready") {
            return Err(ClientError::Protocol(format!(
                "expected ready, got {}",
                Value::Object(ready)
            )));
        }
        let offset = number(&ready, "offset")?;
        if offset > size {
            return Err(ClientError::Protocol(format!(
                "the server asked for offset {offset} of a {size}-byte file"
            )));
        }
        // With a trailer, the md5 must cover the whole file: the bytes the server kept are
        // hashed here first (read from the local file), the rest while they are sent.
        let md5_so_far = match known_md5 {
            Some(_) => None,
            None => Some(transfer::hash_prefix(&mut file, offset)?),
        };
        file.seek(SeekFrom::Start(offset)).map_err(local_error)?;

        let progress = Progress::new(size, &format!("put {remote}"), self.progress);
        progress.start_at(offset);
        let rest = size - offset;
        let sent = match md5_so_far {
            // The md5 is known already (it is in the header): the bytes are only copied.
            None => {
                transfer::copy_exact(&mut file, &mut self.stream, rest, &progress).map(|()| None)
            }
            Some(md5) => transfer::copy_hashed(&mut file, &mut self.stream, rest, md5, &progress)
                .and_then(|md5| {
                    let md5 = transfer::hex_digest(md5);
                    let trailer = json!({"md5": md5});
                    framing::write_header(&mut self.stream, &trailer).map_err(|e| {
                        TransferError::Write {
                            after: rest,
                            error: io::Error::other(e),
                        }
                    })?;
                    Ok(Some(md5))
                }),
        };
        progress.finish();
        let sent_md5 = match sent {
            Ok(md5) => md5,
            Err(TransferError::Write { error, .. }) if net::is_timeout(&error) => {
                return Err(ClientError::Timeout(
                    self.timeout,
                    "the server to take more bytes",
                ))
            }
            Err(e) => return Err(e.into()),
        };

        let done = self.reply()?;
        let md5 = text(&done, "md5")?;
        // The md5 the server computed must be the md5 of what we sent (the whole file): the
        // server saying "ok" is not proof, a lying or broken one would say it anyway.
        let expected = match sent_md5 {
            Some(computed) => computed,
            None => known_md5.unwrap_or_default().to_ascii_lowercase(),
        };
        if !md5.eq_ignore_ascii_case(&expected) {
            return Err(ClientError::Protocol(format!(
                "the server reports md5 {} for {remote}, but the file sent has md5 {expected}",
                server_text(&md5)
            )));
        }
        Ok(PutDone {
            remote: remote.to_string(),
            size,
            offset,
            md5: expected,
            used: number(&done, "used")?,
            quota: number(&done, "quota")?,
        })
    }

    /// Downloads `remote` to `local`, through `LOCAL.part`, resuming it if it exists.
    ///
    /// `LOCAL.part` is only ever a plain file of our own ([`download::open_partial`]: a planted
    /// symbolic or hard link is refused, never written through), a file over `--max-size` is
    /// refused before its first byte, and `LOCAL` appears only once the md5 matches (a rename,
    /// which replaces whatever was at `LOCAL` instead of writing through it).
    pub fn get(&mut self, remote: &str, local: &Path) -> Result<GetDone, ClientError> {
        let partial = partial_path(local);
        let local_error = |e: io::Error| ClientError::Local(format!("{}: {e}", partial.display()));
        // An existing partial file is opened (and checked) before the server is asked anything.
        let mut kept = match fs::symlink_metadata(&partial) {
            Ok(_) => Some(download::open_partial(&partial).map_err(local_error)?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(local_error(e)),
        };
        let have = match &kept {
            Some(file) => file.metadata().map_err(local_error)?.len(),
            None => 0,
        };
        let reply = match self.request(&get_header(remote, have)) {
            // The remote file is now shorter than what we kept: it changed, so start again.
            Err(ClientError::Refused(r)) if have > 0 && r.code == Code::BadRequest => {
                kept = None;
                fs::remove_file(&partial).map_err(local_error)?;
                self.request(&get_header(remote, 0))?
            }
            other => other?,
        };
        let size = number(&reply, "filesize")?;
        let offset = number(&reply, "offset")?;
        let md5 = text(&reply, "md5")?;
        if offset > size || offset > have {
            return Err(ClientError::Protocol(format!(
                "the server sends from offset {offset} of {size} bytes; we asked for {have}"
            )));
        }
        let max = self
            .max_size
            .unwrap_or_else(|| download::default_max_size(download::folder_of(local)) + have);
        // The server is about to send the body: refusing now leaves the connection out of step,
        // so the error ends the session (it is not `Local`), and nothing has been written.
        download::check_size(size, max).map_err(ClientError::Protocol)?;

        // From here the server is sending `size - offset` bytes: any local failure now leaves the
        // connection out of step, so it is reported as a transfer error and ends the session.
        let mut file = match kept {
            Some(file) => file,
            None => download::open_partial(&partial)
                .map_err(|e| TransferError::Write { after: 0, error: e })?,
        };
        let md5_so_far = transfer::hash_prefix(&mut file, offset)?;
        file.seek(SeekFrom::Start(offset))
            .and_then(|_| file.set_len(offset))
            .map_err(|e| TransferError::Write { after: 0, error: e })?;
        let progress = Progress::new(size, &format!("get {remote}"), self.progress);
        progress.start_at(offset);
        // Through a Writeback: the disk writes while the bytes arrive, so the sync_all below
        // waits for the last few megabytes, not for the whole file.
        let received = transfer::copy_hashed(
            &mut self.stream,
            &mut transfer::Writeback::new(&file, offset),
            size - offset,
            md5_so_far,
            &progress,
        );
        progress.finish();
        let got = match received {
            Ok(md5) => transfer::hex_digest(md5),
            Err(TransferError::Read { error, .. }) if net::is_timeout(&error) => {
                return Err(ClientError::Timeout(self.timeout, "the file's next bytes"))
            }
            Err(e) => return Err(e.into()),
        };
        // The server hashed the file while sending it: its md5 follows the body. (The whole
        // body is in LOCAL.part: without the trailer, the next get resumes at its end.)
        let md5 = if md5 == TRAILER {
            self.trailer_md5()?
        } else {
            md5
        };

        if got != md5 {
            drop(file);
            let _ = fs::remove_file(&partial);
            return Err(ClientError::Md5Mismatch {
                path: remote.to_string(),
                expected: md5,
                got,
            });
        }
        file.sync_all().map_err(local_error)?;
        drop(file);
        fs::rename(&partial, local).map_err(|e| {
            ClientError::Local(format!("cannot rename to {}: {e}", local.display()))
        })?;
        Ok(GetDone {
            local: local.to_path_buf(),
            size,
            offset,
            md5,
        })
    }
}

/// Both socket timeouts: a read waits at most `timeout` for a byte, a write for room to send.
fn set_timeouts(stream: &TcpStream, timeout: Duration) -> io::Result<()> {
    // A zero duration is refused by the OS calls ("invalid argument"): the shortest wait is 1 ms.
    let timeout = timeout.max(Duration::from_millis(1));
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))
}

/// A get request. `"md5": "trailer"` says this client accepts the md5 after the body, so a
/// server that has no md5 recorded for the file need not read it twice (see `commands.rs`).
fn get_header(remote: &str, offset: u64) -> Value {
    json!({"cmd": "get", "filename": remote, "offset": offset, "md5": TRAILER})
}

/// `LOCAL.part`: where a download is written until its md5 is verified.
pub fn partial_path(local: &Path) -> PathBuf {
    let mut name = local.as_os_str().to_os_string();
    name.push(".part");
    PathBuf::from(name)
}

fn text(reply: &Map<String, Value>, field: &str) -> Result<String, ClientError> {
    reply
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| ClientError::Protocol(format!("the reply has no text \"{field}\"")))
}

fn number(reply: &Map<String, Value>, field: &str) -> Result<u64, ClientError> {
    reply
        .get(field)
        .and_then(Value::as_u64)
        .ok_or_else(|| ClientError::Protocol(format!("the reply has no number \"{field}\"")))
}
