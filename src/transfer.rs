//! Moving file bodies over a socket: streamed, hashed while they move, never half-written in place.
//!
//! Three problems every file transfer has, solved once for lessons 13 and 14:
//!
//! - **Memory.** A file can be larger than RAM. Bytes move in chunks of [`CHUNK`] through a few
//!   recycled buffers, so a transfer needs about a megabyte whatever the file size.
//! - **Integrity.** The tutorials check an MD5 after the transfer, reading the file a second time.
//!   Here the digest is computed *while* the bytes move, on a second thread fed over a
//!   crossbeam channel, so hashing chunk k overlaps reading and writing chunk k+1 and a transfer
//!   runs at the speed of the slower of the two, not their sum ([`copy_hashed`]). A sender that
//!   already knows the digest (it had to put it in the header) only copies ([`copy_exact`]).
//! - **Half-written files.** A client that vanishes mid-upload must not leave a truncated file
//!   under the finished name. [`PendingFile`] writes to a temporary file in the same folder and
//!   renames it into place only when it is complete; a rename within one filesystem is atomic, so
//!   readers see the old file or the new one, never a mix. The finished file gets the permissions
//!   a new file normally gets, or owner-only ones for the server's own records.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::thread;

use crossbeam_channel::bounded;
use md5::{Digest, Md5};

/// Bytes moved per read/write and hashed per message to the hashing thread.
pub const CHUNK: usize = 256 * 1024;

/// Buffers in flight between the copying thread and the hashing thread. Memory per transfer is
/// about `BUFFERS * CHUNK`.
const BUFFERS: usize = 4;

/// A transfer went wrong.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("the sender stopped after {got} of {expected} bytes")]
    Truncated { expected: u64, got: u64 },
    #[error("reading failed after {after} bytes: {error}")]
    Read { after: u64, error: io::Error },
    #[error("writing failed after {after} bytes: {error}")]
    Write { after: u64, error: io::Error },
    #[error("the hashing thread stopped unexpectedly")]
    Hasher,
}

/// Copies exactly `len` bytes from `from` to `to`, feeding them to `md5` on a second thread, and
/// returns the updated hasher (call `finalize` on it, or keep feeding it).
///
/// Starting from a hasher that has already seen a file's first K bytes is how a resumed transfer
/// (断点续传) still ends with the digest of the whole file.
pub fn copy_hashed(
    from: &mut impl Read,
    to: &mut impl Write,
    len: u64,
    md5: Md5,
    progress: &Progress,
) -> Result<Md5, TransferError> {
    // Full buffers go to the hasher (with how many of their bytes count); the hasher sends them
    // back for reuse. Both channels are bounded, so a slow hasher slows the copy instead of
    // letting buffers pile up. The buffers keep their full length: nothing is zeroed per chunk.
    let (full_tx, full_rx) = bounded::<(Vec<u8>, usize)>(BUFFERS);
    let (empty_tx, empty_rx) = bounded::<Vec<u8>>(BUFFERS);
    for _ in 0..BUFFERS {
        let _ = empty_tx.send(vec![0u8; CHUNK]);
    }

    thread::scope(|scope| {
        let hasher = scope.spawn(move || {
            let mut md5 = md5;
            for (buffer, filled) in full_rx {
                md5.update(buffer.get(..filled).unwrap_or_default());
                // The copier may have finished and dropped its receiver; that is fine.
                let _ = empty_tx.send(buffer);
            }
            md5
        });

        let copied = copy_chunks(from, to, len, &empty_rx, &full_tx, progress);
        drop(full_tx); // ends the hasher's loop
        let md5 = hasher.join().map_err(|_| TransferError::Hasher)?;
        copied.map(|()| md5)
    })
}

/// The copying half of [`copy_hashed`]: read a chunk, write it, pass it to the hasher.
///
/// One read per chunk, written at once: a receiver's file grows as the bytes arrive (a broken
/// transfer keeps every byte that came, for resuming), never waiting to fill a whole chunk.
fn copy_chunks(
    from: &mut impl Read,
    to: &mut impl Write,
    len: u64,
    empty: &crossbeam_channel::Receiver<Vec<u8>>,
    full: &crossbeam_channel::Sender<(Vec<u8>, usize)>,
    progress: &Progress,
) -> Result<(), TransferError> {
    let mut done: u64 = 0;
    while done < len {
        let mut buffer = empty.recv().map_err(|_| TransferError::Hasher)?;
        let got = read_chunk(from, &mut buffer, len, done)?;
        let chunk = buffer.get(..got).unwrap_or_default();
        to.write_all(chunk)
            .map_err(|error| TransferError::Write { after: done, error })?;
        done += got as u64;
        progress.advance(got as u64);
        full.send((buffer, got))
            .map_err(|_| TransferError::Hasher)?;
    }
    to.flush()
        .map_err(|error| TransferError::Write { after: done, error })?;
    Ok(())
}

/// Copies exactly `len` bytes from `from` to `to`, without hashing them: for a sender that
/// already knows the digest (it had to put it in the header), hashing again would only cost time.
pub fn copy_exact(
    from: &mut impl Read,
    to: &mut impl Write,
    len: u64,
    progress: &Progress,
) -> Result<(), TransferError> {
    let mut buffer = vec![0u8; CHUNK];
    let mut done: u64 = 0;
    while done < len {
        let got = read_chunk(from, &mut buffer, len, done)?;
        let chunk = buffer.get(..got).unwrap_or_default();
        to.write_all(chunk)
            .map_err(|error| TransferError::Write { after: done, error })?;
        done += got as u64;
        progress.advance(got as u64);
    }
    to.flush()
        .map_err(|error| TransferError::Write { after: done, error })?;
    Ok(())
}

/// One `read` into `buffer`, never asking for more than the `len - done` bytes still due (so the
/// next message on a stream is never swallowed). Returns how many bytes came; the end of the
/// stream before `len` is [`TransferError::Truncated`].
fn read_chunk(
    from: &mut impl Read,
    buffer: &mut [u8],
    len: u64,
    done: u64,
) -> Result<usize, TransferError> {
    let left = usize::try_from(len - done).unwrap_or(usize::MAX);
    let want = buffer.len().min(left);
    let window = buffer.get_mut(..want).unwrap_or_default();
    loop {
        return match from.read(window) {
            Ok(0) => Err(TransferError::Truncated {
                expected: len,
                got: done,
            }),
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => Err(TransferError::Read { after: done, error }),
        };
    }
}

/// The MD5 of the first `len` bytes of `reader`, streamed, as a hasher to go on feeding.
pub fn hash_prefix(reader: &mut impl Read, len: u64) -> Result<Md5, TransferError> {
    copy_hashed(
        reader,
        &mut io::sink(),
        len,
        Md5::new(),
        &Progress::hidden(),
    )
}

/// The MD5 of a whole file, as lowercase hex, streamed.
pub fn md5_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let md5 = hash_prefix(&mut file, len).map_err(io::Error::other)?;
    Ok(hex_digest(md5))
}

/// How many freshly written bytes a receiver lets pile up before [`start_writeback`].
pub const WRITEBACK_EVERY: u64 = 8 * 1024 * 1024;

/// Asks the kernel to start writing `len` bytes of `file` from `offset` to the disk now, without
/// waiting for them (`sync_file_range` with `SYNC_FILE_RANGE_WRITE`, Linux only; elsewhere it
/// does nothing). A receiver that calls it every [`WRITEBACK_EVERY`] bytes while a body arrives
/// has little left dirty at the end, so its final `fsync` (still needed: this call alone
/// guarantees nothing, not even the metadata) is short instead of flushing the whole file.
/// Purely a hint: a failure is ignored, and the `fsync` reports any real problem.
pub fn start_writeback(file: &File, offset: u64, len: u64) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let Some((offset, len)) = kernel_range(offset, len) else {
            return;
        };
        // SAFETY: the descriptor is open for as long as `file` is borrowed; the call only reads
        // its arguments.
        unsafe {
            libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, offset, len);
}

/// `offset` and `len` as the kernel's file offsets, if they fit (they always do below 8 EiB).
#[cfg(target_os = "linux")]
fn kernel_range(offset: u64, len: u64) -> Option<(libc::off64_t, libc::off64_t)> {
    Some((offset.try_into().ok()?, len.try_into().ok()?))
}

/// How far behind the newest bytes a [`Writeback`] file keeps its pages in memory.
pub const KEEP_IN_MEMORY: u64 = 2 * WRITEBACK_EVERY;

/// Waits until the `len` bytes of `file` from `offset` are on the disk, then tells the kernel
/// they will not be read again (`sync_file_range` with `WAIT_BEFORE | WRITE | WAIT_AFTER`, then
/// `posix_fadvise(DONTNEED)`; Linux only, elsewhere it does nothing), so their page cache goes
/// back to the free memory at once. Purely a hint, like [`start_writeback`]: failures are
/// ignored, and the final `fsync` still decides.
pub fn release_written(file: &File, offset: u64, len: u64) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let Some((offset, len)) = kernel_range(offset, len) else {
            return;
        };
        let wait_for_disk = libc::SYNC_FILE_RANGE_WAIT_BEFORE
            | libc::SYNC_FILE_RANGE_WRITE
            | libc::SYNC_FILE_RANGE_WAIT_AFTER;
        // SAFETY: the descriptor is open for as long as `file` is borrowed; both calls only read
        // their arguments.
        unsafe {
            libc::sync_file_range(file.as_raw_fd(), offset, len, wait_for_disk);
            libc::posix_fadvise(file.as_raw_fd(), offset, len, libc::POSIX_FADV_DONTNEED);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, offset, len);
}

/// A file written front to back, from `offset`, whose bytes are handed to the disk as they come:
/// every [`WRITEBACK_EVERY`] bytes it calls [`start_writeback`] on them. The receiving side of a
/// transfer writes through it (the 14 server's put, the 13 and 14 clients' get, the 13 server's
/// put), so the disk writes while the network and MD5 work, and the `fsync` that must come
/// before the rename only waits for the last few megabytes. Without it the kernel starts
/// writing only when a tenth of the memory is dirty (`vm.dirty_background_ratio`): a 1 GiB
/// download then ends with a 1 GiB flush, paid after the transfer instead of during it.
///
/// Bytes more than [`KEEP_IN_MEMORY`] behind the newest are released ([`release_written`]):
/// once they are on the disk their pages are freed, and the next bytes are written into memory
/// the kernel has just had back. A transfer of any size then holds a few tens of MiB of page
/// cache, not the whole file, and it does not push the rest of the machine's cache out. On a
/// virtual machine that hands free memory back to its host, where new memory is slow to come
/// by, this made a 1 GiB get about 1.8x faster (issue 19; walkthrough, lesson 14 in depth). The
/// price: a file just received is read back from the disk, not from memory.
pub struct Writeback<'a> {
    file: &'a File,
    /// Where the next byte goes in the file.
    position: u64,
    /// Where the bytes not yet handed to [`start_writeback`] start.
    unflushed_from: u64,
    /// Where the bytes not yet released ([`release_written`]) start.
    kept_from: u64,
}

impl<'a> Writeback<'a> {
    /// Writes into `file` from `offset`, where the file's cursor must be.
    pub fn new(file: &'a File, offset: u64) -> Writeback<'a> {
        Writeback {
            file,
            position: offset,
            unflushed_from: offset,
            kept_from: offset,
        }
    }
}

impl Write for Writeback<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut file = self.file;
        let n = file.write(buf)?;
        self.position += n as u64;
        let unflushed = self.position - self.unflushed_from;
        if unflushed >= WRITEBACK_EVERY {
            start_writeback(self.file, self.unflushed_from, unflushed);
            self.unflushed_from = self.position;
            let keep_from = self.position.saturating_sub(KEEP_IN_MEMORY);
            if keep_from > self.kept_from {
                release_written(self.file, self.kept_from, keep_from - self.kept_from);
                self.kept_from = keep_from;
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Finishes a hasher as lowercase hex, the form every socklab protocol uses.
pub fn hex_digest(md5: Md5) -> String {
    hex::encode(md5.finalize())
}

/// A file being written under a temporary name, renamed into place by [`PendingFile::commit`].
/// Dropped without `commit`, the temporary file is deleted: nothing half-written is left.
///
/// Permissions: [`PendingFile::create`] gives the finished file the permissions `File::create`
/// would (on Unix 0666 minus the process umask, usually 0644), because an uploaded or downloaded
/// file is the user's file and should behave like any other. [`PendingFile::create_private`]
/// gives 0600 (owner only), for the server's own records and secrets. Either way the temporary
/// file is created with its final permissions, so there is never a moment when it is more open
/// than it will end up.
pub struct PendingFile {
    temp: tempfile::NamedTempFile,
    target: PathBuf,
}

impl PendingFile {
    /// Starts a file that will become `target`, with ordinary permissions (see above). The
    /// temporary file lives in the same folder, so the final rename never crosses filesystems
    /// (which would not be atomic). Its name starts with a dot and ends in `.part` so a directory
    /// listing can skip it.
    pub fn create(target: &Path) -> io::Result<PendingFile> {
        let mut builder = tempfile::Builder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // Passed to open(2) as the mode, so the kernel applies the umask, as for File::create.
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        PendingFile::create_with(target, &mut builder)
    }

    /// Starts a file that will become `target`, readable and writable by its owner only.
    pub fn create_private(target: &Path) -> io::Result<PendingFile> {
        // tempfile's own default is 0600.
        PendingFile::create_with(target, &mut tempfile::Builder::new())
    }

    fn create_with(target: &Path, builder: &mut tempfile::Builder) -> io::Result<PendingFile> {
        let folder = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let temp = builder
            .prefix(".socklab-")
            .suffix(".part")
            .tempfile_in(folder)?;
        Ok(PendingFile {
            temp,
            target: target.to_path_buf(),
        })
    }

    /// The file to write the body into.
    pub fn file(&mut self) -> &mut File {
        self.temp.as_file_mut()
    }

    /// Flushes the bytes to disk and renames the file into place, replacing any old one.
    pub fn commit(self) -> io::Result<()> {
        self.temp.as_file().sync_all()?;
        self.temp.persist(&self.target).map_err(|e| e.error)?;
        Ok(())
    }
}

/// A progress bar on stderr (bytes, rate, ETA) for a long transfer, or nothing: it only draws
/// when enabled and stderr is a terminal, so logs and tests stay clean.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    /// A bar for `len` bytes labelled `label`, if `enabled` and stderr is a terminal.
    pub fn new(len: u64, label: &str, enabled: bool) -> Progress {
        if !enabled || !io::stderr().is_terminal() {
            return Progress::hidden();
        }
        let bar = indicatif::ProgressBar::new(len);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(label.to_string());
        Progress { bar: Some(bar) }
    }

    /// No bar.
    pub fn hidden() -> Progress {
        Progress { bar: None }
    }

    /// Starts the bar at `position` (a resumed transfer).
    pub fn start_at(&self, position: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(position);
        }
    }

    fn advance(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    /// Removes the bar from the screen.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn writeback_keeps_every_byte_of_a_file_larger_than_it_keeps_in_memory() {
        // Past KEEP_IN_MEMORY the oldest bytes are released from the page cache: what is read
        // back afterwards comes from the disk and must be exactly what was written, from a
        // starting offset too (a resumed transfer).
        let len = (KEEP_IN_MEMORY + 3 * WRITEBACK_EVERY) as usize + 12345;
        let input = data(len);
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("big.bin");
        let mut file = File::create(&path).unwrap();
        file.write_all(b"kept").unwrap();
        let mut body = Writeback::new(&file, 4);
        copy_hashed(
            &mut &input[..],
            &mut body,
            len as u64,
            Md5::new(),
            &Progress::hidden(),
        )
        .unwrap();
        file.sync_all().unwrap();
        let read_back = std::fs::read(&path).unwrap();
        assert_eq!(&read_back[..4], b"kept");
        assert!(read_back[4..] == input[..], "the bytes read back differ");
    }

    #[test]
    fn copies_and_hashes_like_a_single_pass() {
        for len in [0, 1, CHUNK - 1, CHUNK, 3 * CHUNK + 17] {
            let input = data(len);
            let mut out = Vec::new();
            let md5 = copy_hashed(
                &mut &input[..],
                &mut out,
                len as u64,
                Md5::new(),
                &Progress::hidden(),
            )
            .unwrap();
            assert_eq!(out, input);
            assert_eq!(hex_digest(md5), hex::encode(Md5::digest(&input)));
        }
    }

    #[test]
    fn resumed_hash_equals_whole_hash() {
        let input = data(CHUNK + 1000);
        let (head, tail) = input.split_at(700);
        let md5 = hash_prefix(&mut &head[..], head.len() as u64).unwrap();
        let md5 = copy_hashed(
            &mut &tail[..],
            &mut io::sink(),
            tail.len() as u64,
            md5,
            &Progress::hidden(),
        )
        .unwrap();
        assert_eq!(hex_digest(md5), hex::encode(Md5::digest(&input)));
    }

    #[test]
    fn copy_exact_copies_exactly_len_bytes() {
        for len in [0, 1, CHUNK, 2 * CHUNK + 5] {
            let input = data(len + 3);
            let mut from = &input[..];
            let mut out = Vec::new();
            copy_exact(&mut from, &mut out, len as u64, &Progress::hidden()).unwrap();
            assert_eq!(out, input[..len]);
            assert_eq!(from.len(), 3, "the bytes after len are left unread");
        }
        let err = copy_exact(&mut &b"ab"[..], &mut io::sink(), 5, &Progress::hidden());
        assert!(matches!(
            err,
            Err(TransferError::Truncated {
                expected: 5,
                got: 2
            })
        ));
    }

    #[test]
    fn early_end_is_truncated() {
        let err = copy_hashed(
            &mut &b"abc"[..],
            &mut io::sink(),
            10,
            Md5::new(),
            &Progress::hidden(),
        )
        .unwrap_err();
        assert!(matches!(
            err,
            TransferError::Truncated {
                expected: 10,
                got: 3
            }
        ));
    }

    #[test]
    fn stops_at_len_even_if_more_follows() {
        let mut from = &b"abcdef"[..];
        let mut out = Vec::new();
        copy_hashed(&mut from, &mut out, 4, Md5::new(), &Progress::hidden()).unwrap();
        assert_eq!(out, b"abcd");
        assert_eq!(from, b"ef");
    }

    #[test]
    fn pending_file_appears_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a.txt");
        std::fs::write(&target, b"old").unwrap();

        let mut pending = PendingFile::create(&target).unwrap();
        pending.file().write_all(b"new contents").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
        pending.commit().unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new contents");

        let mut abandoned = PendingFile::create(&target).unwrap();
        abandoned.file().write_all(b"half").unwrap();
        drop(abandoned);
        assert_eq!(std::fs::read(&target).unwrap(), b"new contents");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn pending_files_get_ordinary_or_private_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        // What File::create gives under this process's umask (usually 0644).
        let reference = dir.path().join("reference");
        File::create(&reference).unwrap();

        let ordinary = dir.path().join("ordinary");
        PendingFile::create(&ordinary).unwrap().commit().unwrap();
        assert_eq!(mode(&ordinary), mode(&reference));

        let private = dir.path().join("private");
        PendingFile::create_private(&private)
            .unwrap()
            .commit()
            .unwrap();
        assert_eq!(mode(&private), 0o600);
    }
}
