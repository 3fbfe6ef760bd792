//! Watching a running command on Unix, all on the calling thread.
//!
//! One `poll(2)` waits for three things at once: data on the command's stdout, data on its
//! stderr, and the end of the shell itself (a *pidfd*, a file descriptor for a process that
//! becomes readable when the process exits; Linux 5.3 and later). No helper thread is started,
//! so a command costs one process spawn and a few system calls, not three thread starts.
//!
//! The command is over when the **shell** has exited, not when its pipes close: `echo hi; sleep
//! 100 &` is answered at once with `hi`, because the background `sleep` would otherwise hold the
//! pipes, and the answer, until the time limit. Whatever is in the pipes by then (background
//! children's output included) is read, and then the whole process group is killed: after every
//! command, answered, timed out or cut, nothing it started is left running.
//!
//! The shell is reaped (waited for) only after the group was killed: until then its pid, which is
//! also the group id, cannot be given to another process, so the kill cannot hit a stranger.
//! Its exit is therefore looked at with `waitid(..., WNOWAIT)`, which does not reap.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::process::Child;
use std::time::{Duration, Instant};

use super::{Limits, Watched};

/// Without a pidfd (an old kernel, not Linux), how often the shell's end is looked at.
const TICK: Duration = Duration::from_millis(10);
/// Size of each read from a pipe.
const CHUNK: usize = 8192;

/// Watches `child` until its shell exits, the time limit passes or its output goes over the cap;
/// then kills its process group, collects what is left in the pipes and reaps the shell.
pub(super) fn watch(child: &mut Child, limits: &Limits) -> io::Result<Watched> {
    let mut streams = [
        Stream::new(child.stdout.take().map(OwnedFd::from)),
        Stream::new(child.stderr.take().map(OwnedFd::from)),
    ];
    let mut watched = Watched::default();
    // Whatever ended the wait (even a failed poll), the group is killed and the shell reaped.
    let waited = wait_for_end(child, &mut streams, limits, &mut watched);
    kill_group(child);
    drain(&mut streams, limits.max_output, &mut watched);
    let [stdout, stderr] = streams;
    watched.stdout = stdout.kept;
    watched.stderr = stderr.kept;
    watched.status = child.wait().ok();
    waited.map(|()| watched)
}

/// Reads the output as it comes until the shell exits, the time limit passes or the output
/// goes over the cap (saying which in `watched`).
fn wait_for_end(
    child: &Child,
    streams: &mut [Stream; 2],
    limits: &Limits,
    watched: &mut Watched,
) -> io::Result<()> {
    let exited = pidfd_open(child.id());
    // A timeout of centuries is past what the clock can add: that is no deadline at all.
    let deadline = Instant::now().checked_add(limits.timeout);
    loop {
        if has_exited(child)? {
            return Ok(());
        }
        let now = Instant::now();
        let left = deadline.map(|at| at.saturating_duration_since(now));
        if left.is_some_and(|left| left.is_zero()) {
            watched.timed_out = true;
            return Ok(());
        }
        let wait = match (&exited, left) {
            (Some(_), left) => left,
            (None, Some(left)) => Some(left.min(TICK)),
            (None, None) => Some(TICK),
        };
        let ready = wait_ready(streams, exited.as_ref(), wait)?;
        if read_ready(streams, ready, limits.max_output) {
            watched.overflowed = true;
            return Ok(());
        }
    }
}

/// One output pipe and the bytes kept from it.
struct Stream {
    /// `None` once it reached its end.
    pipe: Option<File>,
    kept: Vec<u8>,
}

impl Stream {
    fn new(pipe: Option<OwnedFd>) -> Stream {
        Stream {
            pipe: pipe.map(File::from),
            kept: Vec::new(),
        }
    }

    fn fd(&self) -> Option<RawFd> {
        self.pipe.as_ref().map(AsRawFd::as_raw_fd)
    }

    /// One read (poll said it will not block), keeping at most `max` bytes in all. Returns
    /// `true` if bytes had to be thrown away: the answer will be cut.
    ///
    /// Past the cap the bytes are read and dropped rather than left in the pipe: a full pipe
    /// would block the command in `write` instead of letting it end or be killed.
    fn read_once(&mut self, max: usize) -> bool {
        let Some(pipe) = self.pipe.as_mut() else {
            return false;
        };
        let mut chunk = [0u8; CHUNK];
        let n = loop {
            match pipe.read(&mut chunk) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(n) => break n,
                Err(_) => break 0,
            }
        };
        if n == 0 {
            self.pipe = None;
            return false;
        }
        let data = chunk.get(..n).unwrap_or_default();
        let room = max.saturating_sub(self.kept.len());
        let keep = data.get(..room.min(n)).unwrap_or_default();
        self.kept.extend_from_slice(keep);
        keep.len() < n
    }
}

/// Which streams have something to read (or reached their end).
type Ready = [bool; 2];

/// Waits up to `wait` (`None`: no limit) for a stream to be readable or the shell to exit.
fn wait_ready(
    streams: &[Stream; 2],
    exited: Option<&OwnedFd>,
    wait: Option<Duration>,
) -> io::Result<Ready> {
    let mut fds: Vec<libc::pollfd> = Vec::with_capacity(3);
    let mut which = Vec::with_capacity(2);
    for (i, stream) in streams.iter().enumerate() {
        if let Some(fd) = stream.fd() {
            fds.push(pollfd(fd));
            which.push(i);
        }
    }
    if let Some(exited) = exited {
        fds.push(pollfd(exited.as_raw_fd()));
    }
    if fds.is_empty() {
        // Both pipes closed and no pidfd: only time tells when the shell ends.
        std::thread::sleep(wait.unwrap_or(TICK));
        return Ok([false; 2]);
    }
    let timeout = wait.map_or(-1, |w| {
        // Rounded up, so a wait of 0.4 ms does not become a busy loop of 0 ms polls.
        let ms = w.as_micros().div_ceil(1000);
        libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
    });
    let count = libc::nfds_t::try_from(fds.len()).unwrap_or(0);
    // SAFETY: `fds` is a live array of `count` pollfd structs, which poll only reads and updates.
    let result = unsafe { libc::poll(fds.as_mut_ptr(), count, timeout) };
    if result < 0 {
        let error = io::Error::last_os_error();
        // A signal (SIGCHLD of another command) woke us: just look again.
        return match error.kind() {
            io::ErrorKind::Interrupted => Ok([false; 2]),
            _ => Err(error),
        };
    }
    let mut ready = [false; 2];
    for (fd, &i) in fds.iter().zip(&which) {
        if fd.revents != 0 {
            if let Some(slot) = ready.get_mut(i) {
                *slot = true;
            }
        }
    }
    Ok(ready)
}

fn pollfd(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// Reads once from each ready stream. `true` if the output went over the cap.
fn read_ready(streams: &mut [Stream; 2], ready: Ready, max: usize) -> bool {
    let mut overflowed = false;
    for (stream, ready) in streams.iter_mut().zip(ready) {
        if ready {
            overflowed |= stream.read_once(max);
        }
    }
    overflowed
}

/// After the kill: reads what is already in the pipes, without waiting for more. Ends when
/// nothing is ready at once, or when the output is over the cap (a process that left the group
/// with `setsid` may still be writing; it is not waited for).
fn drain(streams: &mut [Stream; 2], max: usize, watched: &mut Watched) {
    while !watched.overflowed {
        let Ok(ready) = wait_ready(streams, None, Some(Duration::ZERO)) else {
            return;
        };
        if ready == [false; 2] {
            return;
        }
        watched.overflowed = read_ready(streams, ready, max);
    }
}

/// Has the shell exited? Looked at without reaping it (`WNOWAIT`), see the module doc.
fn has_exited(child: &Child) -> io::Result<bool> {
    let pid = libc::id_t::from(child.id());
    // SAFETY: a zeroed siginfo_t is a valid value of this plain C struct, which waitid fills in.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
    loop {
        // SAFETY: waitid writes only into `info`, which lives across the call.
        let result = unsafe { libc::waitid(libc::P_PID, pid, &mut info, flags) };
        if result == 0 {
            // With WNOHANG, si_pid stays 0 while the process is still running.
            // SAFETY: reading si_pid of a siginfo_t that waitid filled in.
            return Ok(unsafe { info.si_pid() } != 0);
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// Kills the shell and everything it started (its process group), whether or not the shell has
/// exited already. Called only before the shell is reaped (see the module doc).
fn kill_group(child: &mut Child) {
    match libc::pid_t::try_from(child.id()) {
        Ok(pgid) => {
            // SAFETY: kill(2) takes two integers and touches no memory of ours. It fails with
            // ESRCH when every member of the group has exited already: nothing to do then.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
        Err(_) => {
            let _ = child.kill();
        }
    }
}

/// A pidfd for `pid`: readable once the process exits. `None` where the kernel has none
/// (before Linux 5.3, other systems, or a sandbox that forbids it): then the shell's end is
/// looked at every [`TICK`].
#[cfg(any(target_os = "linux", target_os = "android"))]
fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    use std::os::fd::FromRawFd;
    let pid = libc::pid_t::try_from(pid).ok()?;
    // SAFETY: pidfd_open takes a pid and flags and returns a new file descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let fd = RawFd::try_from(fd).ok().filter(|fd| *fd >= 0)?;
    // SAFETY: the descriptor was just created for us and is owned by nobody else.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn pidfd_open(_pid: u32) -> Option<OwnedFd> {
    None
}
