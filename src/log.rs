//! Where a server's "one line per event" log goes.
//!
//! A lesson server run from a terminal prints its events on standard output, so a teacher can watch
//! them. The same server run by `00-tour`, or by a test, needs those lines somewhere else: the tour
//! indents them under "server |", a test collects them to check what happened. So servers never call
//! `println!` themselves; they are handed a [`Log`] and say `log.line(...)`.
//!
//! A busy server logs a line per message from many threads at once. Writing each line to stdout
//! from the thread that logs it would make every handler queue for the process-wide stdout lock
//! and pay one `write` system call per line: measured, that was 13% of an echo server's time
//! (issue 11). So [`Log::stdout`] hands each line to ONE writer thread over a channel; that
//! thread writes whatever has queued up through a buffer and flushes as soon as the queue is
//! empty. Lines still come out whole, in the order each thread logged them, and at once when the
//! server is quiet; [`flush_stdout`] waits until all of them are out (`cli::run` calls it before
//! the process exits).

use std::io::{self, BufWriter, Write};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

/// A cheap-to-clone destination for log lines. Each call to [`Log::line`] is one whole line.
#[derive(Clone)]
pub struct Log {
    sink: Arc<dyn Fn(&str) + Send + Sync>,
}

impl Log {
    /// Lines go to standard output through the one writer thread (see the module doc), flushed
    /// as soon as no more lines are waiting: a server's log must not sit in a buffer while the
    /// teacher waits for it, and scripts read the `listening on` line before anything else.
    pub fn stdout() -> Log {
        let writer = stdout_writer();
        Log::from_fn(move |line| writer.send_line(line))
    }

    /// Lines go to standard error: for clients, whose standard output carries the replies.
    pub fn stderr() -> Log {
        Log::from_fn(|line| {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        })
    }

    /// Lines are dropped.
    pub fn silent() -> Log {
        Log::from_fn(|_| {})
    }

    /// Lines are sent over a channel, for the tour and tests to read back.
    pub fn channel() -> (Log, Receiver<String>) {
        let (tx, rx): (Sender<String>, Receiver<String>) = crossbeam_channel::unbounded();
        let log = Log::from_fn(move |line| {
            // The receiver may be gone (a test that stopped listening); that is not the server's problem.
            let _ = tx.send(line.to_string());
        });
        (log, rx)
    }

    /// Lines are handed to any function.
    pub fn from_fn(f: impl Fn(&str) + Send + Sync + 'static) -> Log {
        Log { sink: Arc::new(f) }
    }

    /// Writes one line.
    pub fn line(&self, line: impl AsRef<str>) {
        (self.sink)(line.as_ref());
    }
}

/// How long [`flush_stdout`] waits for the writer thread (a stdout nobody reads can block it).
const FLUSH_WAIT: Duration = Duration::from_secs(5);

/// Most lines waiting for the writer thread; past this, logging waits for it.
const QUEUED_LINES: usize = 64 * 1024;

/// Most emptied line buffers kept for reuse, so that logging a line allocates nothing.
const SPARE_LINES: usize = 1024;

enum ToWriter {
    Line(String),
    /// Answer on this channel once every line sent before has been written and flushed.
    Flush(Sender<()>),
}

/// The sending side of the stdout writer thread.
struct StdoutWriter {
    lines: Sender<ToWriter>,
    /// Buffers the writer thread has emptied, to be filled again instead of allocating.
    spare: Receiver<String>,
}

impl StdoutWriter {
    fn send_line(&self, line: &str) {
        let mut buffer = self.spare.try_recv().unwrap_or_default();
        buffer.clear();
        buffer.push_str(line);
        // The writer thread never ends while the process runs, so this cannot fail.
        let _ = self.lines.send(ToWriter::Line(buffer));
    }
}

static STDOUT_WRITER: OnceLock<Arc<StdoutWriter>> = OnceLock::new();

/// The process's one stdout writer, started on first use.
fn stdout_writer() -> Arc<StdoutWriter> {
    Arc::clone(STDOUT_WRITER.get_or_init(|| {
        // Bounded: if stdout stops taking lines (a paused terminal, a reader that went to
        // sleep), the queue fills and loggers wait, as they would on the stdout lock, instead of
        // the server's memory growing without limit.
        let (lines, queued) = crossbeam_channel::bounded(QUEUED_LINES);
        let (give_back, spare) = crossbeam_channel::bounded(SPARE_LINES);
        // If the thread cannot start, `queued` is dropped and lines are lost, not the server.
        let _ = thread::Builder::new()
            .name("stdout log".into())
            .spawn(move || write_lines(&queued, &give_back));
        Arc::new(StdoutWriter { lines, spare })
    }))
}

/// The writer thread: writes queued lines through a buffer, flushes whenever the queue is empty.
///
/// After a flush it does not go straight back to waiting on the channel: a thread blocked in
/// `recv` must be woken by the next sender, a system call and a context switch for nearly every
/// line of a busy server (measured: that made the echo server slower than one `write` per line).
/// So while lines keep coming it naps [`BATCH_PAUSE`] and writes whatever queued up meanwhile in
/// one go; only after [`IDLE_NAPS`] naps with nothing new does it block until the next line.
fn write_lines(queued: &Receiver<ToWriter>, give_back: &Sender<String>) {
    let mut out = BufWriter::with_capacity(64 * 1024, io::stdout());
    let mut waiting = Vec::new();
    while let Ok(first) = queued.recv() {
        let mut next = Some(first);
        let mut idle_naps = 0;
        while idle_naps < IDLE_NAPS {
            if next.is_none() {
                idle_naps += 1;
            }
            while let Some(message) = next {
                match message {
                    ToWriter::Line(line) => {
                        // A closed stdout (say `| head -1`) must not take the server down:
                        // ignore write errors.
                        let _ = writeln!(out, "{line}");
                        let _ = give_back.try_send(line);
                    }
                    ToWriter::Flush(done) => waiting.push(done),
                }
                next = queued.try_recv().ok();
            }
            let _ = out.flush();
            for done in waiting.drain(..) {
                let _ = done.send(());
            }
            thread::sleep(BATCH_PAUSE);
            next = queued.try_recv().ok();
            if next.is_some() {
                idle_naps = 0;
            }
        }
    }
}

/// How long the writer naps between batches while lines keep coming: the most a line waits.
/// Each nap ends in a wake-up and a `write`: a remote shell logs three lines per command and
/// runs a command about every millisecond, and waking every millisecond cost it 3-4% of its CPU
/// time per command (issue 19). Five milliseconds is still far below what a person watching the
/// log can notice.
const BATCH_PAUSE: Duration = Duration::from_millis(5);

/// Naps with no new line after which the writer blocks until the next one (10 ms of quiet).
const IDLE_NAPS: u32 = 2;

/// Waits (a few seconds at most) until every line logged so far with [`Log::stdout`] is written
/// to standard output. Does nothing if nothing was ever logged there.
pub fn flush_stdout() {
    if let Some(writer) = STDOUT_WRITER.get() {
        let (done, flushed) = crossbeam_channel::bounded(1);
        if writer
            .lines
            .send_timeout(ToWriter::Flush(done), FLUSH_WAIT)
            .is_ok()
        {
            let _ = flushed.recv_timeout(FLUSH_WAIT);
        }
    }
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Log")
    }
}
