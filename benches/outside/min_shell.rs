//! The outside harness's minimal Rust remote shell (benches/outside/remote.py compiles it with
//! `rustc -O`): lesson 10's `json` framing with nothing else. A thread per connection; each
//! command is one `recv`, run with `Command::output()` (`sh -c`, stdin empty, no time limit, no
//! output cap, no process group, no log), and answered with a 4-byte little-endian header
//! length, the header `{"data_size":N}` and the output. What anyone would write by hand: the
//! least a command costs when it comes over the network and is started from a Rust server.
//! The benchmark's remote row uses this same file as its reference (`#[path]` in
//! `benches/socklab/remote.rs`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::thread;

/// Listens on a free loopback port, says which, and serves every connection on a thread.
pub fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    println!("listening on {}", listener.local_addr()?);
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        thread::spawn(move || serve(conn));
    }
    Ok(())
}

/// One connection: a command per `recv`, answered until the client closes.
fn serve(mut conn: TcpStream) -> std::io::Result<()> {
    conn.set_nodelay(true)?;
    let mut buf = [0u8; 1024];
    loop {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        let command = String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).into_owned();
        let output = Command::new("/bin/sh")
            .arg("-c")
            .arg(&command)
            .stdin(Stdio::null())
            .output()?;
        let mut body = output.stdout;
        body.extend_from_slice(&output.stderr);
        let header = format!("{{\"data_size\":{}}}", body.len());
        let mut wire = (header.len() as u32).to_le_bytes().to_vec();
        wire.extend_from_slice(header.as_bytes());
        wire.extend_from_slice(&body);
        conn.write_all(&wire)?;
    }
}
