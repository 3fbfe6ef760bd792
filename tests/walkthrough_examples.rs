//! The two-terminal examples of walkthrough.md and README.md, run as printed.
//!
//! A student follows the setup recipe (binaries on `PATH`, a scratch folder) and types what the
//! documents show. This test does the same: every fenced block right after a line
//! `<!-- example-test -->` is run in a fresh temporary folder, with the lesson binaries on
//! `PATH`, and what the programs print is compared with what the block says they print.
//!
//! The block's shape, which the documents keep to:
//!
//! ```text
//! # terminal 1                        one section per terminal
//! $ 01-echo-once server               a command (terminal 1's is the server)
//! listening on 127.0.0.1:9001         what it prints
//! # terminal 2
//! $ 02-echo-loop client               a client reading stdin: it is interactive
//! >>: hello                           a line typed at its prompt
//! HELLO                               what it prints after that line
//! # terminal 2, meanwhile             the same terminal again: its client is still running
//! ...                                 any number of lines
//! ```
//!
//! How it is compared:
//! - The server is started with `--port 0` and every client gets `--port` of the port it chose
//!   (a test never uses a fixed port). Addresses `127.0.0.1:NNNN` are compared as
//!   `127.0.0.1:PORT`, since the documents show the ports of one run.
//! - A client's lines must come in the order shown (stdout and stderr each in order; the two
//!   streams may interleave). A client that reads stdin gets each `>>: ` line once the lines
//!   before it have been printed; a client whose terminal section ends without `quit` keeps
//!   running until the end of the block, and is then given end of input.
//! - `...` skips any number of lines (of standard output first: standard error has its own pipe,
//!   and its lines may arrive early); as a program's last line, it accepts whatever follows.
//! - The server's lines must all appear, in any order (threads log when they get to it). A
//!   later `# terminal 1` section holds server lines the block waits for before it goes on, and
//!   `>>: ` lines there are typed at the server (03's phone call).
//! - `<!-- example-test: any-time -->` compares every run of digits as one digit and weekday
//!   names as one name, for the time server; `any-speed` compares every duration and rate
//!   (`0.02 s`, `150.2 MB/s`) as one (`Loose`).
//! - A line may end with a reader's note, `283   <- end of the first recv(1024)`: two spaces
//!   and `<-` start it; it is not compared.
//! - `<!-- example-test: pty -->`: every command but the server runs at a terminal of its own
//!   (`transcript/pty_run.py`), as a student runs it: a password prompt without echo gets
//!   [`PASSWORD`], the walkthrough's password, typed (the document shows the prompt, never the
//!   password); a line `ftp> TEXT` is TEXT typed at the prompt `ftp> ` and shows as the
//!   terminal echoes it. A program at a terminal prints stdout and the terminal's prompts in
//!   one stream.
//! - A block whose terminal 1 starts no server (account commands) runs its commands in order,
//!   each to its end.
//!
//! Each run of a walkthrough.md block is also recorded as a transcript (`transcripts/`, shown by
//! the book): see `transcript/mod.rs`. The test fails when a transcript differs from the run.
// Unix-only: the examples are `sh` command lines, run in process groups killed with `kill(-pid)`.
#![cfg(unix)]

mod common;
mod transcript;

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::Instant;

use common::WAIT;

/// How many of a program's last lines a failure message shows.
const SEEN_KEPT: usize = 40;

/// One marked block, parsed.
struct Example {
    /// `walkthrough.md:123`, for failure messages.
    place: String,
    loose: Loose,
    /// `pty`: the commands run at a terminal of their own.
    terminal: bool,
    sections: Vec<Section>,
    /// The block's lines as printed, for its transcript.
    block: Vec<String>,
    /// The files the document asked the reader to save so far (`<!-- example-file: NAME -->`
    /// above a code block: "Save it as `scram_client.py`"), written into the scratch folder.
    files: Vec<(String, String)>,
}

/// The lines under one `# terminal N` heading.
struct Section {
    terminal: u32,
    items: Vec<Item>,
}

#[derive(Debug, Clone)]
enum Item {
    /// `$ CMD`
    Command(String),
    /// `>>: TEXT`: typed at the prompt.
    Input(String),
    /// In a `pty` block, `ftp> TEXT`: TEXT typed at the program's prompt `ftp> `; the terminal
    /// echoes it, so the whole line is also what the terminal then shows.
    AtPrompt { line: String, text: String },
    /// Any other line: printed by the program. `...` matches any number of lines.
    Output(String),
}

fn examples(file: &str) -> Vec<Example> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let text = std::fs::read_to_string(&path).expect("read the document");
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut files: Vec<(String, String)> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        if line.starts_with("<!-- example-file:") {
            let (name, body) = fenced_after(&lines, i, file);
            files.push((name_of_file(name, file, i), body));
            i = body_end(&lines, i);
            continue;
        }
        if let Some(rest) = line.strip_prefix("<!-- example-test") {
            let options = rest.trim_end_matches("-->").trim().trim_start_matches(':');
            assert!(
                lines.get(i + 1).is_some_and(|l| l.starts_with("```")),
                "{file}:{}: the marker must be right above a fenced block",
                i + 1
            );
            let start = i + 2;
            let mut end = start;
            while end < lines.len() && !lines[end].starts_with("```") {
                end += 1;
            }
            found.push(Example {
                place: format!("{file}:{}", i + 1),
                loose: Loose::of_marker(options),
                terminal: options.split_whitespace().any(|o| o == "pty"),
                sections: parse_block(
                    &lines[start..end],
                    options.split_whitespace().any(|o| o == "pty"),
                ),
                block: lines[start..end].iter().map(|l| l.to_string()).collect(),
                files: files.clone(),
            });
            i = end;
        }
        i += 1;
    }
    found
}

/// The prompt of a shell a `pty` block types at.
const SHELL_PROMPT: &str = "ftp> ";

/// The password a `pty` block types at every password prompt: the walkthrough's examples'.
const PASSWORD: &str = "correct horse";

/// The name of an `example-file` marker: a plain file name, checked.
fn name_of_file(name: &str, file: &str, at: usize) -> String {
    let name = name.trim();
    assert!(
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)),
        "{file}:{}: an example-file marker names a plain file: {name:?}",
        at + 1
    );
    name.to_string()
}

/// The fenced block right under the marker on line `at`: (the marker's line, its text).
fn fenced_after<'a>(lines: &[&'a str], at: usize, file: &str) -> (&'a str, String) {
    assert!(
        lines.get(at + 1).is_some_and(|l| l.starts_with("```")),
        "{file}:{}: the marker must be right above a fenced block",
        at + 1
    );
    let name = lines[at]
        .trim()
        .trim_start_matches("<!-- example-file:")
        .trim_end_matches("-->");
    let end = body_end(lines, at);
    let body: String = lines[at + 2..end - 1]
        .iter()
        .map(|l| format!("{l}\n"))
        .collect();
    (name, body)
}

/// The line after the closing fence of the block under the marker on line `at`.
fn body_end(lines: &[&str], at: usize) -> usize {
    let mut end = at + 2;
    while end < lines.len() && !lines[end].starts_with("```") {
        end += 1;
    }
    end + 1
}

fn parse_block(lines: &[&str], terminal: bool) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    for line in lines {
        if let Some(rest) = line.strip_prefix("# terminal ") {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            sections.push(Section {
                terminal: digits.parse().expect("a terminal number"),
                items: Vec::new(),
            });
            continue;
        }
        if line.trim().is_empty() {
            continue; // a blank line only separates terminals, for the eye
        }
        let section = sections
            .last_mut()
            .expect("a runnable block starts with `# terminal 1`");
        let item = if let Some(command) = line.strip_prefix("$ ") {
            Item::Command(command.to_string())
        } else if let Some(input) = line.strip_prefix(">>: ") {
            Item::Input(input.to_string())
        } else if let Some(text) = line.strip_prefix(SHELL_PROMPT).filter(|_| terminal) {
            Item::AtPrompt {
                line: line.to_string(),
                text: text.to_string(),
            }
        } else {
            Item::Output(line.to_string())
        };
        section.items.push(item);
    }
    sections
}

/// `01-echo-once client hello` → `01-echo-once client --port 9 hello`: after every lesson
/// binary's `server` or `client`, or after `client put`/`client get` (lesson 13, whose client
/// takes its flags after the action).
fn with_port(command: &str, port: u16) -> String {
    if command.split_whitespace().any(|w| w == "--port") {
        return command.to_string(); // its port is the document's: `with_doc_port`
    }
    let mut out = String::new();
    // 0: nothing; 1: after a lesson binary; 2: after its `client`, before `put`/`get`.
    let mut state = 0;
    let mut rest = command;
    while !rest.is_empty() {
        let word_start = rest.len() - rest.trim_start().len();
        out.push_str(&rest[..word_start]);
        rest = &rest[word_start..];
        if rest.is_empty() {
            break;
        }
        let word_len = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..word_len];
        let next_word = rest[word_len..].split_whitespace().next();
        out.push_str(word);
        state = match (state, word) {
            (1, "client") if matches!(next_word, Some("put" | "get")) => 2,
            (1, role) if is_role(role) => {
                out.push_str(&format!(" --port {port}"));
                0
            }
            (2, _) => {
                out.push_str(&format!(" --port {port}"));
                0
            }
            _ if is_lesson_binary(word) => 1,
            _ => 0,
        };
        rest = &rest[word_len..];
    }
    out
}

/// `curl ftp://127.0.0.1:9015/` → `curl ftp://127.0.0.1:PORT/`: every number `doc_port` in
/// the command becomes the run's `port`.
fn with_doc_port(command: &str, doc_port: Option<&str>, port: u16) -> String {
    let Some(doc_port) = doc_port.filter(|p| !p.is_empty()) else {
        return command.to_string();
    };
    let mut out = String::new();
    let mut rest = command;
    while let Some(at) = rest.find(doc_port) {
        let before = &rest[..at];
        let after = &rest[at + doc_port.len()..];
        let whole = !before.ends_with(|c: char| c.is_ascii_digit())
            && !after.starts_with(|c: char| c.is_ascii_digit());
        out.push_str(before);
        if whole {
            out.push_str(&port.to_string());
        } else {
            out.push_str(doc_port);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// `NAME=value ...`: the command line starts by setting a variable for the program.
fn starts_with_assignment(command: &str) -> bool {
    command.split_once('=').is_some_and(|(name, _)| {
        name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// `01-echo-once`, `14-ftp`: two digits, a dash, a name.
fn is_lesson_binary(word: &str) -> bool {
    let bytes = word.as_bytes();
    bytes.len() > 3 && bytes[0].is_ascii_digit() && bytes[1].is_ascii_digit() && bytes[2] == b'-'
}

/// How loosely a block's lines are compared: the options of its marker,
/// `<!-- example-test: any-time any-speed pty -->`.
#[derive(Clone, Copy, Default)]
struct Loose {
    /// `any-time`: every run of digits is one digit and every weekday name one name (the time
    /// server's clock).
    time: bool,
    /// `any-speed`: durations and rates, a number before ` s`, ` ms`, ` MB/s` or ` req/s`
    /// (`0.02 s, 150.2 MB/s`): how long a transfer took on the machine of the run.
    speed: bool,
}

impl Loose {
    fn of_marker(options: &str) -> Loose {
        let has = |name: &str| options.split_whitespace().any(|o| o == name);
        Loose {
            time: has("any-time"),
            speed: has("any-speed"),
        }
    }
}

/// A reader's note after a program's line, `283   <- end of the first recv`: not printed by
/// the program. Two spaces, `<-`, a space.
const NOTE: &str = "  <- ";

/// The line without its note (if any) and without trailing spaces.
fn without_note(line: &str) -> &str {
    line.split(NOTE).next().unwrap_or(line).trim_end()
}

/// The parts of a line that differ from one run to the next, in order: (start, end, what they
/// are compared as). Ports always (the documents show the ports of one run; a test uses port 0);
/// times and speeds when the block says so.
fn varying_spans(line: &str, loose: Loose) -> Vec<(usize, usize, &'static str)> {
    const HOST: &str = "127.0.0.1:";
    const DAYS: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    let digits_from = |at: usize| {
        at + line[at..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(line.len() - at)
    };
    let mut spans = Vec::new();
    let mut at = 0;
    while at < line.len() {
        let rest = &line[at..];
        // A data connection's port, as FTP replies and curl name it: `(|||41221|)`, `port 41221`,
        // `(127,0,0,1,129,55)`.
        let port_lead = ["(|||", " port ", "(127,0,0,1,"]
            .iter()
            .find(|lead| rest.starts_with(**lead));
        if let Some(lead) = port_lead {
            let mut start = at + lead.len();
            let mut end = digits_from(start);
            if end > start && *lead == "(127,0,0,1," && line[end..].starts_with(',') {
                spans.push((start, end, "P"));
                start = end + 1;
                end = digits_from(start);
            }
            if end > start {
                spans.push((start, end, "PORT"));
            }
            at = end.max(at + 1);
            continue;
        }
        if let Some(after) = rest.strip_prefix(HOST) {
            let port_start = line.len() - after.len();
            let port_end = digits_from(port_start);
            spans.push((port_start, port_end, "PORT"));
            at = port_end.max(port_start);
            continue;
        }
        if let Some(day) = DAYS.iter().find(|d| loose.time && rest.starts_with(**d)) {
            spans.push((at, at + day.len(), "DAY"));
            at += day.len();
            continue;
        }
        let starts_number = rest.starts_with(|c: char| c.is_ascii_digit())
            && !line[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '.');
        if starts_number && (loose.time || loose.speed) {
            let mut end = digits_from(at);
            if loose.time {
                spans.push((at, end, "9"));
                at = end;
                continue;
            }
            if line[end..].starts_with('.')
                && line[end + 1..].starts_with(|c: char| c.is_ascii_digit())
            {
                end = digits_from(end + 1);
            }
            let unit = &line[end..];
            let is_unit = |name: &str| {
                unit.strip_prefix(' ')
                    .and_then(|u| u.strip_prefix(name))
                    .is_some_and(|after| !after.starts_with(|c: char| c.is_ascii_alphanumeric()))
            };
            if ["s", "ms", "MB/s", "req/s"].into_iter().any(is_unit) {
                spans.push((at, end, "N"));
            }
            at = end;
            continue;
        }
        at += rest.chars().next().map_or(1, char::len_utf8);
    }
    spans
}

/// How a line is compared: what varies from run to run made neutral ([`varying_spans`]), a
/// reader's note dropped, and trailing spaces dropped (nobody can see them in the document:
/// `A MESSAGE ` is 10 bytes cut from the middle of a sentence).
fn normalize(line: &str, loose: Loose) -> String {
    let line = without_note(line);
    let mut out = String::new();
    let mut done = 0;
    for (start, end, shown) in varying_spans(line, loose) {
        out.push_str(&line[done..start]);
        out.push_str(shown);
        done = end;
    }
    out.push_str(&line[done..]);
    out
}

/// Whether a printed line (normalised) is the document's line `want` (normalised). A line that
/// ends with ` ...` stands for every line that starts with what comes before: what the program
/// says there depends on timing (`dropped: connection error: ...`, reset or broken pipe,
/// depending on which end noticed first).
fn fits(want: &str, got: &str) -> bool {
    match want.strip_suffix(" ...") {
        Some(start) => got.starts_with(start),
        None => want == got,
    }
}

/// Which stream a line came from: stdout and stderr are each in order, not with each other.
#[derive(Clone, Copy, PartialEq)]
enum Stream {
    Out,
    Err,
}

/// A program the example started, with its output arriving line by line.
struct Running {
    what: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<(Stream, String)>,
    /// Lines received but not yet matched, per stream.
    out: VecDeque<String>,
    err: VecDeque<String>,
    /// Its last lines, for failure messages.
    seen: Vec<String>,
    /// Both its output streams are closed: no more lines will come.
    ended: bool,
}

impl Running {
    /// Starts `command` with `sh`; `stdin`: it reads typed lines; `terminal`: at a terminal of
    /// its own (a `pty` block: `transcript/pty_run.py`).
    fn start(
        command: &str,
        scratch: &Path,
        env: &HashMap<String, String>,
        stdin: bool,
        terminal: bool,
    ) -> Self {
        let mut child = if terminal {
            let mut python = Command::new("python3");
            python
                .arg(transcript::pty_runner())
                .arg(PASSWORD)
                .arg(SHELL_PROMPT)
                .arg("sh");
            python
        } else {
            Command::new("sh")
        };
        // `exec`, so that the program is the process the test waits for; not after an
        // assignment (`SOCKLAB_KEY='...' 12-auth client`), which `exec` would take for a program.
        let line = if starts_with_assignment(command) {
            command.to_string()
        } else {
            format!("exec {command}")
        };
        child
            .arg("-c")
            .arg(line)
            .current_dir(scratch)
            .env("PATH", search_path())
            .envs(env)
            .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so that killing it kills whatever it started.
            .process_group(0);
        let mut child = child.spawn().expect("start sh");
        let (tx, lines) = mpsc::channel();
        forward(child.stdout.take().expect("piped"), Stream::Out, tx.clone());
        forward(child.stderr.take().expect("piped"), Stream::Err, tx);
        let stdin = child.stdin.take();
        Running {
            what: command.to_string(),
            child,
            stdin,
            lines,
            out: VecDeque::new(),
            err: VecDeque::new(),
            seen: Vec::new(),
            ended: false,
        }
    }

    fn type_line(&mut self, line: &str) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("its input is already closed")?;
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("`{}`: could not type {line:?}: {e}", self.what))
    }

    fn close_input(&mut self) {
        self.stdin = None;
    }

    /// Waits for the next expected lines, in order, wildcards allowed.
    fn expect(&mut self, expected: &[String], loose: Loose) -> Result<(), String> {
        let deadline = Instant::now() + WAIT;
        let mut skipping = false;
        for want in expected {
            if want == "..." {
                skipping = true;
                continue;
            }
            let want = normalize(want, loose);
            loop {
                let out_head = self.out.front().map(|l| normalize(l, loose));
                let err_head = self.err.front().map(|l| normalize(l, loose));
                if out_head.as_deref().is_some_and(|got| fits(&want, got)) {
                    self.out.pop_front().inspect(|l| transcript::matched(l));
                    break;
                }
                if err_head.as_deref().is_some_and(|got| fits(&want, got)) {
                    self.err.pop_front().inspect(|l| transcript::matched(l));
                    break;
                }
                if skipping {
                    // `...`: what is not the line we want is skipped, one line at a time, from
                    // standard output. Standard error comes through its own pipe, and may hold
                    // a line the document shows *after* the skipped ones: it is skipped only
                    // once the program has ended.
                    if self.out.pop_front().is_some() {
                        continue;
                    }
                    if self.ended && self.err.pop_front().is_some() {
                        continue;
                    }
                } else if out_head.is_some() && err_head.is_some() {
                    return Err(self.mismatch(&want, "it printed something else"));
                }
                if self.ended {
                    return Err(self.mismatch(&want, "it ended"));
                }
                let left = deadline.saturating_duration_since(Instant::now());
                match self.lines.recv_timeout(left) {
                    Ok((stream, line)) => {
                        self.remember(&line);
                        match stream {
                            Stream::Out => self.out.push_back(line),
                            Stream::Err => self.err.push_back(line),
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        return Err(self.mismatch(&want, "timed out"));
                    }
                    Err(RecvTimeoutError::Disconnected) => self.ended = true,
                }
            }
            skipping = false;
        }
        Ok(())
    }

    /// Waits for the program to end; then nothing unexpected may be left over, unless the
    /// document's last line for it is `...`.
    fn finish(&mut self, loose: Loose, more_allowed: bool) -> Result<(), String> {
        let deadline = Instant::now() + WAIT;
        loop {
            match self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok((stream, line)) => {
                    self.remember(&line);
                    match stream {
                        Stream::Out => self.out.push_back(line),
                        Stream::Err => self.err.push_back(line),
                    }
                }
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("`{}` did not end within {WAIT:?}", self.what));
                }
            }
        }
        if more_allowed {
            return Ok(());
        }
        let left: Vec<String> = self
            .out
            .iter()
            .chain(&self.err)
            .map(|l| normalize(l, loose))
            .collect();
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "`{}` printed more than the document shows: {left:?}",
                self.what
            ))
        }
    }

    /// Keeps the last lines printed, for failure messages (a client may print 200 000).
    fn remember(&mut self, line: &str) {
        if self.seen.len() == SEEN_KEPT {
            self.seen.remove(0);
        }
        self.seen.push(line.to_string());
    }

    fn mismatch(&self, want: &str, why: &str) -> String {
        format!(
            "`{}`: expected the line {want:?}, but {why}; its last lines were {:#?}",
            self.what, self.seen
        )
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        kill_group(&self.child);
        let _ = self.child.wait();
    }
}

fn kill_group(child: &Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill() takes no pointers; -pid names the process group the child leads.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

fn forward(stream: impl Read + Send + 'static, which: Stream, tx: mpsc::Sender<(Stream, String)>) {
    thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send((which, line)).is_err() {
                break;
            }
        }
    });
}

/// The lesson binaries cargo built for this test, first on `PATH`.
fn search_path() -> String {
    let bin_dir = bin_dir();
    let system = std::env::var("PATH").unwrap_or_default();
    format!("{}:{system}", bin_dir.display())
}

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_01-echo-once"))
        .parent()
        .expect("the binaries' folder")
        .to_path_buf()
}

/// Runs one example; `Ok` is its transcript, `Err` says what differed.
fn run_example(example: &Example) -> Result<String, String> {
    transcript::start();
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    for (name, text) in &example.files {
        std::fs::write(scratch.path().join(name), text)
            .map_err(|e| format!("could not save {name}: {e}"))?;
    }
    let mut env: HashMap<String, String> = HashMap::new();
    // `$SOCKLAB`, the checkout, as the documents name it (tests/tutorials/run.py).
    env.insert(
        "SOCKLAB".to_string(),
        env!("CARGO_MANIFEST_DIR").to_string(),
    );
    let loose = example.loose;
    // Where terminal 1 is: the scratch folder, or a folder of it after `cd`.
    let mut here = scratch.path().to_path_buf();

    // Terminal 1: commands before the server run to the end; the server runs in the background.
    let first = example
        .sections
        .first()
        .filter(|s| s.terminal == 1)
        .ok_or("the block does not start with `# terminal 1`")?;
    let mut server: Option<(Running, u16)> = None;
    let mut server_lines: Vec<String> = Vec::new();
    let items = &first.items;
    let mut i = 0;
    while i < items.len() {
        match &items[i] {
            Item::Command(command)
                if server.is_none() && (is_server(command) || says_listening(items.get(i + 1))) =>
            {
                // A server someone types at (03's phone call): lines typed in a later
                // `# terminal 1` section go to its stdin.
                let typed_at = example.sections.iter().skip(1).any(|s| {
                    s.terminal == 1 && s.items.iter().any(|it| matches!(it, Item::Input(_)))
                });
                let mut running =
                    Running::start(&with_port(command, 0), &here, &env, typed_at, false);
                let port = listening_port(&mut running)?;
                server = Some((running, port));
            }
            Item::Command(command) if server.is_none() => {
                let expected = outputs_after(&items[i + 1..]);
                i += expected.len();
                // `... && cd DIR`: the terminal stays in DIR for its next commands.
                let (command, cd) = match command.rsplit_once("cd ") {
                    Some((before, dir))
                        if (before.is_empty() || before.trim_end().ends_with("&&"))
                            && !dir.trim().contains(char::is_whitespace) =>
                    {
                        (
                            before.trim_end().trim_end_matches("&&").trim(),
                            Some(dir.trim()),
                        )
                    }
                    _ => (command.as_str(), None),
                };
                if !command.is_empty() {
                    let terminal = example.terminal;
                    run_setup(command, &expected, &here, &mut env, loose, terminal)?;
                }
                if let Some(dir) = cd {
                    here = here.join(dir);
                }
            }
            Item::Output(line) if server.is_some() => server_lines.push(line.clone()),
            other => return Err(format!("terminal 1: unexpected {other:?}")),
        }
        i += 1;
    }
    let Some((mut server, port)) = server else {
        // Commands only (accounts): they ran, each to its end.
        if example.sections.len() > 1 {
            return Err("terminal 1 starts no server for the other terminals".to_string());
        }
        return Ok(transcript::of_run(&example.block, loose, scratch.path()));
    };

    // The port the document's server listens on (`listening on 127.0.0.1:9014`): where a
    // command that is not a lesson client (curl, a Python script) names it, it names the port
    // of this run.
    let doc_port = server_lines
        .first()
        .and_then(|l| l.split("listening on ").nth(1))
        .and_then(|addr| addr.rsplit(':').next())
        .map(str::to_string);

    // The saved files name the server's port as the document shows it, as commands do.
    for (name, text) in &example.files {
        let text = with_doc_port(text, doc_port.as_deref(), port);
        std::fs::write(scratch.path().join(name), text)
            .map_err(|e| format!("could not save {name}: {e}"))?;
    }

    // The other terminals, in the order the block shows them.
    let mut clients: Vec<(u32, Running)> = Vec::new();
    for section in example.sections.iter().skip(1) {
        if section.terminal == 1 {
            // `# terminal 1, meanwhile`: the server's lines so far, awaited before the block
            // goes on (a file the server writes when a client goes, read by the next command),
            // and lines typed at the server once the lines before them are printed.
            let mut lines = Vec::new();
            for item in &section.items {
                match item {
                    Item::Output(line) => lines.push(line.clone()),
                    Item::Input(text) => {
                        await_server(&mut server, &lines, loose)?;
                        lines.clear();
                        server.type_line(text)?;
                    }
                    other => return Err(format!("terminal 1, later: unexpected {other:?}")),
                }
            }
            await_server(&mut server, &lines, loose)?;
            continue;
        }
        let mut current: Option<usize> = clients.iter().position(|(t, _)| *t == section.terminal);
        let mut pending: Vec<String> = Vec::new();
        let items = &section.items;
        let mut i = 0;
        while i < items.len() {
            match &items[i] {
                Item::Command(command) => {
                    let interactive = items[i + 1..]
                        .iter()
                        .take_while(|it| !matches!(it, Item::Command(_)))
                        .any(|it| matches!(it, Item::Input(_) | Item::AtPrompt { .. }));
                    let command =
                        with_doc_port(&with_port(command, port), doc_port.as_deref(), port);
                    if interactive {
                        clients.push((
                            section.terminal,
                            Running::start(&command, scratch.path(), &env, true, example.terminal),
                        ));
                        current = Some(clients.len() - 1);
                    } else {
                        let expected = outputs_after(&items[i + 1..]);
                        i += expected.len();
                        if let Some(assignment) = command.strip_prefix("export ") {
                            export(assignment, &mut env);
                        } else {
                            let mut client = Running::start(
                                &command,
                                scratch.path(),
                                &env,
                                false,
                                example.terminal,
                            );
                            client.expect(&expected, loose)?;
                            let more_allowed = expected.last().is_some_and(|l| l == "...");
                            client.finish(loose, more_allowed)?;
                        }
                        current = None;
                    }
                }
                Item::Output(line) => pending.push(line.clone()),
                Item::Input(text) => {
                    let (_, client) =
                        current.and_then(|c| clients.get_mut(c)).ok_or_else(|| {
                            format!("terminal {}: `>>: ` with no client", section.terminal)
                        })?;
                    client.expect(&pending, loose)?;
                    pending.clear();
                    client.type_line(text)?;
                    if text == "quit" {
                        client.close_input();
                    }
                }
                Item::AtPrompt { line, text } => {
                    let (_, client) =
                        current.and_then(|c| clients.get_mut(c)).ok_or_else(|| {
                            format!("terminal {}: {line:?} with no client", section.terminal)
                        })?;
                    client.expect(&pending, loose)?;
                    // The terminal echoes what is typed after the prompt.
                    pending = vec![line.clone()];
                    client.type_line(text)?;
                    if text == "quit" {
                        client.close_input();
                    }
                }
            }
            i += 1;
        }
        if let Some((_, client)) = current.and_then(|c| clients.get_mut(c)) {
            client.expect(&pending, loose)?;
        }
    }
    // End of the block: every client still reading gets end of input, one after another.
    for (_, client) in &mut clients {
        client.close_input();
        let status = wait_with_timeout(&mut client.child)?;
        if status.is_none() {
            return Err(format!("`{}` did not end after its input did", client.what));
        }
    }

    // The server said everything the block shows, in whatever order its threads said it.
    await_server(&mut server, &server_lines, loose)?;
    Ok(transcript::of_run(&example.block, loose, scratch.path()))
}

/// Waits until the server has printed `lines`, in any order (its threads log when they get to
/// it). What it printed that is not among them stays for a later wait.
fn await_server(server: &mut Running, lines: &[String], loose: Loose) -> Result<(), String> {
    let mut missing: Vec<String> = lines
        .iter()
        .filter(|l| l.as_str() != "...")
        .map(|l| normalize(l, loose))
        .collect();
    let deadline = Instant::now() + WAIT;
    let mut left: VecDeque<String> = VecDeque::new();
    let earlier: Vec<String> = server.out.drain(..).chain(server.err.drain(..)).collect();
    for line in earlier {
        if !remove_one(&mut missing, &line, loose) {
            left.push_back(line);
        }
    }
    while !missing.is_empty() {
        match server
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            Ok((_, line)) => {
                server.remember(&line);
                if !remove_one(&mut missing, &line, loose) {
                    left.push_back(line);
                }
            }
            Err(_) => {
                return Err(format!(
                    "the server never printed {missing:#?}; its last lines were {:#?}",
                    server.seen
                ))
            }
        }
    }
    server.out = left;
    Ok(())
}

/// `line` (as printed) was one of the server's `missing` lines (normalised): it is no longer.
fn remove_one(missing: &mut Vec<String>, line: &str, loose: Loose) -> bool {
    let normal = normalize(line, loose);
    match missing.iter().position(|m| fits(m, &normal)) {
        Some(at) => {
            missing.remove(at);
            transcript::matched(line);
            true
        }
        None => false,
    }
}

/// A command whose first line in the document is `... listening on ADDRESS` is a server too
/// (a tutorial's, started by `tests/tutorials/run.py`).
fn says_listening(next: Option<&Item>) -> bool {
    matches!(next, Some(Item::Output(line)) if line.contains("listening on 127.0.0.1:"))
}

fn is_server(command: &str) -> bool {
    let mut words = command.split_whitespace();
    words.next().is_some_and(is_lesson_binary)
        && words
            .next()
            .is_some_and(|w| w == "server" || w.ends_with("-server"))
}

/// `server`, `client`, or a stage's own pair such as `greet-server` and `greet-client`.
fn is_role(word: &str) -> bool {
    ["server", "client"]
        .iter()
        .any(|role| word == *role || word.ends_with(&format!("-{role}")))
}

/// The port in the server's first line, `listening on 127.0.0.1:PORT`.
fn listening_port(server: &mut Running) -> Result<u16, String> {
    match server.lines.recv_timeout(WAIT) {
        // A tutorial's server started by run.py says it on stderr.
        Ok((stream, line)) if stream == Stream::Out || line.contains("listening on ") => {
            server.remember(&line);
            let port = line
                .split("listening on ")
                .nth(1)
                .and_then(|addr| addr.rsplit(':').next())
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| format!("the server's first line is {line:?}"))?;
            // The document shows the line too; count it as seen.
            server.out.push_back(line);
            Ok(port)
        }
        Ok((_, line)) => Err(format!("the server said on stderr: {line}")),
        Err(_) => Err(format!("`{}` printed no first line", server.what)),
    }
}

/// A command before the server (`printf ... > key`, `14-ftp adduser`): run to the end, its
/// output compared like a client's.
fn run_setup(
    command: &str,
    expected: &[String],
    scratch: &Path,
    env: &mut HashMap<String, String>,
    loose: Loose,
    terminal: bool,
) -> Result<(), String> {
    if let Some(assignment) = command.strip_prefix("export ") {
        export(assignment, env);
        return Ok(());
    }
    let mut setup = Running::start(command, scratch, env, false, terminal);
    setup.expect(expected, loose)?;
    setup.finish(loose, expected.last().is_some_and(|l| l == "..."))?;
    match wait_with_timeout(&mut setup.child)? {
        Some(status) if status.success() => Ok(()),
        _ => Err(format!("`{command}` failed")),
    }
}

/// The output lines right after a command, up to the next command or typed line.
fn outputs_after(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .map_while(|it| match it {
            Item::Output(line) => Some(line.clone()),
            _ => None,
        })
        .collect()
}

/// `NAME='value'` → env.
fn export(assignment: &str, env: &mut HashMap<String, String>) {
    if let Some((name, value)) = assignment.split_once('=') {
        let value = value.trim_matches(|c| c == '\'' || c == '"');
        env.insert(name.to_string(), value.to_string());
    }
}

fn wait_with_timeout(child: &mut Child) -> Result<Option<std::process::ExitStatus>, String> {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(Some(status));
        }
        if Instant::now() > deadline {
            kill_group(child);
            return Ok(None);
        }
        thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Whether `python3` runs here.
fn has_python() -> bool {
    Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn check_document(file: &str, at_least: usize) {
    let examples = examples(file);
    assert!(
        examples.len() >= at_least,
        "{file}: expected at least {at_least} runnable examples, found {}",
        examples.len()
    );
    let mut failures = Vec::new();
    let mut names = transcript::Namer::new();
    // `SOCKLAB_EXAMPLE=14-ftp cargo test --test walkthrough_examples`: only the blocks whose
    // transcript name starts so (while working on them).
    let only = std::env::var("SOCKLAB_EXAMPLE").unwrap_or_default();
    for example in &examples {
        let name = names.name(&example.block);
        if !name.starts_with(&only) {
            continue;
        }
        if example.terminal && !has_python() {
            // Its terminal is Python's `pty` (the Rust tests need no Python otherwise).
            eprintln!("{}: skipped: a `pty` block needs python3", example.place);
            continue;
        }
        let checked = run_example(example).and_then(|recorded| {
            // The book is cut from walkthrough.md: its blocks have transcripts.
            if file == "walkthrough.md" {
                transcript::keep_or_check(&name, &recorded, example.loose)
            } else {
                Ok(())
            }
        });
        if let Err(why) = checked {
            failures.push(format!("{}: {why}", example.place));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn walkthrough_examples_run_as_printed() {
    check_document("walkthrough.md", 7);
}

#[test]
fn readme_example_runs_as_printed() {
    check_document("README.md", 1);
}

/// Every transcript belongs to a block of walkthrough.md: none is left behind by a block that
/// was removed or moved to another lesson.
#[test]
fn every_transcript_has_its_block() {
    let mut names = transcript::Namer::new();
    let mut expected: Vec<String> = examples("walkthrough.md")
        .iter()
        .map(|e| format!("{}.txt", names.name(&e.block)))
        .collect();
    expected.extend(transcript::shown_files("walkthrough.md"));
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("transcripts");
    let stale: Vec<String> = std::fs::read_dir(&folder)
        .expect("the transcripts folder")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".txt") && !expected.contains(name))
        .collect();
    assert!(
        stale.is_empty(),
        "transcripts/ holds {stale:?}, which no block of walkthrough.md records: delete them"
    );
}

/// Every `<!-- transcript: FILE -->` block of the walkthrough shows a file that some program
/// recorded (the benchmark writes its figures there): it exists and is not empty.
#[test]
fn every_transcript_marker_has_its_file() {
    let mut problems = Vec::new();
    for name in transcript::shown_files("walkthrough.md") {
        let file = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("transcripts")
            .join(&name);
        match std::fs::metadata(&file) {
            Ok(meta) if meta.len() > 0 => {}
            Ok(_) => problems.push(format!("transcripts/{name} is empty")),
            Err(e) => problems.push(format!("transcripts/{name}: {e}")),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every `(#anchor)` link of the walkthrough's contents leads to a heading.
#[test]
fn walkthrough_contents_links_lead_somewhere() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("walkthrough.md"))
            .expect("walkthrough.md");
    let anchors: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("## ").or_else(|| l.strip_prefix("### ")))
        .map(github_anchor)
        .collect();
    let mut broken = Vec::new();
    for part in text.split("](#").skip(1) {
        let anchor = part.split(')').next().unwrap_or_default();
        if !anchors.iter().any(|a| a == anchor) {
            broken.push(anchor.to_string());
        }
    }
    assert!(broken.is_empty(), "links to no heading: {broken:?}");
}

/// Every tour stop names a walkthrough section that exists, and its by-hand commands run that
/// lesson's binary.
#[test]
fn tour_stops_name_real_sections() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("walkthrough.md"))
            .expect("walkthrough.md");
    for stop in socklab::lessons::TOUR {
        assert!(
            text.lines().any(|l| l == format!("## {}", stop.section)),
            "no section \"## {}\" in walkthrough.md",
            stop.section
        );
        assert!(
            stop.by_hand
                .iter()
                .any(|c| c.contains(&format!("{} server", stop.binary))),
            "{}: the by-hand commands start no server",
            stop.binary
        );
    }
}

/// How GitHub turns a heading into an anchor: lower case, spaces to `-`, most punctuation gone.
fn github_anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn ports_are_added_after_the_subcommand() {
    assert_eq!(
        with_port("01-echo-once client hello world", 7),
        "01-echo-once client --port 7 hello world"
    );
    assert_eq!(
        with_port("SOCKLAB_KEY=x 12-auth client  \"a  b\"", 7),
        "SOCKLAB_KEY=x 12-auth client --port 7  \"a  b\""
    );
    assert_eq!(
        with_doc_port("curl ftp://127.0.0.1:9015/ -o 90150", Some("9015"), 7),
        "curl ftp://127.0.0.1:7/ -o 90150"
    );
    assert_eq!(
        with_port("13-file-upload client put a.txt", 7),
        "13-file-upload client put --port 7 a.txt"
    );
    assert_eq!(
        normalize("from 127.0.0.1:5555: hi", Loose::default()),
        "from 127.0.0.1:PORT: hi"
    );
    let time = Loose {
        time: true,
        ..Loose::default()
    };
    assert_eq!(normalize("today is Monday 23:53", time), "today is DAY 9:9");
    let speed = Loose {
        speed: true,
        ..Loose::default()
    };
    assert_eq!(
        normalize("11 bytes, md5 f8b5e6e3a8; 0.02 s, 150.2 MB/s", speed),
        "11 bytes, md5 f8b5e6e3a8; N s, N MB/s"
    );
    assert_eq!(normalize("283          <- the first recv", speed), "283");
    assert_eq!(
        normalize("10000 requests in 0.54 s: 18520 req/s; p50 0.01 ms", speed),
        "10000 requests in N s: N req/s; p50 N ms"
    );
    assert!(fits("dropped: ...", "dropped: reset by peer"));
    assert_eq!(
        normalize(
            "< 227 Entering Passive Mode (127,0,0,1,129,55)",
            Loose::default()
        ),
        "< 227 Entering Passive Mode (127,0,0,1,P,PORT)"
    );
    assert_eq!(
        normalize(
            "* Connecting to 127.0.0.1 (127.0.0.1) port 41221",
            Loose::default()
        ),
        "* Connecting to 127.0.0.1 (127.0.0.1) port PORT"
    );
    assert!(!fits("dropped: ...", "gone"));
}
