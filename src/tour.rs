//! `00-tour`: every lesson, run end to end on loopback and narrated.
//!
//! Each lesson module has a `tour` function that starts its server on a background thread (port
//! 0, so nothing is set up by hand), drives a client against it, and tells the learner what
//! happened and why. The tour prints as it goes and checks as it goes: a stage that misbehaves is
//! an error, so `00-tour` is also the project's smoke test.
//!
//! Watching is not doing: after each stop the tour names the lesson's walkthrough section and
//! prints the commands to run it by hand in two terminals ([`Stop::by_hand`]), and `--pause`
//! lets a teacher talk between stops.

use std::fmt::Display;
use std::io::{BufRead, IsTerminal, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use crate::log::Log;
use crate::net;
use crate::server::{Background, Shutdown};

/// One lesson's entry in the tour.
pub struct Stop {
    /// Lesson number as written in the binary name: "01".
    pub number: &'static str,
    /// The lesson binary: "01-echo-once".
    pub binary: &'static str,
    /// One line: what the lesson shows.
    pub title: &'static str,
    /// The heading of the lesson's section in walkthrough.md, where the hands-on work is.
    pub section: &'static str,
    /// The lesson by hand: the command for terminal 1 (the server), then one per further
    /// terminal, as the walkthrough prints them.
    pub by_hand: &'static [&'static str],
    /// Runs and narrates the lesson.
    pub run: fn(&mut Tour) -> Result<(), TourError>,
}

/// A stage of the tour did not behave as the lesson says it should.
///
/// Any error converts into it (the `?` operator works on every lesson's error type), which is why
/// it does not itself implement `std::error::Error`, just as `anyhow::Error` does not.
#[derive(Debug)]
pub struct TourError(String);

impl TourError {
    pub fn new(message: impl Into<String>) -> TourError {
        TourError(message.into())
    }
}

impl Display for TourError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<E: std::error::Error> From<E> for TourError {
    fn from(e: E) -> TourError {
        TourError(e.to_string())
    }
}

/// How long the tour waits for a server's log line before calling the stage broken.
pub const LOG_WAIT: Duration = Duration::from_secs(10);

/// Prints the narration. Lessons call its methods; it owns the layout.
pub struct Tour {
    out: std::io::Stdout,
    /// `--pictures DIR`: where the lessons' pictures go.
    pictures: Option<PathBuf>,
}

impl Default for Tour {
    fn default() -> Self {
        Tour::new()
    }
}

impl Tour {
    pub fn new() -> Tour {
        Tour {
            out: std::io::stdout(),
            pictures: None,
        }
    }

    /// A tour that also draws the sticky-packet lessons' conversations into `dir`.
    pub fn with_pictures(dir: &Path) -> Tour {
        Tour {
            pictures: Some(dir.to_path_buf()),
            ..Tour::new()
        }
    }

    /// Were pictures asked for? Lessons record their calls only then.
    pub fn wants_pictures(&self) -> bool {
        self.pictures.is_some()
    }

    /// Saves a picture as `DIR/NAME.svg` when pictures were asked for, and says so. `draw` is
    /// only called then.
    pub fn picture(&mut self, name: &str, draw: impl FnOnce() -> String) -> Result<(), TourError> {
        let Some(dir) = &self.pictures else {
            return Ok(());
        };
        let file = dir.join(format!("{name}.svg"));
        crate::picture::save(&file, &draw())
            .map_err(|e| TourError(format!("cannot write {}: {e}", file.display())))?;
        self.print(&format!("  picture: {}", file.display()));
        Ok(())
    }

    fn print(&mut self, text: &str) {
        let mut out = self.out.lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    /// The title block of a lesson.
    pub fn heading(&mut self, stop: &Stop) {
        let title = format!("{}  {}: {}", stop.number, stop.binary, stop.title);
        let rule = "=".repeat(title.chars().count().min(78));
        self.print(&format!("\n{title}\n{rule}"));
    }

    /// The bridge to the hands-on work: where to read on, and the commands to type, one
    /// terminal each.
    pub fn by_hand(&mut self, stop: &Stop) {
        self.print(&format!(
            "\n-- now by hand: walkthrough.md, section \"{}\"",
            stop.section
        ));
        self.print("   (binaries on PATH, run from a scratch folder: README, \"Set up once\")");
        for (i, command) in stop.by_hand.iter().enumerate() {
            self.print(&format!("  terminal {} | $ {command}", i + 1));
        }
    }

    /// A paragraph of explanation, wrapped to 78 columns.
    pub fn say(&mut self, text: &str) {
        let wrapped = wrap(text, 78);
        self.print(&wrapped);
    }

    /// A step within a lesson: "what we do now".
    pub fn step(&mut self, text: &str) {
        self.print(&format!("\n-- {text}"));
    }

    /// A line that one side printed or did: `  client | recv: HELLO`.
    pub fn show(&mut self, who: &str, line: &str) {
        self.print(&format!("  {who:>6} | {line}"));
    }

    /// Checks a claim the lesson makes; prints it with a tick or fails the stage.
    pub fn check(&mut self, ok: bool, claim: impl Display) -> Result<(), TourError> {
        if ok {
            self.print(&format!("  ok: {claim}"));
            Ok(())
        } else {
            Err(TourError(format!("expected: {claim}")))
        }
    }

    /// Prints a server's log lines, as `server | ...`, up to and including the first one that
    /// contains `needle`, and returns that line. Fails after [`LOG_WAIT`] without it.
    pub fn expect_log(
        &mut self,
        who: &str,
        log: &Receiver<String>,
        needle: &str,
    ) -> Result<String, TourError> {
        let deadline = Instant::now() + LOG_WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match log.recv_timeout(left) {
                Ok(line) => {
                    self.show(who, &line);
                    if line.contains(needle) {
                        return Ok(line);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(TourError(format!(
                        "the {who} never logged a line containing '{needle}'"
                    )))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(TourError(format!(
                        "the {who} stopped before logging a line containing '{needle}'"
                    )))
                }
            }
        }
    }

    /// Prints whatever log lines arrive within `quiet` of each other, then returns them.
    pub fn drain_log(&mut self, who: &str, log: &Receiver<String>, quiet: Duration) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(line) = log.recv_timeout(quiet) {
            self.show(who, &line);
            lines.push(line);
        }
        lines
    }
}

/// A lesson server the tour started on loopback: the running server and its log lines.
pub struct TourServer {
    /// Stops the server when dropped; `join()` waits for a one-shot server to finish.
    pub server: Background,
    /// The server's log, one line per event, for [`Tour::expect_log`].
    pub lines: Receiver<String>,
}

impl TourServer {
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    pub fn port(&self) -> u16 {
        self.server.addr().port()
    }
}

impl Tour {
    /// Starts a TCP lesson server on `127.0.0.1:0` on a background thread, with its log going to
    /// the tour, and shows its `listening on` line. `run` is the lesson's server loop.
    pub fn start_tcp<E: Display>(
        &mut self,
        run: impl FnOnce(TcpListener, Log, Shutdown) -> Result<(), E> + Send + 'static,
    ) -> Result<TourServer, TourError> {
        self.start_tcp_as("server", run)
    }

    /// [`Tour::start_tcp`] for something that is not the lesson's server (`09-sticky proxy`):
    /// its lines are labelled `who`.
    pub fn start_tcp_as<E: Display>(
        &mut self,
        who: &str,
        run: impl FnOnce(TcpListener, Log, Shutdown) -> Result<(), E> + Send + 'static,
    ) -> Result<TourServer, TourError> {
        let listener = net::listen_tcp("127.0.0.1", 0, &net::ListenOptions::default())?;
        let (log, lines) = Log::channel();
        net::announce_listening(listener.local_addr()?, &log);
        let server = Background::tcp(listener, move |listener, shutdown| {
            run(listener, log, shutdown)
        })?;
        self.expect_log(who, &lines, "listening on")?;
        Ok(TourServer { server, lines })
    }

    /// Starts a UDP lesson server on `127.0.0.1:0`, like [`Tour::start_tcp`].
    pub fn start_udp<E: Display>(
        &mut self,
        run: impl FnOnce(UdpSocket, Log, Shutdown) -> Result<(), E> + Send + 'static,
    ) -> Result<TourServer, TourError> {
        let socket = net::bind_udp("127.0.0.1", 0)?;
        let (log, lines) = Log::channel();
        net::announce_listening(socket.local_addr()?, &log);
        let server = Background::udp(socket, move |socket, shutdown| run(socket, log, shutdown))?;
        self.expect_log("server", &lines, "listening on")?;
        Ok(TourServer { server, lines })
    }
}

/// Greedy word wrap; keeps the text's own line breaks.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    for (i, paragraph) in text.lines().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut column = 0;
        for word in paragraph.split_whitespace() {
            let len = word.chars().count();
            if column > 0 && column + 1 + len > width {
                out.push('\n');
                column = 0;
            } else if column > 0 {
                out.push(' ');
                column += 1;
            }
            out.push_str(word);
            column += len;
        }
    }
    out
}

/// The outcome of a whole tour.
#[derive(Debug, Default)]
pub struct Summary {
    pub passed: Vec<&'static str>,
    pub failed: Vec<(&'static str, String)>,
}

/// Whether the tour waits for the presenter between stops (`00-tour --pause`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// One stop after another.
    NonStop,
    /// Wait for Enter before each stop after the first. Only when stdin is a terminal: a tour
    /// piped or run by a script never waits, and end of input (Ctrl-D) ends the waiting.
    PauseForEnter,
}

/// Waits for Enter if `pace` says so and someone can press it; returns the pace to go on with.
fn pause(tour: &mut Tour, pace: Pace, next: &Stop) -> Pace {
    if pace == Pace::NonStop || !std::io::stdin().is_terminal() {
        return Pace::NonStop;
    }
    {
        let mut out = tour.out.lock();
        let _ = write!(out, "\n[Enter: on to {}] ", next.binary);
        let _ = out.flush();
    }
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => Pace::NonStop,
        Ok(_) => Pace::PauseForEnter,
    }
}

/// Runs the chosen stops in order (all of them when `only` is `None`) and reports each; with
/// `pictures`, the sticky-packet lessons also draw their conversations there.
pub fn run(
    stops: &[Stop],
    only: Option<&str>,
    pictures: Option<&Path>,
    pace: Pace,
) -> Result<Summary, TourError> {
    let chosen: Vec<&Stop> = match only {
        None => stops.iter().collect(),
        Some(which) => {
            let found: Vec<&Stop> = stops
                .iter()
                .filter(|s| s.number == which.trim_start_matches('0').pad2() || s.binary == which)
                .collect();
            if found.is_empty() {
                return Err(TourError(format!(
                    "no lesson '{which}' in the tour (00-tour --list shows them)"
                )));
            }
            found
        }
    };
    let mut tour = match pictures {
        Some(dir) => Tour::with_pictures(dir),
        None => Tour::new(),
    };
    let mut summary = Summary::default();
    let mut pace = pace;
    for (i, stop) in chosen.into_iter().enumerate() {
        if i > 0 {
            pace = pause(&mut tour, pace, stop);
        }
        tour.heading(stop);
        match (stop.run)(&mut tour) {
            Ok(()) => summary.passed.push(stop.binary),
            Err(e) => {
                tour.print(&format!("  FAILED: {e}"));
                summary.failed.push((stop.binary, e.to_string()));
            }
        }
        tour.by_hand(stop);
    }
    Ok(summary)
}

/// "1" → "01", "11" → "11".
trait Pad2 {
    fn pad2(&self) -> String;
}

impl Pad2 for str {
    fn pad2(&self) -> String {
        format!("{self:0>2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_width() {
        assert_eq!(wrap("aaa bbb ccc", 7), "aaa bbb\nccc");
        assert_eq!(wrap("one\ntwo", 78), "one\ntwo");
    }
}
