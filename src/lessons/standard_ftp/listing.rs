//! Directory listings in the three shapes clients ask for.
//!
//! - `LIST`: lines like `ls -l` prints them. RFC 959 leaves the format to the server, so clients
//!   that show a file manager (lftp, file managers, browsers once) parse the Unix one; some send
//!   `LIST -a` or `LIST -la`, whose options are ignored here.
//! - `NLST`: names only, one per line (what a script uses to get a list of files).
//! - `MLSD` / `MLST` (RFC 3659): one entry per line as `fact=value;` pairs and the name, made for
//!   programs: `type=file;size=1234;modify=20261207145100;perm=adfrw; notes.txt`. The time is
//!   UTC, `YYYYMMDDHHMMSS`. FileZilla lists with MLSD when FEAT says the server has it.
//!
//! Every line ends in CRLF. Names a line cannot carry (with a line break in them, or not UTF-8)
//! are left out, as are the server's own hidden files, links and special files (no command
//! would accept them).

use std::fs::{self, Metadata};
use std::io;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};

use crate::accounts::paths::is_reserved;

/// One entry of a directory.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub is_dir: bool,
    pub size: u64,
    pub modified: SystemTime,
}

impl Entry {
    /// The entry for `name`, or `None` for a link, a special file, or a name no line can carry.
    pub fn from_metadata(name: String, meta: &Metadata) -> Option<Entry> {
        if !(meta.is_dir() || meta.is_file()) || name.contains(['\r', '\n']) {
            return None;
        }
        Some(Entry {
            is_dir: meta.is_dir(),
            size: if meta.is_dir() { 0 } else { meta.len() },
            modified: meta.modified().unwrap_or(UNIX_EPOCH),
            name,
        })
    }
}

/// The entries of the directory at `host`, sorted by name. (`DirEntry::metadata` does not follow
/// links.)
pub fn read_entries(host: &Path) -> io::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(host)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if is_reserved(&name) {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        entries.extend(Entry::from_metadata(name, &meta));
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// An `ls -l` line: `-rw-r--r-- 1 alice alice         1234 Dec 07 14:51 notes.txt`. Files less
/// than six months old show the time, older ones the year, as `ls` does.
pub fn ls_line(entry: &Entry, owner: &str, now: SystemTime) -> String {
    let mode = if entry.is_dir {
        "drwxr-xr-x"
    } else {
        "-rw-r--r--"
    };
    let time: DateTime<Utc> = entry.modified.into();
    let half_year = std::time::Duration::from_secs(183 * 24 * 3600);
    let recent = now
        .duration_since(entry.modified)
        .map_or(true, |age| age < half_year);
    let when = if recent {
        time.format("%b %d %H:%M")
    } else {
        time.format("%b %d  %Y")
    };
    format!(
        "{mode} 1 {owner} {owner} {:>12} {when} {}\r\n",
        entry.size, entry.name
    )
}

/// RFC 3659's facts for an entry, ending with a space before the name:
/// `type=file;size=1234;modify=20261207145100;perm=adfrw; `.
pub fn facts(entry: &Entry) -> String {
    let modify = modify_time(entry.modified);
    if entry.is_dir {
        format!("type=dir;modify={modify};perm=flcdmpe; ")
    } else {
        format!("type=file;size={};modify={modify};perm=adfrw; ", entry.size)
    }
}

/// An MLSD line: the facts, the name, CRLF.
pub fn mlsd_line(entry: &Entry) -> String {
    format!("{}{}\r\n", facts(entry), entry.name)
}

/// `YYYYMMDDHHMMSS` in UTC, as MDTM and the `modify` fact give a time (RFC 3659, 2.3).
pub fn modify_time(time: SystemTime) -> String {
    let time: DateTime<Utc> = time.into();
    time.format("%Y%m%d%H%M%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn entry(name: &str, is_dir: bool, size: u64, secs: u64) -> Entry {
        Entry {
            name: name.into(),
            is_dir,
            size,
            modified: UNIX_EPOCH + Duration::from_secs(secs),
        }
    }

    #[test]
    fn facts_follow_rfc_3659() {
        // 2026-12-07 14:51:00 UTC
        let file = entry("notes.txt", false, 1234, 1_796_655_060);
        assert_eq!(
            mlsd_line(&file),
            "type=file;size=1234;modify=20261207145100;perm=adfrw; notes.txt\r\n"
        );
        let dir = entry("docs", true, 0, 1_796_655_060);
        assert!(mlsd_line(&dir).starts_with("type=dir;modify=20261207145100;"));
    }

    #[test]
    fn ls_lines_show_the_year_for_old_files() {
        let now = UNIX_EPOCH + Duration::from_secs(1_796_655_060);
        let recent = entry("a", false, 5, 1_796_655_000);
        assert_eq!(
            ls_line(&recent, "alice", now),
            "-rw-r--r-- 1 alice alice            5 Dec 07 14:50 a\r\n"
        );
        let old = entry("b", true, 0, 0);
        assert!(ls_line(&old, "alice", now)
            .starts_with("drwxr-xr-x 1 alice alice            0 Jan 01  1970 b"));
    }

    #[test]
    fn names_with_line_breaks_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("ok"), b"1").unwrap();
        // Windows refuses such a name itself.
        #[cfg(unix)]
        fs::write(dir.path().join("bad\nname"), b"1").unwrap();
        fs::create_dir(dir.path().join(".socklab-partial")).unwrap();
        let names: Vec<String> = read_entries(dir.path())
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["ok"]);
    }
}
