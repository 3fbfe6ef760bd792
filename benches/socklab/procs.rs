//! Starting the programs under test, finding their port, measuring them, and stopping them.

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// How long a server may take to print its `listening on` line.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A lesson binary built by `cargo bench` (release profile).
pub fn lesson(name: &str) -> PathBuf {
    let path = match name {
        "03-echo-reconnect" => env!("CARGO_BIN_EXE_03-echo-reconnect"),
        "10-remote-cmd-framed" => env!("CARGO_BIN_EXE_10-remote-cmd-framed"),
        "11-threaded-echo" => env!("CARGO_BIN_EXE_11-threaded-echo"),
        "13-file-upload" => env!("CARGO_BIN_EXE_13-file-upload"),
        _ => env!("CARGO_BIN_EXE_14-ftp"),
    };
    PathBuf::from(path)
}

/// The interpreter `python3` runs, if the machine has one: the path Python itself reports
/// (`sys.executable`), not `python3`, because `python3` on the `PATH` can be a wrapper script
/// (pyenv's shim takes 0.1 s to start the real interpreter, which the file rows would time as
/// Python's). The outside harness starts Python the same way.
pub fn python3() -> Option<PathBuf> {
    let output = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let path = String::from_utf8(output.stdout).ok()?;
    let path = PathBuf::from(path.trim());
    (output.status.success() && path.is_absolute()).then_some(path)
}

/// One line naming the machine: CPU model, cores, kernel.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{model}, {cores} cores, Linux {}", kernel.trim())
}

/// A server process, killed when dropped. Its stdout goes to a file, where its log can be read.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

impl Server {
    /// Starts `command` with stdout to `log` and waits for its `listening on HOST:PORT` line.
    pub fn start(mut command: Command, log: &Path) -> anyhow::Result<Server> {
        let out = File::create(log)?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {command:?}"))?;
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log: log.to_path_buf(),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            if let Some(addr) = text.lines().find_map(listening_addr) {
                server.addr = addr;
                return Ok(server);
            }
            if let Some(status) = server.child.try_wait()? {
                bail!("{command:?} exited ({status}) before listening");
            }
            if Instant::now() > deadline {
                bail!("{command:?} did not say `listening on` within {START_TIMEOUT:?}");
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the server, in KiB (`VmRSS` of /proc/PID/status).
    pub fn rss_kib(&self) -> anyhow::Result<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .context("no VmRSS in /proc/PID/status")
    }

    /// Open file descriptors of the server.
    pub fn fds(&self) -> anyhow::Result<usize> {
        Ok(std::fs::read_dir(format!("/proc/{}/fd", self.pid()))?.count())
    }

    /// Lines of its log containing `needle`.
    pub fn log_lines_with(&self, needle: &str) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(needle))
            .count()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `listening on 127.0.0.1:9011` -> the address.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    line.split_whitespace()
        .skip_while(|w| *w != "on")
        .nth(1)?
        .trim_end_matches([',', '.'])
        .parse()
        .ok()
}

/// Runs `command` to its end (killed after `limit`), with `input` on its stdin, stdout
/// discarded and stderr shown only if it fails; returns how long it took.
pub fn time_command(
    mut command: Command,
    input: Option<&str>,
    limit: Duration,
) -> anyhow::Result<Duration> {
    let began = Instant::now();
    let mut child = command
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {command:?}"))?;
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        std::io::Write::write_all(&mut stdin, input.as_bytes())?;
    }
    loop {
        if let Some(status) = child.try_wait()? {
            let took = began.elapsed();
            if !status.success() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                bail!("{command:?} failed ({status}): {}", err.trim());
            }
            return Ok(took);
        }
        if began.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{command:?} took more than {limit:?}");
        }
        thread::sleep(Duration::from_micros(500));
    }
}

/// Runs `command` to its end (killed after `limit`) and returns what it printed on stdout, which
/// must be short (it is read after the end, so a full pipe would stall the program).
pub fn short_output(mut command: Command, limit: Duration) -> anyhow::Result<String> {
    let began = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {command:?}"))?;
    loop {
        if let Some(status) = child.try_wait()? {
            if !status.success() {
                bail!("{command:?} failed ({status})");
            }
            let mut out = String::new();
            if let Some(mut stdout) = child.stdout.take() {
                std::io::Read::read_to_string(&mut stdout, &mut out)?;
            }
            return Ok(out);
        }
        if began.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{command:?} took more than {limit:?}");
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// CPU time (user + system) of this process's children that have ended and been waited for,
/// their own waited-for children included (`getrusage(RUSAGE_CHILDREN)`). The difference
/// across a command is what that command and everything it started cost, whatever else ran on
/// the machine meanwhile: a measure that a busy machine disturbs far less than wall time.
#[cfg(unix)]
pub fn children_cpu() -> Option<Duration> {
    rusage(libc::RUSAGE_CHILDREN)
}

/// CPU time (user + system) of this process so far, all its threads (`RUSAGE_SELF`).
#[cfg(unix)]
pub fn own_cpu() -> Option<Duration> {
    rusage(libc::RUSAGE_SELF)
}

#[cfg(unix)]
fn rusage(who: libc::c_int) -> Option<Duration> {
    // SAFETY: a zeroed rusage is a valid value of this plain C struct, which getrusage fills in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes only into `usage`, which lives across the call.
    if unsafe { libc::getrusage(who, &mut usage) } != 0 {
        return None;
    }
    let micros = |t: libc::timeval| -> Option<u64> {
        Some(u64::try_from(t.tv_sec).ok()? * 1_000_000 + u64::try_from(t.tv_usec).ok()?)
    };
    Some(Duration::from_micros(
        micros(usage.ru_utime)? + micros(usage.ru_stime)?,
    ))
}

/// Windows: not measured (the rows say so).
#[cfg(not(unix))]
pub fn children_cpu() -> Option<Duration> {
    None
}

#[cfg(not(unix))]
pub fn own_cpu() -> Option<Duration> {
    None
}

/// CPU time a running process has used so far, its waited-for children included (`utime`,
/// `stime`, `cutime`, `cstime` of /proc/PID/stat, in clock ticks of 10 ms). `None` where there
/// is no /proc.
pub fn process_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name, in parentheses, may hold spaces: the fields start after the last `)`.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields
        .get(11..15)?
        .iter()
        .map(|f| f.parse::<u64>().ok())
        .sum::<Option<u64>>()?;
    Some(Duration::from_secs_f64(ticks as f64 / clock_ticks()))
}

/// Clock ticks per second of /proc's times (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
#[cfg(unix)]
fn clock_ticks() -> f64 {
    // SAFETY: sysconf takes an integer and reads nothing of ours.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

#[cfg(not(unix))]
fn clock_ticks() -> f64 {
    100.0
}
