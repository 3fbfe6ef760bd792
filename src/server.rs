//! The thread-per-connection server: socklab's `socketserver.ThreadingTCPServer`.
//!
//! Python's `socketserver` splits a server in two (tutorial 004): a *server class* that binds,
//! accepts and starts a thread per connection, and a *request handler* that talks to one client.
//! Here the server is [`serve`] and the handler is anything that implements [`Handler`]. The
//! server adds what a classroom server needs and the tutorial's did not have:
//!
//! - a cap on concurrent connections (`--max-clients`): one thread per client is simple and fine
//!   for a class, but unbounded it lets one script exhaust the machine, so the next client gets a
//!   clear refusal instead;
//! - a read timeout per connection, so a client that goes silent does not hold a thread for ever;
//! - a clean shutdown: [`Shutdown::request`] stops the accept loop, closes every open connection
//!   and joins every thread, so tests and the tour leave nothing running behind them.
//!
//! [`Shutdown`] and [`Background`] also serve the lessons whose servers are a plain loop (01–06):
//! any server function can run on a background thread and be stopped.

use std::collections::HashMap;
use std::fmt::Display;
use std::io::{self, Write};
use std::net::{Shutdown as Both, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::log::Log;
use crate::net::reachable;

/// A flag that asks a server to stop. Cloning shares the flag.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    requested: Arc<AtomicBool>,
}

impl Shutdown {
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// Asks the server to stop. A server blocked in `accept` or `recv_from` only sees the flag when
    /// that call returns, so whoever calls this must also wake it: [`Background::stop`] does, by
    /// connecting to it (TCP) or sending it an empty datagram (UDP).
    pub fn request(&self) {
        self.requested.store(true, Ordering::SeqCst);
    }

    pub fn is_requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }
}

/// Settings of the thread-per-connection server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Most connections served at once; the next one is refused.
    pub max_clients: usize,
    /// A connection whose client sends nothing for this long gets a timeout error from `read`.
    /// `None`: wait for ever.
    pub read_timeout: Option<Duration>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            max_clients: 256,
            read_timeout: Some(Duration::from_secs(300)),
        }
    }
}

/// What a server does with one connection: the `handle()` of Python's `BaseRequestHandler`.
pub trait Handler: Send + Sync + 'static {
    /// The handler's error type: logged as one line, it ends that connection and no other.
    type Error: Display;

    /// Talks to one client until it is done. Runs on the connection's own thread.
    fn handle(&self, stream: TcpStream, peer: SocketAddr, log: &Log) -> Result<(), Self::Error>;

    /// Tells a client that arrived when `max_clients` were already connected that it is refused.
    /// The default writes one line of text; lessons with a framed protocol send their own error.
    fn refuse(&self, stream: &mut TcpStream, max_clients: usize) -> io::Result<()> {
        writeln!(
            stream,
            "error: server busy ({max_clients} clients connected, the --max-clients limit); try again later"
        )
    }
}

/// The connections being served, so that shutdown can close them and the cap can count them.
#[derive(Default)]
struct Connections {
    open: Mutex<HashMap<u64, TcpStream>>,
    next_id: AtomicU64,
}

impl Connections {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, TcpStream>> {
        // A panicking handler thread cannot leave the map half-changed (each change is a single
        // insert or remove), so a poisoned lock is still safe to use.
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a connection unless `max` are already open.
    fn admit(&self, stream: &TcpStream, max: usize) -> io::Result<Option<u64>> {
        let mut open = self.lock();
        if open.len() >= max {
            return Ok(None);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        open.insert(id, stream.try_clone()?);
        Ok(Some(id))
    }

    fn close_all(&self) {
        for stream in self.lock().values() {
            let _ = stream.shutdown(Both::Both);
        }
    }
}

/// Removes a connection from the registry when its thread ends, however it ends.
struct Registration {
    connections: Arc<Connections>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.connections.lock().remove(&self.id);
    }
}

/// Accepts connections on `listener` until `shutdown` is requested, serving each on its own thread
/// with `handler`. Returns once every connection thread has finished.
pub fn serve<H: Handler>(
    listener: TcpListener,
    handler: H,
    options: &ServerOptions,
    log: &Log,
    shutdown: &Shutdown,
) -> io::Result<()> {
    let handler = Arc::new(handler);
    let connections = Arc::new(Connections::default());
    let mut workers: Vec<JoinHandle<()>> = Vec::new();

    while !shutdown.is_requested() {
        let (mut stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // Usually "too many open files": wait a little and try again rather than crash.
                log.line(format!("accept failed: {e}"));
                thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if shutdown.is_requested() {
            break;
        }
        workers.retain(|w| !w.is_finished());

        // Trouble with one connection (the OS refusing to clone a handle, say) is that
        // connection's problem: drop it and go on serving everyone else.
        let admitted = connections.admit(&stream, options.max_clients);
        let id = match admitted {
            Ok(Some(id)) => id,
            Ok(None) => {
                log.line(format!(
                    "refused {peer}: already serving {} clients (--max-clients)",
                    options.max_clients
                ));
                let _ = handler.refuse(&mut stream, options.max_clients);
                continue;
            }
            Err(e) => {
                log.line(format!("dropped {peer}: {e}"));
                continue;
            }
        };
        let registration = Registration {
            connections: Arc::clone(&connections),
            id,
        };
        if let Err(e) = stream.set_read_timeout(options.read_timeout) {
            log.line(format!("dropped {peer}: {e}"));
            continue;
        }
        log.line(format!("client {peer} connected"));

        let handler = Arc::clone(&handler);
        let thread_log = log.clone();
        let spawned = thread::Builder::new()
            .name(format!("client {peer}"))
            .spawn(move || {
                let outcome = handler.handle(stream, peer, &thread_log);
                // Unregister before logging, so that once "gone" is logged the connection no
                // longer counts against --max-clients (tests and the tour rely on that order).
                drop(registration);
                match outcome {
                    Ok(()) => thread_log.line(format!("client {peer} gone")),
                    Err(e) => thread_log.line(format!("client {peer} dropped: {e}")),
                }
            });
        match spawned {
            Ok(worker) => workers.push(worker),
            Err(e) => log.line(format!("could not start a thread for {peer}: {e}")),
        }
    }

    connections.close_all();
    for worker in workers {
        // A handler that panicked has already printed its panic; the server goes on shutting down.
        let _ = worker.join();
    }
    Ok(())
}

/// A server running on a background thread, for the tour and for tests. Dropping it stops the
/// server and waits for it.
pub struct Background {
    addr: SocketAddr,
    udp: bool,
    shutdown: Shutdown,
    thread: Option<JoinHandle<Result<(), String>>>,
}

impl Background {
    /// Runs `server(listener, shutdown)` on a new thread.
    pub fn tcp<E: Display>(
        listener: TcpListener,
        server: impl FnOnce(TcpListener, Shutdown) -> Result<(), E> + Send + 'static,
    ) -> io::Result<Background> {
        let addr = listener.local_addr()?;
        let shutdown = Shutdown::new();
        let flag = shutdown.clone();
        let thread = thread::Builder::new()
            .name(format!("server {addr}"))
            .spawn(move || server(listener, flag).map_err(|e| e.to_string()))?;
        Ok(Background {
            addr,
            udp: false,
            shutdown,
            thread: Some(thread),
        })
    }

    /// Runs `server(socket, shutdown)` on a new thread.
    pub fn udp<E: Display>(
        socket: UdpSocket,
        server: impl FnOnce(UdpSocket, Shutdown) -> Result<(), E> + Send + 'static,
    ) -> io::Result<Background> {
        let addr = socket.local_addr()?;
        let shutdown = Shutdown::new();
        let flag = shutdown.clone();
        let thread = thread::Builder::new()
            .name(format!("server {addr}"))
            .spawn(move || server(socket, flag).map_err(|e| e.to_string()))?;
        Ok(Background {
            addr,
            udp: true,
            shutdown,
            thread: Some(thread),
        })
    }

    /// The address the server is bound to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Has the server function returned (a one-shot server that finished, or one that failed)?
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Waits for the server to finish by itself (one-shot servers), and returns its result.
    pub fn join(mut self) -> Result<(), String> {
        self.join_thread()
    }

    /// Stops the server and waits for it; returns the server's own result.
    pub fn stop(mut self) -> Result<(), String> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Result<(), String> {
        if self.thread.is_none() {
            return Ok(());
        }
        self.shutdown.request();
        self.wake();
        self.join_thread()
    }

    /// Makes the server's blocking call return, so that it sees the shutdown flag.
    fn wake(&self) {
        let target = reachable(self.addr);
        if self.udp {
            let local: SocketAddr = if target.is_ipv4() {
                ([127, 0, 0, 1], 0).into()
            } else {
                (std::net::Ipv6Addr::LOCALHOST, 0).into()
            };
            if let Ok(socket) = UdpSocket::bind(local) {
                let _ = socket.send_to(&[], target);
            }
        } else {
            let _ = TcpStream::connect_timeout(&target, Duration::from_secs(2));
        }
    }

    fn join_thread(&mut self) -> Result<(), String> {
        match self.thread.take() {
            None => Ok(()),
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err("the server thread panicked".into())),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read};

    struct Upper;

    impl Handler for Upper {
        type Error = io::Error;
        fn handle(&self, mut stream: TcpStream, _: SocketAddr, _: &Log) -> io::Result<()> {
            let mut buf = [0u8; 64];
            loop {
                let n = stream.read(&mut buf)?;
                if n == 0 {
                    return Ok(());
                }
                stream.write_all(&buf[..n].to_ascii_uppercase())?;
            }
        }
    }

    fn start(options: ServerOptions) -> Background {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        Background::tcp(listener, move |l, s| {
            serve(l, Upper, &options, &Log::silent(), &s)
        })
        .unwrap()
    }

    fn connect(addr: SocketAddr) -> TcpStream {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    }

    #[test]
    fn serves_clients_at_once_and_stops_cleanly() {
        let server = start(ServerOptions::default());
        let mut clients: Vec<TcpStream> = (0..5).map(|_| connect(server.addr())).collect();
        for (i, c) in clients.iter_mut().enumerate() {
            c.write_all(format!("hi{i}").as_bytes()).unwrap();
            let mut buf = [0u8; 3];
            c.read_exact(&mut buf).unwrap();
            assert_eq!(&buf, format!("HI{i}").as_bytes());
        }
        // The clients are still connected: stop must close them rather than wait for them.
        server.stop().unwrap();
        let mut buf = [0u8; 1];
        assert_eq!(clients[0].read(&mut buf).unwrap_or(0), 0);
    }

    #[test]
    fn refuses_past_max_clients_with_a_message() {
        let server = start(ServerOptions {
            max_clients: 1,
            ..ServerOptions::default()
        });
        let mut first = connect(server.addr());
        first.write_all(b"x").unwrap();
        let mut buf = [0u8; 1];
        first.read_exact(&mut buf).unwrap();
        let second = connect(server.addr());
        let mut line = String::new();
        BufReader::new(second).read_line(&mut line).unwrap();
        assert!(line.starts_with("error: server busy"), "{line}");
        drop(first);
        server.stop().unwrap();
    }
}
