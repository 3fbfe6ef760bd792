//! The verified MD5 of each stored file, kept beside it so that a download can announce the digest
//! without reading the whole file first.
//!
//! A `get` reply must carry the MD5 *before* the body. Without a record the server has to read
//! the file twice: once to hash it, once to send it. So when an upload is stored, the server also
//! writes `DIR/.socklab-md5/NAME`, a small JSON record of the digest and of the file it belongs to:
//!
//! ```json
//! {"md5":"…","size":5,"modified_secs":1718000000,"modified_nanos":123,"inode":4242}
//! ```
//!
//! A record is only believed while the file still has that size, modification time and inode
//! (inode on Unix only). Anything else (the file was replaced, edited or copied in by hand, the
//! record is missing or garbled) means the digest is recomputed from the file and the record
//! rewritten. The inode matters because every upload is a *new* file renamed into place: a record
//! written for the previous file cannot match its successor even when both have the same size and
//! were written within the same clock tick. And the server hashes every body it sends anyway (the
//! hashing is free, on a second thread), so a record that was wrong after all is caught at the end
//! of that transfer and deleted.
//!
//! The records folder is used only while it is a real directory. If someone with a shell on the
//! server replaced it with a symbolic link (to `~/.ssh`, say), writing a record for an upload
//! named `authorized_keys` would replace that file, and forgetting one would delete it; so a
//! link there switches the records off (gets then hash the file every time) instead.

use std::fs::{self, File, Metadata};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use super::protocol::is_md5_hex;
use crate::transfer::PendingFile;

/// The folder inside the upload folder where records live. It starts with a dot, and no uploaded
/// name may start with one, so no upload can overwrite it.
pub const RECORDS_FOLDER: &str = ".socklab-md5";

/// A record is a few dozen bytes; anything larger is not one of ours.
const MAX_RECORD: u64 = 4096;

/// What identifies one version of a stored file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub size: u64,
    pub modified_secs: u64,
    pub modified_nanos: u32,
    /// The inode number (Unix); `None` elsewhere.
    pub inode: Option<u64>,
}

impl Fingerprint {
    /// The fingerprint of an open file, or `None` if the system cannot give a modification time.
    pub fn of(metadata: &Metadata) -> Option<Fingerprint> {
        let modified = metadata.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
        Some(Fingerprint {
            size: metadata.len(),
            modified_secs: modified.as_secs(),
            modified_nanos: modified.subsec_nanos(),
            inode: inode(metadata),
        })
    }
}

#[cfg(unix)]
fn inode(metadata: &Metadata) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    Some(metadata.ino())
}

#[cfg(not(unix))]
fn inode(_: &Metadata) -> Option<u64> {
    None
}

/// One record on disk.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    md5: String,
    #[serde(flatten)]
    file: Fingerprint,
}

/// The records of one upload folder.
#[derive(Debug, Clone)]
pub struct DigestRecords {
    folder: PathBuf,
}

impl DigestRecords {
    /// The records of the upload folder `dir`, creating their folder if needed.
    pub fn open(dir: &Path) -> io::Result<DigestRecords> {
        let folder = dir.join(RECORDS_FOLDER);
        if fs::symlink_metadata(&folder).is_err() {
            fs::create_dir(&folder)?;
        }
        Ok(DigestRecords { folder })
    }

    /// Is the records folder a real directory (not a link planted in its place)?
    fn usable(&self) -> bool {
        fs::symlink_metadata(&self.folder).is_ok_and(|meta| meta.is_dir())
    }

    /// The recorded MD5 of `name`, if the record describes exactly `file`.
    pub fn lookup(&self, name: &str, file: &Fingerprint) -> Option<String> {
        if !self.usable() {
            return None;
        }
        let mut text = Vec::new();
        File::open(self.folder.join(name))
            .ok()?
            .take(MAX_RECORD)
            .read_to_end(&mut text)
            .ok()?;
        let record: Record = serde_json::from_slice(&text).ok()?;
        (record.file == *file && is_md5_hex(&record.md5)).then_some(record.md5)
    }

    /// Records `md5` as the digest of `name` in the version `file`. The record is itself replaced
    /// atomically, so a reader sees the old record or the new one, never half of one.
    pub fn record(&self, name: &str, file: &Fingerprint, md5: &str) -> io::Result<()> {
        if !self.usable() {
            return Err(io::Error::other(format!(
                "{RECORDS_FOLDER} is not a directory; no md5 is recorded"
            )));
        }
        let record = Record {
            md5: md5.to_string(),
            file: *file,
        };
        let mut pending = PendingFile::create_private(&self.folder.join(name))?;
        serde_json::to_writer(pending.file(), &record)?;
        pending.file().flush()?;
        pending.commit()
    }

    /// Deletes the record of `name` (it turned out to be wrong).
    pub fn forget(&self, name: &str) {
        if self.usable() {
            let _ = fs::remove_file(self.folder.join(name));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn fingerprint(path: &Path) -> Fingerprint {
        Fingerprint::of(&fs::metadata(path).unwrap()).unwrap()
    }

    #[test]
    fn a_record_is_believed_only_for_its_own_file() {
        let dir = tempfile::tempdir().unwrap();
        let records = DigestRecords::open(dir.path()).unwrap();
        let path = dir.path().join("a.txt");
        fs::write(&path, b"hello").unwrap();
        let md5 = "5d41402abc4b2a76b9719d911017c592";
        let print = fingerprint(&path);
        records.record("a.txt", &print, md5).unwrap();
        assert_eq!(records.lookup("a.txt", &print).as_deref(), Some(md5));

        // Same size, edited in place with a different time: not believed.
        fs::write(&path, b"HELLO").unwrap();
        let file = File::options().write(true).open(&path).unwrap();
        file.set_modified(SystemTime::now() + Duration::from_secs(5))
            .unwrap();
        assert_eq!(records.lookup("a.txt", &fingerprint(&path)), None);

        records.forget("a.txt");
        assert_eq!(records.lookup("a.txt", &print), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_records_folder_replaced_by_a_link_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("authorized_keys");
        fs::write(&victim, b"ssh-ed25519 AAAA").unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join(RECORDS_FOLDER)).unwrap();
        let records = DigestRecords::open(dir.path()).unwrap();
        let path = dir.path().join("authorized_keys");
        fs::write(&path, b"x").unwrap();
        let print = fingerprint(&path);
        assert!(records
            .record("authorized_keys", &print, &"0".repeat(32))
            .is_err());
        records.forget("authorized_keys");
        assert_eq!(records.lookup("authorized_keys", &print), None);
        assert_eq!(fs::read(&victim).unwrap(), b"ssh-ed25519 AAAA");
    }

    #[test]
    fn garbage_records_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let records = DigestRecords::open(dir.path()).unwrap();
        let path = dir.path().join("a.txt");
        fs::write(&path, b"x").unwrap();
        fs::write(dir.path().join(RECORDS_FOLDER).join("a.txt"), b"{not json").unwrap();
        assert_eq!(records.lookup("a.txt", &fingerprint(&path)), None);
        assert_eq!(records.lookup("missing", &fingerprint(&path)), None);
    }
}
