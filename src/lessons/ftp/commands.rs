//! The commands of a logged-in user: `cd`, `ls`, `mkdir`, `rm`, `quota`, `put`, `get`.
//!
//! Each command is a small function that returns [`Done`] (the reply and a note for the log) or
//! a [`Failure`]: either a [`Refusal`] (an error reply; the connection goes on) or a broken
//! connection (nothing more can be said; the session ends). Every path goes through the home
//! jail ([`super::paths`]) before the disk is touched.
//!
//! Bodies: a put reserves quota ([`super::quota`]), answers `ready`, then receives exactly the
//! announced bytes into its partial file ([`super::partials`]) with the md5 computed on a second
//! thread while they arrive ([`crate::transfer::copy_hashed`]) and the disk asked to write them
//! back as they come ([`crate::transfer::start_writeback`]). The md5 to compare with is the
//! header's, or comes in a trailer frame right after the body ([`PutMd5`]); only a verified,
//! flushed file is renamed into place. A get announces the recorded md5
//! ([`super::checksums`]) and streams the file from the offset asked.

use std::fs::{self, File};
use std::io::{self, Seek, SeekFrom};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::checksums::Checksums;
use super::partials::Partials;
use super::paths::{is_reserved, open_no_follow, Jail, JailError, Kind, PathError, VirtualPath};
use super::protocol::{md5_field, Code, Entry, PutMd5, Refusal, Request, TRAILER};
use super::quota::{Limits, QuotaError, Reservation, UserLedger};
use super::session::{cut, send, SessionError};
use crate::deadline::WithDeadline;
use crate::escape::escape_bytes;
use crate::framing::{self, FrameError, DEFAULT_MAX_HEADER};
use crate::transfer::{self, Progress};

/// A command that did not succeed.
pub(super) enum Failure {
    /// Answered with an error reply; the connection goes on.
    Refused(Refusal),
    /// The connection cannot go on (the client vanished, or the bytes are out of step).
    Broken(SessionError),
}

impl From<Refusal> for Failure {
    fn from(refusal: Refusal) -> Failure {
        Failure::Refused(refusal)
    }
}

impl From<PathError> for Failure {
    fn from(e: PathError) -> Failure {
        let code = if e.is_denial() {
            Code::Denied
        } else {
            Code::BadRequest
        };
        refused(code, e.to_string())
    }
}

impl From<JailError> for Failure {
    fn from(e: JailError) -> Failure {
        match e {
            JailError::Symlink(_) | JailError::Special(_) => refused(Code::Denied, e.to_string()),
            JailError::ParentMissing(_) => refused(Code::NotFound, e.to_string()),
            JailError::ParentNotDir(_) => refused(Code::NotADirectory, e.to_string()),
            JailError::Io(e) => disk(e),
        }
    }
}

impl From<QuotaError> for Failure {
    fn from(e: QuotaError) -> Failure {
        match e {
            QuotaError::Exceeded { .. } | QuotaError::TooManyEntries { .. } => {
                refused(Code::QuotaExceeded, e.to_string())
            }
            QuotaError::Io(e) => disk(e),
        }
    }
}

impl From<SessionError> for Failure {
    fn from(e: SessionError) -> Failure {
        Failure::Broken(e)
    }
}

fn refused(code: Code, msg: impl Into<String>) -> Failure {
    Failure::Refused(Refusal::new(code, msg))
}

/// A disk operation on the server failed: the client gets `server_error`. (An `io::Error`'s text
/// never holds the path, so no host path leaks into the message.)
fn disk(e: io::Error) -> Failure {
    refused(Code::ServerError, format!("the server's disk said: {e}"))
}

/// A command that succeeded: the reply to send (none when the command already sent its own, as
/// get does before its body) and what to say in the log.
pub(super) struct Done {
    pub reply: Option<Value>,
    pub note: String,
}

impl Done {
    fn reply(reply: Value, note: impl Into<String>) -> Done {
        Done {
            reply: Some(reply),
            note: note.into(),
        }
    }
}

/// A logged-in user, as one session sees it.
pub(super) struct User {
    pub name: String,
    /// The account's key at login: if users.json later holds another (a new password), the
    /// session ends.
    pub stored_key: String,
    pub jail: Jail,
    pub cwd: VirtualPath,
    /// The quota and file limit, refreshed from users.json before every command.
    pub limits: Limits,
    pub ledger: Arc<UserLedger>,
    pub partials: Partials,
    pub checksums: Checksums,
}

/// A client's path for a message that leaves this module unescaped (the server loop logs a
/// session's error as it is): control characters escaped, length bounded.
fn shown(path: &VirtualPath) -> String {
    escape_bytes(cut(&path.to_string(), 200).as_bytes())
}

/// Runs one command of a logged-in user.
pub(super) fn execute(
    user: &mut User,
    stream: &mut TcpStream,
    request: Request,
) -> Result<Done, Failure> {
    match request {
        Request::Pwd => Ok(Done::reply(
            json!({"status": "ok", "cwd": user.cwd.to_string()}),
            user.cwd.to_string(),
        )),
        Request::Cd { path } => cd(user, &path),
        Request::Ls { path } => ls(user, path.as_deref()),
        Request::Mkdir { path } => mkdir(user, &path),
        Request::Rm { path } => rm(user, &path),
        Request::Quota => {
            let used = user.ledger.lock().used(user.jail.home()).map_err(disk)?;
            Ok(Done::reply(
                json!({"status": "ok", "used": used, "quota": user.limits.bytes}),
                format!("used {used} of {}", user.limits.bytes),
            ))
        }
        Request::Put {
            filename,
            filesize,
            md5,
        } => put(user, stream, &filename, filesize, &md5),
        Request::Get {
            filename,
            offset,
            trailer_ok,
        } => get(user, stream, &filename, offset, trailer_ok),
        // Login and quit are the session's own business.
        Request::Login(_) | Request::Quit => Err(refused(Code::BadRequest, "unexpected here")),
    }
}

fn cd(user: &mut User, input: &str) -> Result<Done, Failure> {
    let path = VirtualPath::parse(&user.cwd, input)?;
    match user.jail.resolve(&path)?.kind {
        Kind::Dir => {
            user.cwd = path;
            let cwd = user.cwd.to_string();
            Ok(Done::reply(json!({"status": "ok", "cwd": cwd}), cwd))
        }
        Kind::File { .. } => Err(refused(
            Code::NotADirectory,
            format!("{path} is a file, not a directory"),
        )),
        Kind::Missing => Err(not_found(&path)),
    }
}

fn not_found(path: &VirtualPath) -> Failure {
    refused(Code::NotFound, format!("{path} does not exist"))
}

fn ls(user: &User, input: Option<&str>) -> Result<Done, Failure> {
    let path = match input {
        Some(input) => VirtualPath::parse(&user.cwd, input)?,
        None => user.cwd.clone(),
    };
    let resolved = user.jail.resolve(&path)?;
    match resolved.kind {
        Kind::Dir => {}
        Kind::File { .. } => {
            return Err(refused(
                Code::NotADirectory,
                format!("{path} is a file, not a directory"),
            ))
        }
        Kind::Missing => return Err(not_found(&path)),
    }
    let mut entries = Vec::new();
    for entry in fs::read_dir(&resolved.host).map_err(disk)? {
        let entry = entry.map_err(disk)?;
        let Ok(name) = entry.file_name().into_string() else {
            continue; // not UTF-8: no client could name it anyway
        };
        if is_reserved(&name) {
            continue;
        }
        // `DirEntry::metadata` does not follow symlinks; links and special files are not shown
        // because no command would accept them.
        let Ok(meta) = entry.metadata() else { continue };
        let (kind, size) = if meta.is_dir() {
            ("dir", 0)
        } else if meta.is_file() {
            ("file", meta.len())
        } else {
            continue;
        };
        entries.push(Entry {
            name,
            kind: kind.to_string(),
            size,
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let total = entries.len();
    let (entries, truncated) = fit_in_header(entries);
    let mut reply = json!({"status": "ok", "entries": entries});
    if truncated {
        reply["truncated"] = json!(true);
    }
    let note = if truncated {
        format!("{} of {total} entries (truncated)", entries.len())
    } else {
        format!("{total} entr{}", if total == 1 { "y" } else { "ies" })
    };
    Ok(Done::reply(reply, note))
}

/// Keeps the first entries that fit in one reply header (64 KiB, about a thousand names).
fn fit_in_header(entries: Vec<Entry>) -> (Vec<Entry>, bool) {
    // Room for `{"status":"ok","entries":[...],"truncated":true}` around the entries.
    let budget = DEFAULT_MAX_HEADER as usize - 100;
    let mut used = 0usize;
    let mut kept = Vec::new();
    let total = entries.len();
    for entry in entries {
        let size = serde_json::to_vec(&entry).map_or(usize::MAX, |v| v.len() + 1);
        used = used.saturating_add(size);
        if used > budget {
            break;
        }
        kept.push(entry);
    }
    let truncated = kept.len() < total;
    (kept, truncated)
}

fn mkdir(user: &User, input: &str) -> Result<Done, Failure> {
    let path = VirtualPath::parse(&user.cwd, input)?;
    if path.is_root() {
        return Err(refused(Code::Exists, "/ already exists"));
    }
    let resolved = user.jail.resolve(&path)?;
    if resolved.kind != Kind::Missing {
        return Err(refused(Code::Exists, format!("{path} already exists")));
    }
    // Under the user's lock: two sessions must not both take the last free entry.
    let guard = user.ledger.lock();
    guard.check_new_entry(user.jail.home(), user.limits.entries)?;
    match fs::create_dir(&resolved.host) {
        Ok(()) => Ok(Done::reply(json!({"status": "ok"}), "created")),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            Err(refused(Code::Exists, format!("{path} already exists")))
        }
        Err(e) => Err(disk(e)),
    }
}

fn rm(user: &User, input: &str) -> Result<Done, Failure> {
    let path = VirtualPath::parse(&user.cwd, input)?;
    if path.is_root() {
        return Err(refused(
            Code::Denied,
            "you cannot remove your home directory",
        ));
    }
    let resolved = user.jail.resolve(&path)?;
    match resolved.kind {
        Kind::Missing => Err(not_found(&path)),
        Kind::File { size } => {
            // Under the user's lock: a put committing this same path must not interleave
            // between the removal and forgetting its md5.
            let _guard = user.ledger.lock();
            fs::remove_file(&resolved.host).map_err(disk)?;
            let _ = user.checksums.forget(&path);
            Ok(Done::reply(
                json!({"status": "ok"}),
                format!("removed a {size}-byte file"),
            ))
        }
        Kind::Dir => {
            let not_empty = || {
                refused(
                    Code::NotEmpty,
                    format!("{path} is not empty; remove what it holds first"),
                )
            };
            let mut inside = fs::read_dir(&resolved.host).map_err(disk)?;
            if inside.next().is_some() {
                return Err(not_empty());
            }
            match fs::remove_dir(&resolved.host) {
                Ok(()) => Ok(Done::reply(json!({"status": "ok"}), "removed a directory")),
                // Something was put in it since we looked.
                Err(_) if fs::read_dir(&resolved.host).is_ok_and(|mut d| d.next().is_some()) => {
                    Err(not_empty())
                }
                Err(e) => Err(disk(e)),
            }
        }
    }
}

/// Where a put of `path` may write: not `/`, not a directory, under existing directories.
fn put_target(user: &User, path: &VirtualPath) -> Result<PathBuf, Failure> {
    if path.is_root() {
        return Err(refused(
            Code::IsADirectory,
            "/ is your home directory; give a file name",
        ));
    }
    let resolved = user.jail.resolve(path)?;
    if resolved.kind == Kind::Dir {
        return Err(refused(
            Code::IsADirectory,
            format!("{path} is a directory"),
        ));
    }
    Ok(resolved.host)
}

/// How long a trailer frame may take on a stream without a read timeout of its own.
const TRAILER_LIMIT: Duration = Duration::from_secs(60);

fn put(
    user: &User,
    stream: &mut TcpStream,
    filename: &str,
    size: u64,
    md5: &PutMd5,
) -> Result<Done, Failure> {
    let path = VirtualPath::parse(&user.cwd, filename)?;
    put_target(user, &path)?;
    user.partials
        .ensure_dir()
        .map_err(|e| partial_failure(&path, e))?;
    // A trailer put's partial file is named with the word `trailer` where the md5 would be: a
    // later trailer put of the same path and size resumes it. Its kept bytes are only as good
    // as the md5 that ends the upload: bytes of an older version of the file make it fail with
    // `md5_mismatch`, and the upload is discarded (the next try starts from 0).
    let partial = match md5 {
        PutMd5::Header(md5) => user.partials.file_for(&path, size, md5),
        PutMd5::Trailer => user.partials.file_for(&path, size, TRAILER),
    };
    let (reservation, kept) = reserve_upload(user, &path, &partial, size)?;
    let offset = kept.as_ref().map_or(0, |(_, len)| *len);
    check_disk_room(user, &path, size - offset)?;
    let mut file = match kept {
        Some((file, _)) => file,
        None => user
            .partials
            .create(&partial)
            .map_err(|e| partial_failure(&path, e))?,
    };
    // From here on, every failure that is not a resumable interruption removes the partial
    // file: a failed upload leaves nothing behind (the reservation is given back when dropped).
    let discard = |failure: Failure| {
        let _ = fs::remove_file(&partial);
        failure
    };
    // A resumed upload: the md5 of the whole file is the md5 of the bytes kept, continued with
    // the bytes still to come. Reading the kept bytes back is the price of resuming.
    let md5_so_far = transfer::hash_prefix(&mut file, offset).map_err(|e| {
        discard(refused(
            Code::ServerError,
            format!("cannot read the kept bytes: {e}"),
        ))
    })?;
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| discard(disk(e)))?;

    // Only now, with the room reserved and the file open, may the client send its bytes.
    send(stream, &json!({"status": "ready", "offset": offset}))?;
    let rest = size.saturating_sub(offset);
    let mut body = BodyWriter::new(&file, offset);
    let md5_whole =
        match transfer::copy_hashed(stream, &mut body, rest, md5_so_far, &Progress::hidden()) {
            Ok(md5_whole) => transfer::hex_digest(md5_whole),
            Err(error) => {
                // The reservation is dropped on the way out (its room is given back); the kept
                // partial bytes stay counted, because they are on disk.
                let kept = file.metadata().map_or(offset, |m| m.len());
                if kept == 0 {
                    // Nothing worth resuming: leave nothing behind.
                    let _ = fs::remove_file(&partial);
                }
                return Err(Failure::Broken(SessionError::UploadInterrupted {
                    path: shown(&path),
                    kept,
                    error,
                }));
            }
        };
    let disk_failure = body.failure;
    let trailer = *md5 == PutMd5::Trailer;
    let md5 = match md5 {
        PutMd5::Header(md5) => md5.clone(),
        // Read even when the disk failed: it keeps the connection in step.
        PutMd5::Trailer => match read_trailer(stream, &path) {
            Ok(md5) => md5,
            Err(TrailerError::Refused(refusal)) => return Err(discard(refusal.into())),
            Err(TrailerError::Broken(error)) => {
                // The whole body is in the partial file: a resumed put only sends its trailer.
                if disk_failure.is_some() {
                    let _ = fs::remove_file(&partial);
                }
                return Err(Failure::Broken(error));
            }
        },
    };
    if let Some(e) = disk_failure {
        // The whole body was read (the connection is still in step), but the disk refused it.
        return Err(discard(write_failure(&path, e)));
    }
    if md5_whole != md5 {
        drop(file);
        return Err(discard(refused(
            Code::Md5Mismatch,
            format!(
                "the bytes received have md5 {md5_whole}, not {md5}: upload discarded, {path} unchanged"
            ),
        )));
    }
    file.sync_all()
        .map_err(|e| discard(write_failure(&path, e)))?;
    drop(file);
    let used = commit_upload(user, &path, &partial, reservation, &md5)?;
    let resumed = if offset > 0 {
        format!(" (resumed at {offset})")
    } else {
        String::new()
    };
    let source = if trailer { "trailer" } else { "header" };
    Ok(Done::reply(
        json!({"status": "ok", "md5": md5_whole, "used": used, "quota": user.limits.bytes}),
        format!("stored {size} bytes{resumed}, md5 {md5_whole} (from the {source})"),
    ))
}

/// Why a trailer put's md5 frame could not be had.
enum TrailerError {
    /// The frame came but says nothing usable: the connection is in step, the upload discarded.
    Refused(Refusal),
    /// No frame (the client vanished, or sent something that is not a frame).
    Broken(SessionError),
}

/// Reads a trailer put's md5 frame, `{"md5": "<32 hex digits>"}`, which follows the body. The
/// whole frame must arrive within the stream's read timeout (the idle timeout).
fn read_trailer(stream: &mut TcpStream, path: &VirtualPath) -> Result<String, TrailerError> {
    let limit = match stream.read_timeout() {
        Ok(limit) => limit.unwrap_or(TRAILER_LIMIT),
        Err(e) => return Err(TrailerError::Broken(e.into())),
    };
    let unusable = |why: String| {
        TrailerError::Refused(Refusal::new(
            Code::BadRequest,
            format!(
                "the trailer after the body of {path} must be {{\"md5\": \"<32 hex digits>\"}}: {why}; upload discarded"
            ),
        ))
    };
    let frame = framing::read_header(&mut WithDeadline::within(stream, limit));
    match frame {
        Ok(Some(trailer)) => md5_field(&trailer).map_err(|refusal| unusable(refusal.msg)),
        // A whole frame was read: the connection is still in step.
        Err(e @ (FrameError::NotJson(_) | FrameError::NotObject(_))) => {
            Err(unusable(e.to_string()))
        }
        Ok(None) => Err(TrailerError::Broken(SessionError::TrailerMissing {
            path: shown(path),
            why: "the client closed the connection".into(),
        })),
        Err(FrameError::Io(e)) => Err(TrailerError::Broken(SessionError::TrailerMissing {
            path: shown(path),
            why: e.to_string(),
        })),
        // Not a frame at all: nothing more on this connection can be trusted.
        Err(e) => Err(TrailerError::Broken(e.into())),
    }
}

/// Where the body of a put is written. A failed write (disk full, `EFBIG`, an I/O error) cannot
/// stop the client: it is already sending the whole body and the protocol has no way to say
/// "stop". So after the first failure the rest of the body is still read, and thrown away, and
/// the error kept for the reply: the connection stays in step, the client gets a clear error
/// code, and its session goes on.
///
/// The file is written through a [`transfer::Writeback`], so the disk writes the bytes while
/// they arrive and the `fsync` that must come before the rename has little left to do.
struct BodyWriter<'a> {
    body: transfer::Writeback<'a>,
    failure: Option<io::Error>,
}

impl<'a> BodyWriter<'a> {
    /// Writes into `file` from `offset` (where the file's cursor is).
    fn new(file: &'a File, offset: u64) -> BodyWriter<'a> {
        BodyWriter {
            body: transfer::Writeback::new(file, offset),
            failure: None,
        }
    }
}

impl io::Write for BodyWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.failure.is_none() {
            if let Err(e) = self.body.write_all(buf) {
                self.failure = Some(e);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Refuses a put whose remaining bytes cannot fit on the server's disk (`no_space`), before the
/// client sends them.
fn check_disk_room(user: &User, path: &VirtualPath, need: u64) -> Result<(), Failure> {
    let free = user.partials.free_bytes().map_err(disk)?;
    if need > free {
        return Err(refused(
            Code::NoSpace,
            format!("the server's disk has {free} bytes free; {path} needs {need}"),
        ));
    }
    Ok(())
}

/// The disk refused an upload's bytes: `no_space` when it is full (or the file is over the
/// server's size limit), `server_error` for any other failure. The upload is discarded.
fn write_failure(path: &VirtualPath, e: io::Error) -> Failure {
    let no_room = matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::FileTooLarge | io::ErrorKind::QuotaExceeded
    );
    let code = if no_room {
        Code::NoSpace
    } else {
        Code::ServerError
    };
    refused(
        code,
        format!("the server's disk said: {e}; upload discarded, {path} unchanged"),
    )
}

/// Under the user's lock: tidy old partial files, find the one to resume, reserve the room.
/// Returns the reservation and the kept partial file (opened) with its length, the offset the
/// client must send from.
fn reserve_upload(
    user: &User,
    path: &VirtualPath,
    partial: &Path,
    size: u64,
) -> Result<(Reservation, Option<(File, u64)>), Failure> {
    let mut guard = user.ledger.lock();
    user.partials
        .remove_expired(|f| guard.is_uploading(f))
        .map_err(disk)?;
    if guard.is_uploading(partial) {
        return Err(refused(
            Code::Busy,
            format!("{path} is being uploaded by another of your sessions; try again when it ends"),
        ));
    }
    user.partials
        .remove_stale_versions(path, partial, |f| guard.is_uploading(f))
        .map_err(disk)?;
    // Only a partial file the server wrote itself is resumed (never a planted link); anything
    // else is removed here, so its size is never reported.
    let kept = user.partials.open_kept(partial, size).map_err(disk)?;
    let offset = kept.as_ref().map_or(0, |(_, len)| *len);
    let reservation = guard.reserve(
        user.jail.home(),
        user.limits,
        partial.to_path_buf(),
        offset,
        size,
    )?;
    Ok((reservation, kept))
}

/// Under the user's lock: rename the verified partial file into place, record its md5, give the
/// reservation back, and return the new `used`. Nobody sees the file counted twice or the md5 of
/// another session's file recorded for this one.
fn commit_upload(
    user: &User,
    path: &VirtualPath,
    partial: &Path,
    reservation: Reservation,
    md5: &str,
) -> Result<u64, Failure> {
    let mut guard = user.ledger.lock();
    let placed = place_upload(user, path, partial, md5);
    guard.release(reservation);
    placed?;
    guard.used(user.jail.home()).map_err(disk)
}

fn place_upload(user: &User, path: &VirtualPath, partial: &Path, md5: &str) -> Result<(), Failure> {
    // The tree may have changed while the body moved (a directory created or removed there).
    let target = match put_target(user, path) {
        Ok(target) => target,
        Err(failure) => {
            let _ = fs::remove_file(partial);
            return Err(failure);
        }
    };
    if let Err(e) = fs::rename(partial, &target) {
        let _ = fs::remove_file(partial);
        return Err(disk(e));
    }
    if let Ok(meta) = fs::symlink_metadata(&target) {
        // Without a record a later get computes the md5 again: slower, still right.
        let _ = user.checksums.record(path, &meta, md5);
    }
    Ok(())
}

/// `get`: the md5 in the reply header when it is recorded; otherwise, to a client that accepts
/// a trailer, `"md5": "trailer"` in the header and the md5 in one more frame after the body,
/// computed while the file is sent (one pass over it instead of two); otherwise computed first.
fn get(
    user: &User,
    stream: &mut TcpStream,
    filename: &str,
    offset: u64,
    trailer_ok: bool,
) -> Result<Done, Failure> {
    let path = VirtualPath::parse(&user.cwd, filename)?;
    if path.is_root() {
        return Err(refused(Code::IsADirectory, "/ is your home directory"));
    }
    let resolved = user.jail.resolve(&path)?;
    match resolved.kind {
        Kind::File { .. } => {}
        Kind::Dir => {
            return Err(refused(
                Code::IsADirectory,
                format!("{path} is a directory"),
            ))
        }
        Kind::Missing => return Err(not_found(&path)),
    }
    let mut file = open_no_follow(&resolved.host).map_err(|e| open_failure(&path, e))?;
    let meta = file.metadata().map_err(disk)?;
    if !meta.is_file() {
        return Err(refused(
            Code::Denied,
            format!("{path} is not a regular file"),
        ));
    }
    let size = meta.len();
    if offset > size {
        return Err(refused(
            Code::BadRequest,
            format!("offset {offset} is past the end of {path} ({size} bytes)"),
        ));
    }
    let interrupted = |error| {
        Failure::Broken(SessionError::DownloadInterrupted {
            path: shown(&path),
            error,
        })
    };
    let recorded = user.checksums.lookup(&path, &meta);
    if recorded.is_none() && trailer_ok {
        // The whole file's md5 covers the bytes before `offset` too: they are read (not sent)
        // first, the rest hashed as it goes out. One pass over the file either way.
        let md5_so_far = transfer::hash_prefix(&mut file, offset)
            .map_err(|e| refused(Code::ServerError, format!("cannot read {path}: {e}")))?;
        file.seek(SeekFrom::Start(offset)).map_err(disk)?;
        send(
            stream,
            &json!({"status": "ok", "filesize": size, "md5": TRAILER, "offset": offset}),
        )?;
        let md5 = transfer::copy_hashed(
            &mut file,
            stream,
            size - offset,
            md5_so_far,
            &Progress::hidden(),
        )
        .map(transfer::hex_digest)
        .map_err(interrupted)?;
        send(stream, &json!({"md5": md5}))?;
        let _ =
            user.checksums
                .record_if_unchanged(&user.ledger, &path, &resolved.host, &meta, &md5);
        return Ok(Done {
            reply: None,
            note: format!(
                "sent {} of {size} bytes from offset {offset}, md5 {md5} (computed while sending, in a trailer)",
                size - offset
            ),
        });
    }
    let (md5, source) = match recorded {
        Some(md5) => (md5, "recorded"),
        None => (
            user.checksums
                .compute_and_record(&user.ledger, &path, &resolved.host, &mut file, &meta)
                .map_err(|e| refused(Code::ServerError, format!("cannot read {path}: {e}")))?,
            "computed",
        ),
    };
    file.seek(SeekFrom::Start(offset)).map_err(disk)?;

    send(
        stream,
        &json!({"status": "ok", "filesize": size, "md5": md5, "offset": offset}),
    )?;
    // A loop of read and write_all rather than io::copy: io::copy may hand the work to the
    // kernel (sendfile), which is faster but can give up with "interrupted" part-way on a socket
    // with a timeout, and then nobody knows how much was sent. The server is not the slow side
    // of a download anyway: the client's MD5 is.
    transfer::copy_exact(&mut file, stream, size - offset, &Progress::hidden())
        .map_err(interrupted)?;
    Ok(Done {
        reply: None,
        note: format!(
            "sent {} of {size} bytes from offset {offset}, md5 {md5} ({source})",
            size - offset
        ),
    })
}

/// The partial file of an upload cannot be used: a link or something odd planted in the hidden
/// folder is `denied` (to the user it is just their upload that is refused).
fn partial_failure(path: &VirtualPath, e: io::Error) -> Failure {
    #[cfg(unix)]
    if e.raw_os_error() == Some(libc::ELOOP) {
        return refused(
            Code::Denied,
            format!("the upload of {path} cannot be stored: {e}"),
        );
    }
    if e.kind() == io::ErrorKind::PermissionDenied {
        return refused(
            Code::Denied,
            format!("the upload of {path} cannot be stored: {e}"),
        );
    }
    disk(e)
}

/// Opening a file to read failed: a symlink swapped in since the check is `denied`.
fn open_failure(path: &VirtualPath, e: io::Error) -> Failure {
    #[cfg(unix)]
    if e.raw_os_error() == Some(libc::ELOOP) {
        return refused(
            Code::Denied,
            format!("{path} is a symbolic link; links are never followed"),
        );
    }
    if e.kind() == io::ErrorKind::NotFound {
        return not_found(path);
    }
    disk(e)
}
