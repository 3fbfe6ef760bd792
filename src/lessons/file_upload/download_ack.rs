//! Lesson 13, stage `--protocol size-ack-md5`: tutorial 000 §4's `get`, the tutorials' first file
//! transfer.
//!
//! 1. the client sends `get NAME` (raw text, one `recv(1024)` on the server);
//! 2. the server sends the file's size as decimal digits (`str(file_size)`);
//! 3. the client acknowledges (any bytes: the tutorial sends `i am ready to recv file`), so the
//!    digits cannot stick to the file's first bytes: nothing else is sent until the ack arrives;
//! 4. the server sends the file's bytes, then its MD5 as 32 hex digits;
//! 5. the client reads *exactly* `size` bytes (the tutorial's `min(1024, left)` loop: reading
//!    more would swallow the start of the MD5), hashes them as they arrive, then reads the MD5
//!    and compares.
//!
//! What socklab changes: the tutorial's server serves any path the client names, and says nothing
//! at all when the file does not exist (its client then waits for ever). Here only a bare, safe
//! name from the server's folder is served, and a refusal is a line `error: ...` where the digits
//! would be: socklab's client reports it; the tutorial's client fails on `int()`.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;

use super::client::{
    check_announced_size, keep_if_verified, receive_body, ClientConfig, ClientError, Fetched,
};
use super::protocol::check_name;
use super::server::{SessionError, UploadService};
use crate::escape::{preview, server_text};
use crate::framing::read_fully;
use crate::log::Log;
use crate::net;
use crate::recording::MessageFormat;
use crate::server::Handler;
use crate::transfer::PendingFile;

/// Bytes read for a request, and for an acknowledgement: the tutorial's `recv(1024)`.
const RECV: usize = 1024;
/// What socklab's client acknowledges the size with (any bytes would do).
pub const ACK: &[u8] = b"ready";
/// The longest size line the client accepts: 20 digits hold any u64; a refusal line is longer.
const MAX_SIZE_LINE: usize = RECV;

/// The server's connection handler: `get NAME` in, size / ack / bytes / MD5, until the client
/// closes.
pub struct AckDownloads {
    pub(super) store: UploadService,
}

impl Handler for AckDownloads {
    type Error = SessionError;

    fn handle(&self, stream: TcpStream, peer: SocketAddr, log: &Log) -> Result<(), SessionError> {
        // Unframed both ways: each write is a message.
        let writes = MessageFormat::Writes;
        let mut stream = self.store.traced(stream, peer, writes, writes);
        let mut buf = [0u8; RECV];
        loop {
            let n = net::recv(&mut stream, &mut buf).map_err(SessionError::Io)?;
            if n == 0 {
                return Ok(());
            }
            let request = String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).into_owned();
            let name = match request.split_whitespace().collect::<Vec<_>>().as_slice() {
                ["get", name] => (*name).to_string(),
                _ => {
                    let why = format!(
                        "error: expected 'get NAME', got '{}'\n",
                        preview(request.as_bytes(), 60)
                    );
                    log.line(format!("{peer}: {}", why.trim_end()));
                    stream.write_all(why.as_bytes()).map_err(SessionError::Io)?;
                    continue;
                }
            };
            let shown = preview(name.as_bytes(), 60);
            let (mut file, size, md5) = match self.store.open_download(&name) {
                Ok(found) => found,
                Err(refusal) => {
                    log.line(format!("get '{shown}' by {peer}: {refusal}"));
                    let line = format!("error: {}\n", refusal.msg);
                    stream
                        .write_all(line.as_bytes())
                        .map_err(SessionError::Io)?;
                    continue;
                }
            };
            stream
                .write_all(size.to_string().as_bytes())
                .map_err(SessionError::Io)?;
            if net::recv(&mut stream, &mut buf).map_err(SessionError::Io)? == 0 {
                log.line(format!("{peer} left instead of acknowledging the size"));
                return Ok(());
            }
            self.store
                .send_download(&mut file, &mut stream, &name, size, &md5)?;
            stream.write_all(md5.as_bytes()).map_err(SessionError::Io)?;
            log.line(format!(
                "get '{shown}' by {peer}: sent {size} bytes, then md5 {md5} (size-ack-md5)"
            ));
        }
    }

    fn refuse(&self, stream: &mut TcpStream, max_clients: usize) -> io::Result<()> {
        stream.set_write_timeout(Some(std::time::Duration::from_secs(1)))?;
        writeln!(
            stream,
            "error: server busy: already serving {max_clients} clients (--max-clients)"
        )
    }
}

/// Downloads `name` into `out` the tutorial's way: `get NAME`, the size, our ack, the bytes,
/// the MD5. Saved through a temporary file, renamed only once the MD5s match.
pub fn get_file(
    config: &ClientConfig,
    name: &str,
    out: &Path,
    wire: &Log,
) -> Result<Fetched, ClientError> {
    check_name(name)?;
    if name.contains(char::is_whitespace) {
        return Err(ClientError::Protocol(
            "this protocol splits 'get NAME' at spaces: a name with spaces cannot be asked for"
                .into(),
        ));
    }
    let local = |error| ClientError::Local {
        path: out.to_path_buf(),
        error,
    };
    let mut pending = PendingFile::create(out).map_err(local)?;
    let stream = net::connect_tcp_within(&config.host, config.port, config.timeout)?;
    stream.set_read_timeout(Some(config.timeout))?;
    stream.set_write_timeout(Some(config.timeout))?;
    // Unframed both ways: each write is a message.
    let mut stream = config
        .tracer
        .clone()
        .with_format(MessageFormat::Writes)
        .wrap(stream);
    let timed_out = |e: io::Error| {
        if net::is_timeout(&e) {
            ClientError::Timeout(config.timeout)
        } else {
            ClientError::Io(e)
        }
    };

    let request = format!("get {name}");
    wire.line(format!("send {request}"));
    stream.write_all(request.as_bytes())?;
    // The size: one recv, as in the tutorial. Safe here: the server sends nothing more until our
    // acknowledgement.
    let mut line = [0u8; MAX_SIZE_LINE];
    let n = net::recv(&mut stream, &mut line).map_err(timed_out)?;
    let text = String::from_utf8_lossy(line.get(..n).unwrap_or_default()).into_owned();
    wire.line(format!("recv {}", preview(text.as_bytes(), 80)));
    if n == 0 {
        return Err(ClientError::Protocol(
            "the server closed the connection instead of sending the size".into(),
        ));
    }
    if let Some(why) = text.strip_prefix("error: ") {
        return Err(ClientError::RefusedWhy(server_text(why.trim_end())));
    }
    let size: u64 = Some(text.as_str())
        .filter(|t| t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| {
            ClientError::Protocol(format!(
                "expected the size in decimal digits, got '{}'",
                preview(text.as_bytes(), 40)
            ))
        })?;
    // Refused before the ack: the server has sent nothing of the body yet.
    check_announced_size(size, out, config)?;
    wire.line(format!("send {} (the ack)", String::from_utf8_lossy(ACK)));
    stream.write_all(ACK)?;

    let received = receive_body(&mut stream, &mut pending, size, name, out, config)?;
    let mut md5 = [0u8; 32];
    let got = read_fully(&mut stream, &mut md5).map_err(timed_out)?;
    let announced =
        String::from_utf8_lossy(md5.get(..got).unwrap_or_default()).to_ascii_lowercase();
    wire.line(format!(
        "recv {size} body bytes (md5 {received}), then md5 {announced}"
    ));
    if got < md5.len() || !announced.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ClientError::Protocol(format!(
            "expected the file's md5 (32 hex digits) after its bytes, got '{}'",
            preview(announced.as_bytes(), 40)
        )));
    }
    keep_if_verified(pending, out, size, announced, received)
}
