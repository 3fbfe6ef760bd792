//! Recorded md5s: a download announces the file's md5 before the first byte, without reading the
//! file twice.
//!
//! A get reply carries the md5 of the whole file *before* the body. Computing it on the spot
//! would mean reading the whole file before sending it: twice the disk reads and a long silence
//! before a big download starts. But the server already knows the md5 of every file it stored:
//! the upload was verified against it. So it records it, next to the file's size and modification
//! time, and a get uses the record when size and time still match. A file changed behind the
//! server's back (by an administrator, say) no longer matches, and its md5 is computed again
//! (streamed) and recorded.
//!
//! Layout: `ROOT/md5/USER/<key>.json`, one small file per stored file (`key` as in
//! [`super::partials`]), holding `{"path","size","mtime_ns","md5"}`. The records live outside the
//! home on purpose: the quota counts the user's bytes, not the server's bookkeeping. Each record
//! is written to a temporary file and renamed into place ([`crate::transfer::PendingFile`]), so a
//! reader sees the old record or the new one, never half of one.

use std::fs::{self, File, Metadata};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::paths::VirtualPath;
use super::quota::UserLedger;
use super::users::create_private_dir_all;
use crate::transfer::{self, PendingFile, TransferError};

/// The folder under the server root that holds every user's records.
pub const MD5_DIR: &str = "md5";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Record {
    path: String,
    size: u64,
    mtime_ns: u64,
    md5: String,
}

/// One user's recorded md5s.
#[derive(Debug, Clone)]
pub struct Checksums {
    dir: PathBuf,
}

impl Checksums {
    pub fn new(root: &Path, user: &str) -> Checksums {
        Checksums {
            dir: root.join(MD5_DIR).join(user),
        }
    }

    fn record_file(&self, path: &VirtualPath) -> PathBuf {
        let digest = Sha256::digest(path.to_string().as_bytes());
        self.dir.join(format!(
            "{}.json",
            hex::encode(digest.get(..16).unwrap_or_default())
        ))
    }

    /// The recorded md5 of `path`, if there is one and `meta` (the file as it is now) still has
    /// the recorded size and modification time.
    pub fn lookup(&self, path: &VirtualPath, meta: &Metadata) -> Option<String> {
        let text = fs::read(self.record_file(path)).ok()?;
        let record: Record = serde_json::from_slice(&text).ok()?;
        let current = mtime_ns(meta)?;
        let matches = record.path == path.to_string()
            && record.size == meta.len()
            && record.mtime_ns == current;
        matches.then_some(record.md5)
    }

    /// Records `md5` for `path` as it is now (`meta`). Call with the user's lock held, right after
    /// the file was renamed into place, so no other session's file can slip in between.
    pub fn record(&self, path: &VirtualPath, meta: &Metadata, md5: &str) -> io::Result<()> {
        let Some(mtime_ns) = mtime_ns(meta) else {
            return Ok(()); // no usable time on this filesystem: nothing is recorded, gets recompute
        };
        let record = Record {
            path: path.to_string(),
            size: meta.len(),
            mtime_ns,
            md5: md5.to_string(),
        };
        // Owner-only: a record names a user's file, and other local users have no business
        // reading that.
        create_private_dir_all(&self.dir)?;
        let mut pending = PendingFile::create_private(&self.record_file(path))?;
        pending
            .file()
            .write_all(&serde_json::to_vec(&record).map_err(io::Error::other)?)?;
        pending.commit()
    }

    /// No valid record: reads the whole of `file` (opened from `host`, as `meta`) to compute its
    /// md5, and records it if the file at `host` is still the one that was read. The check and
    /// the record happen under the user's lock, so an upload renamed into place meanwhile is
    /// never given the old file's md5. Both FTP lessons answer with it when [`Self::lookup`]
    /// finds nothing.
    pub fn compute_and_record(
        &self,
        ledger: &Arc<UserLedger>,
        path: &VirtualPath,
        host: &Path,
        file: &mut File,
        meta: &Metadata,
    ) -> Result<String, TransferError> {
        let md5 = transfer::hash_prefix(file, meta.len()).map(transfer::hex_digest)?;
        let _ = self.record_if_unchanged(ledger, path, host, meta, &md5);
        Ok(md5)
    }

    /// Records `md5`, computed from the file opened from `host` as `meta`, if the file at `host`
    /// is still that one, unchanged; under the user's lock, as in [`Self::compute_and_record`].
    /// A 14 get that hashed the file while sending it (its md5 in a trailer) records it so.
    pub fn record_if_unchanged(
        &self,
        ledger: &Arc<UserLedger>,
        path: &VirtualPath,
        host: &Path,
        meta: &Metadata,
        md5: &str,
    ) -> io::Result<()> {
        let _guard = ledger.lock();
        if fs::symlink_metadata(host).is_ok_and(|now| same_version(&now, meta)) {
            self.record(path, meta, md5)?;
        }
        Ok(())
    }

    /// Forgets `path` (it was removed).
    pub fn forget(&self, path: &VirtualPath) -> io::Result<()> {
        match fs::remove_file(self.record_file(path)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// Are these two looks at a file the same file, unchanged?
fn same_version(a: &Metadata, b: &Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if (a.dev(), a.ino()) != (b.dev(), b.ino()) {
            return false;
        }
    }
    a.len() == b.len() && a.modified().ok() == b.modified().ok()
}

/// Modification time in nanoseconds since 1970, if the filesystem has one.
fn mtime_ns(meta: &Metadata) -> Option<u64> {
    let since = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
    u64::try_from(since.as_nanos()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    #[test]
    fn a_record_holds_while_the_file_is_unchanged() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("a.txt");
        fs::write(&file, b"abc").unwrap();
        let path = VirtualPath::parse(&VirtualPath::root(), "/a.txt").unwrap();
        let sums = Checksums::new(root.path(), "alice");
        assert_eq!(sums.lookup(&path, &fs::metadata(&file).unwrap()), None);

        sums.record(
            &path,
            &fs::metadata(&file).unwrap(),
            "900150983cd24fb0d6963f7d28e17f72",
        )
        .unwrap();
        assert_eq!(
            sums.lookup(&path, &fs::metadata(&file).unwrap()).as_deref(),
            Some("900150983cd24fb0d6963f7d28e17f72")
        );

        // Same size, another modification time: the record no longer vouches for the file.
        fs::write(&file, b"xyz").unwrap();
        fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(SystemTime::now() + Duration::from_secs(5))
            .unwrap();
        assert_eq!(sums.lookup(&path, &fs::metadata(&file).unwrap()), None);

        sums.forget(&path).unwrap();
        sums.forget(&path).unwrap();
    }
}
