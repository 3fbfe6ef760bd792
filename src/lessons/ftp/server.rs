//! The 14-ftp server: settings, what all sessions share, and the thread-per-connection loop.
//!
//! Each connection is one `session` on its own thread ([`crate::server::serve`]). What
//! sessions share lives in `Shared`: the server root, the accounts (users.json, re-read when it
//! changes), the secret for fake login challenges, the failed-login brake, and one quota ledger
//! per user (two sessions of the same user must see each other's uploads).

use std::fs;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::guard::{LoginGuard, LoginPolicy};
use super::login::{LoginError, ServerSecret, SECRET_FILE};
use super::partials::{Partials, DEFAULT_TTL};
use super::protocol::{Code, Refusal};
use super::quota::Ledgers;
use super::session::{Session, SessionError};
use super::users::{prepare_homes, users_file, Accounts, HomesError};
use crate::framing;
use crate::log::Log;
use crate::net;
use crate::server::{serve, Handler, ServerOptions, Shutdown};

/// Default `--port`: 9000 + the lesson number.
pub const DEFAULT_PORT: u16 = 9014;

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Users in `ROOT/users.json`, homes in `ROOT/home/USER`, recorded md5s in `ROOT/md5/USER`.
    pub root: PathBuf,
    /// Most connections at once; the next gets `too_many_clients`.
    pub max_clients: usize,
    /// A client silent for this long gets `timeout` and is disconnected.
    pub idle_timeout: Duration,
    /// Interrupted uploads untouched for this long are deleted.
    pub partial_ttl: Duration,
    /// Most files and directories one user may have (each costs an inode, even when empty).
    pub max_files: u64,
    /// A connection that has not logged in this long after connecting is closed.
    pub login_timeout: Duration,
    /// The failed-login brakes' numbers.
    pub login_policy: LoginPolicy,
}

/// Default `--max-files`.
pub const DEFAULT_MAX_FILES: u64 = 100_000;

impl ServerConfig {
    /// The defaults for a server on `root`.
    pub fn new(root: impl Into<PathBuf>) -> ServerConfig {
        ServerConfig {
            root: root.into(),
            max_clients: 64,
            idle_timeout: Duration::from_secs(300),
            partial_ttl: DEFAULT_TTL,
            max_files: DEFAULT_MAX_FILES,
            login_timeout: Duration::from_secs(60),
            login_policy: LoginPolicy::default(),
        }
    }
}

/// What can stop the server from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum FtpServerError {
    #[error(transparent)]
    Root(#[from] HomesError),
    #[error(transparent)]
    Secret(#[from] LoginError),
    #[error("server error: {0}")]
    Io(#[from] io::Error),
}

/// What every session of the server shares.
#[derive(Debug)]
pub(super) struct Shared {
    pub root: PathBuf,
    pub accounts: Accounts,
    pub secret: ServerSecret,
    pub guard: LoginGuard,
    pub ledgers: Ledgers,
    pub partial_ttl: Duration,
    pub max_files: u64,
    /// Also the write timeout: a client that stops reading a download is as idle as one that
    /// stops sending.
    pub idle_timeout: Duration,
    pub login_timeout: Duration,
}

/// Serves 14-ftp on `listener` until `shutdown` is requested.
pub fn run_server(
    listener: TcpListener,
    config: &ServerConfig,
    log: &Log,
    shutdown: &Shutdown,
) -> Result<(), FtpServerError> {
    let homes = prepare_homes(&config.root)?;
    let secret = ServerSecret::load_or_create(&config.root)?;
    for secret_file in [users_file(&config.root), config.root.join(SECRET_FILE)] {
        if let Some(warning) = exposed(&secret_file) {
            log.line(warning);
        }
    }
    let removed = sweep_partials(&homes, config.partial_ttl);
    if removed > 0 {
        log.line(format!("removed {removed} expired partial upload(s)"));
    }
    log.line(format!(
        "serving {} (idle timeout {} s, partial uploads kept {} s, at most {} clients)",
        config.root.display(),
        config.idle_timeout.as_secs(),
        config.partial_ttl.as_secs(),
        config.max_clients
    ));
    let handler = FtpHandler {
        shared: Arc::new(Shared {
            root: config.root.clone(),
            accounts: Accounts::new(&config.root),
            secret,
            guard: LoginGuard::with_policy(config.login_policy.clone()),
            ledgers: Ledgers::new(),
            partial_ttl: config.partial_ttl,
            max_files: config.max_files,
            idle_timeout: config.idle_timeout,
            login_timeout: config.login_timeout,
        }),
        lingering: Arc::new(AtomicUsize::new(0)),
    };
    let options = ServerOptions {
        max_clients: config.max_clients.max(1),
        read_timeout: Some(config.idle_timeout),
    };
    serve(listener, handler, &options, log, shutdown)?;
    Ok(())
}

/// A warning if `path` can be read by users other than its owner (an administrator may have
/// created or copied it by hand): users.json allows offline password guessing, and the server
/// secret lets anyone tell real user names from fake ones.
fn exposed(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then(|| {
            format!(
                "warning: {} can be read by other users (mode {mode:03o}); run chmod 600 on it",
                path.display()
            )
        })
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// At start-up no upload is in flight, so every expired partial file can go. Returns how many
/// were deleted. Errors are ignored: they only cost tidiness, and the next login of that user
/// tries again.
fn sweep_partials(homes: &Path, ttl: Duration) -> usize {
    let Ok(entries) = fs::read_dir(homes) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
        .map(|entry| {
            Partials::new(&entry.path(), ttl)
                .remove_expired(|_| false)
                .unwrap_or(0)
        })
        .sum()
}

/// The per-connection handler `serve` runs on each connection's thread.
struct FtpHandler {
    shared: Arc<Shared>,
    /// Refused connections still being closed gracefully (see `refuse`).
    lingering: Arc<AtomicUsize>,
}

/// Most refused connections closed gracefully at once. Each takes a short-lived thread; a flood
/// of connections past `--max-clients` must not turn into a flood of threads, so beyond this
/// many the refusal is sent and the connection closed at once.
const MAX_LINGERING: usize = 32;

impl Handler for FtpHandler {
    type Error = SessionError;

    fn handle(&self, stream: TcpStream, peer: SocketAddr, log: &Log) -> Result<(), SessionError> {
        // `serve` set the read timeout; a write timeout stops a client that never reads a
        // download from holding its thread for ever.
        stream.set_write_timeout(Some(self.shared.idle_timeout))?;
        Session::new(stream, peer, &self.shared, log).run()
    }

    /// One `too_many_clients` frame, then a graceful close on a short-lived thread (closing at
    /// once, with the client's login request unread, could reset the connection and destroy the
    /// reply before the client reads it; see `net::close_gracefully`). The accept loop does not
    /// wait for it. At most [`MAX_LINGERING`] such threads exist at once.
    fn refuse(&self, stream: &mut TcpStream, max_clients: usize) -> io::Result<()> {
        let refusal = Refusal::new(
            Code::TooManyClients,
            format!(
                "the server is serving {max_clients} clients, its --max-clients; try again later"
            ),
        );
        // A few bytes on a fresh connection fit its send buffer; never wait long anyway.
        stream.set_write_timeout(Some(Duration::from_secs(1)))?;
        framing::write_header(stream, &refusal.to_json()).map_err(io::Error::other)?;
        stream.flush()?;
        if self.lingering.fetch_add(1, Ordering::SeqCst) >= MAX_LINGERING {
            self.lingering.fetch_sub(1, Ordering::SeqCst);
            return Ok(());
        }
        let mut closing = stream.try_clone()?;
        let lingering = Arc::clone(&self.lingering);
        let spawned = std::thread::Builder::new()
            .name("refused client".into())
            .spawn(move || {
                net::close_gracefully(&mut closing, Duration::from_secs(1));
                lingering.fetch_sub(1, Ordering::SeqCst);
            });
        if let Err(e) = spawned {
            self.lingering.fetch_sub(1, Ordering::SeqCst);
            return Err(e);
        }
        Ok(())
    }
}
