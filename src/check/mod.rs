//! Exercise checkers: `NN-name check server HOST:PORT` and `NN-name check client -- COMMAND ...`.
//!
//! A student's program that works on loopback with one short message often breaks on a real
//! network, where writes arrive cut into pieces, several messages arrive at once, and clients
//! vanish. A checker plays the other side of a lesson's protocol the way a real network and real
//! peers do, and says point by point what held and what did not:
//!
//! - `check server HOST:PORT` plays a demanding client against the student's running server;
//! - `check client -- COMMAND ARGS...` starts a demanding server on a free port and runs the
//!   student's client against it, once per point. `{host}` and `{port}` in the arguments are
//!   replaced by the address, and the environment holds `SOCKLAB_HOST` and `SOCKLAB_PORT`, so a
//!   beginner's script can use either (`python3 client.py {port}`, or
//!   `int(os.environ['SOCKLAB_PORT'])`). The client's lines of input come on its standard input,
//!   as the tutorials' `input('>>: ')` expects, and its standard output is what it answered.
//!
//! Output: one line per point, `PASS` or `FAIL`, with what was sent, what came back and, on a
//! failure, the walkthrough section that explains it; then `N passed, M failed`. The exit status
//! is 0 only when every point passed. `--json` prints the same as one JSON object, for a teacher
//! collecting results. Random cuts come from a seed that is printed on every run; `--seed N`
//! replays exactly the same cuts.
//!
//! Every wait has a deadline (a program that hangs is a failure, not a hang of the checker) and
//! every program started is killed, with everything it started, when its time is up.
//!
//! This file holds the machinery; each lesson's points are in a small file of their own.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::cli;
use crate::escape::preview;
use crate::net;
use crate::progress;
use crate::shell::{self, Limits};
use crate::units;

pub mod auth;
pub mod echo;
pub mod file_upload;
pub mod ftp;
pub mod remote_cmd_framed;
pub mod standard_ftp;
pub mod sticky;
pub mod threaded_echo;
pub mod transcript;
pub mod udp_echo;
pub mod udp_time;

/// The `check` subcommand of a lesson binary. `T` is the sides the lesson can check
/// ([`Target`], [`ServerOnly`] or [`ClientOnly`]), so that `--help` offers only those.
#[derive(Debug, clap::Args)]
pub struct CheckArgs<T: clap::Subcommand = Target> {
    #[command(subcommand)]
    pub target: T,
    /// Seed for the random cuts. Every run prints the seed it used; give it again to get the
    /// very same cuts while you debug.
    #[arg(long, global = true)]
    pub seed: Option<u64>,
    /// Run only the point of this name (with --seed: replay one failure exactly).
    #[arg(long, global = true, value_name = "NAME")]
    pub point: Option<String>,
    /// Print the results as one JSON object (for a teacher collecting a class's results).
    #[arg(long, global = true)]
    pub json: bool,
    /// How long one point may take before it counts as a failure (your program hangs).
    #[arg(long, global = true, default_value = "10", value_parser = units::parse_timeout)]
    pub timeout: Duration,
}

/// What to check.
#[derive(Debug, clap::Subcommand)]
pub enum Target {
    /// Play a demanding client against your server, which must already be running.
    Server {
        /// Where your server listens, HOST:PORT (for example 127.0.0.1:9009).
        address: String,
    },
    /// Start a demanding server on a free port and run your client (COMMAND ARGS..., after `--`)
    /// once per point. `{host}` and `{port}` in the arguments are replaced; SOCKLAB_HOST and
    /// SOCKLAB_PORT are set. Its input lines come on standard input.
    Client {
        /// Your client, for example: -- python3 client.py {port}
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
}

/// What to check, for a lesson that checks only servers.
#[derive(Debug, clap::Subcommand)]
pub enum ServerOnly {
    /// Play a demanding client against your server, which must already be running.
    Server {
        /// Where your server listens, HOST:PORT (for example 127.0.0.1:9011).
        address: String,
    },
}

/// What to check, for a lesson that checks only clients.
#[derive(Debug, clap::Subcommand)]
pub enum ClientOnly {
    /// Start a demanding server on a free port and run your client (COMMAND ARGS..., after `--`)
    /// once per point. `{host}` and `{port}` in the arguments are replaced; SOCKLAB_HOST and
    /// SOCKLAB_PORT are set. Its input lines come on standard input.
    Client {
        /// Your client, for example: -- python3 client.py {port}
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
}

impl From<ServerOnly> for Target {
    fn from(target: ServerOnly) -> Target {
        let ServerOnly::Server { address } = target;
        Target::Server { address }
    }
}

impl From<ClientOnly> for Target {
    fn from(target: ClientOnly) -> Target {
        let ClientOnly::Client { command } = target;
        Target::Client { command }
    }
}

/// One lesson's checkers: which sides it can check, and how.
pub struct Lesson {
    /// The binary, as the output names it: `09-sticky`.
    pub binary: &'static str,
    /// Checks a student's server at an address.
    pub server: Option<fn(&mut Checker, SocketAddr)>,
    /// Checks a student's client.
    pub client: Option<fn(&mut Checker, &StudentClient)>,
}

/// Settings of one checker run.
#[derive(Debug, Clone)]
pub struct Options {
    pub seed: u64,
    /// The time one point may take.
    pub timeout: Duration,
    /// Stop at the first failure (the tests, which run a naive program for many seeds).
    pub fail_fast: bool,
    /// Print each point as it is decided (the command line; the tests stay quiet).
    pub print: bool,
    /// Run only the point of this name (`--point`; the tests, which run one point for many
    /// seeds).
    pub only: Option<String>,
    /// The command line that started the check (without `--seed`, `--point`, `--json`), from
    /// which a failed point's replay command is made; `None` in the tests.
    pub command_line: Option<Vec<String>>,
}

impl Options {
    pub fn quiet(seed: u64) -> Options {
        Options {
            seed,
            timeout: Duration::from_secs(10),
            fail_fast: false,
            print: false,
            only: None,
            command_line: None,
        }
    }
}

/// Runs the `check` subcommand of `lesson`.
pub fn run<T: clap::Subcommand + Into<Target>>(
    lesson: &Lesson,
    args: CheckArgs<T>,
) -> anyhow::Result<()> {
    let options = Options {
        seed: args.seed.unwrap_or_else(rand::random),
        timeout: args.timeout,
        fail_fast: false,
        print: !args.json,
        only: args.point,
        command_line: Some(command_line()),
    };
    let report = match args.target.into() {
        Target::Server { address } => {
            let addr = resolve_one(&address)?;
            check_server(lesson, addr, &options)?
        }
        Target::Client { command } => check_client(lesson, StudentClient::new(command)?, &options)?,
    };
    record_progress(&report, &options);
    finish(&report, args.json)
}

/// Runs a server check whose points need more than an address (lesson 14's account): the
/// lesson's own `check` arguments, parsed by itself, and `check` for its points.
pub fn run_server_with(
    lesson: &Lesson,
    address: &str,
    seed: Option<u64>,
    json: bool,
    timeout: Duration,
    check: impl FnOnce(&mut Checker, SocketAddr),
) -> anyhow::Result<()> {
    run_server_with_point(lesson, address, seed, None, json, timeout, check)
}

/// [`run_server_with`], running only the point named `point` when given (`--point`, the
/// replay of one failure).
pub fn run_server_with_point(
    lesson: &Lesson,
    address: &str,
    seed: Option<u64>,
    point: Option<String>,
    json: bool,
    timeout: Duration,
    check: impl FnOnce(&mut Checker, SocketAddr),
) -> anyhow::Result<()> {
    let options = Options {
        seed: seed.unwrap_or_else(rand::random),
        timeout,
        fail_fast: false,
        print: !json,
        only: point,
        command_line: Some(command_line()),
    };
    let addr = resolve_one(address)?;
    let report = check_server_with(lesson, addr, &options, check)?;
    record_progress(&report, &options);
    finish(&report, json)
}

/// Writes the outcome of a full run into the progress file of the current folder, which
/// `00-tour exercises` reads. A `--point` replay, or a check that could not run, is not
/// recorded; a folder where the file cannot be written costs only the status.
fn record_progress(report: &Report, options: &Options) {
    if options.only.is_some() || report.error.is_some() || report.points.is_empty() {
        return;
    }
    let Some(line) = options.command_line.as_deref() else {
        return;
    };
    let failure = report.first_failure();
    let outcome = progress::Outcome {
        passed: report.failed() == 0,
        points: format!("{}/{}", report.passed(), report.points.len()),
        first_failure: failure.map(|p| p.name.clone()),
        hint: failure.map(|p| p.hint.clone()),
        seed: report.seed,
        when: progress::now(),
        ever_passed: false,
    };
    let _ = progress::record_here(&exercise_key(line, report.side), outcome);
}

/// The exercise a command line checks, as `00-tour exercises` names it: the binary, the flags
/// between `check` and the side (`--framing length`), the side.
fn exercise_key(command_line: &[String], side: &str) -> String {
    let mut words = vec![command_line.first().cloned().unwrap_or_default()];
    let after_check = command_line
        .iter()
        .skip_while(|w| *w != "check")
        .skip(1)
        .take_while(|w| *w != "server" && *w != "client");
    let mut skip_value = false;
    for word in after_check {
        if skip_value {
            skip_value = false;
        } else if word == "--timeout" {
            skip_value = true;
        } else if !word.starts_with("--timeout=") {
            words.push(word.clone());
        }
    }
    words.push(side.to_string());
    words.join(" ")
}

/// Prints the last line (or the JSON) and turns the outcome into the exit status: 0 when every
/// point passed, 1 when one failed, 2 when the check could not run (nothing listens).
fn finish(report: &Report, json: bool) -> anyhow::Result<()> {
    if json {
        cli::print_line(report.to_json())?;
    } else if let Some(error) = &report.error {
        // One line, on stderr like every other error of the binaries.
        let _ = writeln!(io::stderr().lock(), "error: {error}");
    } else {
        cli::print_line(report.summary())?;
    }
    let status = match (&report.error, report.failed()) {
        (Some(_), _) => 2,
        (None, 0) => return Ok(()),
        (None, _) => 1,
    };
    Err(cli::Reported { status }.into())
}

/// Checks the server at `addr` with `check` as the lesson's points and returns the report.
pub fn check_server_with(
    lesson: &Lesson,
    addr: SocketAddr,
    options: &Options,
    check: impl FnOnce(&mut Checker, SocketAddr),
) -> Result<Report, CheckError> {
    let mut checker = Checker::new(lesson, "server", options)?;
    check(&mut checker, addr);
    Ok(checker.into_report())
}

/// Checks the server at `addr` and returns the report.
pub fn check_server(
    lesson: &Lesson,
    addr: SocketAddr,
    options: &Options,
) -> Result<Report, CheckError> {
    let check = lesson.server.ok_or(CheckError::NoSuchCheck {
        binary: lesson.binary,
        side: "server",
        other: "client -- COMMAND",
    })?;
    check_server_with(lesson, addr, options, check)
}

/// Checks the client `student` and returns the report.
pub fn check_client(
    lesson: &Lesson,
    student: StudentClient,
    options: &Options,
) -> Result<Report, CheckError> {
    let check = lesson.client.ok_or(CheckError::NoSuchCheck {
        binary: lesson.binary,
        side: "client",
        other: "server HOST:PORT",
    })?;
    let mut checker = Checker::new(lesson, "client", options)?;
    check(&mut checker, &student);
    Ok(checker.into_report())
}

/// What stops a check before its first point.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("{binary} has no checker for a {side}; try `{binary} check {other}`")]
    NoSuchCheck {
        binary: &'static str,
        side: &'static str,
        other: &'static str,
    },
    #[error("no command given: put your client after `--`, e.g. `-- python3 client.py {{port}}`")]
    NoCommand,
    #[error("could not print the report: {0}")]
    Print(String),
    #[error(transparent)]
    Net(#[from] net::NetError),
}

/// This program's command line, its name without the folder, and without the options that
/// [`replay_command`] sets (`--seed`, `--point`) or that do not matter to a replay (`--json`).
/// What follows `--` (a student's client and its arguments) is kept as it is.
fn command_line() -> Vec<String> {
    let mut args = std::env::args();
    let program = args
        .next()
        .map(|p| {
            std::path::Path::new(&p)
                .file_name()
                .map_or(p.clone(), |n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    let mut kept = vec![program];
    let mut after_dashes = false;
    let mut skip_value = false;
    for arg in args {
        if after_dashes {
            kept.push(arg);
        } else if skip_value {
            skip_value = false;
        } else if arg == "--" {
            after_dashes = true;
            kept.push(arg);
        } else if arg == "--seed" || arg == "--point" {
            skip_value = true;
        } else if !(arg == "--json" || arg.starts_with("--seed=") || arg.starts_with("--point=")) {
            kept.push(arg);
        }
    }
    kept
}

/// The command that replays exactly one point: `command_line` with `--seed SEED --point NAME`
/// after its `check`, every word quoted for a POSIX shell where it needs to be.
pub fn replay_command(command_line: &[String], seed: u64, point: &str) -> String {
    let at = command_line
        .iter()
        .position(|a| a == "check")
        .map_or(command_line.len(), |i| i + 1);
    let (before, after) = command_line.split_at(at);
    let seed = seed.to_string();
    let inserted = ["--seed", seed.as_str(), "--point", point];
    before
        .iter()
        .map(String::as_str)
        .chain(inserted)
        .chain(after.iter().map(String::as_str))
        .map(shell_word)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `word` as a POSIX shell reads it back: as it is when it is plain, else in single quotes.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+{}%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

fn resolve_one(address: &str) -> anyhow::Result<SocketAddr> {
    let (host, port) = address.rsplit_once(':').ok_or_else(|| {
        anyhow::anyhow!("give the server's address as HOST:PORT, not {address:?}")
    })?;
    let port: u16 = port
        .parse()
        .map_err(|_| anyhow::anyhow!("{port:?} is not a port number (in {address:?})"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs = net::resolve(host, port)?;
    addrs
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("{address} resolves to no address"))
}

// ---------------------------------------------------------------------------------------------
// The report

/// One point of a check and how it went.
#[derive(Debug, Clone)]
pub struct Point {
    pub name: String,
    pub passed: bool,
    /// What the checker sent, in a few words.
    pub sent: String,
    /// What came back, in a few words.
    pub got: String,
    /// Where the walkthrough explains this point (shown on a failure).
    pub hint: String,
    /// On a failure: the conversation of the point, step by step (see [`transcript`]).
    pub steps: Vec<String>,
    /// On a failure: the command that replays exactly this point.
    pub replay: Option<String>,
}

impl Point {
    /// The one line of the point: `PASS name: sent ...; got ...` (and the hint on a failure).
    pub fn line(&self) -> String {
        let verdict = if self.passed { "PASS" } else { "FAIL" };
        let mut line = format!(
            "{verdict} {}: sent {}; got {}",
            self.name, self.sent, self.got
        );
        if !self.passed {
            line.push_str(&format!("; hint: {}", self.hint));
        }
        line
    }

    /// What a failure shows under its line: the steps, then the replay command.
    pub fn details(&self) -> String {
        let mut text = String::new();
        if !self.steps.is_empty() {
            text.push_str("  the point's steps, up to the failure:\n");
            for (i, step) in self.steps.iter().enumerate() {
                text.push_str(&format!("    {}. {step}\n", i + 1));
            }
        }
        if let Some(replay) = &self.replay {
            text.push_str(&format!("  replay this point: {replay}\n"));
        }
        text
    }
}

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.line())?;
        if !self.passed {
            let details = self.details();
            if !details.is_empty() {
                write!(f, "\n{}", details.trim_end())?;
            }
        }
        Ok(())
    }
}

/// Everything a check found.
#[derive(Debug, Clone)]
pub struct Report {
    pub binary: &'static str,
    /// `server` or `client`: which side of the student's was checked.
    pub side: &'static str,
    pub seed: u64,
    pub points: Vec<Point>,
    /// Why the check could not run at all (nothing listens at the address, or `--point` names
    /// no point), if so.
    pub error: Option<String>,
}

impl Report {
    pub fn passed(&self) -> usize {
        self.points.iter().filter(|p| p.passed).count()
    }

    pub fn failed(&self) -> usize {
        self.points.len() - self.passed()
    }

    /// The first failed point, if any.
    pub fn first_failure(&self) -> Option<&Point> {
        self.points.iter().find(|p| !p.passed)
    }

    /// The last line: `N passed, M failed`.
    pub fn summary(&self) -> String {
        format!("{} passed, {} failed", self.passed(), self.failed())
    }

    /// The results as exercism's test runners give them (version 2: `status` pass, fail or
    /// error; `tests` in order, each with `name`, `status`, `message` and a capped `output`),
    /// with socklab's own fields beside them (`lesson`, `side`, `seed`, `passed`, `failed`).
    pub fn to_json(&self) -> serde_json::Value {
        let tests: Vec<_> = self
            .points
            .iter()
            .map(|p| {
                let mut test = json!({
                    "name": p.name,
                    "status": if p.passed { "pass" } else { "fail" },
                    "sent": p.sent,
                    "got": p.got,
                });
                if !p.passed {
                    test["message"] = json!(format!("got {}; hint: {}", p.got, p.hint));
                    test["output"] = json!(cap_chars(&p.details(), MAX_JSON_OUTPUT));
                    test["hint"] = json!(p.hint);
                    test["replay"] = json!(p.replay);
                }
                test
            })
            .collect();
        let status = match (&self.error, self.failed()) {
            (Some(_), _) => "error",
            (None, 0) if !self.points.is_empty() => "pass",
            _ => "fail",
        };
        let mut report = json!({
            "version": 2,
            "status": status,
            "lesson": self.binary,
            "side": self.side,
            "seed": self.seed,
            "passed": self.passed(),
            "failed": self.failed(),
            "tests": tests,
        });
        if let Some(error) = &self.error {
            report["message"] = json!(error);
        }
        report
    }
}

/// Most characters of a test's `output` in `--json` (exercism's runners cap it at 500).
const MAX_JSON_OUTPUT: usize = 500;

/// `text` cut to `max` characters, saying so.
fn cap_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(32)).collect();
    cut.push_str("… (cut; see the text run)");
    cut
}

/// What one point found: whether it held, what was sent and what came back.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub passed: bool,
    pub sent: String,
    pub got: String,
}

impl Verdict {
    pub fn pass(sent: impl Into<String>, got: impl Into<String>) -> Verdict {
        Verdict {
            passed: true,
            sent: sent.into(),
            got: got.into(),
        }
    }

    pub fn fail(sent: impl Into<String>, got: impl Into<String>) -> Verdict {
        Verdict {
            passed: false,
            sent: sent.into(),
            got: got.into(),
        }
    }

    /// Passes when `ok`.
    pub fn when(ok: bool, sent: impl Into<String>, got: impl Into<String>) -> Verdict {
        Verdict {
            passed: ok,
            sent: sent.into(),
            got: got.into(),
        }
    }
}

/// Runs a lesson's points one after another and collects the report.
pub struct Checker {
    pub report: Report,
    options: Options,
    stopped: bool,
    /// Points met so far, run or skipped.
    numbered: u64,
    /// The names of the points met so far, for a `--point` that names none of them.
    names: Vec<String>,
}

impl Checker {
    fn new(lesson: &Lesson, side: &'static str, options: &Options) -> Result<Checker, CheckError> {
        let checker = Checker {
            report: Report {
                binary: lesson.binary,
                side,
                seed: options.seed,
                points: Vec::new(),
                error: None,
            },
            options: options.clone(),
            stopped: false,
            numbered: 0,
            names: Vec::new(),
        };
        if options.print {
            cli::print_line(format!(
                "checking your {side} for {}, seed {} (replay these cuts with --seed {})",
                lesson.binary, options.seed, options.seed
            ))
            .map_err(|e| CheckError::Print(e.to_string()))?;
        }
        Ok(checker)
    }

    /// The report, saying so when `--point` named no point of the lesson.
    fn into_report(mut self) -> Report {
        if let Some(only) = &self.options.only {
            if self.report.points.is_empty() && self.report.error.is_none() {
                let names: Vec<String> = self.names.iter().map(|n| format!("'{n}'")).collect();
                self.report.error = Some(format!(
                    "no point named '{only}'; the points are: {}",
                    names.join(", ")
                ));
            }
        }
        self.report
    }

    /// Whether the point `name` runs (every point runs without `--point`): for a check made
    /// only when needed, such as a login that, when it fails, stops the rest.
    pub fn runs_point(&self, name: &str) -> bool {
        self.options.only.as_deref().is_none_or(|only| only == name)
    }

    /// The time one point may take.
    pub fn timeout(&self) -> Duration {
        self.options.timeout
    }

    /// Runs one point. `check` gets a random generator seeded from the run's seed and the
    /// point's number, so `--seed` replays each point's cuts exactly. `hint` names the
    /// walkthrough section that explains what the point tests.
    pub fn point(&mut self, name: &str, hint: &str, check: impl FnOnce(&mut StdRng) -> Verdict) {
        // Numbered whether it runs or not, so that a point gets the same cuts with `only`.
        let number = self.numbered;
        self.numbered += 1;
        self.names.push(name.to_string());
        if self.stopped
            || self
                .options
                .only
                .as_deref()
                .is_some_and(|only| only != name)
        {
            return;
        }
        let mut rng = StdRng::seed_from_u64(self.options.seed ^ (number.wrapping_mul(0x9E37_79B9)));
        REFUSED.with(|r| r.set(None));
        transcript::clear();
        let verdict = check(&mut rng);
        let steps = transcript::take();
        // The first point could not even connect: nothing listens. Say so once, not once per
        // point with hints that have nothing to do with it.
        if let Some((addr, at_connect)) = REFUSED.with(|r| r.take()) {
            // A UDP refusal may come from a server that the point's own datagram killed: only
            // the lesson's first point, a plain request, says that nothing listens.
            if !verdict.passed && self.report.points.is_empty() && (at_connect || number == 0) {
                self.report.error = Some(format!(
                    "nothing listens on {addr}: start your server first"
                ));
                self.stopped = true;
                return;
            }
            // It listened for the earlier points and has stopped since: every later point would
            // fail the same way, each with a hint about something else. Say it once and stop.
            if !verdict.passed && at_connect {
                let got = format!(
                    "could not connect: nothing listens on {addr} any more: your server stopped \
                     during or after the point before (look at its output: an exception such as \
                     ConnectionResetError?); the remaining points were not run"
                );
                self.record(name, Verdict::fail(verdict.sent, got), STOPPED_HINT, steps);
                self.stopped = true;
                return;
            }
        }
        self.record(name, verdict, hint, steps);
    }

    /// Adds a decided point to the report (and prints it).
    fn record(&mut self, name: &str, verdict: Verdict, hint: &str, steps: Vec<String>) {
        let replay = self
            .options
            .command_line
            .as_deref()
            .map(|line| replay_command(line, self.options.seed, name));
        let point = Point {
            name: name.to_string(),
            passed: verdict.passed,
            sent: verdict.sent,
            got: verdict.got,
            hint: format!("walkthrough.md, {hint}"),
            steps: if verdict.passed { Vec::new() } else { steps },
            replay: if verdict.passed { None } else { replay },
        };
        if self.options.print {
            // A closed stdout: the report goes on being collected; the exit status still says.
            let _ = cli::print_line(&point);
        }
        if !point.passed && self.options.fail_fast {
            self.stopped = true;
        }
        self.report.points.push(point);
    }
}

// ---------------------------------------------------------------------------------------------
// Writing the way a network delivers

/// The hint of a point that found the student's server gone.
const STOPPED_HINT: &str = "02-echo-loop and 03-echo-reconnect (a client that resets must not \
                            stop a server: catch ConnectionResetError for that one client)";

/// How a checker cuts what it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// One write.
    Whole,
    /// One byte per write, with a pause after each: the worst a network can do.
    OneByte,
    /// Seeded random sizes (1 to 64 bytes, more for long messages), with short random pauses.
    Random,
}

impl fmt::Display for Cut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cut::Whole => "one write",
            Cut::OneByte => "1-byte writes",
            Cut::Random => "random pieces",
        })
    }
}

/// The pause after each 1-byte write: long enough that the receiver's `recv` returns with only
/// that byte, short enough that a message of a few dozen bytes takes under a second.
pub const BYTE_PAUSE: Duration = Duration::from_millis(15);

/// Writes `bytes` to `conn` cut as `cut` says; returns the number of writes. `TCP_NODELAY` is
/// set so that each write leaves as a segment of its own, as the pieces of a real network would
/// arrive.
pub fn write_cut(
    conn: &mut TcpStream,
    bytes: &[u8],
    cut: Cut,
    rng: &mut StdRng,
) -> io::Result<usize> {
    conn.set_nodelay(true)?;
    if cut == Cut::Whole || bytes.is_empty() {
        conn.write_all(bytes).inspect_err(|e| {
            transcript::note(format!("sending {} bytes failed: {e}", bytes.len()));
        })?;
        transcript::sent(bytes, 1, &cut.to_string());
        return Ok(1);
    }
    let total = bytes.len();
    let mut rest = bytes;
    let mut writes = 0;
    while !rest.is_empty() {
        let (size, pause) = match cut {
            Cut::OneByte => (1, BYTE_PAUSE),
            _ => {
                // Small pieces for short messages, up to about 1/64 of a long one (so that a
                // 200 KB message is some hundred writes, not thousands); a pause now and then.
                let largest = (bytes.len() / 64).max(64);
                let pause = if rng.gen_ratio(1, 4) {
                    rng.gen_range(1..=3)
                } else {
                    0
                };
                (rng.gen_range(1..=largest), Duration::from_millis(pause))
            }
        };
        let (piece, after) = rest.split_at(size.min(rest.len()));
        conn.write_all(piece).inspect_err(|e| {
            let done = total - rest.len();
            transcript::sent(
                bytes.get(..done).unwrap_or_default(),
                writes,
                &cut.to_string(),
            );
            transcript::note(format!("sending failed after {done} of {total} bytes: {e}"));
        })?;
        writes += 1;
        rest = after;
        if cut == Cut::OneByte && writes == 1 {
            hold(conn);
        }
        if !pause.is_zero() {
            thread::sleep(pause);
        }
    }
    transcript::sent(bytes, writes, &cut.to_string());
    Ok(writes)
}

/// How long [`hold`] waits for the peer to act on a first byte.
pub const HOLD: Duration = Duration::from_secs(1);

/// After the first byte of a 1-byte cut: waits until the peer acts on it (sends something, or
/// closes) or [`HOLD`] has passed. A peer that takes one `recv` for a whole message acts at
/// once, on one byte, however loaded the machine is: the rest has not been sent yet. A correct
/// peer waits for the rest, and costs the checker this one pause.
fn hold(conn: &TcpStream) {
    let deadline = net::deadline_after(HOLD);
    let mut byte = [0u8; 1];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || conn.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match conn.peek(&mut byte) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // Data, the end of the stream, a reset or the time up: in every case, go on.
            _ => return,
        }
    }
}

/// `what` as it was cut: `"hello" in 5 writes`.
pub fn describe_cut(bytes: &[u8], writes: usize) -> String {
    format!(
        "{} ({} bytes in {writes} write{})",
        quoted(bytes),
        bytes.len(),
        if writes == 1 { "" } else { "s" }
    )
}

/// Bytes shown to a person, quoted and cut to a readable length.
pub fn quoted(bytes: &[u8]) -> String {
    format!("'{}'", preview(bytes, 48))
}

// ---------------------------------------------------------------------------------------------
// Reading with a deadline

/// A connection whose every read must finish before one instant (a deadline, not a per-read
/// timeout: a peer that sends a byte a second cannot stretch it).
///
/// Every read is recorded in the point's [`transcript`]: what came, the end of the stream, a
/// reset, or the time running out.
pub struct Timed<'a> {
    conn: &'a TcpStream,
    started: Instant,
    deadline: Instant,
}

impl<'a> Timed<'a> {
    pub fn new(conn: &'a TcpStream, timeout: Duration) -> Timed<'a> {
        Timed {
            conn,
            started: Instant::now(),
            deadline: net::deadline_after(timeout),
        }
    }

    fn timed_out(&self) -> io::Error {
        transcript::timed_out(self.started.elapsed());
        io::Error::new(io::ErrorKind::TimedOut, "no answer in time")
    }
}

impl Read for Timed<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.timed_out());
        }
        self.conn.set_read_timeout(Some(left))?;
        let mut conn = self.conn;
        match net::recv(&mut conn, buf) {
            Err(e) if net::is_timeout(&e) => Err(self.timed_out()),
            Ok(0) => {
                transcript::note("then your program closed the connection (end of stream)");
                Ok(0)
            }
            Ok(n) => {
                transcript::received(buf.get(..n).unwrap_or_default());
                Ok(n)
            }
            Err(e) => {
                transcript::note(match e.kind() {
                    io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
                        "then the connection was reset".to_string()
                    }
                    _ => format!("then reading failed: {e}"),
                });
                Err(e)
            }
        }
    }
}

/// How a read of the peer's bytes ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Got what was wanted.
    Complete,
    /// The peer closed the connection (end of stream).
    Closed,
    /// The peer reset the connection.
    Reset,
    /// Nothing more came before the deadline.
    TimedOut,
    Error(String),
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ending::Complete => write!(f, "complete"),
            Ending::Closed => write!(f, "then the connection closed"),
            Ending::Reset => write!(f, "then the connection was reset"),
            Ending::TimedOut => write!(f, "then nothing more before the time was up (--timeout)"),
            Ending::Error(e) => write!(f, "then error: {e}"),
        }
    }
}

fn ending_of(e: &io::Error) -> Ending {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Ending::TimedOut,
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => Ending::Reset,
        _ => Ending::Error(e.to_string()),
    }
}

/// Reads until exactly `n` bytes have come (or the connection ends, or the deadline passes),
/// returning what came and how it ended. `n` is chosen by the checker, never by the peer.
pub fn read_exactly(conn: &TcpStream, n: usize, timeout: Duration) -> (Vec<u8>, Ending) {
    let mut timed = Timed::new(conn, timeout);
    let mut got = Vec::with_capacity(n.min(1 << 20));
    let mut buf = [0u8; 8192];
    while got.len() < n {
        let want = (n - got.len()).min(buf.len());
        match timed.read(buf.get_mut(..want).unwrap_or_default()) {
            Ok(0) => return (got, Ending::Closed),
            Ok(k) => got.extend_from_slice(buf.get(..k).unwrap_or_default()),
            Err(e) => return (got, ending_of(&e)),
        }
    }
    (got, Ending::Complete)
}

/// Reads until `expected` has come, or the bytes stop matching it (then at once: no need to wait
/// for the rest of a wrong answer), or the connection ends, or the deadline passes.
pub fn read_expecting(conn: &TcpStream, expected: &[u8], timeout: Duration) -> (Vec<u8>, Ending) {
    let mut timed = Timed::new(conn, timeout);
    let mut got = Vec::with_capacity(expected.len().min(1 << 20));
    let mut buf = [0u8; 8192];
    while got.len() < expected.len() {
        let want = (expected.len() - got.len()).min(buf.len());
        match timed.read(buf.get_mut(..want).unwrap_or_default()) {
            Ok(0) => {
                transcript::difference(expected, &got);
                return (got, Ending::Closed);
            }
            Ok(k) => got.extend_from_slice(buf.get(..k).unwrap_or_default()),
            Err(e) => {
                transcript::difference(expected, &got);
                return (got, ending_of(&e));
            }
        }
        if !expected.starts_with(&got) {
            transcript::difference(expected, &got);
            return (got, Ending::Complete);
        }
    }
    (got, Ending::Complete)
}

/// How long [`extra_after`] waits for bytes beyond a complete answer.
pub const EXTRA_WAIT: Duration = Duration::from_millis(100);

/// After a complete answer: the bytes that follow within [`EXTRA_WAIT`] (an answer longer than
/// was due, such as tutorial 001's `data.upper() + b'sb'`, which arrives in the same segment),
/// recorded in the point's transcript. Nothing, when nothing follows.
pub fn extra_after(conn: &TcpStream) -> Vec<u8> {
    let mut buf = [0u8; 256];
    if conn.set_read_timeout(Some(EXTRA_WAIT)).is_err() {
        return Vec::new();
    }
    let mut reader = conn;
    match net::recv(&mut reader, &mut buf) {
        Ok(n) if n > 0 => {
            let extra = buf.get(..n).unwrap_or_default();
            transcript::received(extra);
            transcript::note("(more than the answer that was due)");
            extra.to_vec()
        }
        _ => Vec::new(),
    }
}

/// What a failed send says: a peer that closed or reset is named as such.
pub fn could_not_send(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::BrokenPipe
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted => format!(
            "could not send: your server closed the connection before the message was all sent \
             ({e}); did it stop? look at its output"
        ),
        _ => format!("could not send: {e}"),
    }
}

/// Reads until the peer closes the connection, keeping at most `max` bytes. `Complete` means
/// it closed; `TimedOut` that it was still open at the deadline.
pub fn read_to_close(conn: &TcpStream, max: usize, timeout: Duration) -> (Vec<u8>, Ending) {
    let mut timed = Timed::new(conn, timeout);
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match timed.read(&mut buf) {
            Ok(0) => return (got, Ending::Complete),
            Ok(k) => {
                let room = max.saturating_sub(got.len()).min(k);
                got.extend_from_slice(buf.get(..room).unwrap_or_default());
            }
            Err(e) => return (got, ending_of(&e)),
        }
    }
}

/// The address a connection to was refused during the current point (see [`Checker::point`]): a
/// point's closure maps errors to text, this keeps the fact. `true` when a TCP connect was
/// refused, `false` for a UDP "port unreachable". One per thread, since points (and tests) run
/// on threads of their own.
mod refused {
    // The initializer is `const` already; clippy's lint misfires on the Windows expansion of
    // `thread_local!` (built here with -Zbuild-std).
    #![allow(clippy::missing_const_for_thread_local)]

    use std::cell::Cell;
    use std::net::SocketAddr;

    thread_local! {
        pub(super) static REFUSED: Cell<Option<(SocketAddr, bool)>> = const { Cell::new(None) };
    }
}
use refused::REFUSED;

/// Notes that `addr` refused a TCP connection, when `e` says so.
fn note_refused_connect(addr: SocketAddr, e: &io::Error) {
    if e.kind() == io::ErrorKind::ConnectionRefused {
        REFUSED.with(|r| r.set(Some((addr, true))));
    }
}

/// Notes that `addr` answered a datagram with "port unreachable", when `e` says so.
pub fn note_refused_datagram(addr: SocketAddr, e: &io::Error) {
    if e.kind() == io::ErrorKind::ConnectionRefused {
        REFUSED.with(|r| r.set(Some((addr, false))));
    }
}

/// Connects to a student's server, with the usual connect timeout.
pub fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let conn = TcpStream::connect_timeout(&addr, net::CONNECT_TIMEOUT).inspect_err(|e| {
        note_refused_connect(addr, e);
    })?;
    conn.set_write_timeout(Some(net::CONNECT_TIMEOUT))?;
    transcript::connected(addr);
    Ok(conn)
}

/// Closes `conn` with a reset (RST) instead of a normal end: `SO_LINGER` 0, then close, what a
/// killed program or a pulled cable looks like to the server.
pub fn close_with_reset(conn: TcpStream) {
    let socket = socket2::Socket::from(conn);
    let _ = socket.set_linger(Some(Duration::ZERO));
    drop(socket);
}

// ---------------------------------------------------------------------------------------------
// Running a student's client

/// A student's client program: a command and its arguments, with `{host}` and `{port}` still in
/// them.
#[derive(Debug, Clone)]
pub struct StudentClient {
    command: Vec<String>,
    /// Where it runs; the checker's own working directory when `None`.
    dir: Option<std::path::PathBuf>,
}

/// What a student's client did in one run.
#[derive(Debug, Clone, Default)]
pub struct ClientRun {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
}

impl ClientRun {
    /// Standard output as text (invalid UTF-8 shown as `�`).
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// How the run ended, in a few words, with the last line of stderr when it failed.
    pub fn ending(&self) -> String {
        if self.timed_out {
            return "your client did not end in time (killed)".to_string();
        }
        match self.exit_code {
            Some(0) => "exit status 0".to_string(),
            code => {
                let stderr = String::from_utf8_lossy(&self.stderr);
                let last = stderr
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("");
                let code = code.map_or("a signal".to_string(), |c| format!("status {c}"));
                format!("exit {code}, stderr: {}", preview(last.as_bytes(), 80))
            }
        }
    }
}

/// Most bytes of a client's standard error shown on a failure (its end: the error is there).
const SHOWN_STDERR: usize = 600;

impl ClientRun {
    /// Adds how the run went to the point's transcript: what the client printed, how it ended,
    /// and the end of its standard error, escaped.
    fn record(&self) {
        transcript::note(format!(
            "your client printed {} and ended: {}",
            quoted(&self.stdout),
            if self.timed_out {
                "it did not end in time and was killed".to_string()
            } else {
                self.exit_code
                    .map_or("killed by a signal".to_string(), |c| {
                        format!("exit status {c}")
                    })
            }
        ));
        let stderr = self.stderr.trim_ascii_end();
        if !stderr.is_empty() {
            let start = stderr.len().saturating_sub(SHOWN_STDERR);
            let tail = stderr.get(start..).unwrap_or_default();
            transcript::note(format!(
                "your client's stderr{}: '{}'",
                if start > 0 { " (its end)" } else { "" },
                preview(tail, SHOWN_STDERR)
            ));
        }
    }
}

/// Most bytes of a client's output kept.
const MAX_CLIENT_OUTPUT: usize = 4 * 1024 * 1024;

impl StudentClient {
    pub fn new(command: Vec<String>) -> Result<StudentClient, CheckError> {
        if command.is_empty() {
            return Err(CheckError::NoCommand);
        }
        Ok(StudentClient { command, dir: None })
    }

    /// Runs the client in `dir` (the tests use a temporary folder for the files a client
    /// writes).
    pub fn in_dir(self, dir: &std::path::Path) -> StudentClient {
        StudentClient {
            dir: Some(dir.to_path_buf()),
            ..self
        }
    }

    /// Runs the client once against a checker server: `serve` handles each connection the
    /// client makes (on its own thread, one connection at a time, until the client has
    /// ended), while the client gets `input` on its standard input and `env` in its
    /// environment. Returns what the client did and what `serve` returned for each connection.
    pub fn run<T: Send>(
        &self,
        input: &str,
        env: &[(&str, &str)],
        timeout: Duration,
        serve: impl Fn(TcpStream) -> T + Sync,
    ) -> (ClientRun, Vec<T>) {
        let listener = match net::listen_tcp("127.0.0.1", 0, &Default::default()) {
            Ok(listener) => listener,
            Err(e) => return (failed_to_start(&e.to_string()), Vec::new()),
        };
        let addr = match listener.local_addr() {
            Ok(addr) => addr,
            Err(e) => return (failed_to_start(&e.to_string()), Vec::new()),
        };
        let done = std::sync::atomic::AtomicBool::new(false);
        transcript::note(format!(
            "the checker's server listens on {addr}; it starts your client with input {}",
            quoted(input.as_bytes())
        ));
        thread::scope(|scope| {
            let server = scope.spawn(|| {
                // This thread's transcript joins the point's.
                transcript::clear();
                let served = accept_until(&listener, &done, &serve);
                (served, transcript::take())
            });
            let run = self.spawn(addr, input, env, timeout);
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            let (served, steps) = server.join().unwrap_or_default();
            transcript::extend(steps);
            run.record();
            (run, served)
        })
    }

    /// Runs the client once against a checker server of the caller's own at `addr` (a UDP
    /// one: [`StudentClient::run`] serves TCP itself).
    pub fn run_against(
        &self,
        addr: SocketAddr,
        input: &str,
        env: &[(&str, &str)],
        timeout: Duration,
    ) -> ClientRun {
        transcript::note(format!(
            "the checker's server is at {addr}; it starts your client with input {}",
            quoted(input.as_bytes())
        ));
        let run = self.spawn(addr, input, env, timeout);
        run.record();
        run
    }

    fn spawn(
        &self,
        addr: SocketAddr,
        input: &str,
        env: &[(&str, &str)],
        timeout: Duration,
    ) -> ClientRun {
        let host = addr.ip().to_string();
        let port = addr.port().to_string();
        let substitute = |arg: &String| arg.replace("{host}", &host).replace("{port}", &port);
        let Some((program, args)) = self.command.split_first() else {
            return failed_to_start("no command");
        };
        let mut command = Command::new(substitute(program));
        command
            .args(args.iter().map(substitute))
            .env("SOCKLAB_HOST", &host)
            .env("SOCKLAB_PORT", &port)
            // A Python client killed at the time limit would lose what it printed.
            .env("PYTHONUNBUFFERED", "1");
        for (key, value) in env {
            command.env(key, value);
        }
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        let limits = Limits {
            timeout,
            max_output: MAX_CLIENT_OUTPUT,
        };
        match shell::run_program(command, input.as_bytes(), &limits) {
            Ok(output) => ClientRun {
                exit_code: output.exit_code(),
                timed_out: output.timed_out,
                stdout: output.stdout,
                stderr: output.stderr,
            },
            Err(e) => failed_to_start(&e.to_string()),
        }
    }
}

fn failed_to_start(why: &str) -> ClientRun {
    ClientRun {
        stderr: format!("could not run your client: {why}").into_bytes(),
        ..ClientRun::default()
    }
}

/// How often the checker's server looks for a new connection.
const ACCEPT_POLL: Duration = Duration::from_millis(5);

/// Serves connections one at a time until `done` is set and no connection is waiting.
fn accept_until<T>(
    listener: &TcpListener,
    done: &std::sync::atomic::AtomicBool,
    serve: &(impl Fn(TcpStream) -> T + Sync),
) -> Vec<T> {
    let mut served = Vec::new();
    if listener.set_nonblocking(true).is_err() {
        return served;
    }
    loop {
        match listener.accept() {
            Ok((conn, _)) => {
                if conn.set_nonblocking(false).is_ok() {
                    served.push(serve(conn));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if done.load(std::sync::atomic::Ordering::SeqCst) {
                    return served;
                }
                thread::sleep(ACCEPT_POLL);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return served,
        }
    }
}

/// The verdict on one run of a client: every text of `expected` must be in what it printed, and
/// the checker's server (one result per connection) must have found nothing wrong.
pub fn client_verdict(
    sent: String,
    run: &ClientRun,
    served: &[Result<(), String>],
    expected: &[&str],
) -> Verdict {
    if served.is_empty() {
        return Verdict::fail(sent, format!("no connection; {}", run.ending()));
    }
    let printed = run.output();
    let missing = expected.iter().find(|text| !printed.contains(*text));
    if let Some(text) = missing {
        // The line of the output nearest to what was expected: the one that starts the same
        // for longest.
        let common = |line: &str| {
            line.bytes()
                .zip(text.bytes())
                .take_while(|(a, b)| a == b)
                .count()
        };
        let nearest = printed.lines().max_by_key(|l| common(l)).unwrap_or("");
        transcript::difference(text.as_bytes(), nearest.as_bytes());
    }
    let problem = served.iter().find_map(|s| s.as_ref().err());
    match (missing, problem) {
        (None, None) => Verdict::pass(sent, format!("every reply printed; {}", run.ending())),
        (None, Some(problem)) => Verdict::fail(sent, format!("{problem}; {}", run.ending())),
        (Some(text), problem) => Verdict::fail(
            sent,
            format!(
                "your output {} lacks the expected {}; {}{}",
                quoted(printed.as_bytes()),
                quoted(text.as_bytes()),
                run.ending(),
                problem.map_or(String::new(), |p| format!("; the server saw: {p}"))
            ),
        ),
    }
}

/// `text` as the lines a tutorial client reads with `input()`.
pub fn input_lines(lines: &[&str]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_line_says_what_was_sent_and_got() {
        let point = Point {
            name: "1-byte writes".into(),
            passed: false,
            sent: "'hi'".into(),
            got: "'H'".into(),
            hint: "walkthrough.md, 01".into(),
            steps: vec!["connected to 127.0.0.1:9".into(), "sent 'hi'".into()],
            replay: Some("01-echo-once check --seed 7 --point '1-byte writes' client".into()),
        };
        assert_eq!(
            point.to_string(),
            "FAIL 1-byte writes: sent 'hi'; got 'H'; hint: walkthrough.md, 01\n  \
             the point's steps, up to the failure:\n    \
             1. connected to 127.0.0.1:9\n    \
             2. sent 'hi'\n  \
             replay this point: 01-echo-once check --seed 7 --point '1-byte writes' client"
        );
    }

    #[test]
    fn the_replay_command_replaces_seed_and_point_and_quotes_for_the_shell() {
        let line: Vec<String> = [
            "12-auth",
            "check",
            "--welcome",
            "client",
            "--",
            "python3",
            "my client.py",
            "{port}",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            replay_command(&line, 42, "the wrong key's point"),
            "12-auth check --seed 42 --point 'the wrong key'\\''s point' --welcome client -- \
             python3 'my client.py' {port}"
        );
    }

    #[test]
    fn the_exercise_key_is_the_binary_the_variant_and_the_side() {
        let line = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        assert_eq!(
            exercise_key(
                &line(&[
                    "10-remote-cmd-framed",
                    "check",
                    "--framing",
                    "length",
                    "--timeout",
                    "3",
                    "client",
                    "--",
                    "python3",
                    "c.py"
                ]),
                "client"
            ),
            "10-remote-cmd-framed --framing length client"
        );
        assert_eq!(
            exercise_key(
                &line(&["09-sticky", "check", "server", "127.0.0.1:9"]),
                "server"
            ),
            "09-sticky server"
        );
        for exercise in crate::exercises::EXERCISES {
            let words: Vec<&str> = exercise.check.split_whitespace().collect();
            let side = if exercise.key.ends_with("server") {
                "server"
            } else {
                "client"
            };
            assert_eq!(exercise_key(&line(&words), side), exercise.key);
        }
    }

    #[test]
    fn json_follows_the_exercism_runner_contract() {
        let report = Report {
            binary: "09-sticky",
            side: "server",
            seed: 1,
            points: vec![Point {
                name: "a".into(),
                passed: false,
                sent: "x".into(),
                got: "y".into(),
                hint: "h".into(),
                steps: vec!["z".repeat(2000)],
                replay: None,
            }],
            error: None,
        };
        let json = report.to_json();
        assert_eq!(json["version"], 2);
        assert_eq!(json["status"], "fail");
        assert_eq!(json["tests"][0]["status"], "fail");
        assert!(json["tests"][0]["output"].as_str().unwrap().chars().count() <= 500);
        assert!(json["tests"][0]["message"]
            .as_str()
            .unwrap()
            .contains("got y"));
    }

    #[test]
    fn the_same_seed_cuts_the_same_way() {
        let sizes = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..20).map(|_| rng.gen_range(1..=64)).collect::<Vec<u32>>()
        };
        assert_eq!(sizes(7), sizes(7));
        assert_ne!(sizes(7), sizes(8));
    }
}
