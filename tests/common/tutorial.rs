//! Run the tutorials' own Python programs (`tests/tutorials/*.py`) against socklab's binaries.
//!
//! Every program runs under `tests/tutorials/run.py`, which binds servers to port 0 and announces
//! the port on stderr (`socklab-tutorial: listening on 127.0.0.1:PORT`), sends clients to
//! `SOCKLAB_PORT`, and replaces `input()` with the list of messages given here (see its
//! docstring). Each program runs in a directory the test chose (a temporary one), since several
//! of them read or write files next to themselves.
//!
//! A tutorial client that hangs is one of the outcomes the walkthrough documents, so a client
//! run always has a deadline and reports [`Run::timed_out`] instead of failing the test: the test
//! decides whether the hang is the expected outcome. Every process is killed by its id when its
//! handle is dropped. Callers check [`super::have_python`] first and return when it is false.
//! Output is kept up to [`OUTPUT_CAP`] bytes per stream: some tutorial servers spin printing
//! `b''` for ever once their client has left.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::WAIT;

/// How much of each output stream a run keeps.
pub const OUTPUT_CAP: usize = 1 << 20;

/// The line `run.py` prints on stderr once a server's socket can be reached.
const LISTENING: &str = "socklab-tutorial: listening on ";

/// The path of a program in `tests/tutorials/`.
pub fn program(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/tutorials")
        .join(name)
}

/// `python3 run.py PROGRAM` in `dir`, with `input` as the typed lines and `env` added.
fn command(name: &str, dir: &Path, input: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new("python3");
    command
        .arg(program("run.py"))
        .arg(program(name))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // UTF-8 whatever the locale, and every print() visible at once.
        .env("PYTHONIOENCODING", "utf-8")
        .env("PYTHONUTF8", "1")
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env(
            "SOCKLAB_INPUT",
            serde_json::to_string(input).expect("JSON list"),
        );
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

/// A growing copy of one output stream of a child, filled by a thread.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn collect(&self, mut stream: impl Read + Send + 'static) -> JoinHandle<()> {
        let buffer = self.clone();
        thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            while let Ok(n) = stream.read(&mut chunk) {
                let Some(read) = chunk.get(..n).filter(|read| !read.is_empty()) else {
                    break;
                };
                let mut kept = buffer.0.lock().expect("output lock");
                let room = OUTPUT_CAP.saturating_sub(kept.len()).min(read.len());
                kept.extend_from_slice(read.get(..room).unwrap_or_default());
            }
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("output lock")).into_owned()
    }
}

/// A running tutorial program with its output being collected.
struct Running {
    child: Child,
    stdout: Captured,
    stderr: Captured,
    readers: Vec<JoinHandle<()>>,
}

impl Running {
    fn spawn(mut command: Command, name: &str) -> Running {
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start python3 run.py {name}: {e}"));
        let (stdout, stderr) = (Captured::default(), Captured::default());
        let readers = vec![
            stdout.collect(child.stdout.take().expect("piped stdout")),
            stderr.collect(child.stderr.take().expect("piped stderr")),
        ];
        Running {
            child,
            stdout,
            stderr,
            readers,
        }
    }

    /// Waits until the process ends or `timeout` passes; `None` when it is still running.
    fn wait_until(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the process (by its id) unless it has ended, and returns everything it printed.
    fn finish(mut self, status: Option<ExitStatus>) -> Run {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The pipes end when the program has ended, unless a command it started (a remote
        // shell's `sh -c`) still holds them: then keep what arrived and leave the readers.
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.readers.iter().any(|reader| !reader.is_finished()) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        Run {
            status,
            stdout: self.stdout.text(),
            stderr: self.stderr.text(),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a tutorial program did: its exit status, or `None` when it was still running at the
/// deadline (and was killed), and what it printed.
#[derive(Debug)]
pub struct Run {
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Did the program hang until the deadline?
    pub fn timed_out(&self) -> bool {
        self.status.is_none()
    }

    /// Did it end by itself with exit status 0? (A client whose typed lines ran out ends so.)
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|status| status.success())
    }

    /// Did it end with a Python traceback whose last line contains `error`
    /// (e.g. `"AttributeError: 'int' object has no attribute 'encode'"`)?
    pub fn crashed_with(&self, error: &str) -> bool {
        self.status.is_some_and(|status| !status.success())
            && self.stderr.contains("Traceback (most recent call last)")
            && self.stderr.contains(error)
    }
}

/// A tutorial server program, killed (by its process id) when dropped.
pub struct TutorialServer {
    running: Running,
    /// The port `run.py` bound for it on 127.0.0.1.
    pub port: u16,
}

impl TutorialServer {
    /// Starts `name` in `dir` with `input` as the lines its person types, and waits (at most
    /// [`WAIT`]) for the port announcement.
    pub fn start(name: &str, dir: &Path, input: &[&str]) -> TutorialServer {
        let mut running = Running::spawn(command(name, dir, input, &[]), name);
        let deadline = Instant::now() + WAIT;
        loop {
            let stderr = running.stderr.text();
            if let Some(port) = announced_port(&stderr) {
                return TutorialServer { running, port };
            }
            if let Ok(Some(status)) = running.child.try_wait() {
                panic!("{name} ended ({status}) before listening:\n{stderr}");
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not listen within {WAIT:?}:\n{stderr}"
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn port_arg(&self) -> String {
        self.port.to_string()
    }

    /// What the server has printed on stdout so far.
    pub fn stdout(&self) -> String {
        self.running.stdout.text()
    }

    /// Waits (at most [`WAIT`]) until the server's stdout contains `needle`; returns all of it.
    pub fn expect_stdout(&self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let out = self.stdout();
            if out.contains(needle) {
                return out;
            }
            assert!(
                Instant::now() < deadline,
                "the tutorial server printed no {needle:?} within {WAIT:?}; stdout:\n{out}\n\
                 stderr:\n{}",
                self.running.stderr.text()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits at most `timeout` for the server to end by itself (one-shot servers, or a crash).
    pub fn wait(mut self, timeout: Duration) -> Run {
        let status = self.running.wait_until(timeout);
        self.running.finish(status)
    }

    /// Stops the server and returns what it printed.
    pub fn stop(self) -> Run {
        self.running.finish(None)
    }
}

/// The port in `run.py`'s announcement line, once it has been printed in full.
fn announced_port(stderr: &str) -> Option<u16> {
    let start = stderr.find(LISTENING)? + LISTENING.len();
    let line = stderr.get(start..)?;
    let line = line.get(..line.find('\n')?)?;
    line.rsplit(':').next()?.parse().ok()
}

/// Runs the tutorial client `name` in `dir` against 127.0.0.1:`port` with `input` as the typed
/// lines, for at most `timeout`.
pub fn run_client(name: &str, dir: &Path, port: u16, input: &[&str], timeout: Duration) -> Run {
    let port = port.to_string();
    let mut running = Running::spawn(command(name, dir, input, &[("SOCKLAB_PORT", &port)]), name);
    let status = running.wait_until(timeout);
    running.finish(status)
}
