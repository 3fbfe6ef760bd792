//! Lesson 13: uploading and downloading files with the tutorial's JSON-header protocol, done right.
//!
//! Tutorial 004 ends with a file upload: the client sends a 4-byte length, a JSON header
//! `{"cmd":"put","filename":...,"filesize":...}`, then the file's bytes; the server (first a
//! plain loop, then a `socketserver.ThreadingTCPServer`) writes them to `file_upload/NAME`. This
//! lesson keeps that protocol, so the tutorial's own client works against it, and fixes what the
//! tutorial gets wrong:
//!
//! - the server trusts the file name, so `../../x` writes anywhere: here only a bare name is
//!   stored ([`protocol::check_name`]);
//! - it writes straight into the final file, so a client that vanishes leaves half a file: here
//!   bytes go to a temporary file renamed into place when complete ([`crate::transfer::PendingFile`]);
//! - it reads the body with `recv(8192)` until it has *at least* `filesize` bytes, so it can swallow
//!   the start of the next header: here exactly `filesize` bytes are read;
//! - nothing checks the bytes arrived intact, and nothing ever answers: here every request gets a
//!   reply with the MD5 of what was stored, and a header may carry an MD5 for the server to check.
//!
//! It adds `get`, so files come back with their MD5 announced before the bytes.
//!
//! Two earlier download protocols of the tutorials are stages of this lesson too, chosen with
//! `--protocol` on the server and on `client get`: `name-header` (001 §6.5: a bare file name,
//! answered by a 4-byte length, a JSON header and the bytes; [`download_header`]) and
//! `size-ack-md5` (000 §4: the size, an acknowledgement, the bytes, then the MD5;
//! [`download_ack`]). They serve the same folder with the same safe-name rules.
//!
//! Files: [`protocol`] (the wire format), [`server`] (the connection handler), [`digests`] (the
//! recorded MD5 of each stored file), [`client`] (put and get), and `tour.rs` (its stage in `00-tour`).

pub mod client;
pub mod digests;
pub mod download_ack;
pub mod download_header;
pub mod protocol;
pub mod server;
mod tour;

pub use tour::tour;

use std::io;
use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use crate::log::Log;
use crate::net::NetError;
use crate::server::{serve, ServerOptions, Shutdown};
use crate::trace::Tracer;

/// The default `--max-file-size`: 16 GiB, large enough for any classroom file, small enough that
/// one client cannot fill a typical disk by accident.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 16 << 30;

/// What can stop the server.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("cannot use the upload folder {}: {error}", .path.display())]
    Dir { path: PathBuf, error: io::Error },
    #[error("server error: {0}")]
    Io(#[from] io::Error),
}

/// Which protocol a server speaks and a `get` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Protocol {
    /// socklab's (tutorial 004's upload, extended): framed JSON requests and replies, put and get.
    #[default]
    Socklab,
    /// Tutorial 001 §6.5's download: a bare file name; back come a 4-byte length, a JSON header
    /// {"name","md5","file_data_len"} and the bytes. Downloads only.
    NameHeader,
    /// Tutorial 000 §4's get: `get NAME`; back come the size in digits, (after the client's ack)
    /// the bytes, then their MD5. Downloads only.
    SizeAckMd5,
}

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The protocol served (`--protocol`).
    pub protocol: Protocol,
    /// Where files are stored (created if missing).
    pub dir: PathBuf,
    /// Largest upload accepted, in bytes; a bigger `filesize` is refused before its body is read.
    pub max_file_size: u64,
    /// Most connections served at once.
    pub max_clients: usize,
    /// A connection that sends nothing (or reads nothing) for this long is closed. `None`: never.
    pub idle_timeout: Option<Duration>,
    /// `--trace` and `--picture`: every `send`/`recv` of every connection. Off, it costs nothing
    /// per call (the file's bytes are never copied for it).
    pub tracer: Tracer,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            protocol: Protocol::default(),
            dir: PathBuf::from("uploads"),
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            max_clients: 64,
            idle_timeout: Some(Duration::from_secs(300)),
            tracer: Tracer::off(),
        }
    }
}

/// Creates the upload folder if needed, so that a server that cannot store anything fails at
/// once rather than on its first upload.
pub fn open_store(config: &ServerConfig) -> Result<server::UploadService, UploadError> {
    server::UploadService::open(config).map_err(|error| UploadError::Dir {
        path: config.dir.clone(),
        error,
    })
}

/// Serves uploads and downloads, one thread per connection, until `shutdown` is requested.
pub fn run_server(
    listener: TcpListener,
    config: &ServerConfig,
    log: &Log,
    shutdown: &Shutdown,
) -> Result<(), UploadError> {
    let service = open_store(config)?;
    log.line(match config.protocol {
        Protocol::Socklab => format!("storing files in {}", config.dir.display()),
        _ => format!("serving the files in {}", config.dir.display()),
    });
    let options = ServerOptions {
        max_clients: config.max_clients,
        read_timeout: config.idle_timeout,
    };
    match config.protocol {
        Protocol::Socklab => serve(listener, service, &options, log, shutdown)?,
        Protocol::NameHeader => {
            let handler = download_header::HeaderDownloads { store: service };
            serve(listener, handler, &options, log, shutdown)?
        }
        Protocol::SizeAckMd5 => {
            let handler = download_ack::AckDownloads { store: service };
            serve(listener, handler, &options, log, shutdown)?
        }
    }
    Ok(())
}
