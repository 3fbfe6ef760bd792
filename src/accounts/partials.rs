//! Interrupted uploads, kept so they can be resumed (断点续传).
//!
//! An upload is written to a *partial file* and renamed to its real name only once complete and
//! verified, so a half-sent file never appears under a finished file's name and the old file
//! stays readable until the very end. If the client vanishes (or the server is killed), the
//! partial file stays where it is; a later put of the same file (same path, size and md5) finds
//! it and asks the client to send only the rest: `{"status":"ready","offset":K}`.
//!
//! Layout: `HOME/.socklab-partial/<key>.<size>.<md5>.part`, where `key` is the first 32 hex digits
//! of SHA-256 of the virtual path. Everything that identifies the upload is in the name, so no
//! extra metadata file is needed and every byte in that folder is upload data, counted in the
//! user's `used`. The folder's name starts with `.socklab`, which [`super::paths`] reserves: `ls`
//! never shows it and no client path can reach it.
//!
//! A partial file untouched for `--partial-ttl` (its modification time is its last write) is
//! deleted: at server start, at login, and whenever that user starts a put.
//!
//! The folder and its files are the server's, but they live in the home, where someone with a
//! shell on the server could plant a symbolic link: `.socklab-partial -> /etc` would make the
//! expiry sweep delete old files in `/etc`, and a link in place of a partial file would make the
//! next upload write through it; a planted *hard* link to a file outside would make the resume
//! offset reveal that file's size and the upload append to it. So a folder that is not a real
//! directory is never used, a new partial file is created with `O_CREAT|O_EXCL|O_NOFOLLOW`, and a
//! kept one is resumed only if it is a regular file with one name, owned by the server
//! ([`Partials::open_kept`]); anything else is removed, never written to.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use super::paths::VirtualPath;

/// The hidden folder, directly in the home.
pub const PARTIAL_DIR: &str = ".socklab-partial";

/// Default `--partial-ttl`: a day.
pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// The partial uploads of one home.
#[derive(Debug, Clone)]
pub struct Partials {
    dir: PathBuf,
    ttl: Duration,
}

impl Partials {
    pub fn new(home: &Path, ttl: Duration) -> Partials {
        Partials {
            dir: home.join(PARTIAL_DIR),
            ttl,
        }
    }

    /// The partial file for an upload of `path` with this size and md5 (it may not exist).
    pub fn file_for(&self, path: &VirtualPath, size: u64, md5: &str) -> PathBuf {
        self.dir
            .join(format!("{}.{size}.{md5}.part", path_key(path)))
    }

    /// Creates the hidden folder if needed; refuses one that is not a real directory.
    pub fn ensure_dir(&self) -> io::Result<()> {
        match self.dir_is_real()? {
            true => Ok(()),
            false => fs::create_dir(&self.dir),
        }
    }

    /// `Ok(true)` if the folder is a real directory, `Ok(false)` if it does not exist, an error
    /// if it is anything else (a symbolic link, a file).
    fn dir_is_real(&self) -> io::Result<bool> {
        match fs::symlink_metadata(&self.dir) {
            Ok(meta) if meta.is_dir() => Ok(true),
            Ok(_) => Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{PARTIAL_DIR} in the home is not a directory (a planted link?)"),
            )),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Opens the kept partial file of an upload to resume it, and returns it with its length
    /// (the offset the client resumes from). `None` if there is nothing to resume.
    ///
    /// Only a file this server wrote is resumed: a regular file, owned by the server's user, with
    /// a single name (`nlink == 1`). `O_NOFOLLOW` refuses a symbolic link, but a *hard* link
    /// planted under this name (`ln /outside/precious.txt HOME/.socklab-partial/<key>...part`) is
    /// indistinguishable from a plain file by its name: only its link count gives it away.
    /// Anything else found here is removed (removing one name of a hard link leaves the other
    /// file untouched) and never read, appended to or measured for the client. So is a file
    /// longer than the upload (damaged).
    pub fn open_kept(&self, partial: &Path, max_len: u64) -> io::Result<Option<(File, u64)>> {
        let mut options = fs::OpenOptions::new();
        options.read(true).write(true);
        no_follow_no_block(&mut options);
        let file = match options.open(partial) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            // ELOOP (a symbolic link) or anything odd: not ours, so not resumable.
            Err(_) => {
                remove_name(partial)?;
                return Ok(None);
            }
        };
        // fstat of the open file, not of the name: what we checked is what we would write to.
        let meta = file.metadata()?;
        if !is_ours(&meta) || meta.len() > max_len {
            drop(file);
            remove_name(partial)?;
            return Ok(None);
        }
        Ok(Some((file, meta.len())))
    }

    /// Creates a new, empty partial file with `O_CREAT|O_EXCL`: if anything at all appeared under
    /// this name since [`Partials::open_kept`] looked, the creation fails instead of writing
    /// into it.
    pub fn create(&self, partial: &Path) -> io::Result<File> {
        let mut options = fs::OpenOptions::new();
        options.read(true).write(true).create_new(true);
        no_follow_no_block(&mut options);
        options.open(partial)
    }

    /// Bytes an ordinary user may still write on the filesystem that holds the folder
    /// (`statvfs`: free blocks for unprivileged users × block size). A put that cannot fit is
    /// refused before its body; the disk can still fill while the body moves (other writers), and
    /// that case is handled where the bytes are written.
    pub fn free_bytes(&self) -> io::Result<u64> {
        free_bytes(&self.dir)
    }

    /// Deletes the other partial files of `path` (an earlier upload with another size or md5: it
    /// can never be resumed now), except `keep` and any that `in_use` says is being written.
    pub fn remove_stale_versions(
        &self,
        path: &VirtualPath,
        keep: &Path,
        in_use: impl Fn(&Path) -> bool,
    ) -> io::Result<usize> {
        let prefix = format!("{}.", path_key(path));
        self.remove_where(|file, name| name.starts_with(&prefix) && file != keep && !in_use(file))
    }

    /// Deletes partial files older than the time to live, except those being written. Returns
    /// how many it deleted.
    pub fn remove_expired(&self, in_use: impl Fn(&Path) -> bool) -> io::Result<usize> {
        let now = SystemTime::now();
        let ttl = self.ttl;
        self.remove_where(|file, _| {
            let age = fs::symlink_metadata(file)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|modified| now.duration_since(modified).ok());
            age.is_some_and(|age| age > ttl) && !in_use(file)
        })
    }

    /// Deletes the files in the folder for which `doomed(path, name)` holds, and says how many.
    /// A missing folder has nothing to delete.
    fn remove_where(&self, doomed: impl Fn(&Path, &str) -> bool) -> io::Result<usize> {
        let mut removed = 0;
        if !self.dir_is_real()? {
            return Ok(0);
        }
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let file = entry.path();
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if doomed(&file, name) {
                match fs::remove_file(&file) {
                    Ok(()) => removed += 1,
                    // Another session got there first.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(removed)
    }
}

/// `O_NOFOLLOW`: a symbolic link is refused; `O_NONBLOCK`: a FIFO planted under the name must
/// not block the open for ever.
fn no_follow_no_block(options: &mut fs::OpenOptions) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    #[cfg(not(unix))]
    let _ = options;
}

/// A partial file the server itself wrote: a regular file with one name, owned by us.
fn is_ours(meta: &fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        meta.is_file() && meta.nlink() == 1 && meta.uid() == me
    }
    #[cfg(not(unix))]
    meta.is_file()
}

/// Removes a name that must not be used; one already gone is fine.
fn remove_name(partial: &Path) -> io::Result<()> {
    match fs::remove_file(partial) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(unix)]
#[allow(clippy::unnecessary_cast)] // fsblkcnt_t and c_ulong are not u64 everywhere
fn free_bytes(dir: &Path) -> io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let dir = std::ffi::CString::new(dir.as_os_str().as_bytes())?;
    // SAFETY: an all-zero statvfs is a valid value of this plain C struct, and statvfs only
    // writes into the struct we pass, reading a NUL-terminated path that outlives the call.
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(dir.as_ptr(), &mut stats) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((stats.f_bavail as u64).saturating_mul(stats.f_frsize as u64))
}

#[cfg(not(unix))]
fn free_bytes(_dir: &Path) -> io::Result<u64> {
    Ok(u64::MAX)
}

/// A fixed-length name for a virtual path: a path may be 4 KiB long, a file name 255 bytes.
fn path_key(path: &VirtualPath) -> String {
    let digest = Sha256::digest(path.to_string().as_bytes());
    hex::encode(digest.get(..16).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vpath(p: &str) -> VirtualPath {
        VirtualPath::parse(&VirtualPath::root(), p).unwrap()
    }

    #[test]
    fn names_identify_path_size_and_md5() {
        let home = tempfile::tempdir().unwrap();
        let partials = Partials::new(home.path(), DEFAULT_TTL);
        let md5 = "0123456789abcdef0123456789abcdef";
        let a = partials.file_for(&vpath("/docs/a"), 10, md5);
        assert_eq!(a, partials.file_for(&vpath("docs/./a"), 10, md5));
        assert_ne!(a, partials.file_for(&vpath("/docs/a"), 11, md5));
        assert_ne!(a, partials.file_for(&vpath("/docs/b"), 10, md5));
        assert!(a.starts_with(home.path().join(PARTIAL_DIR)));
    }

    #[test]
    fn stale_versions_and_expired_files_are_removed() {
        let home = tempfile::tempdir().unwrap();
        let partials = Partials::new(home.path(), Duration::from_secs(3600));
        partials.ensure_dir().unwrap();
        let md5 = "0123456789abcdef0123456789abcdef";
        let old = partials.file_for(&vpath("/a"), 5, md5);
        let new = partials.file_for(&vpath("/a"), 6, md5);
        let busy = partials.file_for(&vpath("/a"), 7, md5);
        let other = partials.file_for(&vpath("/b"), 5, md5);
        for f in [&old, &new, &busy, &other] {
            fs::write(f, b"x").unwrap();
        }
        partials
            .remove_stale_versions(&vpath("/a"), &new, |f| f == busy)
            .unwrap();
        assert!(!old.exists() && new.exists() && busy.exists() && other.exists());

        let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
        for f in [&new, &busy] {
            fs::File::options()
                .write(true)
                .open(f)
                .unwrap()
                .set_modified(two_hours_ago)
                .unwrap();
        }
        partials.remove_expired(|f| f == busy).unwrap();
        assert!(!new.exists() && busy.exists() && other.exists());
    }

    #[cfg(unix)]
    #[test]
    fn planted_links_are_never_followed() {
        let outside = tempfile::tempdir().unwrap();
        let precious = outside.path().join("precious");
        fs::write(&precious, b"keep me").unwrap();
        let old = std::time::SystemTime::now() - Duration::from_secs(7200);
        File::options()
            .write(true)
            .open(&precious)
            .unwrap()
            .set_modified(old)
            .unwrap();

        // The whole folder is a link: nothing is swept there and nothing is created.
        let home = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), home.path().join(PARTIAL_DIR)).unwrap();
        let partials = Partials::new(home.path(), Duration::from_secs(60));
        assert!(partials.remove_expired(|_| false).is_err());
        assert!(partials.ensure_dir().is_err());
        assert!(precious.exists());

        // A partial file is a link: it is not opened.
        let home = tempfile::tempdir().unwrap();
        let partials = Partials::new(home.path(), Duration::from_secs(60));
        partials.ensure_dir().unwrap();
        let md5 = "0123456789abcdef0123456789abcdef";
        let partial = partials.file_for(&vpath("/a"), 5, md5);
        std::os::unix::fs::symlink(&precious, &partial).unwrap();
        assert!(partials.open_kept(&partial, 100).unwrap().is_none());
        assert!(
            fs::symlink_metadata(&partial).is_err(),
            "the link is removed"
        );
        assert_eq!(fs::read(&precious).unwrap(), b"keep me");

        // A hard link: not resumed (its size is never an offset), removed, never written to.
        fs::hard_link(&precious, &partial).unwrap();
        assert!(partials.open_kept(&partial, 100).unwrap().is_none());
        assert!(
            fs::symlink_metadata(&partial).is_err(),
            "the hard link is removed"
        );
        assert_eq!(fs::read(&precious).unwrap(), b"keep me");

        // A new partial file is created only where nothing is.
        fs::hard_link(&precious, &partial).unwrap();
        assert!(partials.create(&partial).is_err());
        fs::remove_file(&partial).unwrap();
        partials.create(&partial).unwrap();
        let (_, len) = partials.open_kept(&partial, 100).unwrap().unwrap();
        assert_eq!(len, 0);
        assert_eq!(fs::read(&precious).unwrap(), b"keep me");
    }
}
