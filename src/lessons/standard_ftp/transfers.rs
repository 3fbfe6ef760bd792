//! The commands that move bytes over a data connection: `RETR`, `STOR`, `APPE`, and the
//! listings `LIST`, `NLST`, `MLSD`.
//!
//! Each one goes: check the request, reply `150` (the data connection is being opened), take the
//! data connection ([`super::data`]), move the bytes, close it, reply `226` (done) or a failure
//! (`426` the connection broke or was aborted, `451`/`452` the disk failed, `552` the quota).
//!
//! While bytes move, the control connection is watched between chunks, so `ABOR` stops a
//! transfer at once: `426` for the transfer, then `226` for the ABOR (RFC 959, 4.1.3). For that,
//! the data socket is read and written with a short timeout ([`TICK`]); the idle timeout is
//! counted across ticks.
//!
//! Uploads keep lesson 14's promises, though FTP knows neither the size nor the md5 in advance:
//!
//! - **whole files only**: the bytes go into a partial file in the home's hidden folder, renamed
//!   to the real name only when the data connection ended normally. A reset, a timeout, an
//!   `ABOR`, a full quota or disk leaves nothing (the old file, if any, untouched). FTP's stream
//!   mode cannot tell a finished upload from a client that closed early, so `SITE MD5` exists.
//! - **resume** (断点续传): `APPE` (what curl uses) keeps the whole stored file and adds to it;
//!   `REST n` + `STOR` keeps its first n bytes. The kept bytes are copied into the partial file
//!   first, so the old file stays whole until the new one replaces it.
//! - **quota, race-free**: the room is reserved in the shared ledger before the bytes arrive, a
//!   step at a time ([`Room`]); the upload that would pass the quota is stopped (`552`) and the
//!   reservation given back.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{IpAddr, Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use md5::{Digest, Md5};

use super::commands::{not_found, User};
use super::control::{Control, DuringTransfer};
use super::data::{self, DataError, DataPlan};
use super::listing::{self, Entry};
use super::reply::{disk, Reply};
use crate::accounts::paths::{open_no_follow, Kind, VirtualPath};
use crate::accounts::quota::{LedgerGuard, QuotaError, Reservation};
use crate::log::Log;
use crate::net;
use crate::trace::{Traced, Tracer};
use crate::transfer::hex_digest;

/// Bytes per read or write on a data connection.
const CHUNK: usize = 64 * 1024;

/// How long one read or write on a data connection may block before the control connection is
/// looked at again (for `ABOR`).
const TICK: Duration = Duration::from_millis(100);

/// Quota is reserved this many bytes ahead of what an upload has written.
const RESERVE_STEP: u64 = 1024 * 1024;

/// A data connection, traced when the server runs with `--trace` or `--picture`.
type Data = Traced<TcpStream>;

/// What a transfer needs from its session.
pub(super) struct Transfer<'a> {
    pub control: &'a mut Control,
    pub plan: DataPlan,
    pub peer_ip: IpAddr,
    pub data_timeout: Duration,
    pub idle_timeout: Duration,
    pub log: &'a Log,
    /// Wraps each data connection (for `--trace` and `--picture`).
    pub tracer: &'a Tracer,
}

/// How a transfer ended, for the session: go on, or close (the control connection is gone).
#[derive(Debug, PartialEq, Eq)]
pub enum After {
    Continue,
    Close,
}

/// Why the bytes stopped moving.
enum Stop {
    /// The client sent ABOR.
    Aborted,
    /// The control connection closed.
    ControlClosed,
    /// The data connection failed, or was idle too long.
    Data(io::Error),
    /// A refusal found while moving (quota, disk).
    Refused(Reply),
}

impl Transfer<'_> {
    /// `150`, then the data connection. `Err(After)` when it could not be had (the reply is sent).
    fn open_data(&mut self, what: &str) -> io::Result<Result<Data, After>> {
        let plan = std::mem::take(&mut self.plan);
        if matches!(plan, DataPlan::None) {
            self.control.reply(425, &DataError::NoPlan.to_string())?;
            return Ok(Err(After::Continue));
        }
        self.control
            .reply(150, &format!("Opening the data connection for {what}"))?;
        let deadline = net::deadline_after(self.data_timeout);
        match data::open(plan, self.peer_ip, deadline, self.log) {
            Ok(stream) => Ok(Ok(self.tracer.wrap(stream))),
            Err(e) => {
                self.control.reply(425, &e.to_string())?;
                Ok(Err(After::Continue))
            }
        }
    }

    /// The reply after the bytes stopped early.
    fn report(&mut self, stop: Stop) -> io::Result<After> {
        match stop {
            Stop::Aborted => {
                self.control
                    .reply(426, "Transfer aborted; the data connection is closed")?;
                self.control.reply(226, "ABOR done")?;
            }
            Stop::ControlClosed => return Ok(After::Close),
            Stop::Data(e) => {
                self.control.reply(
                    426,
                    &format!("Data connection failed: {e}; transfer aborted"),
                )?;
            }
            Stop::Refused(reply) => self.control.reply(reply.code, &reply.text)?,
        }
        Ok(After::Continue)
    }

    /// Between chunks: did the client ask to abort, or leave?
    fn check_control(&mut self) -> Result<(), Stop> {
        match self.control.poll_abort() {
            Ok(DuringTransfer::Nothing) => Ok(()),
            Ok(DuringTransfer::Abort) => Err(Stop::Aborted),
            Ok(DuringTransfer::Closed) | Err(_) => Err(Stop::ControlClosed),
        }
    }

    /// Writes all of `bytes` to the data connection, looking at the control connection at least
    /// every [`TICK`]; no progress for the idle timeout ends it.
    fn send(&mut self, data: &mut Data, mut bytes: &[u8]) -> Result<(), Stop> {
        let mut last_progress = Instant::now();
        while !bytes.is_empty() {
            match data.write(bytes) {
                Ok(0) => return Err(Stop::Data(io::ErrorKind::WriteZero.into())),
                Ok(n) => {
                    bytes = bytes.get(n..).unwrap_or_default();
                    last_progress = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if net::is_timeout(&e) => self.idle_check(last_progress)?,
                Err(e) => return Err(Stop::Data(e)),
            }
            self.check_control()?;
        }
        Ok(())
    }

    /// Reads the next bytes of the data connection (`0` at its end), looking at the control
    /// connection at least every [`TICK`].
    fn receive(&mut self, data: &mut Data, buffer: &mut [u8]) -> Result<usize, Stop> {
        let waiting_since = Instant::now();
        loop {
            match data.read(buffer) {
                Ok(n) => {
                    self.check_control()?;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if net::is_timeout(&e) => self.idle_check(waiting_since)?,
                Err(e) => return Err(Stop::Data(e)),
            }
            self.check_control()?;
        }
    }

    fn idle_check(&self, since: Instant) -> Result<(), Stop> {
        if since.elapsed() >= self.idle_timeout {
            return Err(Stop::Data(io::Error::new(
                io::ErrorKind::TimedOut,
                "no data moved for longer than the server's --idle-timeout",
            )));
        }
        Ok(())
    }
}

/// Ends a data connection the normal way: our FIN, which tells the client the file is whole.
fn finish(mut data: Data) {
    let _ = data.flush();
    let _ = data.get_ref().shutdown(Shutdown::Write);
}

fn ticking(data: &Data) -> io::Result<()> {
    data.get_ref().set_read_timeout(Some(TICK))?;
    data.get_ref().set_write_timeout(Some(TICK))
}

/// `RETR path`, from the `REST` offset if one was given.
pub(super) fn retr(t: &mut Transfer, user: &User, arg: &str, offset: u64) -> io::Result<After> {
    let opened = (|| {
        let (path, resolved, size) = user.existing_file(arg)?;
        if offset > size {
            return Err(Reply::new(
                554,
                format!("REST {offset} is past the end of {path} ({size} bytes)"),
            ));
        }
        let mut file = open_no_follow(&resolved.host).map_err(|_| not_found(&path))?;
        file.seek(SeekFrom::Start(offset)).map_err(|e| disk(&e))?;
        Ok((path, file, size))
    })();
    let (path, mut file, size) = match opened {
        Ok(opened) => opened,
        Err(reply) => {
            t.control.reply(reply.code, &reply.text)?;
            return Ok(After::Continue);
        }
    };
    let mut data = match t.open_data(&format!("{path} ({size} bytes)"))? {
        Ok(data) => data,
        Err(after) => return Ok(after),
    };
    ticking(&data)?;
    let mut buffer = vec![0u8; CHUNK];
    let sent = loop {
        let got = match file.read(&mut buffer) {
            Ok(0) => break Ok(()),
            Ok(got) => got,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(Stop::Refused(disk(&e))),
        };
        if let Err(stop) = t.send(&mut data, buffer.get(..got).unwrap_or_default()) {
            break Err(stop);
        }
    };
    match sent {
        Ok(()) => {
            finish(data);
            t.control.reply(
                226,
                &format!("Transfer complete: {path} sent from byte {offset}"),
            )?;
            Ok(After::Continue)
        }
        Err(stop) => {
            drop(data);
            t.report(stop)
        }
    }
}

/// `LIST`, `NLST` or `MLSD` of a directory (or, for LIST and NLST, of one file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ListStyle {
    Long,
    Names,
    Facts,
}

/// `LIST [-options] [path]` and friends: the lines go over the data connection.
pub(super) fn list(
    t: &mut Transfer,
    user: &User,
    arg: &str,
    style: ListStyle,
) -> io::Result<After> {
    let lines = match listing_lines(user, listed_path(arg), style) {
        Ok(lines) => lines,
        Err(reply) => {
            t.control.reply(reply.code, &reply.text)?;
            return Ok(After::Continue);
        }
    };
    let mut data = match t.open_data("the listing")? {
        Ok(data) => data,
        Err(after) => return Ok(after),
    };
    ticking(&data)?;
    let count = lines.len();
    for chunk in lines.chunks(256) {
        if let Err(stop) = t.send(&mut data, chunk.concat().as_bytes()) {
            drop(data);
            return t.report(stop);
        }
    }
    finish(data);
    t.control
        .reply(226, &format!("Listing sent ({count} entries)"))?;
    Ok(After::Continue)
}

/// The path of `LIST -la docs`: options (words starting with `-`) are skipped, as `ls` options
/// mean nothing here.
fn listed_path(arg: &str) -> &str {
    let mut rest = arg.trim_start();
    while rest.starts_with('-') {
        rest = rest
            .split_once(' ')
            .map_or("", |(_, after)| after.trim_start());
    }
    if rest.is_empty() {
        "."
    } else {
        rest
    }
}

fn listing_lines(user: &User, arg: &str, style: ListStyle) -> Result<Vec<String>, Reply> {
    let (path, resolved) = user.resolve(arg)?;
    let now = std::time::SystemTime::now();
    let entries = match resolved.kind {
        Kind::Dir => listing::read_entries(&resolved.host).map_err(|e| disk(&e))?,
        Kind::File { .. } if style != ListStyle::Facts => {
            let meta = fs::symlink_metadata(&resolved.host).map_err(|e| disk(&e))?;
            let name = path.file_name().unwrap_or_default().to_string();
            Entry::from_metadata(name, &meta).into_iter().collect()
        }
        Kind::File { .. } => return Err(Reply::new(501, format!("{path} is not a directory"))),
        Kind::Missing => return Err(not_found(&path)),
    };
    Ok(entries
        .iter()
        .map(|entry| match style {
            ListStyle::Long => listing::ls_line(entry, &user.name, now),
            ListStyle::Names => format!("{}\r\n", entry.name),
            ListStyle::Facts => listing::mlsd_line(entry),
        })
        .collect())
}

/// Room reserved in the user's quota for an upload whose size nobody knows in advance: a
/// reservation for "what is written + a step", renewed (under the user's lock) each time the
/// upload reaches it. The upload that cannot get the room it needs stops.
struct Room<'a> {
    user: &'a User,
    partial: PathBuf,
    reservation: Option<Reservation>,
    reserved: u64,
}

impl<'a> Room<'a> {
    fn new(user: &'a User, partial: PathBuf) -> Room<'a> {
        Room {
            user,
            partial,
            reservation: None,
            reserved: 0,
        }
    }

    /// Makes sure the partial file may grow to `size` bytes; `on_disk` are already written.
    fn ensure(&mut self, size: u64, on_disk: u64) -> Result<(), QuotaError> {
        if size <= self.reserved && self.reservation.is_some() {
            return Ok(());
        }
        let mut guard = self.user.ledger.lock();
        self.ensure_locked(&mut guard, size, on_disk)
    }

    fn ensure_locked(
        &mut self,
        guard: &mut LedgerGuard,
        size: u64,
        on_disk: u64,
    ) -> Result<(), QuotaError> {
        if let Some(old) = self.reservation.take() {
            guard.release(old);
        }
        let home = self.user.jail.home();
        let limits = self.user.limits;
        let ahead = size.saturating_add(RESERVE_STEP);
        let reserved = match guard.reserve(home, limits, self.partial.clone(), on_disk, ahead) {
            Ok(reservation) => (reservation, ahead),
            // Not a step ahead: maybe exactly what is needed still fits.
            Err(QuotaError::Exceeded { .. }) => (
                guard.reserve(home, limits, self.partial.clone(), on_disk, size)?,
                size,
            ),
            Err(e) => return Err(e),
        };
        self.reservation = Some(reserved.0);
        self.reserved = reserved.1;
        Ok(())
    }
}

/// `STOR path` (with a `REST` offset: keep that many bytes of the stored file) or `APPE path`
/// (keep all of it).
pub(super) fn store(
    t: &mut Transfer,
    user: &User,
    arg: &str,
    append: bool,
    restart: u64,
) -> io::Result<After> {
    let started = start_upload(user, arg, append, restart);
    let upload = match started {
        Ok(upload) => upload,
        Err(reply) => {
            t.control.reply(reply.code, &reply.text)?;
            return Ok(After::Continue);
        }
    };
    let Upload {
        path,
        target,
        mut room,
        mut file,
        mut md5,
        kept,
    } = upload;
    let partial = room.partial.clone();
    let discard = |partial: &Path| {
        let _ = fs::remove_file(partial);
    };
    let mut data = match t.open_data(&format!("{path} (from byte {kept})")) {
        Ok(Ok(data)) => data,
        Ok(Err(after)) => {
            discard(&partial);
            return Ok(after);
        }
        Err(e) => {
            discard(&partial);
            return Err(e);
        }
    };
    ticking(&data)?;
    let received = receive_into(t, &mut data, &mut room, &mut file, &mut md5, kept);
    let written = match received {
        Ok(written) => written,
        Err(stop) => {
            // Nothing is left behind before the client can learn of the failure.
            drop(file);
            discard(&partial);
            drop(data);
            return t.report(stop);
        }
    };
    drop(data);
    if let Err(e) = file.sync_all() {
        discard(&partial);
        let reply = disk(&e);
        t.control.reply(reply.code, &reply.text)?;
        return Ok(After::Continue);
    }
    drop(file);
    let md5 = hex_digest(md5);
    match commit(user, &path, &target, room, &md5) {
        Ok(()) => t.control.reply(
            226,
            &format!("Transfer complete: {path} stored, {written} bytes, md5 {md5}"),
        )?,
        Err(reply) => t.control.reply(reply.code, &reply.text)?,
    }
    Ok(After::Continue)
}

/// An upload accepted and ready for its bytes.
struct Upload<'a> {
    path: VirtualPath,
    target: PathBuf,
    room: Room<'a>,
    file: File,
    md5: Md5,
    /// Bytes of the stored file kept at the start (resume).
    kept: u64,
}

/// Checks an upload and prepares its partial file: the target is not a directory, the resume
/// point is inside the stored file, no other session of the user is uploading the same path, the
/// first room is reserved, and the kept bytes are copied (and hashed).
fn start_upload<'a>(
    user: &'a User,
    arg: &str,
    append: bool,
    restart: u64,
) -> Result<Upload<'a>, Reply> {
    let (path, resolved) = user.resolve(arg)?;
    let stored = match resolved.kind {
        Kind::Dir => return Err(Reply::new(550, format!("{path} is a directory"))),
        _ if path.is_root() => return Err(Reply::new(550, "/ is your home directory")),
        Kind::File { size } => size,
        Kind::Missing => 0,
    };
    let kept = if append { stored } else { restart };
    if kept > stored {
        return Err(Reply::new(
            554,
            format!("REST {restart} is past the end of {path} ({stored} bytes stored)"),
        ));
    }
    user.partials.ensure_dir().map_err(|e| disk(&e))?;
    let partial = user.partials.file_for(&path, 0, "ftp");
    let mut room = Room::new(user, partial.clone());
    {
        let mut guard = user.ledger.lock();
        if guard.is_uploading(&partial) {
            return Err(Reply::new(
                450,
                format!(
                    "{path} is being uploaded by another of your sessions; try again when it ends"
                ),
            ));
        }
        // A partial file nobody is writing is left over from a server that was stopped.
        match fs::remove_file(&partial) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(disk(&e)),
            _ => {}
        }
        room.ensure_locked(&mut guard, kept, 0)?;
    }
    let mut file = user.partials.create(&partial).map_err(|e| disk(&e))?;
    let mut md5 = Md5::new();
    if kept > 0 {
        let copied = copy_kept(&resolved.host, kept, &mut file, &mut md5);
        if let Err(e) = copied {
            drop(file);
            let _ = fs::remove_file(&partial);
            return Err(disk(&e));
        }
    }
    Ok(Upload {
        path,
        target: resolved.host,
        room,
        file,
        md5,
        kept,
    })
}

/// Copies the first `kept` bytes of the stored file into the partial file, hashing them.
fn copy_kept(stored: &Path, kept: u64, to: &mut File, md5: &mut Md5) -> io::Result<()> {
    let from = open_no_follow(stored)?;
    let mut from = from.take(kept);
    let mut buffer = vec![0u8; CHUNK];
    let mut copied = 0;
    loop {
        let got = match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(got) => got,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = buffer.get(..got).unwrap_or_default();
        to.write_all(chunk)?;
        md5.update(chunk);
        copied += got as u64;
    }
    if copied < kept {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the stored file shrank",
        ));
    }
    Ok(())
}

/// Receives the data connection into the partial file until it ends; returns the file's size.
fn receive_into(
    t: &mut Transfer,
    data: &mut Data,
    room: &mut Room,
    file: &mut File,
    md5: &mut Md5,
    kept: u64,
) -> Result<u64, Stop> {
    let mut buffer = vec![0u8; CHUNK];
    let mut written = kept;
    loop {
        let got = t.receive(data, &mut buffer)?;
        if got == 0 {
            return Ok(written);
        }
        let chunk = buffer.get(..got).unwrap_or_default();
        room.ensure(written + got as u64, written)
            .map_err(|e| Stop::Refused(Reply::from(e)))?;
        file.write_all(chunk).map_err(|e| Stop::Refused(disk(&e)))?;
        md5.update(chunk);
        written += got as u64;
    }
}

/// Under the user's lock: the tree may have changed while the bytes moved (a directory made
/// where the file goes); rename the partial file into place, give the room back, record the md5.
fn commit(
    user: &User,
    path: &VirtualPath,
    target: &Path,
    mut room: Room,
    md5: &str,
) -> Result<(), Reply> {
    let mut guard = user.ledger.lock();
    let partial = room.partial.clone();
    let placed = (|| {
        let resolved = user.jail.resolve(path)?;
        if resolved.kind == Kind::Dir || resolved.host != target {
            return Err(Reply::new(
                550,
                format!("{path} became a directory; upload discarded"),
            ));
        }
        fs::rename(&partial, target).map_err(|e| disk(&e))?;
        if let Ok(meta) = fs::symlink_metadata(target) {
            // Without a record, SITE MD5 and 14's get compute it again: slower, still right.
            let _ = user.checksums.record(path, &meta, md5);
        }
        Ok(())
    })();
    if let Some(reservation) = room.reservation.take() {
        guard.release(reservation);
    }
    if placed.is_err() {
        let _ = fs::remove_file(&partial);
    }
    placed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ls_options_are_skipped() {
        assert_eq!(listed_path(""), ".");
        assert_eq!(listed_path("-la"), ".");
        assert_eq!(listed_path("-a -l docs"), "docs");
        assert_eq!(listed_path("my docs"), "my docs");
    }
}
