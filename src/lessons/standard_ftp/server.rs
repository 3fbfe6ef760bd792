//! The 15-ftp server: settings, what all sessions share, and the thread-per-connection loop.
//!
//! It serves the same root as `14-ftp server` (users.json, ROOT/home/USER, the recorded md5s), so
//! both can even run at once on one root: the quota ledgers are per server process, so two
//! servers uploading for the same user at the same moment could together pass a quota by one
//! upload; run one of them for real work.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::session::Session;
use crate::accounts::guard::{LoginGuard, LoginPolicy};
use crate::accounts::password::PasswordChecker;
use crate::accounts::quota::Ledgers;
use crate::accounts::users::{prepare_homes, Accounts, HomesError};
use crate::log::Log;
use crate::server::{serve, Handler, ServerOptions, Shutdown};
use crate::trace::Tracer;

/// Default `--port`: 9000 + the lesson number (a real FTP server listens on 21, which needs
/// administrator rights on most systems).
pub const DEFAULT_PORT: u16 = 9015;

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The same root as 14-ftp's: users in `ROOT/users.json`, homes in `ROOT/home/USER`.
    pub root: PathBuf,
    /// Most control connections at once; the next gets `421`.
    pub max_clients: usize,
    /// A client that sends no command (or moves no data) for this long is disconnected.
    pub idle_timeout: Duration,
    /// A connection that has not logged in this long after connecting is closed.
    pub login_timeout: Duration,
    /// How long the server waits for the client's data connection after a transfer command.
    pub data_timeout: Duration,
    /// Ports for passive data connections; `None`: any port the system gives.
    pub passive_ports: Option<RangeInclusive<u16>>,
    /// Accept `PORT`/`EPRT` (the server connects to the client; only to the client's own
    /// address, and to a port of 1024 or more).
    pub allow_port: bool,
    /// Answer `EPSV` (on by default; off only to watch a client fall back to `PASV`).
    pub epsv: bool,
    /// Most files and directories one user may have (as 14's `--max-files`).
    pub max_files: u64,
    /// The failed-login brakes' numbers (as 14's).
    pub login_policy: LoginPolicy,
    /// `--trace` and `--picture`: the control connections in the tracer's lane, the data
    /// connections in a second lane (`server · data`), so a picture shows the two connections
    /// of one conversation side by side: `150`, the bytes in the data lane, then `226`.
    pub tracer: Tracer,
}

impl ServerConfig {
    /// The defaults for a server on `root`.
    pub fn new(root: impl Into<PathBuf>) -> ServerConfig {
        ServerConfig {
            root: root.into(),
            max_clients: 64,
            idle_timeout: Duration::from_secs(300),
            login_timeout: Duration::from_secs(60),
            data_timeout: Duration::from_secs(30),
            passive_ports: None,
            allow_port: false,
            epsv: true,
            max_files: crate::lessons::ftp::server::DEFAULT_MAX_FILES,
            login_policy: LoginPolicy::default(),
            tracer: Tracer::off(),
        }
    }
}

/// What can stop the server from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum FtpServerError {
    #[error(transparent)]
    Root(#[from] HomesError),
    #[error("server error: {0}")]
    Io(#[from] io::Error),
}

/// What every session of the server shares.
#[derive(Debug)]
pub(super) struct Shared {
    pub config: ServerConfig,
    pub accounts: Accounts,
    pub passwords: PasswordChecker,
    pub guard: LoginGuard,
    pub ledgers: Ledgers,
}

/// Serves RFC 959 FTP on `listener` until `shutdown` is requested.
pub fn run_server(
    listener: TcpListener,
    config: &ServerConfig,
    log: &Log,
    shutdown: &Shutdown,
) -> Result<(), FtpServerError> {
    prepare_homes(&config.root)?;
    log.line(format!(
        "serving {} over RFC 959 FTP (idle timeout {} s, at most {} clients, PORT {}); \
         passwords cross the network in clear",
        config.root.display(),
        config.idle_timeout.as_secs(),
        config.max_clients,
        if config.allow_port {
            "allowed"
        } else {
            "refused"
        },
    ));
    let handler = FtpHandler {
        shared: Arc::new(Shared {
            config: config.clone(),
            accounts: Accounts::new(&config.root),
            passwords: PasswordChecker::new(),
            guard: LoginGuard::with_policy(config.login_policy.clone()),
            ledgers: Ledgers::new(),
        }),
    };
    let options = ServerOptions {
        max_clients: config.max_clients.max(1),
        read_timeout: Some(config.idle_timeout),
    };
    serve(listener, handler, &options, log, shutdown)?;
    Ok(())
}

struct FtpHandler {
    shared: Arc<Shared>,
}

impl Handler for FtpHandler {
    type Error = io::Error;

    fn handle(&self, stream: TcpStream, peer: SocketAddr, log: &Log) -> io::Result<()> {
        stream.set_write_timeout(Some(self.shared.config.idle_timeout))?;
        Session::new(stream, peer, &self.shared, log).run()
    }

    /// RFC 959's answer to a client the server cannot take now: `421`, then the server closes.
    fn refuse(&self, stream: &mut TcpStream, max_clients: usize) -> io::Result<()> {
        let line = format!(
            "421 The server is serving {max_clients} clients, its --max-clients; try again later\r\n"
        );
        stream.write_all(line.as_bytes())
    }
}
