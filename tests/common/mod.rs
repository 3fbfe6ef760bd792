//! Helpers shared by the integration tests: run a lesson binary as a real process, find the port
//! its server chose, and never wait without a timeout.
#![allow(dead_code)]

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
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("server did not exit within {WAIT:?}");
            }
            thread::sleep(Duration::from_millis(20));
        }
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
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{bin} {args:?} did not finish within {WAIT:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
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

/// The ```python blocks of walkthrough.md's section whose heading starts with `## NN-name`, in
/// order, joined into one script: the tests run them, so the walkthrough's clients stay true.
pub fn walkthrough_python(heading: &str) -> String {
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
    let mut code = String::new();
    for block in section.split("```python\n").skip(1) {
        code.push_str(block.split("```").next().unwrap_or_default());
        code.push('\n');
    }
    code
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
