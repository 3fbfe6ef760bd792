//! The one thread that writes every [`Log::stdout`](super::Log::stdout) line to standard output.
//!
//! A busy server logs a line per message from many threads at once. How those lines reach
//! stdout decides how fast the server is:
//! - Each thread writing its own lines queues every handler for the process-wide stdout lock
//!   and costs a `write` system call per line: 13% of an echo server's time (issue 11).
//! - Handing each line to a writer thread over one channel costs no system call, but every
//!   channel operation touches memory that all the logging threads share. On two cores that
//!   memory moves from one core's cache to the other's on nearly every line: the echo server
//!   still ran 3-13% slower with its log on than with `--quiet` (issue 19).
//!
//! So the lines wait in [`SHARDS`] separate buffers, and each thread always appends to the same
//! one (threads are dealt to them in turn, the first time each logs). Two threads seldom append
//! to the same buffer at the same moment, so the lock and the bytes of a buffer mostly stay in
//! one core's cache. Every [`BATCH_PAUSE`] the writer takes what every buffer has gathered and
//! writes it all with one `write`. Measured on the 2-core machine of issue 19, 2 million lines
//! logged as fast as possible from 100 threads, formatting included: the one channel cost
//! 0.6-1.7 µs of CPU per line (0.2-0.6 µs from 2 or 8 threads), these buffers 0.09-0.18 µs.
//!
//! Lines come out whole and in the order each thread logged them; lines of *different* threads
//! logged within the same few milliseconds may come out grouped by buffer. When the server is
//! quiet the writer sleeps, and the next line wakes it. Nothing is allocated per thread (a
//! server with 5000 idle connections has 5000 threads): a thread's only state is the number of
//! its buffer.

use std::cell::Cell;
use std::io::{self, Write};
use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// How many buffers the lines wait in: enough that threads on different cores seldom share one.
const SHARDS: usize = 16;

/// How long the writer naps between batches while lines keep coming: the most a line waits.
/// Each nap ends in a wake-up and a `write`: a remote shell logs three lines per command and
/// runs a command about every millisecond, and waking every millisecond cost it 3-4% of its CPU
/// time per command (issue 19). Five milliseconds is still far below what a person watching the
/// log can notice.
const BATCH_PAUSE: Duration = Duration::from_millis(5);

/// Naps with no new line after which the writer sleeps until the next line (10 ms of quiet).
const IDLE_NAPS: u32 = 2;

/// Most bytes one buffer may hold; past this, its loggers wait for the writer's next batch. A
/// stdout that takes nothing (a paused terminal) makes loggers wait, as they would on the stdout
/// lock, instead of the server's memory growing without limit (16 x 64 KiB at most).
const SHARD_PENDING_MAX: usize = 64 * 1024;

/// How long [`flush`] waits for the writer (a stdout nobody reads can block it for ever).
const FLUSH_WAIT: Duration = Duration::from_secs(5);

/// One buffer of waiting lines, each ending in `\n`, alone on its cache line(s) so that two
/// buffers never share one.
#[repr(align(128))]
#[derive(Default)]
struct Shard(Mutex<Vec<u8>>);

/// What the loggers, the writer thread and [`flush`] share.
#[derive(Default)]
struct Writer {
    shards: [Shard; SHARDS],
    /// The buffer the next thread that logs for the first time is given.
    next_shard: AtomicUsize,
    /// Batches written so far; [`flush`] and waiting loggers wait on `progress` for it to move.
    rounds: Mutex<u64>,
    progress: Condvar,
    /// The writer sleeps (on `progress`) until a line comes; the next logger must wake it.
    asleep: AtomicBool,
}

static WRITER: OnceLock<Option<Arc<Writer>>> = OnceLock::new();

thread_local! {
    /// The number of this thread's buffer, given the first time it logs (`usize::MAX` before).
    // The initializer is `const` already; clippy's lint misreads how the Windows standard
    // library expands `thread_local!` and asks for it anyway.
    #[allow(clippy::missing_const_for_thread_local)]
    static MY_SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// Starts the writer thread on first use; `false` if the system refused a thread.
pub fn start() -> bool {
    writer().is_some()
}

fn writer() -> Option<&'static Arc<Writer>> {
    WRITER
        .get_or_init(|| {
            let writer = Arc::new(Writer::default());
            let for_thread = Arc::clone(&writer);
            thread::Builder::new()
                .name("stdout log".into())
                .spawn(move || for_thread.write_batches(&mut io::stdout()))
                .ok()
                .map(|_| writer)
        })
        .as_ref()
}

/// Hands one line to the writer thread.
pub fn send_line(line: &str) {
    if let Some(writer) = writer() {
        writer.append(line);
    }
}

/// Waits (a few seconds at most) until every line logged so far is written to standard output.
/// Does nothing if nothing was ever logged.
pub fn flush() {
    let Some(Some(writer)) = WRITER.get() else {
        return;
    };
    // A batch may be half taken already (past this thread's buffer): wait for the one after it.
    let deadline = Instant::now() + FLUSH_WAIT;
    writer.wait_rounds(2, Some(deadline));
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks; if something ever did, the data is still good.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Writer {
    /// This thread's buffer.
    fn my_shard(&self) -> &Mutex<Vec<u8>> {
        let mut index = MY_SHARD.get();
        if index == usize::MAX {
            index = self.next_shard.fetch_add(1, Ordering::Relaxed) % SHARDS;
            MY_SHARD.set(index);
        }
        &self.shards[index % SHARDS].0
    }

    /// A logger's side: append to this thread's buffer, wake the writer if it sleeps.
    fn append(&self, line: &str) {
        let shard = self.my_shard();
        let mut pending = lock(shard);
        while pending.len() >= SHARD_PENDING_MAX {
            drop(pending);
            self.wait_rounds(1, None);
            pending = lock(shard);
        }
        pending.extend_from_slice(line.as_bytes());
        pending.push(b'\n');
        drop(pending);
        // Either the writer sees this line when it looks once more before sleeping, or this
        // thread sees that it sleeps (the fence orders the append before the look, as the
        // writer's fence orders `asleep` before its last look).
        fence(Ordering::SeqCst);
        if self.asleep.load(Ordering::Relaxed) {
            self.wake();
        }
    }

    fn wake(&self) {
        let _rounds = lock(&self.rounds);
        self.asleep.store(false, Ordering::SeqCst);
        self.progress.notify_all();
    }

    /// Waits until `count` more batches have been written, or until `deadline`.
    fn wait_rounds(&self, count: u64, deadline: Option<Instant>) {
        let mut rounds = lock(&self.rounds);
        let target = *rounds + count;
        // A sleeping writer would write no batch: wake it (it then finds nothing and sleeps
        // again after its naps).
        self.asleep.store(false, Ordering::SeqCst);
        self.progress.notify_all();
        while *rounds < target {
            rounds = match deadline {
                None => self
                    .progress
                    .wait(rounds)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return;
                    }
                    match self.progress.wait_timeout(rounds, left) {
                        Ok((rounds, _)) => rounds,
                        Err(poisoned) => poisoned.into_inner().0,
                    }
                }
            };
        }
    }

    /// Moves every buffer's waiting lines into `batch`, buffer by buffer.
    fn take_all(&self, batch: &mut Vec<u8>) {
        for shard in &self.shards {
            let mut pending = lock(&shard.0);
            batch.extend_from_slice(&pending);
            pending.clear();
        }
    }

    fn anything_waiting(&self) -> bool {
        self.shards.iter().any(|shard| !lock(&shard.0).is_empty())
    }

    /// The writer thread: a batch every [`BATCH_PAUSE`] while lines keep coming, asleep when
    /// they stop.
    ///
    /// It does not go to sleep after every batch: a sleeping writer must be woken by the next
    /// logger, a system call and a context switch for nearly every line of a busy server
    /// (measured: slower than one `write` per line). Only after [`IDLE_NAPS`] naps with nothing
    /// new does it sleep until the next line.
    fn write_batches(&self, out: &mut impl Write) {
        let mut batch = Vec::new();
        let mut idle_naps = 0;
        loop {
            self.take_all(&mut batch);
            if batch.is_empty() {
                idle_naps += 1;
            } else {
                idle_naps = 0;
                // A closed stdout (say `| head -1`) must not take the server down: ignore
                // write errors, and go on taking lines so that no logger waits for room.
                let _ = out.write_all(&batch);
                let _ = out.flush();
                batch.clear();
            }
            let mut rounds = lock(&self.rounds);
            *rounds += 1;
            self.progress.notify_all();
            if idle_naps >= IDLE_NAPS {
                self.asleep.store(true, Ordering::SeqCst);
                fence(Ordering::SeqCst);
                if self.anything_waiting() {
                    self.asleep.store(false, Ordering::SeqCst);
                }
                while self.asleep.load(Ordering::SeqCst) {
                    rounds = self
                        .progress
                        .wait(rounds)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                idle_naps = 0;
            } else {
                // A nap that a flush cuts short (it wakes `progress`).
                let _ = self.progress.wait_timeout(rounds, BATCH_PAUSE);
            }
        }
    }
}
