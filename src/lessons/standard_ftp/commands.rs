//! The commands of a logged-in user that need no data connection: moving around (`CWD`, `CDUP`,
//! `PWD`), changing the tree (`MKD`, `RMD`, `DELE`, `RNFR`/`RNTO`), and asking about one file
//! (`SIZE`, `MDTM`, `MLST`, `SITE MD5`).
//!
//! Every path argument goes through the home jail (`crate::accounts::paths`) exactly as lesson
//! 14's do: parsed as text first (`..` above `/` refused), then walked on disk refusing links.

use std::fs;
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::listing::{self, Entry};
use super::reply::{disk, quoted, Outcome, Reply};
use crate::accounts::checksums::Checksums;
use crate::accounts::partials::Partials;
use crate::accounts::paths::{open_no_follow, Jail, Kind, Resolved, VirtualPath};
use crate::accounts::quota::{Limits, UserLedger};

/// A logged-in user, as one session sees it (the same parts as lesson 14's).
pub(super) struct User {
    pub name: String,
    /// The account's key at login: if users.json later holds another, the session ends.
    pub stored_key: String,
    pub jail: Jail,
    pub cwd: VirtualPath,
    pub limits: Limits,
    pub ledger: Arc<UserLedger>,
    pub partials: Partials,
    pub checksums: Checksums,
}

impl User {
    /// A client's path argument, checked as text and then on disk.
    pub fn resolve(&self, arg: &str) -> Result<(VirtualPath, Resolved), Reply> {
        let path = VirtualPath::parse(&self.cwd, arg)?;
        let resolved = self.jail.resolve(&path)?;
        Ok((path, resolved))
    }

    /// A path that must name an existing regular file.
    pub fn existing_file(&self, arg: &str) -> Result<(VirtualPath, Resolved, u64), Reply> {
        let (path, resolved) = self.resolve(arg)?;
        match resolved.kind {
            Kind::File { size } => Ok((path, resolved, size)),
            Kind::Dir => Err(Reply::new(550, format!("{path} is a directory"))),
            Kind::Missing => Err(not_found(&path)),
        }
    }
}

pub fn not_found(path: &VirtualPath) -> Reply {
    Reply::new(550, format!("{path} does not exist"))
}

pub(super) fn pwd(user: &User) -> Outcome {
    Ok(Reply::new(
        257,
        format!("{} is the current directory", quoted(&user.cwd.to_string())),
    ))
}

/// `CWD path`, and `CDUP` as `CWD ..` (at `/` it stays there, as on a Unix root).
pub(super) fn cwd(user: &mut User, arg: &str) -> Outcome {
    if arg == ".." && user.cwd.is_root() {
        return Ok(Reply::new(250, "\"/\" is the current directory"));
    }
    let (path, resolved) = user.resolve(arg)?;
    match resolved.kind {
        Kind::Dir => {
            user.cwd = path;
            Ok(Reply::new(
                250,
                format!("{} is the current directory", quoted(&user.cwd.to_string())),
            ))
        }
        Kind::File { .. } => Err(Reply::new(550, format!("{path} is not a directory"))),
        Kind::Missing => Err(not_found(&path)),
    }
}

pub(super) fn mkd(user: &User, arg: &str) -> Outcome {
    let (path, resolved) = user.resolve(arg)?;
    if resolved.kind != Kind::Missing {
        return Err(Reply::new(550, format!("{path} already exists")));
    }
    // Under the user's lock: two sessions must not both take the last free entry.
    let guard = user.ledger.lock();
    guard.check_new_entry(user.jail.home(), user.limits.entries)?;
    match fs::create_dir(&resolved.host) {
        Ok(()) => Ok(Reply::new(
            257,
            format!("{} created", quoted(&path.to_string())),
        )),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            Err(Reply::new(550, format!("{path} already exists")))
        }
        Err(e) => Err(disk(&e)),
    }
}

pub(super) fn rmd(user: &User, arg: &str) -> Outcome {
    let (path, resolved) = user.resolve(arg)?;
    if path.is_root() {
        return Err(Reply::new(550, "you cannot remove your home directory"));
    }
    match resolved.kind {
        Kind::Dir => {}
        Kind::File { .. } => return Err(Reply::new(550, format!("{path} is not a directory"))),
        Kind::Missing => return Err(not_found(&path)),
    }
    // `remove_dir` refuses a directory that is not empty, and so does RMD.
    match fs::remove_dir(&resolved.host) {
        Ok(()) => Ok(Reply::new(250, format!("{path} removed"))),
        Err(_) if fs::read_dir(&resolved.host).is_ok_and(|mut d| d.next().is_some()) => {
            Err(Reply::new(
                550,
                format!("{path} is not empty; remove what it holds first"),
            ))
        }
        Err(e) => Err(disk(&e)),
    }
}

pub(super) fn dele(user: &User, arg: &str) -> Outcome {
    let (path, resolved, _) = user.existing_file(arg)?;
    // Under the user's lock: an upload committing this same path must not interleave between
    // the removal and forgetting its md5.
    let _guard = user.ledger.lock();
    fs::remove_file(&resolved.host).map_err(|e| disk(&e))?;
    let _ = user.checksums.forget(&path);
    Ok(Reply::new(250, format!("{path} deleted")))
}

/// `RNFR`: the name to rename must exist; `350` asks for the `RNTO` that completes it.
pub(super) fn rnfr(user: &User, arg: &str) -> Result<(VirtualPath, Reply), Reply> {
    let (path, resolved) = user.resolve(arg)?;
    if path.is_root() {
        return Err(Reply::new(550, "you cannot rename your home directory"));
    }
    if resolved.kind == Kind::Missing {
        return Err(not_found(&path));
    }
    let reply = Reply::new(350, format!("{path} exists; send RNTO with its new name"));
    Ok((path, reply))
}

/// `RNTO`: renames within the home. A file may replace a file (as `mv` does); nothing replaces
/// a directory, and a directory never moves into itself.
pub(super) fn rnto(user: &User, from: &VirtualPath, arg: &str) -> Outcome {
    let (to, target) = user.resolve(arg)?;
    let source = user.jail.resolve(from)?;
    if source.kind == Kind::Missing {
        return Err(not_found(from));
    }
    if to.is_root() || target.kind == Kind::Dir {
        return Err(Reply::new(550, format!("{to} is a directory")));
    }
    if source.kind == Kind::Dir && to.names().starts_with(from.names()) {
        return Err(Reply::new(550, format!("{from} cannot move into itself")));
    }
    let _guard = user.ledger.lock();
    let md5 = match (&source.kind, fs::symlink_metadata(&source.host)) {
        (Kind::File { .. }, Ok(meta)) => user.checksums.lookup(from, &meta),
        _ => None,
    };
    fs::rename(&source.host, &target.host).map_err(|e| disk(&e))?;
    let _ = user.checksums.forget(from);
    if let (Some(md5), Ok(meta)) = (md5, fs::symlink_metadata(&target.host)) {
        let _ = user.checksums.record(&to, &meta, &md5);
    }
    Ok(Reply::new(250, format!("{from} renamed to {to}")))
}

/// `SIZE` (RFC 3659): the size in bytes, as a download in binary mode would send it.
pub(super) fn size(user: &User, arg: &str) -> Outcome {
    let (_, _, size) = user.existing_file(arg)?;
    Ok(Reply::new(213, size.to_string()))
}

/// `MDTM` (RFC 3659): the modification time, `YYYYMMDDHHMMSS` in UTC.
pub(super) fn mdtm(user: &User, arg: &str) -> Outcome {
    let (path, resolved, _) = user.existing_file(arg)?;
    let meta = fs::symlink_metadata(&resolved.host).map_err(|_| not_found(&path))?;
    let modified = meta.modified().map_err(|e| disk(&e))?;
    Ok(Reply::new(213, listing::modify_time(modified)))
}

/// `MLST path` (RFC 3659): the facts of one entry, on the control connection:
/// `250-Listing /a.txt`, ` type=file;size=..;modify=..; /a.txt`, `250 End`.
pub(super) fn mlst(user: &User, arg: &str) -> Result<(String, Vec<String>), Reply> {
    let arg = if arg.is_empty() { "." } else { arg };
    let (path, resolved) = user.resolve(arg)?;
    if resolved.kind == Kind::Missing {
        return Err(not_found(&path));
    }
    let meta = fs::symlink_metadata(&resolved.host).map_err(|e| disk(&e))?;
    let name = path.to_string();
    let entry = Entry::from_metadata(name.clone(), &meta)
        .ok_or_else(|| Reply::new(550, format!("{path} cannot be listed")))?;
    Ok((
        format!("Listing {name}"),
        vec![format!("{}{name}", listing::facts(&entry))],
    ))
}

/// `SITE MD5 path`: lesson 14's consistency check (文件一致性) as a command: the md5 of the file
/// as stored, `213 <32 hex digits>  /path`. Recorded when the file was uploaded, computed (and
/// recorded) otherwise.
pub(super) fn site_md5(user: &User, arg: &str) -> Outcome {
    let (path, resolved, _) = user.existing_file(arg)?;
    let md5 = md5_of(user, &path, &resolved.host)?;
    Ok(Reply::new(213, format!("{md5}  {path}")))
}

fn md5_of(user: &User, path: &VirtualPath, host: &Path) -> Result<String, Reply> {
    let mut file =
        open_no_follow(host).map_err(|_| Reply::new(550, format!("{path} cannot be read")))?;
    let meta = file.metadata().map_err(|e| disk(&e))?;
    if let Some(md5) = user.checksums.lookup(path, &meta) {
        return Ok(md5);
    }
    user.checksums
        .compute_and_record(&user.ledger, path, host, &mut file, &meta)
        .map_err(|e| Reply::new(451, format!("cannot read {path}: {e}")))
}
