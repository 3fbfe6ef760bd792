//! Downloads that trust no server: written only into a file of our own, and never larger than
//! the user allows.
//!
//! Two things a `get` must check that have nothing to do with the protocol (lessons 13 and 14):
//!
//! - **Links.** A resumable download (断点续传) writes into `LOCAL.part` and keeps it between
//!   runs. Anyone who can write in the download folder can plant a symbolic or hard link under
//!   that name pointing at a file elsewhere; a client that simply opens the name would then
//!   truncate, overwrite or append to that file. [`open_partial`] opens the name without
//!   following a symbolic link (`O_NOFOLLOW`) and then checks, on the opened file itself, that it
//!   is a regular file with one name (`nlink == 1`; a hard link has two) owned by us: the same
//!   rules the 14 server applies to its own partial uploads. The finished file is *renamed* into
//!   place, which replaces a link at `LOCAL` instead of writing through it.
//! - **Size.** The server announces a size and the client receives that many bytes. A server that
//!   announces a terabyte fills the disk. [`check_size`] refuses a size over `--max-size` before
//!   the first byte arrives; the default limit ([`default_max_size`]) is the free space of the
//!   download folder.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;

use crate::units::format_size;

/// The limit used when the free space of the download folder cannot be known (not available on
/// this platform, or the call failed): 16 GiB, the same as 13's server `--max-file-size`.
pub const FALLBACK_MAX_SIZE: u64 = 16 << 30;

/// Opens (creating it if missing) the partial file of a download for reading and writing,
/// without truncating it, and refuses a name that is not a plain file of our own.
///
/// The error names the path and says why, so the user can remove what was planted.
pub fn open_partial(path: &Path) -> io::Result<File> {
    let refuse = |why: &str| {
        io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} {why}: refusing to write through it (remove it and try again)",
                path.display()
            ),
        )
    };
    // Checked before opening too, so a symbolic link gets a clear message rather than ELOOP
    // ("too many levels of symbolic links"). The open below is what makes it safe.
    if let Ok(meta) = fs::symlink_metadata(path) {
        if meta.file_type().is_symlink() {
            return Err(refuse("is a symbolic link"));
        }
    }
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    no_follow_no_block(&mut options);
    let file = match options.open(path) {
        Ok(file) => file,
        Err(e) if is_symlink_refusal(&e) => return Err(refuse("is a symbolic link")),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(refuse("is not a regular file"));
    }
    if let Some(why) = not_ours(&meta) {
        return Err(refuse(why));
    }
    Ok(file)
}

/// `O_NOFOLLOW`: a symbolic link is refused by the open itself; `O_NONBLOCK`: a FIFO planted
/// under the name must not block the open for ever (it is refused just after, not a file).
fn no_follow_no_block(options: &mut OpenOptions) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        // FILE_FLAG_OPEN_REPARSE_POINT: open a symbolic link itself, not what it points to; the
        // opened file is then not a regular file and is refused.
        options.custom_flags(0x0020_0000);
    }
    #[cfg(not(any(unix, windows)))]
    let _ = options;
}

fn is_symlink_refusal(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(libc::ELOOP)
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// Why an opened partial file is not one this user's client wrote, if it is not.
fn not_ours(meta: &fs::Metadata) -> Option<&'static str> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.nlink() != 1 {
            return Some("has another name (a hard link)");
        }
        if meta.uid() != me {
            return Some("belongs to another user");
        }
        None
    }
    #[cfg(not(unix))]
    {
        // Windows: the link count is not available from std; symbolic links are refused above.
        let _ = meta;
        None
    }
}

/// Refuses an announced download size over `max`, before any byte of the body is read.
pub fn check_size(announced: u64, max: u64) -> Result<(), String> {
    if announced > max {
        return Err(format!(
            "the server announces {} ({announced} bytes), over the limit of {} (--max-size); nothing was downloaded",
            format_size(announced),
            format_size(max)
        ));
    }
    Ok(())
}

/// The default `--max-size`: the free space of the folder `dir` downloads into, or
/// [`FALLBACK_MAX_SIZE`] when that cannot be known.
pub fn default_max_size(dir: &Path) -> u64 {
    let dir = match dir.as_os_str().is_empty() {
        true => Path::new("."),
        false => dir,
    };
    free_bytes(dir).unwrap_or(FALLBACK_MAX_SIZE)
}

/// The folder a download to `local` lands in.
pub fn folder_of(local: &Path) -> &Path {
    match local.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(unix)]
#[allow(clippy::unnecessary_cast)] // fsblkcnt_t and c_ulong are not u64 everywhere
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let dir = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: an all-zero statvfs is a valid value of this plain C struct, and statvfs only
    // writes into the struct we pass, reading a NUL-terminated path that outlives the call.
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(dir.as_ptr(), &mut stats) } != 0 {
        return None;
    }
    Some((stats.f_bavail as u64).saturating_mul(stats.f_frsize as u64))
}

/// Not available without a Windows API crate: the fixed [`FALLBACK_MAX_SIZE`] is used.
#[cfg(not(unix))]
fn free_bytes(_dir: &Path) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_new_or_own_partial_file_opens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.part");
        open_partial(&path).unwrap().write_all(b"abc").unwrap();
        // Opened again, it is not truncated.
        assert_eq!(open_partial(&path).unwrap().metadata().unwrap().len(), 3);
    }

    #[cfg(unix)]
    #[test]
    fn links_are_refused_and_their_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim.txt");
        fs::write(&victim, b"precious").unwrap();
        let soft = dir.path().join("soft.part");
        std::os::unix::fs::symlink(&victim, &soft).unwrap();
        let e = open_partial(&soft).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        let hard = dir.path().join("hard.part");
        fs::hard_link(&victim, &hard).unwrap();
        let e = open_partial(&hard).unwrap_err();
        assert!(e.to_string().contains("hard link"), "{e}");
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
    }

    #[test]
    fn sizes_over_the_limit_are_refused() {
        assert!(check_size(10, 10).is_ok());
        let e = check_size(11, 10).unwrap_err();
        assert!(e.contains("--max-size"), "{e}");
        assert!(default_max_size(Path::new("")) > 0);
    }
}
