//! Fake servers owned by a test: "a server that does X" (stays silent, floods, lies, resets), to
//! check that a client trusts nothing a server says or does. Each connection is handled on its
//! own thread by the test's closure; every wait in here has a timeout.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use socklab::framing;
use socklab::lessons::ftp::scram;

use super::WAIT;

/// A listening fake server on loopback (port 0). It serves until the test process ends.
pub struct FakeServer {
    pub addr: SocketAddr,
}

impl FakeServer {
    /// Serves every connection with `handler`, each on its own thread.
    pub fn start<F>(handler: F) -> FakeServer
    where
        F: Fn(TcpStream) + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a fake server");
        let addr = listener.local_addr().expect("local addr");
        let handler = Arc::new(handler);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let _ = stream.set_read_timeout(Some(WAIT));
                let _ = stream.set_write_timeout(Some(WAIT));
                let handler = Arc::clone(&handler);
                thread::spawn(move || handler(stream));
            }
        });
        FakeServer { addr }
    }

    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }
}

/// Reads one JSON-header frame (4-byte little-endian length), or `None` at the end.
pub fn read_json(stream: &mut TcpStream) -> Option<Map<String, Value>> {
    framing::read_header(stream).ok().flatten()
}

/// Writes one JSON-header frame; a failure (the client left) is ignored.
pub fn write_json(stream: &mut TcpStream, value: &Value) {
    let _ = framing::write_header(stream, value);
}

/// Writes one frame with any payload, even one that is not JSON.
pub fn write_frame(stream: &mut TcpStream, payload: &[u8]) {
    let mut bytes = (payload.len() as u32).to_le_bytes().to_vec();
    bytes.extend_from_slice(payload);
    let _ = stream.write_all(&bytes);
}

/// Reads and throws away `len` bytes (a body), or until the end.
pub fn skip(stream: &mut TcpStream, len: u64) {
    let _ = std::io::copy(&mut stream.take(len), &mut std::io::sink());
}

/// Holds the connection open, reading nothing and sending nothing, for [`WAIT`] (or until the
/// test ends): the silent server.
pub fn stay_silent(stream: TcpStream) {
    thread::sleep(WAIT);
    drop(stream);
}

/// Reads and drops everything the client sends until it closes (or [`WAIT`] passes).
pub fn drain(stream: &mut TcpStream) {
    let end = Instant::now() + WAIT;
    let mut buf = [0u8; 64 * 1024];
    while Instant::now() < end {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Closes the connection with a reset (RST) instead of a polite end (FIN).
pub fn reset(stream: TcpStream) {
    let socket = socket2::Socket::from(stream);
    let _ = socket.set_linger(Some(Duration::ZERO));
    drop(socket);
}

/// The password every fake 14 server accepts.
pub const FTP_PASSWORD: &str = "correct horse";

/// Plays the server's side of lesson 14's SCRAM login for any user, with `password` and
/// `iterations`, and returns `true` if the client's proof came and the ok was sent. The server
/// signature is real, so the client believes it.
pub fn ftp_login(stream: &mut TcpStream, iterations: u32) -> bool {
    let Some(login) = read_json(stream) else {
        return false;
    };
    let user = login.get("user").and_then(Value::as_str).unwrap_or("");
    let cnonce = login.get("nonce").and_then(Value::as_str).unwrap_or("");
    let record = scram::record_with_salt(FTP_PASSWORD, &[7u8; 16], iterations, 1 << 40);
    let snonce = scram::new_nonce();
    write_json(
        stream,
        &json!({"status": "challenge", "salt": record.salt, "iterations": iterations, "nonce": snonce}),
    );
    if read_json(stream).is_none() {
        return false;
    }
    let message = scram::auth_message(user, cnonce, &snonce, &record.salt, iterations);
    let Ok(signature) = scram::server_signature(&record, &message) else {
        return false;
    };
    write_json(
        stream,
        &json!({"status": "ok", "server_signature": signature, "cwd": "/", "used": 0, "quota": 1u64 << 40}),
    );
    true
}
