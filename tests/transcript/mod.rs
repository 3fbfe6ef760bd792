//! Recorded transcripts: what the walkthrough's examples really printed, for the book.
//!
//! While `walkthrough_examples` runs a marked block, every line a program prints that matches a
//! line of the block is kept ([`matched`]). After a successful run the block is written out again
//! with those real lines in place of the hand-written ones ([`of_run`]): a transcript, both
//! terminals, the commands and typed lines as printed, `...` where the block skips lines.
//! Normalised so that a second run gives the same file: every `127.0.0.1:PORT` shows the port the
//! block shows (the run used port 0 and the kernel's client ports), and the run's scratch folder
//! shows as `~/socklab-play`. Times (the time server's) are kept as recorded and compared as
//! `normalize` compares them.
//!
//! `transcripts/NAME.txt` holds the recorded transcript of each block of walkthrough.md; the
//! book (book/cut.py) shows it in place of the block. NAME is the first lesson binary the block
//! runs and a count (`01-echo-once-2`: the second block that runs 01). The test fails when a file
//! differs from a fresh run; `book/refresh-transcripts.sh` (which sets
//! `SOCKLAB_RECORD_TRANSCRIPTS=1`) writes them all again.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Set to record: the test then writes every transcript instead of comparing it.
pub const RECORD_VAR: &str = "SOCKLAB_RECORD_TRANSCRIPTS";

thread_local! {
    /// The real lines matched in the example running on this thread.
    static MATCHED: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Forgets the lines of the previous example.
pub fn start() {
    MATCHED.with(|m| m.borrow_mut().clear());
}

/// A program printed `line`, and it matched a line of the block.
pub fn matched(line: &str) {
    MATCHED.with(|m| m.borrow_mut().push(line.to_string()));
}

/// The block written again with the real lines of the run that just succeeded.
pub fn of_run(block: &[String], any_time: bool, scratch: &Path) -> String {
    let mut real = MATCHED.with(|m| std::mem::take(&mut *m.borrow_mut()));
    let scratch_shown = scratch.display().to_string();
    let mut out = String::new();
    for line in block {
        let shown = if is_typed_or_marker(line) {
            line.clone()
        } else {
            let want = super::normalize(line, any_time);
            match real
                .iter()
                .position(|r| super::normalize(r, any_time) == want)
            {
                Some(at) => {
                    let run = real.remove(at);
                    with_ports_of(&run, line).replace(&scratch_shown, "~/socklab-play")
                }
                None => line.clone(),
            }
        };
        out.push_str(shown.trim_end());
        out.push('\n');
    }
    out
}

/// Headings, commands, typed lines, blank lines and `...` are the document's, not the run's.
fn is_typed_or_marker(line: &str) -> bool {
    line.trim().is_empty()
        || line.starts_with("# terminal ")
        || line.starts_with("$ ")
        || line.starts_with(">>: ")
        || line == "..."
}

/// `run`'s `127.0.0.1:N` ports replaced, one by one, by those `doc` shows.
fn with_ports_of(run: &str, doc: &str) -> String {
    const HOST: &str = "127.0.0.1:";
    let mut doc_ports = doc.split(HOST).skip(1).map(|rest| {
        let len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        &rest[..len]
    });
    let mut out = String::new();
    let mut rest = run;
    while let Some(at) = rest.find(HOST) {
        out.push_str(&rest[..at + HOST.len()]);
        rest = &rest[at + HOST.len()..];
        let len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        match doc_ports.next() {
            Some(port) if !port.is_empty() => out.push_str(port),
            _ => out.push_str(&rest[..len]),
        }
        rest = &rest[len..];
    }
    out.push_str(rest);
    out
}

/// Names every block of the document: its first lesson binary and a count.
pub struct Namer {
    seen: HashMap<String, usize>,
}

impl Namer {
    pub fn new() -> Self {
        Namer {
            seen: HashMap::new(),
        }
    }

    pub fn name(&mut self, block: &[String]) -> String {
        let binary = block
            .iter()
            .filter_map(|l| l.strip_prefix("$ "))
            .flat_map(str::split_whitespace)
            .find(|w| super::is_lesson_binary(w))
            .unwrap_or("example")
            .to_string();
        let count = self.seen.entry(binary.clone()).or_insert(0);
        *count += 1;
        format!("{binary}-{count}")
    }
}

pub fn path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("transcripts")
        .join(format!("{name}.txt"))
}

/// Writes the transcript (when recording) or compares it with the file; `Err` says what differs.
pub fn keep_or_check(name: &str, fresh: &str, any_time: bool) -> Result<(), String> {
    let file = path(name);
    if std::env::var_os(RECORD_VAR).is_some() {
        std::fs::create_dir_all(file.parent().unwrap_or(Path::new(".")))
            .and_then(|()| std::fs::write(&file, fresh))
            .map_err(|e| format!("could not write {}: {e}", file.display()))?;
        return Ok(());
    }
    let stored = std::fs::read_to_string(&file).map_err(|e| {
        format!(
            "no transcript {} ({e}); record it: bash book/refresh-transcripts.sh",
            file.display()
        )
    })?;
    let stored_lines: Vec<String> = stored
        .lines()
        .map(|l| super::normalize(l, any_time))
        .collect();
    let fresh_lines: Vec<String> = fresh
        .lines()
        .map(|l| super::normalize(l, any_time))
        .collect();
    if stored_lines == fresh_lines {
        return Ok(());
    }
    let first_difference = stored_lines
        .iter()
        .zip(&fresh_lines)
        .position(|(a, b)| a != b)
        .unwrap_or(stored_lines.len().min(fresh_lines.len()));
    Err(format!(
        "{} no longer matches a fresh run (line {}: recorded {:?}, now {:?}); \
         refresh: bash book/refresh-transcripts.sh",
        file.display(),
        first_difference + 1,
        stored_lines.get(first_difference),
        fresh_lines.get(first_difference),
    ))
}
