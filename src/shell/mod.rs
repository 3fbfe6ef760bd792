//! The remote shell of lessons 07, 08 and 10: running a command safely, and what they share.
//!
//! This file runs a command through the system shell ([`run`]). Next to it:
//!
//! - [`answer`]: the server side, from a command's bytes to the bytes of its answer;
//! - [`terminal`]: the client side, printing an answer (`--encoding gbk`);
//! - [`safety`]: `--allow-remote`, `--cmd-timeout` and `--max-output`, the rules every
//!   remote-shell server follows.
//!
//! ## Running a command
//!
//! The tutorials do `subprocess.Popen(cmd, shell=True, stdout=PIPE, stderr=PIPE)` and then
//! `res.stdout.read()` followed by `res.stderr.read()`. On a server that is three bugs waiting:
//!
//! - a command that never ends (`sleep 1000`, `cat` waiting for input) blocks the server for ever;
//! - a command that prints without end (`yes`) fills the server's memory;
//! - reading stdout to its end before looking at stderr deadlocks as soon as the command writes
//!   more to stderr than the pipe holds (64 KiB on Linux): the command waits for someone to read
//!   stderr, the server waits for stdout to end.
//!
//! [`run`] fixes all three: each command gets a time limit and an output cap ([`Limits`]), and
//! stdout and stderr are read as their bytes come, both at once (one `poll(2)` on the calling
//! thread on Unix, see `watch.rs`). The child's stdin is empty (`/dev/null`), so a command that
//! reads its input ends at once instead of waiting.
//!
//! On Unix the shell is `/bin/sh -c COMMAND`, started as the leader of a new process group. The
//! answer is ready when the *shell* has exited (a background job that keeps the pipes open does
//! not hold it), and then, or at the time limit, or at the cap, the whole group is killed
//! (`kill(-pgid, SIGKILL)`): `echo hi; sleep 100 &` answers `hi` at once and leaves no `sleep`
//! behind. The hole: a process that leaves the group with `setsid` is not reached. Closing it
//! would take `PR_SET_CHILD_SUBREAPER`, which is process-wide (every orphan of every thread's
//! children would come back to the server to be told apart and reaped); socklab leaves it open
//! and says so. On Windows it is `cmd /C COMMAND`, and the tree is ended with `taskkill /T /F`
//! (untested: socklab is developed on Unix).

use std::io;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

pub mod answer;
#[cfg(not(unix))]
#[path = "threads.rs"]
mod platform;
#[cfg(unix)]
#[path = "watch.rs"]
mod platform;
pub mod safety;
pub mod terminal;

/// Default `--cmd-timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `--max-output`: 16 MiB.
pub const DEFAULT_MAX_OUTPUT: usize = 16 * 1024 * 1024;

/// How long a command may run and how much it may print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time limit. At the limit the command and its children are killed.
    pub timeout: Duration,
    /// Most bytes kept of stdout and stderr together (stdout first). As soon as the command
    /// is known to have printed more, it is killed: the answer is cut anyway, and a command like
    /// `yes` would otherwise run until the time limit for nothing.
    pub max_output: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: DEFAULT_TIMEOUT,
            max_output: DEFAULT_MAX_OUTPUT,
        }
    }
}

/// What a command printed and how it ended.
#[derive(Debug, Default)]
pub struct CommandOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// How the shell ended; `None` only if it could not be waited for.
    pub status: Option<ExitStatus>,
    /// The time limit was reached and the command was killed.
    pub timed_out: bool,
    /// The command printed more than `max_output` bytes; what is here is the beginning.
    pub truncated: bool,
}

impl CommandOutput {
    /// The exit code, when the shell exited by itself (not killed by a signal).
    pub fn exit_code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }

    /// Bytes of output kept (stdout and stderr together).
    pub fn len(&self) -> usize {
        self.stdout.len() + self.stderr.len()
    }

    pub fn is_empty(&self) -> bool {
        self.stdout.is_empty() && self.stderr.is_empty()
    }

    /// stdout then stderr, as the tutorials send them.
    pub fn combined(&self) -> Vec<u8> {
        let mut all = Vec::with_capacity(self.len());
        all.extend_from_slice(&self.stdout);
        all.extend_from_slice(&self.stderr);
        all
    }

    /// One line for a server log: how it ended and how much it printed.
    pub fn summary(&self) -> String {
        let ended = if self.timed_out {
            "killed at the time limit".to_string()
        } else if self.truncated {
            "killed: output over the cap".to_string()
        } else {
            match self.exit_code() {
                Some(code) => format!("exit code {code}"),
                None => "ended by a signal".to_string(),
            }
        };
        format!(
            "{ended}, {} bytes on stdout, {} on stderr{}",
            self.stdout.len(),
            self.stderr.len(),
            if self.truncated { " (cut)" } else { "" }
        )
    }
}

/// A command could not be run at all.
#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    #[error("could not start the shell: {0}")]
    Spawn(io::Error),
    #[error("could not watch the command: {0}")]
    Wait(io::Error),
}

/// Runs `command` through the system shell within `limits` and returns what it printed.
///
/// Returns when the shell has exited (with what was in its pipes by then, background children's
/// output included), or when it was killed at the time limit or the output cap. Either way its
/// whole process group is killed before this returns: nothing the command started is left
/// running (except a process that left the group with `setsid`, see the module doc).
pub fn run(command: &str, limits: &Limits) -> Result<CommandOutput, ShellError> {
    run_in_group(shell_command(command), &[], limits)
}

/// Runs `program` (a [`Command`] with its arguments and environment set) the way [`run`] runs a
/// shell: in a process group of its own, with the same time limit, output cap and kill. Its
/// standard input is `input`, then the end of the input. The exercise checkers run a student's
/// program with this.
pub fn run_program(
    program: Command,
    input: &[u8],
    limits: &Limits,
) -> Result<CommandOutput, ShellError> {
    #[cfg(unix)]
    let program = {
        use std::os::unix::process::CommandExt;
        let mut program = program;
        program.process_group(0);
        program
    };
    run_in_group(program, input, limits)
}

/// [`run`] and [`run_program`]: start, feed `input`, capture, watch, kill.
fn run_in_group(
    mut program: Command,
    input: &[u8],
    limits: &Limits,
) -> Result<CommandOutput, ShellError> {
    let mut child = program
        .stdin(if input.is_empty() {
            Stdio::null()
        } else {
            Stdio::piped()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(ShellError::Spawn)?;
    if let Some(mut stdin) = child.stdin.take() {
        // On a thread of its own: a program that does not read its input must not block us. It
        // ends with the pipe's end (the program then sees the end of its input) or with a
        // broken pipe when the program exits first; neither is our error. If the thread cannot
        // start, the pipe is dropped with it and the program sees an empty input.
        let input = input.to_vec();
        let _ = std::thread::Builder::new()
            .name("program input".into())
            .spawn(move || {
                let _ = std::io::Write::write_all(&mut stdin, &input);
            });
    }
    let watched = platform::watch(&mut child, limits).map_err(ShellError::Wait)?;
    let mut output = CommandOutput {
        stdout: watched.stdout,
        stderr: watched.stderr,
        status: watched.status,
        timed_out: watched.timed_out,
        truncated: watched.overflowed,
    };
    // Each stream kept up to the cap on its own; together they may still be over it. stdout
    // comes first in the answer, so stderr gives way.
    let room = limits.max_output.saturating_sub(output.stdout.len());
    if output.stderr.len() > room {
        output.stderr.truncate(room);
        output.truncated = true;
    }
    Ok(output)
}

/// How the watch of a command ended, and what it printed (each stream up to the cap).
#[derive(Default)]
struct Watched {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    status: Option<ExitStatus>,
    timed_out: bool,
    overflowed: bool,
}

/// `sh -c COMMAND` in its own process group.
#[cfg(unix)]
fn shell_command(command: &str) -> Command {
    use std::os::unix::process::CommandExt;
    // An absolute path, as Python's shell=True uses: no PATH search, and with nothing set that
    // needs code to run in the child between fork and exec (`pre_exec`), the standard library
    // can start it with posix_spawn (a vfork-like clone) instead of fork + exec.
    let mut shell = Command::new("/bin/sh");
    shell.arg("-c").arg(command);
    // Group id = the shell's pid: everything the shell starts inherits it, so one kill(-pgid)
    // reaches them all. (process_group is one of the settings posix_spawn can apply itself.)
    shell.process_group(0);
    shell
}

/// `cmd /C COMMAND`. The command goes to cmd.exe as typed: cmd does not follow the quoting rules
/// `Command::arg` applies, so it is passed raw.
#[cfg(windows)]
fn shell_command(command: &str) -> Command {
    use std::os::windows::process::CommandExt;
    let mut shell = Command::new("cmd");
    shell.arg("/C").raw_arg(command);
    shell
}

/// Shows a duration the way a person writes it: `10 s`, `0.5 s`.
pub fn seconds(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} s", d.as_secs_f64())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::thread;
    use std::time::Instant;

    fn limits(timeout_ms: u64, max_output: usize) -> Limits {
        Limits {
            timeout: Duration::from_millis(timeout_ms),
            max_output,
        }
    }

    #[test]
    fn captures_stdout_and_stderr_separately() {
        let out = run("echo out; echo err >&2; exit 3", &Limits::default()).unwrap();
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
        assert_eq!(out.exit_code(), Some(3));
        assert!(!out.timed_out && !out.truncated);
    }

    #[test]
    fn empty_output_is_empty() {
        let out = run("true", &Limits::default()).unwrap();
        assert!(out.is_empty());
        assert_eq!(out.exit_code(), Some(0));
    }

    #[test]
    fn stdin_is_empty_so_cat_ends() {
        let out = run("cat", &limits(5000, 1024)).unwrap();
        assert!(out.is_empty());
        assert!(!out.timed_out);
    }

    #[test]
    fn a_command_that_never_ends_is_killed_at_the_limit() {
        let started = Instant::now();
        let out = run("sleep 30", &limits(300, 1024)).unwrap();
        assert!(out.timed_out);
        assert_eq!(out.exit_code(), None, "killed by a signal");
        // Not a speed test: it shows the 30 s sleep was not waited for.
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn the_children_are_killed_too() {
        // The shell starts a background sleep, prints its pid and waits for it.
        let started = Instant::now();
        let out = run("sleep 30 & echo $!; wait", &limits(300, 1024)).unwrap();
        assert!(out.timed_out);
        // Had the grandchild survived it would hold stdout open for 30 s.
        assert!(started.elapsed() < Duration::from_secs(10));
        let pid: i32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        assert!(is_dead(pid), "the background sleep {pid} is still running");
    }

    #[test]
    fn the_answer_comes_when_the_shell_exits_and_background_children_are_killed() {
        // The background sleep keeps the pipes open; the answer must not wait for it.
        let started = Instant::now();
        let out = run("echo hi; sleep 100 & echo $!", &limits(20_000, 1024)).unwrap();
        assert!(!out.timed_out, "{}", out.summary());
        assert_eq!(out.exit_code(), Some(0));
        // Not a speed test: far below the 20 s limit shows the pipes were not waited for.
        assert!(started.elapsed() < Duration::from_secs(10));
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("hi"));
        let pid: i32 = lines.next().unwrap().parse().unwrap();
        assert!(is_dead(pid), "the background sleep {pid} is still running");

        // Silent background work (`yes >/dev/null &`) is killed just the same.
        let out = run("yes >/dev/null & echo $!", &Limits::default()).unwrap();
        let pid: i32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        assert!(is_dead(pid), "the background yes {pid} is still running");
    }

    #[test]
    fn what_background_children_wrote_before_the_shell_ended_is_kept() {
        let out = run(
            "(echo from the child) & wait; echo done",
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(out.stdout, b"from the child\ndone\n");
    }

    /// Dead, or a zombie waiting for its new parent to reap it (killed all the same).
    fn is_dead(pid: i32) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            // SAFETY: kill with signal 0 only checks that the process exists.
            let exists = unsafe { libc::kill(pid, 0) } == 0;
            let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| {
                    s.rsplit(')')
                        .next()
                        .unwrap_or("")
                        .trim_start()
                        .starts_with('Z')
                })
                .unwrap_or(false);
            if !exists || zombie {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn output_over_the_cap_is_cut_and_the_command_killed() {
        let out = run("seq 1 100000", &limits(10_000, 1000)).unwrap();
        assert!(out.truncated);
        let expected: String = (1..=100000).map(|i| format!("{i}\n")).collect();
        assert_eq!(out.stdout, expected.as_bytes()[..1000]);

        // `yes` never ends by itself: the cap, not the 10 s limit, must stop it.
        let started = Instant::now();
        let out = run("yes", &limits(10_000, 4096)).unwrap();
        assert!(out.truncated && !out.timed_out);
        assert_eq!(out.stdout.len(), 4096);
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn the_cap_counts_stdout_and_stderr_together() {
        let out = run(
            "printf 0123456789; printf abcdefghij >&2",
            &limits(5000, 15),
        )
        .unwrap();
        assert_eq!(out.stdout, b"0123456789");
        assert_eq!(out.stderr, b"abcde");
        assert!(out.truncated);
        assert_eq!(out.combined(), b"0123456789abcde");
    }

    #[test]
    fn a_full_stderr_pipe_does_not_deadlock() {
        // 200 KB on stderr, more than a pipe holds, then stdout.
        let out = run("seq 1 40000 >&2; echo done", &Limits::default()).unwrap();
        assert_eq!(out.stdout, b"done\n");
        assert!(out.stderr.len() > 200_000);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(seconds(Duration::from_secs(10)), "10 s");
        assert_eq!(seconds(Duration::from_millis(500)), "0.5 s");
    }
}
