//! The lessons, one module each, in the order the tutorials teach them.
//!
//! Every lesson module has the same shape, so that once you have read one you can find your way
//! in all of them:
//!
//! - a doc comment: what the stage teaches and which tutorial it follows;
//! - `ServerConfig` / `ClientConfig`: plain structs the binary fills from its flags (tests and
//!   the tour fill them directly);
//! - `run_server(listener_or_socket, &config, &log, &shutdown)`: the server loop; it never prints
//!   by itself, it says what happens through the [`Log`](crate::log::Log) it is given, and it
//!   returns when its work is done or the [`Shutdown`](crate::server::Shutdown) is requested;
//! - `run_client(...)` or smaller client functions that return what came back, so the binary
//!   prints it and a test can check it;
//! - an error enum (`thiserror`) for what can go wrong;
//! - `tour(&mut Tour)`: the lesson's stage in `00-tour`.
//!
//! The binary `src/bin/NN-name.rs` only parses flags and calls these.

pub mod echo_once;
pub mod ftp;

use crate::tour::Stop;

/// Every lesson in the tour, in order.
pub const TOUR: &[Stop] = &[
    Stop {
        number: "01",
        binary: "01-echo-once",
        title: "one-shot TCP echo: socket, bind, listen, accept, recv, send",
        run: echo_once::tour,
    },
    Stop {
        number: "14",
        binary: "14-ftp",
        title: "multi-user FTP: SCRAM login, home jail, quotas, resumable verified transfers",
        run: ftp::tour,
    },
];
