//! Lesson 13, stage `--protocol name-header`: tutorial 001 §6.5's download with a custom header
//! (自定义报头).
//!
//! The client sends a bare file name: raw bytes, no length, no frame, read by the server with one
//! `recv(1024)`. The server answers `struct.pack('i', len(header))`, the JSON header
//! `{"name": ..., "md5": ..., "file_data_len": ...}`, then the file's bytes. The client reads the
//! 4 bytes, exactly that many bytes of header, then exactly `file_data_len` bytes, and compares
//! their MD5 with the header's. The bare name works only because the conversation is lock-step:
//! the client sends its next name after the whole file has arrived, so two names are never in the
//! stream at once.
//!
//! What socklab changes: the tutorial's server opens whatever path the client names (its own
//! client asks for `H:\python_study\...`), reads the whole file into memory, and on a missing
//! file closes the connection without a word. Here only a bare, safe name from the server's folder
//! is served ([`super::protocol::check_name`]), the bytes are streamed, and a refusal is a header
//! too, with an `error` key and `file_data_len` 0 (a header has room for more than the size:
//! that is what it is for). The tutorial's client does not look for `error`: it saves an empty
//! file.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;

use serde_json::{json, Map, Value};

use super::client::{keep_if_verified, receive_body, ClientConfig, ClientError, Fetched};
use super::protocol::check_name;
use super::server::{Conn, SessionError, UploadService, FRAMES};
use crate::escape::{preview, server_text};
use crate::framing::{FrameError, Framing};
use crate::log::Log;
use crate::net;
use crate::recording::MessageFormat;
use crate::server::Handler;
use crate::transfer::PendingFile;

/// Bytes the server reads for a name: the tutorial's `conn.recv(1024)`.
const NAME_RECV: usize = 1024;

/// The server's connection handler: names in, header and bytes out, until the client closes.
pub struct HeaderDownloads {
    pub(super) store: UploadService,
}

impl Handler for HeaderDownloads {
    type Error = SessionError;

    fn handle(&self, stream: TcpStream, peer: SocketAddr, log: &Log) -> Result<(), SessionError> {
        // Bare names in, framed JSON headers (and their files) out.
        let mut stream = self
            .store
            .traced(stream, peer, FRAMES, MessageFormat::Writes);
        let mut buf = [0u8; NAME_RECV];
        loop {
            let n = net::recv(&mut stream, &mut buf).map_err(SessionError::Io)?;
            if n == 0 {
                return Ok(());
            }
            let raw = buf.get(..n).unwrap_or_default();
            let name = String::from_utf8_lossy(raw);
            let shown = preview(raw, 60);
            match self.store.open_download(&name) {
                Ok((mut file, size, md5)) => {
                    let header = json!({"name": name, "md5": md5, "file_data_len": size});
                    write_header(&mut stream, &header)?;
                    self.store
                        .send_download(&mut file, &mut stream, &name, size, &md5)?;
                    log.line(format!(
                        "sent '{shown}' to {peer}: {size} bytes, md5 {md5} (name-header)"
                    ));
                }
                Err(refusal) => {
                    log.line(format!("'{shown}' for {peer}: {refusal}"));
                    let header = json!({"name": name, "error": refusal.msg, "file_data_len": 0});
                    write_header(&mut stream, &header)?;
                }
            }
        }
    }

    fn refuse(&self, stream: &mut TcpStream, max_clients: usize) -> io::Result<()> {
        let header = json!({
            "name": "",
            "error": format!("server busy: already serving {max_clients} clients (--max-clients)"),
            "file_data_len": 0,
        });
        stream.set_write_timeout(Some(std::time::Duration::from_secs(1)))?;
        Framing::default()
            .write_header(stream, &header)
            .map_err(io::Error::other)
    }
}

fn write_header(stream: &mut Conn, header: &Value) -> Result<(), SessionError> {
    Framing::default()
        .write_header(stream, header)
        .map_err(|e| match e {
            FrameError::Io(e) => SessionError::Io(e),
            other => SessionError::Io(io::Error::other(other)),
        })
}

/// Downloads `name` into `out` the tutorial's way: the bare name out, a header and the bytes
/// back. Saved through a temporary file, renamed only once the MD5 matches the header's.
pub fn get_file(
    config: &ClientConfig,
    name: &str,
    out: &Path,
    wire: &Log,
) -> Result<Fetched, ClientError> {
    check_name(name)?;
    if name.len() > NAME_RECV {
        return Err(ClientError::Protocol(format!(
            "the name is over {NAME_RECV} bytes, more than the server's one recv reads"
        )));
    }
    let local = |error| ClientError::Local {
        path: out.to_path_buf(),
        error,
    };
    let mut pending = PendingFile::create(out).map_err(local)?;
    let stream = net::connect_tcp_within(&config.host, config.port, config.timeout)?;
    stream.set_read_timeout(Some(config.timeout))?;
    stream.set_write_timeout(Some(config.timeout))?;
    // A bare name out, a framed JSON header (and the file) back.
    let mut stream = config
        .tracer
        .clone()
        .with_formats(MessageFormat::Writes, FRAMES)
        .wrap(stream);

    wire.line(format!("send {name} (bare name, no frame)"));
    stream.write_all(name.as_bytes())?;
    let header =
        match Framing::default().read_header(&mut stream) {
            Ok(Some(header)) => header,
            Ok(None) => return Err(ClientError::Protocol(
                "the server closed the connection without a header (the tutorial's server does \
                 that when the file does not exist)"
                    .into(),
            )),
            Err(FrameError::Io(e)) if net::is_timeout(&e) => {
                return Err(ClientError::Timeout(config.timeout))
            }
            Err(e) => return Err(e.into()),
        };
    wire.line(format!("recv {}", Value::Object(header.clone())));
    if let Some(why) = header.get("error") {
        let msg = why.as_str().map_or_else(|| why.to_string(), str::to_string);
        return Err(ClientError::RefusedWhy(server_text(&msg)));
    }
    let size = field_u64(&header, "file_data_len")?;
    let announced = header
        .get("md5")
        .and_then(Value::as_str)
        .filter(|md5| md5.len() == 32 && md5.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| ClientError::Protocol("the header has no md5 of 32 hex digits".into()))?
        .to_ascii_lowercase();

    let received = receive_body(&mut stream, &mut pending, size, name, out, config)?;
    wire.line(format!("recv {size} body bytes, md5 {received}"));
    keep_if_verified(pending, out, size, announced, received)
}

fn field_u64(header: &Map<String, Value>, field: &str) -> Result<u64, ClientError> {
    header
        .get(field)
        .and_then(Value::as_u64)
        .ok_or_else(|| ClientError::Protocol(format!("the header has no whole number \"{field}\"")))
}
