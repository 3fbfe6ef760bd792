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
//! next upload write through it. So a folder that is not a real directory is never used, and
//! partial files are opened with `O_NOFOLLOW`.

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

    /// Opens (creating it if needed) a partial file for reading and writing, never through a
    /// symbolic link, and only if it is a regular file.
    pub fn open(&self, partial: &Path) -> io::Result<File> {
        let mut options = fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // O_NONBLOCK: a FIFO planted under this name must not block the open for ever.
            options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
        }
        let file = options.open(partial)?;
        if !file.metadata()?.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "a partial upload is not a regular file",
            ));
        }
        Ok(file)
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
        assert!(partials.open(&partial).is_err());
        assert_eq!(fs::read(&precious).unwrap(), b"keep me");
    }
}
