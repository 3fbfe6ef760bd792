//! Where a server's "one line per event" log goes.
//!
//! A lesson server run from a terminal prints its events on standard output, so a teacher can watch
//! them. The same server run by `00-tour`, or by a test, needs those lines somewhere else: the tour
//! indents them under "server |", a test collects them to check what happened. So servers never call
//! `println!` themselves; they are handed a [`Log`] and say `log.line(...)`.
//!
//! A busy server logs a line per message from many threads at once. [`Log::stdout`] hands every
//! line to ONE writer thread (`log/writer.rs` says why, and what that costs), which writes a
//! batch every few milliseconds. Lines still come out whole and in the order each thread logged
//! them, within milliseconds; [`flush_stdout`] waits until all of them are out (`cli::run` calls
//! it before the process exits).

mod writer;

use std::io::{self, Write};
use std::sync::Arc;

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
        if writer::start() {
            Log::from_fn(writer::send_line)
        } else {
            // No writer thread (the system refused one): each line written by its own thread.
            Log::from_fn(|line| {
                let _ = writeln!(io::stdout().lock(), "{line}");
            })
        }
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

/// Waits (a few seconds at most) until every line logged so far with [`Log::stdout`] is written
/// to standard output. Does nothing if nothing was ever logged there.
pub fn flush_stdout() {
    writer::flush();
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Log")
    }
}
