//! The outside harness's minimal Rust echo server (benches/outside/echo.py compiles it with
//! `rustc -O`): a thread per connection, a buffer on the stack, upper-case in place, no log.
//! The benchmark's echo row uses this same file as its reference (`#[path]` in
//! `benches/socklab/echo.rs`): the two harnesses share the program they measure, not the timing.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;

/// Listens on a free loopback port, says which, and echoes every connection on a thread.
pub fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    println!("listening on {}", listener.local_addr()?);
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { continue };
        thread::spawn(move || {
            let mut buf = [0u8; 1024];
            loop {
                let n = match conn.read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => return,
                };
                let Some(data) = buf.get_mut(..n) else { return };
                data.make_ascii_uppercase();
                if conn.write_all(data).is_err() {
                    return;
                }
            }
        });
    }
    Ok(())
}
