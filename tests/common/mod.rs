//! Helpers shared by the integration tests: run a lesson binary as a real process, find the port
//! its server chose, and never wait without a timeout.
#![allow(dead_code)]

pub mod fake_server;
pub mod tutorial;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// The longest any single wait in a test may take.
pub const WAIT: Duration = Duration::from_secs(20);

/// A lesson server running as a child process. Killed when dropped.
pub struct ServerProcess {
    child: Child,
    /// The address from the `listening on` line.
    pub addr: SocketAddr,
    lines: Receiver<String>,
}

impl ServerProcess {
    /// Starts `bin` with `args` (add `--port 0` yourself) and waits for `listening on IP:PORT`.
    pub fn start(bin: &str, args: &[&str]) -> ServerProcess {
        ServerProcess::start_with_env(bin, args, &[])
    }

    pub fn start_with_env(bin: &str, args: &[&str], env: &[(&str, &str)]) -> ServerProcess {
        Self::start_in(bin, args, env, None)
    }

    pub fn start_in(
        bin: &str,
        args: &[&str],
        env: &[(&str, &str)],
        dir: Option<&Path>,
    ) -> ServerProcess {
        let mut command = Command::new(bin);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            command.env(k, v);
        }
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        Self::start_command(command)
    }

    /// Starts a prepared command (stdout is piped here), for a test that must set something up
    /// in the child before it runs (a resource limit in `pre_exec`), and waits for its
    /// `listening on IP:PORT`.
    pub fn start_command(mut command: Command) -> ServerProcess {
        let bin = command.get_program().to_string_lossy().into_owned();
        command.stdout(Stdio::piped());
        let mut child = command.spawn().expect("start server");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = match lines.recv_timeout(WAIT) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                panic!("{bin} printed no first line within {WAIT:?}");
            }
        };
        let addr = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first line was {first:?}"))
            .parse()
            .expect("address in listening line");
        ServerProcess { child, addr, lines }
    }

    /// The server's process id (to look at it in /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn port_arg(&self) -> String {
        self.addr.port().to_string()
    }

    /// Waits for a log line containing `needle`, returning it; panics after [`WAIT`].
    pub fn expect_line(&self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(line) => seen.push(line),
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no line containing {needle:?}; saw {seen:#?}")
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("server ended before a line containing {needle:?}; saw {seen:#?}")
                }
            }
        }
    }

    /// Every log line that arrives within `quiet` of the previous one.
    pub fn drain(&self, quiet: Duration) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(quiet) {
            out.push(line);
        }
        out
    }

    /// Waits for the process to exit by itself (one-shot servers).
    pub fn wait_exit(mut self) -> ExitStatus {
        wait_or_kill(&mut self.child, "the server")
    }

    /// Is the process still running?
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for `child` to exit; kills it and panics after [`WAIT`].
fn wait_or_kill(child: &mut Child, what: &str) -> ExitStatus {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} did not finish within {WAIT:?}");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// What a finished client process did.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `bin args` to completion with `stdin` as its input, killing it after [`WAIT`].
pub fn run(bin: &str, args: &[&str], stdin: &str) -> Finished {
    run_with_env(bin, args, stdin, &[])
}

pub fn run_with_env(bin: &str, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Finished {
    run_in(bin, args, stdin, env, None)
}

pub fn run_in(
    bin: &str,
    args: &[&str],
    stdin: &str,
    env: &[(&str, &str)],
    dir: Option<&Path>,
) -> Finished {
    let mut command = Command::new(bin);
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let mut child = command.spawn().expect("start client");
    let mut input = child.stdin.take().expect("piped stdin");
    let stdin = stdin.to_string();
    let writer = thread::spawn(move || {
        let _ = input.write_all(stdin.as_bytes());
    });
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let out_reader = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err_reader = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let status = wait_or_kill(&mut child, &format!("{bin} {args:?}"));
    let _ = writer.join();
    Finished {
        status,
        stdout: String::from_utf8_lossy(&out_reader.join().unwrap_or_default()).into_owned(),
        stderr: String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned(),
    }
}

/// A TCP connection to `addr` with read and write timeouts, for tests that play the client by hand
/// (the way a student's Python client would).
pub fn connect(addr: SocketAddr) -> std::net::TcpStream {
    let stream = std::net::TcpStream::connect_timeout(&addr, WAIT).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    stream.set_write_timeout(Some(WAIT)).expect("timeout");
    stream
}

/// A port on loopback where nothing listens (bound, read back, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Starts `bin args` with its standard output already closed, as when it is piped into a program
/// that has gone away (`client ... | head -1` once `head` has its line): every write to stdout
/// fails with `BrokenPipe`. Deterministic: the pipe's read end is closed before the client
/// starts. Wait for it with [`finish`].
#[cfg(unix)]
pub fn spawn_with_stdout_closed(bin: &str, args: &[&str]) -> Child {
    use std::os::fd::{FromRawFd, OwnedFd};

    let mut fds = [0; 2];
    // SAFETY: `pipe` fills `fds` with two new descriptors, each then owned by one OwnedFd.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe");
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read_end);
    Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(write_end))
        .stderr(Stdio::piped())
        .spawn()
        .expect("start client")
}

/// Windows' counterpart: the pipe's read end is closed right after the client starts. Still
/// deterministic for the tests that use it, which answer the client (and so let it print) only
/// after it has connected and sent its command.
#[cfg(windows)]
pub fn spawn_with_stdout_closed(bin: &str, args: &[&str]) -> Child {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start client");
    drop(child.stdout.take());
    child
}

/// Waits (at most [`WAIT`]) for a child started with [`spawn_with_stdout_closed`] to exit, and
/// returns what it wrote on stderr.
pub fn finish(mut child: Child) -> Finished {
    let mut err = child.stderr.take().expect("piped stderr");
    let err_reader = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let status = wait_or_kill(&mut child, "the client");
    Finished {
        status,
        stdout: String::new(),
        stderr: String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned(),
    }
}

/// `listener.accept()`, giving up after [`WAIT`] instead of waiting for ever, for tests that
/// play a server by hand.
pub fn accept(listener: &std::net::TcpListener) -> std::net::TcpStream {
    listener.set_nonblocking(true).expect("nonblocking");
    let deadline = Instant::now() + WAIT;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).expect("blocking");
                stream.set_read_timeout(Some(WAIT)).expect("timeout");
                stream.set_write_timeout(Some(WAIT)).expect("timeout");
                return stream;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(
                    Instant::now() < deadline,
                    "no client connected within {WAIT:?}"
                );
                thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// Runs `bin args` to the end with its standard output already closed (see
/// [`spawn_with_stdout_closed`]).
#[cfg(unix)]
pub fn run_with_closed_stdout(bin: &str, args: &[&str]) -> Finished {
    finish(spawn_with_stdout_closed(bin, args))
}

/// Asserts that a client of `bin` run against a port where nothing listens fails with the one
/// clear line every TCP lesson promises, and exit code 1.
pub fn assert_connection_refused_is_one_clear_line(bin: &str) {
    let port = closed_port().to_string();
    let out = run(bin, &["client", "--port", &port, "hi"], "");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        out.stderr,
        format!(
            "error: could not connect to 127.0.0.1:{port}: connection refused; is the server \
             running?\n"
        )
    );
}

/// Asserts that a second server of `bin` on the port of a running one fails with one line
/// saying the address is in use, and exit code 1.
pub fn assert_address_in_use_is_one_clear_line(bin: &str, port: u16) {
    let out = run(bin, &["server", "--port", &port.to_string()], "");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.starts_with("error: could not listen on ")
            && out.stderr.contains("address already in use"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}

/// Sends `message` on `conn` and reads exactly as many bytes back: one round of the echo
/// lessons (02, 03, 11), whose replies have the message's length.
pub fn echo(conn: &mut std::net::TcpStream, message: &str) -> String {
    conn.write_all(message.as_bytes()).expect("send");
    let mut reply = vec![0u8; message.len()];
    conn.read_exact(&mut reply).expect("reply");
    String::from_utf8(reply).expect("UTF-8 reply")
}

/// A UDP socket on loopback with a read timeout, as a tutorial's Python client would make it
/// (plus the timeout the tutorials forget).
pub fn udp_socket() -> std::net::UdpSocket {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.set_read_timeout(Some(WAIT)).expect("timeout");
    socket
}

/// A UDP port on loopback where nothing listens (bound, read back, then released).
pub fn closed_udp_port() -> u16 {
    udp_socket().local_addr().expect("addr").port()
}

/// Asserts that a UDP client of `bin` sending `message` to a port where nothing listens gives up
/// after its `--timeout` with the one clear line every UDP lesson promises, and exit code 1.
pub fn assert_udp_no_reply_is_one_clear_line(bin: &str, message: &str) {
    let port = closed_udp_port().to_string();
    let out = run(
        bin,
        &["client", "--port", &port, "--timeout", "0.3", message],
        "",
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        out.stderr,
        format!(
            "error: no reply from 127.0.0.1:{port} within 0.3 s; UDP does not retransmit, so the \
             datagram or its reply was lost, or no server is running there\n"
        )
    );
}

/// One `read`, like the tutorials' `recv(1024)`: whatever has arrived, at most `buf.len()`
/// bytes. Only an interruption (EINTR) is retried: Linux returns it to a socket read with a
/// timeout when a signal arrives, and a test process gets SIGCHLD whenever a test on another
/// thread starts or ends a child process (see `socklab::net::is_timeout`).
pub fn read_once(conn: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match conn.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// One `recv_from`, like the tutorials' `recvfrom(1024)`, retrying only an interruption (see
/// [`read_once`]).
pub fn recv_from_once(
    socket: &std::net::UdpSocket,
    buf: &mut [u8],
) -> std::io::Result<(usize, SocketAddr)> {
    loop {
        match socket.recv_from(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// The ```python blocks of walkthrough.md's section whose heading starts with `## NN-name`, in
/// order, joined into one script: the tests run them, so the walkthrough's clients stay true.
pub fn walkthrough_python(heading: &str) -> String {
    walkthrough_python_blocks(heading)
        .into_iter()
        .map(|block| block + "\n")
        .collect()
}

/// The ```python blocks of that section one by one, for a section whose blocks are separate
/// files (14-ftp: `scram_client.py`, then `ftp_files.py`, which imports it).
pub fn walkthrough_python_blocks(heading: &str) -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/walkthrough.md");
    let text = std::fs::read_to_string(path).expect("walkthrough.md");
    let start = text
        .find(&format!("\n{heading}"))
        .unwrap_or_else(|| panic!("no section {heading:?} in walkthrough.md"));
    let section = text.get(start + 1..).unwrap_or_default();
    let section = match section.get(3..).and_then(|rest| rest.find("\n## ")) {
        Some(end) => section.get(..end + 3).unwrap_or_default(),
        None => section,
    };
    section
        .split("```python\n")
        .skip(1)
        .map(|block| block.split("```").next().unwrap_or_default().to_string())
        .collect()
}

/// Is `python3` installed? Tests that run Python clients skip (with a note) when it is not.
pub fn have_python() -> bool {
    let found = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("note: python3 not found; skipping a Python client test");
    }
    found
}

/// Waits (up to [`WAIT`]) until process `pid` is gone: no longer exists, or is a zombie (dead,
/// waiting for its parent to collect it). `false` if it is still running after that.
pub fn process_is_gone(pid: u32) -> bool {
    let deadline = Instant::now() + WAIT;
    loop {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| stat.rsplit(')').next().map(|rest| rest.trim().to_string()));
        match state {
            None => return true,
            Some(rest) if rest.starts_with('Z') || rest.starts_with('X') => return true,
            Some(_) if Instant::now() > deadline => return false,
            Some(_) => thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// The command a remote-shell test sends to check that background children do not outlive the
/// answer: it prints `hi` and the pid of a `sleep 100` it leaves running in the background.
pub const BACKGROUND_CHILD: &str = "echo hi; sleep 100 & echo $!";

/// Checks the answer to [`BACKGROUND_CHILD`]: `hi`, then a pid that is gone.
pub fn assert_background_child_gone(answer: &[u8]) {
    let text = String::from_utf8_lossy(answer);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("hi"), "{text:?}");
    let pid: u32 = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no pid in {text:?}"));
    assert!(lines.next().is_none(), "no note expected: {text:?}");
    assert!(
        process_is_gone(pid),
        "the background sleep {pid} outlived the answer"
    );
}

/// Waits (at most [`WAIT`]) for a line containing `needle` from an in-process server's log
/// (`Log::channel`), and returns it; panics with every line seen meanwhile.
pub fn wait_for_log_line(log: &crossbeam_channel::Receiver<String>, needle: &str) -> String {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    while let Ok(line) = log.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        if line.contains(needle) {
            return line;
        }
        seen.push(line);
    }
    panic!("no log line with {needle:?}; saw {seen:#?}")
}
