//! The thread-per-connection server: socklab's `socketserver.ThreadingTCPServer`.
//!
//! Python's `socketserver` splits a server in two (tutorial 004): a *server class* that binds,
//! accepts and starts a thread per connection, and a *request handler* that talks to one client.
//! Here the server is [`serve`] and the handler is anything that implements [`Handler`]. The
//! server adds what a classroom server needs and the tutorial's did not have:
//!
//! - a cap on concurrent connections (`--max-clients`): one thread per client is simple and fine
//!   for a class, but unbounded it lets one script exhaust the machine, so the next client gets a
//!   clear refusal instead, on a short-lived thread that closes the connection without a reset
//!   (`spawn_refusal` says why that takes care);
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
use crate::net::{self, reachable};

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
    ///
    /// It runs on a short-lived thread of its own, with a write timeout set; afterwards the server
    /// closes the connection gracefully (see `spawn_refusal` in this file for why that matters).
    ///
    /// The line is built first and sent with one `write_all`: `writeln!` straight to a socket
    /// makes one `send` per piece of the format, so a client doing one `recv(1024)` (as in the
    /// tutorials) could get `error: server busy (` and nothing more.
    fn refuse(&self, stream: &mut TcpStream, max_clients: usize) -> io::Result<()> {
        let line = format!(
            "error: server busy ({} connected, the --max-clients limit); try again later\n",
            clients(max_clients)
        );
        stream.write_all(line.as_bytes())
    }
}

/// The connections being served, so that shutdown can close them and the cap can count them.
///
/// The registry does not keep a second handle on each socket (`try_clone` would cost every
/// connection a second file descriptor): the connection's thread owns its only `TcpStream`, and
/// the registry remembers which socket that is ([`Opened`]).
#[derive(Default)]
struct Connections {
    open: Mutex<HashMap<u64, Opened>>,
    next_id: AtomicU64,
}

impl Connections {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Opened>> {
        // A panicking handler thread cannot leave the map half-changed (each change is a single
        // insert or remove), so a poisoned lock is still safe to use.
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a connection (from `peer`, as `accept` said) unless `max` are already open.
    fn admit(&self, stream: &TcpStream, peer: SocketAddr, max: usize) -> io::Result<Option<u64>> {
        let mut open = self.lock();
        if open.len() >= max {
            return Ok(None);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        open.insert(id, Opened::new(stream, peer)?);
        Ok(Some(id))
    }

    fn close_all(&self) {
        for opened in self.lock().values() {
            opened.shut_down();
        }
    }
}

/// Which socket a registered connection is: its descriptor number (a handle on Windows), and
/// the two addresses that prove the number still means that connection.
///
/// A connection's thread closes its stream when its handler returns, a moment BEFORE it removes
/// the connection from the registry. If shutdown came in that moment, the number could already
/// belong to a new socket of the process (a client in a test, say); so [`Opened::shut_down`]
/// shuts the socket only if it still has the same local and peer addresses.
struct Opened {
    #[cfg(unix)]
    fd: std::os::fd::RawFd,
    #[cfg(windows)]
    handle: std::os::windows::io::RawSocket,
    #[cfg(not(any(unix, windows)))]
    clone: TcpStream,
    local: SocketAddr,
    peer: SocketAddr,
}

impl Opened {
    /// `peer` comes from `accept`: asking the socket again would fail if the client has
    /// already reset the connection, and that client deserves its `connected` line too.
    fn new(stream: &TcpStream, peer: SocketAddr) -> io::Result<Opened> {
        Ok(Opened {
            #[cfg(unix)]
            fd: std::os::fd::AsRawFd::as_raw_fd(stream),
            #[cfg(windows)]
            handle: std::os::windows::io::AsRawSocket::as_raw_socket(stream),
            // Elsewhere, keep a second handle (the simple way, one more handle per connection).
            #[cfg(not(any(unix, windows)))]
            clone: stream.try_clone()?,
            local: stream.local_addr()?,
            peer,
        })
    }

    /// Ends the connection both ways, which wakes its thread from `read` with an end of stream.
    ///
    /// On Windows `shutdown` does not wake a `read` that is already waiting (rust-lang/rust#121594;
    /// only reads that start afterwards see the end of stream), so there the waiting read is also
    /// cancelled (`CancelIoEx`): it fails with "operation aborted" and the handler ends.
    fn shut_down(&self) {
        #[cfg(unix)]
        {
            // SAFETY: only `getsockname`, `getpeername` and `shutdown` are called with the number;
            // if its socket was closed meanwhile they fail (EBADF) or see another socket, whose
            // addresses differ, which is then left alone. Nothing is read, written or closed.
            let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(self.fd) };
            if self.is_still(socket2::SockRef::from(&fd)) {
                let _ = socket2::SockRef::from(&fd).shutdown(Both::Both);
            }
        }
        #[cfg(windows)]
        {
            // SAFETY: as on Unix: the handle is only asked its addresses, shut down and its
            // waiting I/O cancelled, and only if it is still the same connection.
            let socket = unsafe { std::os::windows::io::BorrowedSocket::borrow_raw(self.handle) };
            if self.is_still(socket2::SockRef::from(&socket)) {
                let _ = socket2::SockRef::from(&socket).shutdown(Both::Both);
                // SAFETY: CancelIoEx takes the handle by value and no OVERLAPPED (all I/O).
                unsafe {
                    windows_sys::Win32::System::IO::CancelIoEx(
                        self.handle as windows_sys::Win32::Foundation::HANDLE,
                        std::ptr::null(),
                    );
                }
            }
        }
        #[cfg(not(any(unix, windows)))]
        {
            let _ = (self.local, self.peer);
            let _ = self.clone.shutdown(Both::Both);
        }
    }

    /// Does `socket` still have this connection's two addresses?
    #[cfg(any(unix, windows))]
    fn is_still(&self, socket: socket2::SockRef<'_>) -> bool {
        let same = |addr: io::Result<socket2::SockAddr>| addr.ok().and_then(|a| a.as_socket());
        same(socket.local_addr()) == Some(self.local) && same(socket.peer_addr()) == Some(self.peer)
    }
}

/// Removes a connection from the registry when its thread ends, however it ends.
struct Registration {
    connections: Arc<Connections>,
    id: u64,
}

impl Registration {
    fn new(connections: &Arc<Connections>, id: u64) -> Registration {
        Registration {
            connections: Arc::clone(connections),
            id,
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.connections.lock().remove(&self.id);
    }
}

/// Waits for the next connection on `listener` and returns it with the client's address.
///
/// A failed `accept` concerns one connection (the client gave up before we took it) or a passing
/// shortage ("too many open files"), not the server: it is logged, and after a short pause we
/// wait again rather than crash. Used by [`serve`] and by the one-at-a-time servers.
pub fn accept(listener: &TcpListener, log: &Log) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept() {
            Ok(accepted) => return accepted,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                log.line(format!("accept failed: {e}"));
                thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// How long a refused client is given to read its refusal and close before we close anyway.
pub const REFUSAL_LINGER: Duration = Duration::from_secs(2);

/// Most refusals in progress at once. Each takes a short-lived thread; past this many, a client
/// is closed without a word, so that a flood of connections cannot become a flood of threads.
pub const MAX_REFUSING: usize = 32;

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
    let served = Arc::new(Connections::default());
    let refusing = Arc::new(Connections::default());
    let mut workers: Vec<JoinHandle<()>> = Vec::new();

    while !shutdown.is_requested() {
        let (stream, peer) = accept(&listener, log);
        if shutdown.is_requested() {
            break;
        }
        workers.retain(|w| !w.is_finished());

        // Trouble with one connection (the OS refusing to clone a handle or start a thread, say)
        // is that connection's problem: drop it and go on serving everyone else.
        let started = match served.admit(&stream, peer, options.max_clients) {
            Ok(Some(id)) => {
                log.line(format!("client {peer} connected"));
                let registration = Registration::new(&served, id);
                let handler = Arc::clone(&handler);
                spawn_connection(handler, stream, peer, registration, options, log).map(Some)
            }
            Ok(None) => {
                log.line(format!(
                    "refused {peer}: already serving {} (--max-clients)",
                    clients(options.max_clients)
                ));
                start_refusal(&handler, &refusing, stream, peer, options.max_clients)
            }
            Err(e) => Err(e),
        };
        match started {
            Ok(Some(worker)) => workers.push(worker),
            Ok(None) => {}
            Err(e) => log.line(format!("dropped {peer}: {e}")),
        }
    }

    served.close_all();
    refusing.close_all();
    for worker in workers {
        // A handler that panicked has already printed its panic; the server goes on shutting down.
        let _ = worker.join();
    }
    Ok(())
}

/// "1 client", "256 clients".
fn clients(n: usize) -> String {
    if n == 1 {
        "1 client".to_string()
    } else {
        format!("{n} clients")
    }
}

/// Starts the thread that serves one admitted connection.
fn spawn_connection<H: Handler>(
    handler: Arc<H>,
    stream: TcpStream,
    peer: SocketAddr,
    registration: Registration,
    options: &ServerOptions,
    log: &Log,
) -> io::Result<JoinHandle<()>> {
    stream.set_read_timeout(options.read_timeout)?;
    let log = log.clone();
    thread::Builder::new()
        .name(format!("client {peer}"))
        .spawn(move || {
            let outcome = handler.handle(stream, peer, &log);
            // Unregister before logging, so that once "gone" is logged the connection no
            // longer counts against --max-clients (tests and the tour rely on that order).
            drop(registration);
            match outcome {
                Ok(()) => log.line(format!("client {peer} gone")),
                Err(e) => log.line(format!("client {peer} dropped: {e}")),
            }
        })
}

/// Refuses a client over `--max-clients` on a thread of its own ([`spawn_refusal`]), unless
/// [`MAX_REFUSING`] refusals are already under way: then the connection is just closed, and
/// `Ok(None)` says no thread was started.
fn start_refusal<H: Handler>(
    handler: &Arc<H>,
    refusing: &Arc<Connections>,
    stream: TcpStream,
    peer: SocketAddr,
    max_clients: usize,
) -> io::Result<Option<JoinHandle<()>>> {
    let Some(id) = refusing.admit(&stream, peer, MAX_REFUSING)? else {
        return Ok(None); // dropping `stream` closes it
    };
    let registration = Registration::new(refusing, id);
    spawn_refusal(Arc::clone(handler), stream, peer, registration, max_clients).map(Some)
}

/// Starts a short-lived thread that tells a client over `--max-clients` it is refused, then
/// closes its connection without destroying that message.
///
/// Closing at once would be wrong: the client has often sent its first message already, and
/// closing a socket with unread bytes in its receive buffer makes the kernel answer with a
/// reset (RST) instead of a normal end (FIN). A reset can destroy the refusal before the client
/// reads it: a Python client gets `ConnectionResetError` instead of the explanation. So the
/// thread writes the refusal, sends FIN (`shutdown(Write)`), and reads and discards whatever the
/// client still sends until it closes, at most [`REFUSAL_LINGER`]: all on its own thread, so the
/// accept loop never waits for a client it is not serving.
fn spawn_refusal<H: Handler>(
    handler: Arc<H>,
    mut stream: TcpStream,
    peer: SocketAddr,
    registration: Registration,
    max_clients: usize,
) -> io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name(format!("refusing {peer}"))
        .spawn(move || {
            // A client that reads nothing cannot hold this thread: the write is bounded too.
            let _ = stream.set_write_timeout(Some(REFUSAL_LINGER));
            let _ = handler.refuse(&mut stream, max_clients);
            net::close_gracefully(&mut stream, REFUSAL_LINGER);
            drop(registration);
        })
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
    use std::sync::atomic::AtomicUsize;

    /// Echoes upper-cased bytes; counts the connections it is serving.
    #[derive(Default)]
    struct Upper {
        serving: Arc<AtomicUsize>,
    }

    /// Decrements the count however `handle` ends.
    struct Serving(Arc<AtomicUsize>);

    impl Drop for Serving {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }

    impl Handler for Upper {
        type Error = io::Error;
        fn handle(&self, mut stream: TcpStream, _: SocketAddr, _: &Log) -> io::Result<()> {
            self.serving.fetch_add(1, Ordering::SeqCst);
            let _serving = Serving(Arc::clone(&self.serving));
            let mut buf = [0u8; 64];
            loop {
                let n = read_once(&mut stream, &mut buf)?;
                if n == 0 {
                    return Ok(());
                }
                stream.write_all(&buf[..n].to_ascii_uppercase())?;
            }
        }
    }

    /// One `read`, retrying an interruption: this test binary also runs tests that start child
    /// processes, and their SIGCHLD can make a timed socket read fail with EINTR.
    fn read_once(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match stream.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    fn start_with(handler: Upper, options: ServerOptions, log: Log) -> Background {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        Background::tcp(listener, move |l, s| serve(l, handler, &options, &log, &s)).unwrap()
    }

    fn start(options: ServerOptions) -> Background {
        start_with(Upper::default(), options, Log::silent())
    }

    fn connect(addr: SocketAddr) -> TcpStream {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s
    }

    /// Sends `message` and reads its upper-cased echo: proof that a thread serves `conn`.
    fn echo(conn: &mut TcpStream, message: &str) {
        conn.write_all(message.as_bytes()).unwrap();
        let mut reply = vec![0u8; message.len()];
        conn.read_exact(&mut reply).unwrap();
        assert_eq!(reply, message.to_ascii_uppercase().as_bytes());
    }

    #[test]
    fn serves_clients_at_once_and_stops_cleanly() {
        let server = start(ServerOptions::default());
        let mut clients: Vec<TcpStream> = (0..5).map(|_| connect(server.addr())).collect();
        for (i, c) in clients.iter_mut().enumerate() {
            echo(c, &format!("hi{i}"));
        }
        // The clients are still connected: stop must close them rather than wait for them.
        server.stop().unwrap();
        let mut buf = [0u8; 1];
        assert_eq!(read_once(&mut clients[0], &mut buf).unwrap_or(0), 0);
    }

    /// The refusal is one line, sent with one `send`, so that the tutorials' single
    /// `recv(1024)` gets all of it. (On loopback the bytes of one `send` this small arrive
    /// together: a `read` that returns any of them returns them all.)
    #[test]
    fn refuses_past_max_clients_with_one_line_in_one_piece() {
        let server = start(ServerOptions {
            max_clients: 1,
            ..ServerOptions::default()
        });
        let mut first = connect(server.addr());
        echo(&mut first, "x");
        let mut second = connect(server.addr());
        let mut buf = [0u8; 1024];
        let n = read_once(&mut second, &mut buf).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&buf[..n]),
            "error: server busy (1 client connected, the --max-clients limit); try again later\n"
        );
        drop(first);
        server.stop().unwrap();
    }

    /// A refused client has usually sent its first message already. Closing a socket with unread
    /// bytes makes the kernel send a reset, which can destroy the refusal (Python's client then
    /// gets ConnectionResetError). The server must instead end with FIN: the client reads the
    /// whole line and then a clean end of stream, every time.
    ///
    /// Deterministic: the server closes only after our side has closed (or after
    /// REFUSAL_LINGER), and by then we have read the end of stream, which a later reset could
    /// no longer turn into an error.
    #[test]
    fn a_refused_client_with_unread_data_gets_the_message_and_a_clean_end() {
        let server = start(ServerOptions {
            max_clients: 1,
            ..ServerOptions::default()
        });
        let mut first = connect(server.addr());
        echo(&mut first, "x");
        for _ in 0..10 {
            let mut refused = connect(server.addr());
            refused.write_all(b"hello, are you there?").unwrap();
            let mut reply = Vec::new();
            match refused.read_to_end(&mut reply) {
                Ok(_) => {}
                Err(e) => panic!("after {reply:?}: {e}"),
            }
            assert!(reply.starts_with(b"error: server busy"), "{reply:?}");
        }
        echo(&mut first, "still served");
    }

    #[test]
    fn a_silent_client_is_closed_after_the_read_timeout() {
        let (log, lines) = Log::channel();
        let server = start_with(
            Upper::default(),
            ServerOptions {
                read_timeout: Some(Duration::from_millis(200)),
                ..ServerOptions::default()
            },
            log,
        );
        let mut quiet = connect(server.addr());
        let mut buf = [0u8; 1];
        assert_eq!(
            read_once(&mut quiet, &mut buf).unwrap(),
            0,
            "the server closed it"
        );
        let wait = Duration::from_secs(20);
        let dropped = std::iter::from_fn(|| lines.recv_timeout(wait).ok())
            .find(|line| line.contains("dropped"))
            .unwrap();
        assert!(dropped.starts_with("client 127.0.0.1:"), "{dropped}");
    }

    /// After `stop`, nothing of the server is left: no connection thread, no refusal thread
    /// (each holds a clone of the handler, so the handler's count of owners is back to one),
    /// and no listening port.
    #[test]
    fn stop_leaves_no_thread_and_no_port_behind() {
        let handler = Upper::default();
        let serving = Arc::clone(&handler.serving);
        let server = start_with(
            handler,
            ServerOptions {
                max_clients: 3,
                ..ServerOptions::default()
            },
            Log::silent(),
        );
        let addr = server.addr();
        let mut clients: Vec<TcpStream> = (0..3).map(|_| connect(addr)).collect();
        for c in &mut clients {
            echo(c, "here");
        }
        assert_eq!(serving.load(Ordering::SeqCst), 3);
        // A fourth client is being refused, and keeps its connection open.
        let mut refused = BufReader::new(connect(addr));
        let mut line = String::new();
        refused.read_line(&mut line).unwrap();
        assert!(line.starts_with("error: server busy"), "{line}");

        server.stop().unwrap();
        assert_eq!(serving.load(Ordering::SeqCst), 0, "every handler returned");
        assert_eq!(Arc::strong_count(&serving), 1, "every thread is gone");
        let again = TcpStream::connect(addr);
        assert!(
            matches!(&again, Err(e) if e.kind() == io::ErrorKind::ConnectionRefused),
            "{again:?}"
        );
    }
}
