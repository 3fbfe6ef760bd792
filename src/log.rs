//! Where a server's "one line per event" log goes.
//!
//! A lesson server run from a terminal prints its events on standard output, so a teacher can watch
//! them. The same server run by `00-tour`, or by a test, needs those lines somewhere else: the tour
//! indents them under "server |", a test collects them to check what happened. So servers never call
//! `println!` themselves; they are handed a [`Log`] and say `log.line(...)`.

use std::io::Write;
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};

/// A cheap-to-clone destination for log lines. Each call to [`Log::line`] is one whole line.
#[derive(Clone)]
pub struct Log {
    sink: Arc<dyn Fn(&str) + Send + Sync>,
}

impl Log {
    /// Lines go to standard output, flushed at once (a server's log must not sit in a buffer while
    /// the teacher waits for it, and scripts read the `listening on` line before anything else).
    pub fn stdout() -> Log {
        Log::from_fn(|line| {
            let mut out = std::io::stdout().lock();
            // A closed stdout (say `| head -1`) must not take the server down: ignore write errors.
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        })
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

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Log")
    }
}
