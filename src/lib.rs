//! socklab: the Python socket tutorials, lesson by lesson, as blocking `std::net` Rust.
//!
//! Every lesson lives in [`lessons`] and has the same shape (see `lessons/mod.rs`). The pieces the
//! lessons share are small and each has one purpose:
//!
//! - [`accounts`]: user accounts, homes, the jail and quotas (the FTP lessons 14 and 15);
//! - [`framing`]: length-headed messages and JSON headers, the cure for sticky packets (粘包);
//! - [`server`]: the thread-per-connection server (Python's `ThreadingTCPServer`) and a way to
//!   stop any server cleanly;
//! - [`net`]: opening sockets with errors a student can act on;
//! - [`deadline`]: a deadline for a whole exchange, however slowly the peer sends or reads;
//! - [`cli`]: the command-line convention every lesson binary follows;
//! - [`log`]: where a server's one-line-per-event log goes;
//! - [`load`]: many echo clients at once, timing every reply (`11-threaded-echo bench`);
//! - [`trace`]: `--trace`, one line per `send`/`recv`, and [`recording`], the records it keeps;
//! - [`picture`]: `--picture`, the records drawn as an SVG timeline of writes and reads;
//! - [`escape`]: showing received bytes to a person;
//! - [`shell`]: running a command with a time limit and an output cap (the remote-shell lessons);
//! - [`transfer`]: file bodies streamed, hashed while they move, renamed into place when whole;
//! - [`download`]: a download never written through a planted link, nor larger than `--max-size`;
//! - [`units`]: sizes and durations as people type them (`10MiB`, `90s`);
//! - [`tour`]: `00-tour`, which runs and narrates every lesson;
//! - [`check`]: `NN-name check`, the exercise checkers that play a demanding peer.

pub mod accounts;
pub mod check;
pub mod cli;
pub mod deadline;
pub mod download;
pub mod escape;
pub mod exercises;
pub mod framing;
pub mod lessons;
pub mod load;
pub mod log;
pub mod net;
pub mod picture;
pub mod progress;
pub mod recording;
pub mod server;
pub mod shell;
pub mod tour;
pub mod trace;
pub mod transfer;
pub mod units;
