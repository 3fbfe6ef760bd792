//! Watching a running command where there is no `poll` on pipes and processes (Windows): each
//! output pipe is read on its own thread, and the calling thread waits for their news.
//!
//! Written for Windows and never compiled on socklab's Unix machines; the Unix version is
//! `watch.rs`. Here the answer waits until both pipes are closed (or the time limit).

use std::io::{self, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use super::{Limits, Watched};

/// How often the watcher looks at the child once its output pipes have closed.
const POLL: Duration = Duration::from_millis(10);
/// After a kill, how long to wait for the output pipes to close.
const KILL_GRACE: Duration = Duration::from_secs(2);
/// Size of each read from a pipe.
const CHUNK: usize = 8192;

pub(super) fn watch(child: &mut Child, limits: &Limits) -> io::Result<Watched> {
    let (events, inbox) = mpsc::channel();
    let started =
        Capture::start(child.stdout.take(), limits.max_output, events.clone()).and_then(|out| {
            Capture::start(child.stderr.take(), limits.max_output, events).map(|err| (out, err))
        });
    let (stdout, stderr) = match started {
        Ok(captures) => captures,
        Err(e) => {
            kill_tree(child);
            let _ = child.wait();
            return Err(e);
        }
    };
    let mut watched = wait_for_end(child, &inbox, limits.timeout)?;
    watched.stdout = stdout.take();
    watched.stderr = stderr.take();
    Ok(watched)
}

fn kill_tree(child: &mut Child) {
    // Windows has no process groups to signal; taskkill /T walks the tree of child processes.
    let _ = Command::new("taskkill")
        .args(["/T", "/F", "/PID", &child.id().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
}

/// What the pipe readers tell the watcher.
enum Event {
    /// A stream went over the cap: the answer will be cut, so the command may be killed.
    Overflowed,
    /// A stream reached its end (or failed): one pipe fewer to wait for.
    Closed,
}

/// One output stream being read on its own thread, keeping at most `max` bytes.
struct Capture {
    kept: Arc<Mutex<Vec<u8>>>,
}

impl Capture {
    fn start(
        pipe: Option<impl Read + Send + 'static>,
        max: usize,
        events: Sender<Event>,
    ) -> io::Result<Capture> {
        let kept = Arc::new(Mutex::new(Vec::new()));
        let Some(pipe) = pipe else {
            let _ = events.send(Event::Closed);
            return Ok(Capture { kept });
        };
        let shared = Arc::clone(&kept);
        thread::Builder::new()
            .name("shell output".into())
            .spawn(move || pump(pipe, max, &shared, &events))?;
        Ok(Capture { kept })
    }

    /// Takes what was kept. (If the reader is still running, which only happens when a process
    /// outside the group holds the pipe, what it reads later is dropped with it.)
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *lock(&self.kept))
    }
}

fn lock(kept: &Mutex<Vec<u8>>) -> MutexGuard<'_, Vec<u8>> {
    // A reader thread cannot panic while holding the lock (it only extends a Vec), and if it
    // did, the bytes are still bytes.
    kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Reads `pipe` to its end, keeping the first `max` bytes.
///
/// Past the cap it goes on reading and throwing the bytes away rather than stopping: a reader
/// that stops leaves the pipe to fill, and the command then blocks in `write` instead of ending.
/// The watcher kills the command as soon as it hears [`Event::Overflowed`], so this lasts only
/// until the kill lands.
fn pump(mut pipe: impl Read, max: usize, kept: &Mutex<Vec<u8>>, events: &Sender<Event>) {
    let mut chunk = [0u8; CHUNK];
    let mut overflowed = false;
    loop {
        let n = match pipe.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let data = chunk.get(..n).unwrap_or_default();
        let mut kept = lock(kept);
        let room = max.saturating_sub(kept.len());
        let keep = data.get(..room.min(data.len())).unwrap_or_default();
        kept.extend_from_slice(keep);
        if keep.len() < data.len() && !overflowed {
            overflowed = true;
            let _ = events.send(Event::Overflowed);
        }
    }
    let _ = events.send(Event::Closed);
}

/// Waits until the command has ended and both pipes are closed, killing it at the deadline or
/// when its output goes over the cap.
fn wait_for_end(
    child: &mut Child,
    inbox: &Receiver<Event>,
    timeout: Duration,
) -> io::Result<Watched> {
    // A timeout of centuries is past what the clock can add: that is no deadline at all.
    let deadline = Instant::now().checked_add(timeout);
    let mut watched = Watched::default();
    let mut open_pipes = 2;
    let mut killed_at: Option<Instant> = None;
    loop {
        // The shell is reaped only once its pipes are closed, never before a kill (see kill_tree).
        if open_pipes == 0 {
            if let Some(status) = child.try_wait()? {
                watched.status = Some(status);
                return Ok(watched);
            }
        }
        let now = Instant::now();
        match killed_at {
            None if deadline.is_some_and(|at| now >= at) => {
                watched.timed_out = true;
                kill_tree(child);
                killed_at = Some(now);
            }
            Some(at) if now >= at + KILL_GRACE => break,
            _ => {}
        }
        // While the pipes are open, their events wake us; otherwise look again shortly.
        let wait = if open_pipes > 0 && killed_at.is_none() {
            deadline.map_or(Duration::MAX, |at| at.saturating_duration_since(now))
        } else {
            POLL
        };
        match inbox.recv_timeout(wait) {
            Ok(Event::Closed) => open_pipes -= 1,
            Ok(Event::Overflowed) => {
                watched.overflowed = true;
                if killed_at.is_none() {
                    kill_tree(child);
                    killed_at = Some(Instant::now());
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => open_pipes = 0,
        }
    }
    // Killed, but something still holds a pipe: stop waiting for it. The shell itself is dead.
    let _ = child.kill();
    watched.status = child.wait().ok();
    Ok(watched)
}
