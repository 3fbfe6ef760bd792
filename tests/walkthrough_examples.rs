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
//! - The server's lines must all appear, in any order (threads log when they get to it).
//! - `<!-- example-test: any-time -->` compares every run of digits as one digit and weekday
//!   names as one name, for the time server.
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
    any_time: bool,
    sections: Vec<Section>,
    /// The block's lines as printed, for its transcript.
    block: Vec<String>,
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
    /// Any other line: printed by the program. `...` matches any number of lines.
    Output(String),
}

fn examples(file: &str) -> Vec<Example> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let text = std::fs::read_to_string(&path).expect("read the document");
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
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
                any_time: options.split_whitespace().any(|o| o == "any-time"),
                sections: parse_block(&lines[start..end]),
                block: lines[start..end].iter().map(|l| l.to_string()).collect(),
            });
            i = end;
        }
        i += 1;
    }
    found
}

fn parse_block(lines: &[&str]) -> Vec<Section> {
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

/// `01-echo-once`, `14-ftp`: two digits, a dash, a name.
fn is_lesson_binary(word: &str) -> bool {
    let bytes = word.as_bytes();
    bytes.len() > 3 && bytes[0].is_ascii_digit() && bytes[1].is_ascii_digit() && bytes[2] == b'-'
}

/// How a line is compared: ports (and for the time server, times) made neutral, and trailing
/// spaces dropped (nobody can see them in the document: `A MESSAGE ` is 10 bytes cut from the
/// middle of a sentence).
fn normalize(line: &str, any_time: bool) -> String {
    let mut out = String::new();
    let mut rest = line.trim_end();
    while let Some(at) = rest.find("127.0.0.1:") {
        out.push_str(&rest[..at]);
        out.push_str("127.0.0.1:PORT");
        rest = rest[at + "127.0.0.1:".len()..].trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    if !any_time {
        return out;
    }
    let mut timeless = String::new();
    let mut in_digits = false;
    for c in out.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                timeless.push('9');
            }
            in_digits = true;
        } else {
            timeless.push(c);
            in_digits = false;
        }
    }
    for day in [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ] {
        timeless = timeless.replace(day, "DAY");
    }
    timeless
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
    fn start(command: &str, scratch: &Path, env: &HashMap<String, String>, stdin: bool) -> Self {
        let mut child = Command::new("sh");
        child
            .arg("-c")
            .arg(format!("exec {command}"))
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
    fn expect(&mut self, expected: &[String], any_time: bool) -> Result<(), String> {
        let deadline = Instant::now() + WAIT;
        let mut skipping = false;
        for want in expected {
            if want == "..." {
                skipping = true;
                continue;
            }
            let want = normalize(want, any_time);
            loop {
                let out_head = self.out.front().map(|l| normalize(l, any_time));
                let err_head = self.err.front().map(|l| normalize(l, any_time));
                if out_head.as_deref() == Some(want.as_str()) {
                    self.out.pop_front().inspect(|l| transcript::matched(l));
                    break;
                }
                if err_head.as_deref() == Some(want.as_str()) {
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
    fn finish(&mut self, any_time: bool, more_allowed: bool) -> Result<(), String> {
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
            .map(|l| normalize(l, any_time))
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
    let mut env: HashMap<String, String> = HashMap::new();
    let any_time = example.any_time;

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
            Item::Command(command) if server.is_none() && is_server(command) => {
                let mut running =
                    Running::start(&with_port(command, 0), scratch.path(), &env, false);
                let port = listening_port(&mut running)?;
                server = Some((running, port));
            }
            Item::Command(command) if server.is_none() => {
                let expected = outputs_after(&items[i + 1..]);
                i += expected.len();
                run_setup(command, &expected, scratch.path(), &mut env, any_time)?;
            }
            Item::Output(line) if server.is_some() => server_lines.push(line.clone()),
            other => return Err(format!("terminal 1: unexpected {other:?}")),
        }
        i += 1;
    }
    let (mut server, port) = server.ok_or("terminal 1 starts no server")?;

    // The other terminals, in the order the block shows them.
    let mut clients: Vec<(u32, Running)> = Vec::new();
    for section in example.sections.iter().skip(1) {
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
                        .any(|it| matches!(it, Item::Input(_)));
                    let command = with_port(command, port);
                    if interactive {
                        clients.push((
                            section.terminal,
                            Running::start(&command, scratch.path(), &env, true),
                        ));
                        current = Some(clients.len() - 1);
                    } else {
                        let expected = outputs_after(&items[i + 1..]);
                        i += expected.len();
                        if let Some(assignment) = command.strip_prefix("export ") {
                            export(assignment, &mut env);
                        } else {
                            let mut client = Running::start(&command, scratch.path(), &env, false);
                            client.expect(&expected, any_time)?;
                            let more_allowed = expected.last().is_some_and(|l| l == "...");
                            client.finish(any_time, more_allowed)?;
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
                    client.expect(&pending, any_time)?;
                    pending.clear();
                    client.type_line(text)?;
                    if text == "quit" {
                        client.close_input();
                    }
                }
            }
            i += 1;
        }
        if let Some((_, client)) = current.and_then(|c| clients.get_mut(c)) {
            client.expect(&pending, any_time)?;
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
    let mut missing: Vec<String> = server_lines
        .iter()
        .filter(|l| l.as_str() != "...")
        .map(|l| normalize(l, any_time))
        .collect();
    let deadline = Instant::now() + WAIT;
    let mut seen = server.seen.clone();
    for line in server.out.drain(..).chain(server.err.drain(..)) {
        remove_one(&mut missing, &line, any_time);
    }
    while !missing.is_empty() {
        match server
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            Ok((_, line)) => {
                remove_one(&mut missing, &line, any_time);
                seen.push(line);
            }
            Err(_) => {
                return Err(format!(
                    "the server never printed {missing:#?}; it printed {seen:#?}"
                ))
            }
        }
    }
    Ok(transcript::of_run(&example.block, any_time, scratch.path()))
}

/// `line` (as printed) was one of the server's `missing` lines (normalised): it is no longer.
fn remove_one(missing: &mut Vec<String>, line: &str, any_time: bool) {
    let normal = normalize(line, any_time);
    if let Some(at) = missing.iter().position(|m| *m == normal) {
        missing.remove(at);
        transcript::matched(line);
    }
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
        Ok((Stream::Out, line)) => {
            server.remember(&line);
            let port = line
                .strip_prefix("listening on ")
                .and_then(|addr| addr.rsplit(':').next())
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| format!("the server's first line is {line:?}"))?;
            // The document shows the line too; count it as seen.
            server.out.push_back(line);
            Ok(port)
        }
        Ok((Stream::Err, line)) => Err(format!("the server said on stderr: {line}")),
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
    any_time: bool,
) -> Result<(), String> {
    if let Some(assignment) = command.strip_prefix("export ") {
        export(assignment, env);
        return Ok(());
    }
    let mut setup = Running::start(command, scratch, env, false);
    setup.expect(expected, any_time)?;
    setup.finish(any_time, false)?;
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

fn check_document(file: &str, at_least: usize) {
    let examples = examples(file);
    assert!(
        examples.len() >= at_least,
        "{file}: expected at least {at_least} runnable examples, found {}",
        examples.len()
    );
    let mut failures = Vec::new();
    let mut names = transcript::Namer::new();
    for example in &examples {
        let name = names.name(&example.block);
        let checked = run_example(example).and_then(|recorded| {
            // The book is cut from walkthrough.md: its blocks have transcripts.
            if file == "walkthrough.md" {
                transcript::keep_or_check(&name, &recorded, example.any_time)
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
    let expected: Vec<String> = examples("walkthrough.md")
        .iter()
        .map(|e| format!("{}.txt", names.name(&e.block)))
        .collect();
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
        with_port("13-file-upload client put a.txt", 7),
        "13-file-upload client put --port 7 a.txt"
    );
    assert_eq!(
        normalize("from 127.0.0.1:5555: hi", false),
        "from 127.0.0.1:PORT: hi"
    );
    assert_eq!(normalize("today is Monday 23:53", true), "today is DAY 9:9");
}
