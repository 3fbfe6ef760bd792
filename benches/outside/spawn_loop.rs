//! The remote row's third reference: a Rust loop that starts `sh -c true` 500 times with
//! `Command::output()`, exactly as `min_shell.rs` starts each command, but with no network and
//! no server. Set beside the shell loop and the minimal remote shell, it splits a remote
//! command's cost in two: starting a process from Rust (this loop against the shell loop), and
//! carrying the command over the network to a server and the answer back (the minimal remote
//! shell against this loop). `remote.py` compiles it with `rustc -O`; the benchmark's remote row
//! runs the same file (`#[path]` in `benches/socklab/remote.rs`).

use std::process::{Command, Stdio};

/// Commands started, as in both harnesses' remote rows.
pub const COMMANDS: usize = 500;

/// Starts `sh -c true` [`COMMANDS`] times, one after another, reading each one's output.
pub fn main() -> std::io::Result<()> {
    for _ in 0..COMMANDS {
        let output = Command::new("/bin/sh")
            .arg("-c")
            .arg("true")
            .stdin(Stdio::null())
            .output()?;
        if !output.status.success() {
            return Err(std::io::Error::other("`sh -c true` failed"));
        }
    }
    Ok(())
}
