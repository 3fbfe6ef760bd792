//! The `ftp> ` shell: turns typed lines into [`FtpClient`] calls and prints the results.
//!
//! Lines come from `-c CMD` arguments, from stdin when it is not a terminal (a script), or from a
//! person at the `ftp> ` prompt. Each failed command prints one line `error: CODE: msg` on the
//! error stream and the shell goes on with the next one, unless the connection itself is broken.
//! [`Shell::failures`] says how many failed, so the binary can exit non-zero.

use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::client::{ClientError, FtpClient, Listing};
use crate::escape::escape_bytes;
use crate::units::{self, format_size};

/// The shell's help text.
pub const HELP: &str = "\
commands (paths on the server are relative to the current directory; / is your home):
  ls [PATH]              list a directory
  cd PATH                change the current directory
  pwd                    print the current directory
  mkdir PATH             create a directory (its parent must exist)
  rm PATH                remove a file or an empty directory
  put LOCAL [REMOTE]     upload a file (resumes an interrupted upload of the same file)
  get REMOTE [LOCAL]     download a file (resumes from LOCAL.part if it exists); add
                         --force to replace a LOCAL file that already exists
  quota                  show the space used and the quota
  help                   this text
  quit                   log out
Quote names with spaces: put \"my file.txt\"";

/// What the shell does after a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Continue,
    /// `quit`: the session is over.
    Quit,
    /// The connection broke: no further command can run.
    Lost,
}

/// A logged-in client plus where its output goes.
pub struct Shell<W: Write, E: Write> {
    client: Option<FtpClient>,
    out: W,
    err: E,
    failures: usize,
}

impl<W: Write, E: Write> Shell<W, E> {
    pub fn new(client: FtpClient, out: W, err: E) -> Self {
        Shell {
            client: Some(client),
            out,
            err,
            failures: 0,
        }
    }

    /// How many commands failed so far.
    pub fn failures(&self) -> usize {
        self.failures
    }

    /// Runs every line until one says quit or the connection breaks, then logs out.
    pub fn run_all(&mut self, lines: impl IntoIterator<Item = String>) {
        for line in lines {
            match self.run_line(&line) {
                Step::Continue => continue,
                Step::Quit | Step::Lost => break,
            }
        }
        self.logout();
    }

    /// Sends `quit` if the connection is still open.
    pub fn logout(&mut self) {
        if let Some(client) = self.client.take() {
            // Leaving anyway: a failed goodbye changes nothing.
            let _ = client.quit();
        }
    }

    /// Runs one line. Empty lines and `#` comments do nothing.
    pub fn run_line(&mut self, line: &str) -> Step {
        let words = match split_words(line) {
            Ok(words) => words,
            Err(msg) => return self.fail("usage", &msg),
        };
        let Some((command, args)) = words.split_first() else {
            return Step::Continue;
        };
        if command.starts_with('#') {
            return Step::Continue;
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match (command.as_str(), args.as_slice()) {
            ("help" | "?", _) => {
                let _ = writeln!(self.out, "{HELP}");
                Step::Continue
            }
            ("quit" | "exit" | "bye", []) => {
                self.logout();
                Step::Quit
            }
            _ => self.run_remote(command, &args),
        }
    }

    /// A command that talks to the server.
    fn run_remote(&mut self, command: &str, args: &[&str]) -> Step {
        let Some(client) = self.client.as_mut() else {
            return self.fail("connection", "not connected");
        };
        let result: Result<Option<String>, ClientError> = match (command, args) {
            ("ls", []) => client.ls(None).map(|l| Some(format_listing(&l))),
            ("ls", [path]) => client.ls(Some(path)).map(|l| Some(format_listing(&l))),
            ("cd", [path]) => client.cd(path).map(|_| None),
            ("pwd", []) => client.pwd().map(Some),
            ("mkdir", [path]) => client.mkdir(path).map(|()| None),
            ("rm", [path]) => client.rm(path).map(|()| None),
            ("quota", []) => client.quota().map(|(used, quota)| {
                Some(format!(
                    "used {used} of {quota} bytes ({} of {})",
                    format_size(used),
                    format_size(quota)
                ))
            }),
            ("put", [local]) => put(client, local, None),
            ("put", [local, remote]) => put(client, local, Some(remote)),
            ("get", args) => match get_args(args) {
                Some((remote, local, force)) => get(client, remote, local, force),
                None => return self.fail("usage", &usage(command)),
            },
            ("ls" | "cd" | "pwd" | "mkdir" | "rm" | "quota" | "put" | "quit", _) => {
                return self.fail("usage", &usage(command));
            }
            _ => {
                return self.fail(
                    "unknown_command",
                    &format!("no command '{command}' (type help)"),
                )
            }
        };
        match result {
            Ok(Some(text)) => {
                if !text.is_empty() {
                    let _ = writeln!(self.out, "{text}");
                }
                Step::Continue
            }
            Ok(None) => Step::Continue,
            Err(e) => {
                let step = self.fail(&e.code(), &e.message());
                if e.is_recoverable() {
                    step
                } else {
                    self.client = None;
                    Step::Lost
                }
            }
        }
    }

    fn fail(&mut self, code: &str, msg: &str) -> Step {
        self.failures += 1;
        // Server text is shown escaped: a hostile server must not drive the terminal.
        let msg = escape_bytes(msg.as_bytes());
        let _ = writeln!(self.err, "error: {code}: {msg}");
        Step::Continue
    }
}

fn put(
    client: &mut FtpClient,
    local: &str,
    remote: Option<&str>,
) -> Result<Option<String>, ClientError> {
    let remote = match remote {
        Some(remote) => remote.to_string(),
        None => Path::new(local)
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
            .ok_or_else(|| {
                ClientError::Local(format!(
                    "cannot name {local} on the server; give a REMOTE name"
                ))
            })?,
    };
    let began = Instant::now();
    let done = client.put(Path::new(local), &remote)?;
    let resumed = resumed_note(done.offset);
    let speed = units::format_speed(done.size - done.offset.min(done.size), began.elapsed());
    Ok(Some(format!(
        "put {local} -> {remote}: {} bytes{resumed}, md5 {}; used {} of {} bytes; {speed}",
        done.size, done.md5, done.used, done.quota
    )))
}

/// `get [--force] REMOTE [LOCAL]`, the flag anywhere: (REMOTE, LOCAL, force), or `None` for a
/// wrong number of names.
fn get_args<'a>(args: &[&'a str]) -> Option<(&'a str, Option<&'a str>, bool)> {
    let force = args.contains(&"--force");
    let names: Vec<&str> = args.iter().copied().filter(|a| *a != "--force").collect();
    match names.as_slice() {
        [remote] => Some((remote, None, force)),
        [remote, local] => Some((remote, Some(local), force)),
        _ => None,
    }
}

fn get(
    client: &mut FtpClient,
    remote: &str,
    local: Option<&str>,
    force: bool,
) -> Result<Option<String>, ClientError> {
    let local = local_target(remote, local)?;
    // As 13's client: a download never silently replaces a file you already have.
    if !force && std::fs::symlink_metadata(&local).is_ok() {
        return Err(ClientError::Local(format!(
            "{} already exists (get --force to replace it)",
            local.display()
        )));
    }
    let began = Instant::now();
    let done = client.get(remote, &local)?;
    let resumed = resumed_note(done.offset);
    let speed = units::format_speed(done.size - done.offset.min(done.size), began.elapsed());
    Ok(Some(format!(
        "get {remote} -> {}: {} bytes{resumed}, md5 {} verified; {speed}",
        local.display(),
        done.size,
        done.md5
    )))
}

/// ` (resumed at K)` after a transfer that continued an interrupted one, else nothing.
fn resumed_note(offset: u64) -> String {
    if offset > 0 {
        format!(" (resumed at {offset})")
    } else {
        String::new()
    }
}

/// Where `get REMOTE [LOCAL]` writes: LOCAL, or LOCAL/NAME if LOCAL is a directory, or NAME (the
/// remote file's last name) in the current directory.
fn local_target(remote: &str, local: Option<&str>) -> Result<PathBuf, ClientError> {
    let name = remote
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty() && *n != "." && *n != "..")
        .map(str::to_string);
    match (local, name) {
        (Some(local), name) if Path::new(local).is_dir() => {
            let name = name.ok_or_else(|| {
                ClientError::Local(format!("cannot tell a file name from {remote}"))
            })?;
            Ok(Path::new(local).join(name))
        }
        (Some(local), _) => Ok(PathBuf::from(local)),
        (None, Some(name)) => Ok(PathBuf::from(name)),
        (None, None) => Err(ClientError::Local(format!(
            "cannot tell a file name from {remote}; give a LOCAL name"
        ))),
    }
}

fn usage(command: &str) -> String {
    let form = match command {
        "ls" => "ls [PATH]",
        "cd" => "cd PATH",
        "mkdir" => "mkdir PATH",
        "rm" => "rm PATH",
        "put" => "put LOCAL [REMOTE]",
        "get" => "get [--force] REMOTE [LOCAL]",
        other => other,
    };
    format!("usage: {form}")
}

/// `ls` output: one line per entry, `dir` or `file`, the size, the name.
pub fn format_listing(listing: &Listing) -> String {
    let mut lines: Vec<String> = listing
        .entries
        .iter()
        .map(|e| {
            let size = if e.kind == "dir" {
                "-".to_string()
            } else {
                e.size.to_string()
            };
            let name = escape_bytes(e.name.as_bytes());
            format!(
                "{:<4} {:>12}  {name}",
                escape_bytes(e.kind.as_bytes()),
                size
            )
        })
        .collect();
    if listing.truncated {
        lines.push(format!(
            "(only the first {} entries fit in one reply)",
            listing.entries.len()
        ));
    }
    lines.join("\n")
}

/// Splits a line into words; `"..."` or `'...'` keep spaces inside one word.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err("a quote is not closed".into());
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Lines of `input`, with `ftp> ` printed before each when `prompt` (a person at a terminal).
pub fn lines_from<R: BufRead>(input: R, prompt: bool) -> impl Iterator<Item = String> {
    PromptedLines { input, prompt }
}

struct PromptedLines<R> {
    input: R,
    prompt: bool,
}

impl<R: BufRead> Iterator for PromptedLines<R> {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        if self.prompt {
            print!("ftp> ");
            let _ = io::stdout().flush();
        }
        let mut line = String::new();
        match self.input.read_line(&mut line) {
            Ok(0) | Err(_) => {
                if self.prompt {
                    println!();
                }
                None
            }
            Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_quotes() {
        assert_eq!(
            split_words("  put a.txt  b ").unwrap(),
            ["put", "a.txt", "b"]
        );
        assert_eq!(
            split_words("put \"my file.txt\" 'x y'").unwrap(),
            ["put", "my file.txt", "x y"]
        );
        assert_eq!(split_words("get \"\"").unwrap(), ["get", ""]);
        assert!(split_words("put \"open").is_err());
        assert!(split_words("").unwrap().is_empty());
    }

    #[test]
    fn get_takes_force_anywhere() {
        assert_eq!(get_args(&["a.txt"]), Some(("a.txt", None, false)));
        assert_eq!(
            get_args(&["--force", "a.txt", "b"]),
            Some(("a.txt", Some("b"), true))
        );
        assert_eq!(
            get_args(&["a.txt", "b", "--force"]),
            Some(("a.txt", Some("b"), true))
        );
        assert_eq!(get_args(&["--force"]), None);
        assert_eq!(get_args(&["a", "b", "c"]), None);
    }

    #[test]
    fn local_names_for_get() {
        assert_eq!(
            local_target("/docs/a.txt", None).unwrap(),
            PathBuf::from("a.txt")
        );
        assert_eq!(
            local_target("a.txt", Some("b.txt")).unwrap(),
            PathBuf::from("b.txt")
        );
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        assert_eq!(
            local_target("x/a.txt", Some(d)).unwrap(),
            dir.path().join("a.txt")
        );
        assert!(local_target("docs/", None).is_err());
        assert!(local_target("..", None).is_err());
    }
}
