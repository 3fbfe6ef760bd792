//! The account store: `ROOT/users.json`, user names, homes, sizes and disk usage.
//!
//! `users.json` holds, per user, only what the server needs to *check* a login (see
//! [`super::scram`]): a random salt, the iteration count, `stored_key` and `server_key`, and the
//! quota. None of these lets anyone log in: `stored_key` is a hash of the key a client proves it
//! knows, and `server_key` only lets the server prove itself. The file looks like this:
//!
//! ```json
//! {
//!   "users": {
//!     "alice": {
//!       "salt": "3f0c…(32 hex digits)",
//!       "iterations": 600000,
//!       "stored_key": "9a1e…(64 hex digits)",
//!       "server_key": "c27b…(64 hex digits)",
//!       "quota": 10485760
//!     }
//!   }
//! }
//! ```
//!
//! It is still worth protecting (a stolen file allows an offline guessing attack against weak
//! passwords, which is what the 600 000 PBKDF2 iterations make slow), so it is written with
//! owner-only permissions, and always replaced atomically: a new file is written next to it and
//! renamed over it, so a reader (the running server) sees the old file or the new one, never half
//! of one, even if the admin command is killed in the middle.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::paths::is_reserved;

/// The account file's name inside ROOT.
pub const USERS_FILE: &str = "users.json";
/// The folder inside ROOT that holds one home per user.
pub const HOMES_DIR: &str = "home";
/// Longest user name.
pub const MAX_USER_NAME: usize = 32;
/// Largest `users.json` we are willing to read (it is ~250 bytes per user).
pub const MAX_USERS_FILE: u64 = 64 * 1024 * 1024;

/// One account as stored in ROOT/users.json (hex strings are lowercase).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UserRecord {
    /// 16 random bytes, hex: makes the same password give different keys for different users.
    pub salt: String,
    /// PBKDF2 iterations: how slow each password guess is.
    pub iterations: u32,
    /// SHA-256(ClientKey), hex: lets the server check a proof without being able to make one.
    pub stored_key: String,
    /// HMAC(SaltedPassword, "Server Key"), hex: lets the server prove it knows the account.
    pub server_key: String,
    /// Bytes the user may store under its home.
    pub quota: u64,
}

impl UserRecord {
    /// Checks the shape of every field (a hand-edited or damaged file must not reach the crypto
    /// code with a salt that is not hex).
    pub fn check(&self) -> Result<(), String> {
        if !is_lower_hex(&self.salt, super::scram::SALT_LEN * 2) {
            return Err("salt must be 32 lowercase hex digits".into());
        }
        // Accounts made before the floor was raised to MIN_ITERATIONS still load (so `adduser`
        // can give them a new password and count); the server never logs them in meanwhile.
        if !(1..=super::scram::MAX_ITERATIONS).contains(&self.iterations) {
            return Err(format!(
                "iterations must be between {} and {}",
                super::scram::MIN_ITERATIONS,
                super::scram::MAX_ITERATIONS
            ));
        }
        if !is_lower_hex(&self.stored_key, 64) {
            return Err("stored_key must be 64 lowercase hex digits".into());
        }
        if !is_lower_hex(&self.server_key, 64) {
            return Err("server_key must be 64 lowercase hex digits".into());
        }
        Ok(())
    }
}

/// True if `text` is exactly `len` lowercase hex digits.
pub fn is_lower_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The file format: an object with a `users` map, so fields can be added later.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    users: BTreeMap<String, UserRecord>,
}

/// Everything that can go wrong with accounts.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("{path} is damaged: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "invalid user name {0:?}: use 1 to 32 letters, digits, '_', '.' or '-', \
         not starting with '.' or '-'"
    )]
    BadName(String),
    #[error("no user named {0:?}")]
    NoSuchUser(String),
    #[error("iterations must be between {min} and {max}, not {got}")]
    BadIterations { got: u32, min: u32, max: u32 },
    #[error("the password is empty")]
    EmptyPassword,
    #[error(
        "{0} exists but is not a directory (a symlink or a file): refusing to use it as a home"
    )]
    HomeNotDir(PathBuf),
}

/// The accounts, as read from ROOT/users.json.
#[derive(Debug, Clone)]
pub struct UserStore {
    path: PathBuf,
    users: BTreeMap<String, UserRecord>,
}

impl UserStore {
    /// ROOT/users.json; a missing file is an empty store; a corrupt one is an error (never
    /// silently replaced: that would lose every account).
    pub fn load(root: &Path) -> Result<UserStore, UsersError> {
        let path = users_file(root);
        let read_err = |source| UsersError::Read {
            path: path.clone(),
            source,
        };
        let file = match fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(UserStore {
                    path,
                    users: BTreeMap::new(),
                })
            }
            Err(e) => return Err(read_err(e)),
        };
        let mut text = Vec::new();
        file.take(MAX_USERS_FILE + 1)
            .read_to_end(&mut text)
            .map_err(read_err)?;
        if text.len() as u64 > MAX_USERS_FILE {
            return Err(UsersError::Corrupt {
                path,
                reason: format!("larger than {MAX_USERS_FILE} bytes"),
            });
        }
        let parsed: UsersFile = serde_json::from_slice(&text).map_err(|e| UsersError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        for (name, record) in &parsed.users {
            if !valid_user_name(name) {
                return Err(UsersError::Corrupt {
                    path,
                    reason: format!("invalid user name {name:?}"),
                });
            }
            if let Err(reason) = record.check() {
                return Err(UsersError::Corrupt {
                    path,
                    reason: format!("user {name:?}: {reason}"),
                });
            }
        }
        Ok(UserStore {
            path,
            users: parsed.users,
        })
    }

    /// The record of `name`, if there is such a user.
    pub fn user(&self, name: &str) -> Option<&UserRecord> {
        self.users.get(name)
    }

    /// All user names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.users.keys().map(String::as_str)
    }

    /// All records (used to pick believable fake challenges, see `login`).
    pub fn records(&self) -> impl Iterator<Item = &UserRecord> {
        self.users.values()
    }

    /// How many users there are.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// True when there are no users.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// The users.json path this store was loaded from and saves to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Adds `name` or replaces its record (in memory; [`UserStore::save`] writes it).
    pub fn upsert(&mut self, name: &str, record: UserRecord) {
        self.users.insert(name.to_string(), record);
    }

    /// Removes `name` (in memory), returning its record if it existed.
    pub fn remove(&mut self, name: &str) -> Option<UserRecord> {
        self.users.remove(name)
    }

    /// Atomic replace (temp file in ROOT, fsync, rename), owner-only permissions (0600 on Unix).
    ///
    /// The temporary file is created in the same directory as users.json because a rename is only
    /// atomic within one file system. Permissions are set *before* the rename, so there is no
    /// moment when users.json exists with looser ones.
    pub fn save(&self) -> Result<(), UsersError> {
        let write_err = |source| UsersError::Write {
            path: self.path.clone(),
            source,
        };
        let dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        create_private_dir_all(dir).map_err(write_err)?;
        let file = UsersFile {
            users: self.users.clone(),
        };
        let mut json = serde_json::to_vec_pretty(&file).map_err(|e| write_err(e.into()))?;
        json.push(b'\n');

        let mut temp = tempfile::Builder::new()
            .prefix(".users.json.")
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(write_err)?;
        temp.write_all(&json).map_err(write_err)?;
        temp.as_file().sync_all().map_err(write_err)?;
        set_owner_only(temp.path()).map_err(write_err)?;
        temp.persist(&self.path).map_err(|e| write_err(e.error))?;
        sync_dir(dir);
        Ok(())
    }
}

/// Makes `path` readable and writable by its owner only (0600). Nothing to do off Unix.
pub fn set_owner_only(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Flushes a directory entry (the rename) to disk, so a crash right after `save` cannot bring the
/// old file back. Best effort: not every system lets a directory be opened for this.
pub fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Creates `dir` and any missing parents with owner-only permissions (0700 on Unix), so that other
/// local users cannot list the server's files. Directories that already exist are left as they
/// are (the administrator may have chosen otherwise).
pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// The accounts as a running server sees them: users.json, read again whenever it changes.
///
/// A session asks before every command, so `14-ftp deluser` or a new quota takes effect at once,
/// not at the next login. Reading and parsing the file each time would let anyone who can connect
/// make the server parse it over and over, so it is only read again when its size, modification
/// time or inode changed (`adduser` replaces the file, so its inode changes every time).
#[derive(Debug)]
pub struct Accounts {
    root: PathBuf,
    cached: Mutex<Option<(FileVersion, Arc<UserStore>)>>,
}

/// What tells one version of users.json from another.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileVersion {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl FileVersion {
    /// `None` when the file does not exist.
    fn of(path: &Path) -> io::Result<Option<FileVersion>> {
        let meta = match fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Ok(Some(FileVersion {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode,
        }))
    }
}

impl Accounts {
    pub fn new(root: &Path) -> Accounts {
        Accounts {
            root: root.to_path_buf(),
            cached: Mutex::new(None),
        }
    }

    /// The accounts as users.json holds them now.
    pub fn current(&self) -> Result<Arc<UserStore>, UsersError> {
        let path = users_file(&self.root);
        let version = FileVersion::of(&path).map_err(|source| UsersError::Read {
            path: path.clone(),
            source,
        })?;
        let mut cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
        if let (Some(version), Some((seen, store))) = (&version, cached.as_ref()) {
            if version == seen {
                return Ok(Arc::clone(store));
            }
        }
        let store = Arc::new(UserStore::load(&self.root)?);
        *cached = version.map(|version| (version, Arc::clone(&store)));
        Ok(store)
    }
}

/// ROOT/users.json.
pub fn users_file(root: &Path) -> PathBuf {
    root.join(USERS_FILE)
}

/// ROOT/home/NAME.
pub fn home_dir(root: &Path, name: &str) -> PathBuf {
    root.join(HOMES_DIR).join(name)
}

/// ROOT/home could not be made ready when a server started.
#[derive(Debug, thiserror::Error)]
#[error("cannot prepare {path}: {source}")]
pub struct HomesError {
    pub path: PathBuf,
    pub source: io::Error,
}

/// Makes ROOT/home ready (created owner-only if missing, see [`create_private_dir_all`]) and
/// returns it: the first step of both FTP servers' start-up, so that a root they cannot use
/// stops them with one clear line before they listen.
pub fn prepare_homes(root: &Path) -> Result<PathBuf, HomesError> {
    let homes = root.join(HOMES_DIR);
    match create_private_dir_all(&homes) {
        Ok(()) => Ok(homes),
        Err(source) => Err(HomesError {
            path: homes,
            source,
        }),
    }
}

/// 1..=32 chars of [A-Za-z0-9_.-], not starting with '.' or '-'. Used for every user name from
/// input: such a name is always a single, harmless path component (no `/`, no `..`, no hidden
/// file, nothing a shell or `ls` would read as an option).
pub fn valid_user_name(name: &str) -> bool {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-');
    !name.is_empty()
        && name.len() <= MAX_USER_NAME
        && !name.starts_with(['.', '-'])
        && name.bytes().all(allowed)
}

/// What a home holds: bytes in regular files, and entries (files, directories, anything else)
/// below the home itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub bytes: u64,
    pub entries: u64,
}

/// Bytes in regular files under `dir`, recursively, NOT following symlinks (a symlink counts 0,
/// and so does a `dir` that is itself a symlink or a file).
/// Hidden partial uploads are regular files and so count, as the issue wants.
pub fn disk_usage(dir: &Path) -> io::Result<u64> {
    Ok(home_usage(dir)?.bytes)
}

/// Bytes and entries under `dir` (see [`Usage`]), recursively, NOT following symlinks.
///
/// Entries are counted because every file and directory costs the disk an inode and a block even
/// when it holds no byte: a quota on bytes alone would let a user create empty directories until
/// the disk has no inode left, for everyone.
///
/// A missing `dir` counts 0 (a user whose home was never created stores nothing), and so does an
/// entry that disappears while we walk (another connection deleting a file). The walk uses its own
/// stack rather than recursion, so a very deep tree cannot overflow the thread's stack.
pub fn home_usage(dir: &Path) -> io::Result<Usage> {
    let mut usage = Usage::default();
    // `dir` itself is not followed either: a home replaced by a symlink counts 0.
    match fs::symlink_metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Ok(usage),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(usage),
        Err(e) => return Err(e),
    }
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = match fs::read_dir(&current) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            // `DirEntry::metadata` does not follow symlinks: a link is counted as a link.
            let meta = match entry.metadata() {
                Ok(meta) => meta,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            // The server's own hidden folders (partial uploads) hold user bytes, which count,
            // but are not themselves something the user made.
            if !is_reserved(&entry.file_name().to_string_lossy()) {
                usage.entries = usage.entries.saturating_add(1);
            }
            if meta.is_dir() {
                pending.push(entry.path());
            } else if meta.is_file() {
                usage.bytes = usage.bytes.saturating_add(meta.len());
            }
        }
    }
    Ok(usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_record(quota: u64) -> UserRecord {
        UserRecord {
            salt: "00".repeat(16),
            iterations: 4096,
            stored_key: "11".repeat(32),
            server_key: "22".repeat(32),
            quota,
        }
    }

    #[test]
    fn user_names() {
        for good in [
            "a",
            "alice",
            "Bob_2",
            "x.y",
            "a-b",
            "_hidden_not",
            &"a".repeat(32),
        ] {
            assert!(valid_user_name(good), "{good:?}");
        }
        for bad in [
            "",
            ".",
            "..",
            ".alice",
            "-rf",
            "a/b",
            "a\\b",
            "a b",
            "a\0b",
            "ali:ce",
            "émile",
            "用户",
            &"a".repeat(33),
        ] {
            assert!(!valid_user_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn missing_file_is_an_empty_store() {
        let root = tempfile::tempdir().unwrap();
        let store = UserStore::load(&root.path().join("not-there")).unwrap();
        assert!(store.is_empty());
        assert_eq!(store.names().count(), 0);
    }

    #[test]
    fn save_is_atomic_owner_only_and_round_trips() {
        let root = tempfile::tempdir().unwrap();
        let mut store = UserStore::load(root.path()).unwrap();
        store.upsert("bob", sample_record(5));
        store.upsert("alice", sample_record(7));
        store.save().unwrap();
        // Saving again replaces the file (and the replacement keeps owner-only permissions).
        store.upsert("carol", sample_record(9));
        store.remove("bob");
        store.save().unwrap();

        let path = root.path().join(USERS_FILE);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Only users.json is left: the temporary files were renamed, not copied.
        let names: Vec<_> = fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, [USERS_FILE]);

        let loaded = UserStore::load(root.path()).unwrap();
        assert_eq!(loaded.names().collect::<Vec<_>>(), ["alice", "carol"]);
        assert_eq!(loaded.user("alice"), Some(&sample_record(7)));
        assert_eq!(loaded.user("bob"), None);
        let json: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(json["users"]["carol"]["quota"], 9);
    }

    #[test]
    fn damaged_files_are_errors_not_empty_stores() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join(USERS_FILE);
        let good = serde_json::to_string(&sample_record(1)).unwrap();
        for text in [
            "".to_string(),
            "{not json".to_string(),
            "[]".to_string(),
            r#"{"users": {"alice": {"salt": "00"}}}"#.to_string(),
            format!(r#"{{"users": {{"../evil": {good}}}}}"#),
            format!(
                r#"{{"users": {{"alice": {}}}}}"#,
                good.replace(&"00".repeat(16), "zz")
            ),
            format!(r#"{{"users": {{"alice": {}}}}}"#, good.replace("4096", "0")),
        ] {
            fs::write(&path, &text).unwrap();
            assert!(
                matches!(
                    UserStore::load(root.path()),
                    Err(UsersError::Corrupt { .. })
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn disk_usage_counts_regular_files_and_not_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(disk_usage(dir.path()).unwrap(), 0);
        assert_eq!(disk_usage(&dir.path().join("missing")).unwrap(), 0);
        fs::write(dir.path().join("a"), vec![0u8; 100]).unwrap();
        fs::create_dir_all(dir.path().join("d/e")).unwrap();
        fs::write(dir.path().join("d/e/.partial"), vec![0u8; 23]).unwrap();
        fs::create_dir(dir.path().join(".socklab-partial")).unwrap();
        assert_eq!(disk_usage(dir.path()).unwrap(), 123);
        assert_eq!(
            home_usage(dir.path()).unwrap(),
            Usage {
                bytes: 123,
                entries: 4
            }
        );
        #[cfg(unix)]
        {
            let outside = tempfile::tempdir().unwrap();
            fs::write(outside.path().join("big"), vec![0u8; 5000]).unwrap();
            std::os::unix::fs::symlink(outside.path(), dir.path().join("link-dir")).unwrap();
            std::os::unix::fs::symlink(outside.path().join("big"), dir.path().join("link-file"))
                .unwrap();
            assert_eq!(disk_usage(dir.path()).unwrap(), 123);
            assert_eq!(disk_usage(&dir.path().join("link-dir")).unwrap(), 0);
        }
    }

    #[test]
    fn accounts_follow_users_json_as_it_changes() {
        let root = tempfile::tempdir().unwrap();
        let accounts = Accounts::new(root.path());
        assert!(accounts.current().unwrap().is_empty());
        let mut store = UserStore::load(root.path()).unwrap();
        store.upsert("alice", sample_record(7));
        store.save().unwrap();
        let first = accounts.current().unwrap();
        assert_eq!(first.user("alice"), Some(&sample_record(7)));
        // Unchanged file: the same parsed store, not read again.
        assert!(Arc::ptr_eq(&first, &accounts.current().unwrap()));
        store.upsert("alice", sample_record(9));
        store.save().unwrap();
        assert_eq!(
            accounts.current().unwrap().user("alice"),
            Some(&sample_record(9))
        );
        store.remove("alice");
        store.save().unwrap();
        assert_eq!(accounts.current().unwrap().user("alice"), None);
    }

    #[cfg(unix)]
    #[test]
    fn private_dirs_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let deep = root.path().join("a/b/c");
        create_private_dir_all(&deep).unwrap();
        for dir in [root.path().join("a"), deep] {
            let mode = fs::metadata(&dir).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "{}", dir.display());
        }
    }

    #[test]
    fn homes_are_under_root_home() {
        assert_eq!(
            home_dir(Path::new("/srv/ftp"), "alice"),
            Path::new("/srv/ftp/home/alice")
        );
    }
}
