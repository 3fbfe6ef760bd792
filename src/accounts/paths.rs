//! Virtual paths and the home jail: how a user's `"../../etc/passwd"` never reaches the host.
//!
//! A user never sees a host path. They see *virtual* paths: `/` is their home
//! (`ROOT/home/USER`), `/docs/a.txt` is `ROOT/home/USER/docs/a.txt`, and a relative path starts at
//! their current directory. Two steps turn what a client typed into a file the server may touch:
//!
//! 1. [`VirtualPath::parse`] works on the text alone ("lexically"): it splits on `/`, drops empty
//!    and `.` components, and lets `..` remove the previous component, refusing one that would
//!    climb above `/`. It refuses NUL bytes (C functions would stop reading there), backslashes
//!    (`..\..\x` is a traversal on Windows and a confusing name everywhere) and names starting
//!    with [`RESERVED_PREFIX`] (the server's own hidden files). `/etc/passwd` is not refused: it
//!    simply means `home/etc/passwd`, which does not exist.
//! 2. [`Jail::resolve`] then walks the host directories one component at a time with
//!    `symlink_metadata` (which looks at a link itself, never at what it points to) and refuses
//!    any symbolic link. The text in step 1 cannot leave the home, and without links the disk
//!    cannot either, so nothing outside the home is ever read, listed, created or written.
//!
//! A link planted by someone with shell access to the server is the case step 2 exists for. What
//! it does not cover is a link swapped in *between* the check and the use (a race that needs a
//! local attacker writing inside the home while the server works); [`open_no_follow`] closes that
//! gap for the last component of a file being read.

use std::fmt;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

/// Names starting with this belong to the server (hidden partial uploads live in
/// `.socklab-partial`): users may not create, list or name them.
pub const RESERVED_PREFIX: &str = ".socklab";

/// Longest path text accepted from a client, in bytes.
pub const MAX_PATH_LEN: usize = 4096;

/// Longest single name (one component), in bytes: what common filesystems allow.
pub const MAX_NAME_LEN: usize = 255;

/// Why a path's text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("the path is empty")]
    Empty,
    #[error("the path is longer than {MAX_PATH_LEN} bytes")]
    TooLong,
    #[error("a name in the path is longer than {MAX_NAME_LEN} bytes")]
    NameTooLong,
    #[error("the path contains a NUL byte")]
    Nul,
    #[error("the path contains a backslash (use / to separate names)")]
    Backslash,
    #[error("'..' would go above your home directory")]
    AboveHome,
    #[error("names starting with {RESERVED_PREFIX} are reserved for the server")]
    Reserved,
    /// Only on Windows, whose filesystems refuse these names: without this check the request
    /// would reach the disk and come back as a vague `server_error`.
    #[error(
        "Windows cannot store the name '{0}' (no control characters, none of <>:\"|?*, no dot or \
         space at the end, no device name such as CON or NUL)"
    )]
    NotOnWindows(String),
}

impl PathError {
    /// Is this an attempt to get out (answered `denied`) rather than a malformed request
    /// (answered `bad_request`)?
    pub fn is_denial(&self) -> bool {
        matches!(
            self,
            PathError::Nul | PathError::Backslash | PathError::AboveHome | PathError::Reserved
        )
    }
}

/// A normalised path inside a home: a list of names, none of them empty, `.`, `..`, or reserved.
/// Displayed as `/a/b` (`/` for the home itself).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct VirtualPath {
    names: Vec<String>,
}

impl VirtualPath {
    /// `/`: the home directory itself.
    pub fn root() -> VirtualPath {
        VirtualPath::default()
    }

    /// Interprets `input` as typed by a client whose current directory is `cwd`.
    pub fn parse(cwd: &VirtualPath, input: &str) -> Result<VirtualPath, PathError> {
        if input.is_empty() {
            return Err(PathError::Empty);
        }
        if input.len() > MAX_PATH_LEN {
            return Err(PathError::TooLong);
        }
        if input.contains('\0') {
            return Err(PathError::Nul);
        }
        if input.contains('\\') {
            return Err(PathError::Backslash);
        }
        let mut names = if input.starts_with('/') {
            Vec::new()
        } else {
            cwd.names.clone()
        };
        for name in input.split('/') {
            match name {
                "" | "." => {}
                ".." => {
                    if names.pop().is_none() {
                        return Err(PathError::AboveHome);
                    }
                }
                _ if is_reserved(name) => return Err(PathError::Reserved),
                _ if name.len() > MAX_NAME_LEN => return Err(PathError::NameTooLong),
                _ if cfg!(windows) && windows_refuses(name) => {
                    return Err(PathError::NotOnWindows(name.escape_debug().to_string()))
                }
                _ => names.push(name.to_string()),
            }
        }
        let path = VirtualPath { names };
        // A relative path is joined to the current directory, which `cd` can make deep: the
        // limit is on the result, so no path the server uses is ever longer than the limit.
        if path.text_len() > MAX_PATH_LEN {
            return Err(PathError::TooLong);
        }
        Ok(path)
    }

    /// Is this the home directory itself?
    pub fn is_root(&self) -> bool {
        self.names.is_empty()
    }

    /// The last name (`None` for `/`).
    pub fn file_name(&self) -> Option<&str> {
        self.names.last().map(String::as_str)
    }

    /// The names from the home down.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The length of `to_string()`, without building it.
    fn text_len(&self) -> usize {
        self.names
            .iter()
            .map(|name| name.len() + 1)
            .sum::<usize>()
            .max(1)
    }
}

/// Is `name` one of the server's own (a name starting with [`RESERVED_PREFIX`])? Compared
/// without regard to ASCII case: on a case-insensitive filesystem (macOS, Windows)
/// `.SOCKLAB-partial` *is* `.socklab-partial`.
pub fn is_reserved(name: &str) -> bool {
    name.get(..RESERVED_PREFIX.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(RESERVED_PREFIX))
}

/// Would Windows refuse to create a file or folder called `name`? Control characters, the
/// characters `<>:"|?*`, a dot or a space at the end, and the old device names (`CON`, `PRN`,
/// `AUX`, `NUL`, `COM1`-`COM9`, `LPT1`-`LPT9`, with or without an extension). Linux and macOS
/// store all of these, so the check runs only on Windows (see [`VirtualPath::parse`]).
pub fn windows_refuses(name: &str) -> bool {
    const DEVICES: [&str; 4] = ["CON", "PRN", "AUX", "NUL"];
    if name
        .chars()
        .any(|c| c.is_control() || "<>:\"|?*".contains(c))
        || name.ends_with(['.', ' '])
    {
        return true;
    }
    let stem = name.split('.').next().unwrap_or(name).trim_end();
    let numbered = |prefix: &str| {
        stem.get(..3)
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
            && stem.len() == 4
            && stem
                .as_bytes()
                .get(3)
                .is_some_and(|d| (b'1'..=b'9').contains(d))
    };
    DEVICES.iter().any(|d| stem.eq_ignore_ascii_case(d)) || numbered("COM") || numbered("LPT")
}

impl fmt::Display for VirtualPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.names.is_empty() {
            return f.write_str("/");
        }
        for name in &self.names {
            write!(f, "/{name}")?;
        }
        Ok(())
    }
}

/// What a virtual path is on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File {
        size: u64,
    },
    /// Nothing there yet (its parent exists and is a directory).
    Missing,
}

/// A virtual path checked against the disk.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The host path, inside the home.
    pub host: PathBuf,
    pub kind: Kind,
}

/// Why a virtual path cannot be used on disk. Messages name virtual paths only: a client never
/// learns where the server keeps its files.
#[derive(Debug, thiserror::Error)]
pub enum JailError {
    #[error("{0} is a symbolic link; links are never followed")]
    Symlink(String),
    #[error("{0} is not a regular file or directory")]
    Special(String),
    #[error("{0} does not exist")]
    ParentMissing(String),
    #[error("{0} is a file, not a directory")]
    ParentNotDir(String),
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
}

/// A user's home directory, the only place the server touches for that user.
#[derive(Debug, Clone)]
pub struct Jail {
    home: PathBuf,
}

impl Jail {
    pub fn new(home: impl Into<PathBuf>) -> Jail {
        Jail { home: home.into() }
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Finds `path` on disk, one component at a time, refusing symbolic links and anything below
    /// a file. The last component may be missing ([`Kind::Missing`]); an earlier one may not.
    pub fn resolve(&self, path: &VirtualPath) -> Result<Resolved, JailError> {
        let mut host = self.home.clone();
        let mut shown = VirtualPath::root();
        let count = path.names.len();
        if count == 0 {
            // The home itself was made by the administrator (or by login): it must be a directory.
            if !fs::metadata(&host)?.is_dir() {
                return Err(JailError::Special("/".into()));
            }
            return Ok(Resolved {
                host,
                kind: Kind::Dir,
            });
        }
        for (index, name) in path.names.iter().enumerate() {
            host.push(name);
            shown.names.push(name.clone());
            let last = index + 1 == count;
            let meta = match fs::symlink_metadata(&host) {
                Ok(meta) => meta,
                Err(e) if e.kind() == io::ErrorKind::NotFound && last => {
                    return Ok(Resolved {
                        host,
                        kind: Kind::Missing,
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(JailError::ParentMissing(shown.to_string()))
                }
                Err(e) => return Err(JailError::Io(e)),
            };
            let kind = meta.file_type();
            if kind.is_symlink() {
                return Err(JailError::Symlink(shown.to_string()));
            }
            if !last {
                if !kind.is_dir() {
                    return Err(JailError::ParentNotDir(shown.to_string()));
                }
                continue;
            }
            let kind = if kind.is_dir() {
                Kind::Dir
            } else if kind.is_file() {
                Kind::File { size: meta.len() }
            } else {
                return Err(JailError::Special(shown.to_string()));
            };
            return Ok(Resolved { host, kind });
        }
        // Not reached: the loop returns on its last component.
        Err(JailError::ParentMissing(path.to_string()))
    }
}

/// Opens a file for reading, refusing (with an error) if its last component is a symbolic link,
/// even one created after [`Jail::resolve`] checked it.
pub fn open_no_follow(path: &Path) -> io::Result<File> {
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(cwd: &str, input: &str) -> Result<String, PathError> {
        let cwd = VirtualPath::parse(&VirtualPath::root(), cwd).unwrap();
        VirtualPath::parse(&cwd, input).map(|p| p.to_string())
    }

    #[test]
    fn relative_and_absolute_paths_normalise() {
        assert_eq!(parse("/", "a/b").unwrap(), "/a/b");
        assert_eq!(parse("/docs", "a.txt").unwrap(), "/docs/a.txt");
        assert_eq!(parse("/docs", "/a.txt").unwrap(), "/a.txt");
        assert_eq!(parse("/docs", "..").unwrap(), "/");
        assert_eq!(parse("/docs", "./x//y/./").unwrap(), "/docs/x/y");
        assert_eq!(parse("/a/b", "../c/../d").unwrap(), "/a/d");
        assert_eq!(parse("/", "/").unwrap(), "/");
        // A host path means a path in the home, nothing more.
        assert_eq!(parse("/", "/etc/passwd").unwrap(), "/etc/passwd");
    }

    #[test]
    fn names_windows_cannot_store_are_known() {
        for bad in [
            "a\nb", "a:b", "what?", "a*", "x.", "x ", "CON", "nul.txt", "Com1", "lpt9.log",
        ] {
            assert!(windows_refuses(bad), "{bad:?}");
        }
        for good in [
            "notes.txt",
            "COM",
            "COM10",
            "console",
            "a.b",
            "中文.txt",
            ".hidden",
        ] {
            assert!(!windows_refuses(good), "{good:?}");
        }
        let refused = parse("/", "x\nalice@evil");
        if cfg!(windows) {
            assert_eq!(
                refused,
                Err(PathError::NotOnWindows("x\\nalice@evil".into()))
            );
        } else {
            assert_eq!(refused, Ok("/x\nalice@evil".into()));
        }
    }

    #[test]
    fn escapes_and_bad_text_are_refused() {
        assert_eq!(parse("/", ".."), Err(PathError::AboveHome));
        assert_eq!(parse("/", "../x"), Err(PathError::AboveHome));
        assert_eq!(parse("/a", "../../etc/passwd"), Err(PathError::AboveHome));
        assert_eq!(parse("/", "/.."), Err(PathError::AboveHome));
        assert_eq!(parse("/", "..\\..\\x"), Err(PathError::Backslash));
        assert_eq!(parse("/", "a\0b"), Err(PathError::Nul));
        assert_eq!(parse("/", ""), Err(PathError::Empty));
        assert_eq!(parse("/", ".socklab-partial"), Err(PathError::Reserved));
        assert_eq!(parse("/", "a/.socklabx/b"), Err(PathError::Reserved));
        assert_eq!(parse("/", ".SockLab-Partial"), Err(PathError::Reserved));
        assert_eq!(parse("/", ".sock"), Ok("/.sock".into()));
        assert_eq!(parse("/", &"x".repeat(256)), Err(PathError::NameTooLong));
        assert_eq!(parse("/", &"a/".repeat(3000)), Err(PathError::TooLong));
        // Each request is short, but the current directory grows with every `cd`: the joined
        // path is what is limited.
        let deep = VirtualPath::parse(&VirtualPath::root(), &"d/".repeat(2000)).unwrap();
        assert!(VirtualPath::parse(&deep, "x").is_ok());
        let deeper = VirtualPath::parse(&deep, &"d/".repeat(40)).unwrap();
        assert_eq!(
            VirtualPath::parse(&deeper, &"e/".repeat(20)),
            Err(PathError::TooLong)
        );
        assert!(PathError::AboveHome.is_denial());
        assert!(!PathError::Empty.is_denial());
    }

    #[test]
    fn resolves_files_dirs_and_missing_names() {
        let dir = tempfile::tempdir().unwrap();
        let jail = Jail::new(dir.path());
        fs::create_dir(dir.path().join("docs")).unwrap();
        fs::write(dir.path().join("docs/a.txt"), b"abc").unwrap();
        let root = VirtualPath::root();
        let at = |p: &str| jail.resolve(&VirtualPath::parse(&root, p).unwrap());

        assert_eq!(at("/").unwrap().kind, Kind::Dir);
        assert_eq!(at("docs").unwrap().kind, Kind::Dir);
        assert_eq!(at("docs/a.txt").unwrap().kind, Kind::File { size: 3 });
        assert_eq!(at("docs/new").unwrap().kind, Kind::Missing);
        assert_eq!(
            at("docs/a.txt").unwrap().host,
            dir.path().join("docs/a.txt")
        );
        assert!(matches!(
            at("nope/x").unwrap_err(),
            JailError::ParentMissing(p) if p == "/nope"
        ));
        assert!(matches!(
            at("docs/a.txt/x").unwrap_err(),
            JailError::ParentNotDir(p) if p == "/docs/a.txt"
        ));
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_refused_wherever_they_are() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), b"s").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("s")).unwrap();
        let jail = Jail::new(dir.path());
        let root = VirtualPath::root();
        for p in ["out", "out/secret", "out/new", "s"] {
            let err = jail
                .resolve(&VirtualPath::parse(&root, p).unwrap())
                .unwrap_err();
            assert!(matches!(err, JailError::Symlink(_)), "{p}: {err}");
        }
        assert!(open_no_follow(&dir.path().join("s")).is_err());
    }
}
