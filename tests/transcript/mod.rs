//! Recorded transcripts: what the walkthrough's examples really printed, for the book.
//!
//! While `walkthrough_examples` runs a marked block, every line a program prints that matches a
//! line of the block is kept ([`matched`]). After a successful run the block is written out again
//! with those real lines in place of the hand-written ones ([`of_run`]): a transcript, both
//! terminals, the commands and typed lines as printed, `...` where the block skips lines.
//! Normalised so that a second run of an unchanged example gives a byte-identical file: what
//! varies from run to run (`varying_spans`) shows as the document shows it. Every
//! `127.0.0.1:PORT` shows the port the block shows (the run used port 0 and the kernel's client
//! ports); in a block marked `any-time` (the time server's) every number and weekday of a line
//! shows the document's (the clock's time differs at every run); in a block marked `any-speed`
//! every duration and rate (`0.02 s`, `150.2 MB/s`) shows the document's. The rest of each line,
//! which the test compares exactly, is the run's. The run's scratch folder shows as
//! `~/socklab-play`, and a reader's note (`283   <- end of the first recv(1024)`) stays as the
//! document writes it.
//!
//! `transcripts/NAME.txt` holds the recorded transcript of each block of walkthrough.md; the
//! book (book/cut.py) shows it in place of the block. NAME is the first lesson binary the block
//! runs and a count (`01-echo-once-2`: the second block that runs 01). The test fails when a file
//! differs from a fresh run; `book/refresh-transcripts.sh` (which sets
//! `SOCKLAB_RECORD_TRANSCRIPTS=1`) writes them all again.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::Loose;

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
pub fn of_run(block: &[String], loose: Loose, scratch: &Path) -> String {
    let mut real = MATCHED.with(|m| std::mem::take(&mut *m.borrow_mut()));
    let scratch_shown = scratch.display().to_string();
    let mut out = String::new();
    for line in block {
        let shown = if is_typed_or_marker(line) {
            line.clone()
        } else {
            let want = super::normalize(line, loose);
            match real
                .iter()
                .position(|r| super::fits(&want, &super::normalize(r, loose)))
            {
                Some(at) => {
                    let run = real.remove(at);
                    as_documented(&run, line, loose).replace(&scratch_shown, "~/socklab-play")
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

/// `run` with its varying parts (ports; times and speeds in a loose block) replaced, one by
/// one, by those `doc` shows, and the document's note (`  <- ...`) after it: a line the same
/// in every run of an unchanged example.
fn as_documented(run: &str, doc: &str, loose: Loose) -> String {
    if super::without_note(doc).ends_with(" ...") {
        // A line whose end depends on timing (`fits`): shown as the document shows it.
        return doc.trim_end().to_string();
    }
    let run = super::without_note(run);
    let doc_text = super::without_note(doc);
    let doc_spans = super::varying_spans(doc_text, loose);
    let run_spans = super::varying_spans(run, loose);
    let mut out = String::new();
    if doc_spans.len() == run_spans.len() {
        let mut done = 0;
        for ((start, end, _), (doc_start, doc_end, _)) in run_spans.iter().zip(&doc_spans) {
            out.push_str(&run[done..*start]);
            out.push_str(&doc_text[*doc_start..*doc_end]);
            done = *end;
        }
        out.push_str(&run[done..]);
    } else {
        out.push_str(run);
    }
    // The note, with the spaces that align it in the document.
    if let Some(note_at) = doc.find(super::NOTE) {
        let padding = doc_text.len().max(out.len());
        let note_start = doc[..note_at].trim_end().len();
        out = format!("{out:<padding$}{}", &doc[note_start..]);
    }
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

/// The files named by `<!-- transcript: FILE -->` markers in `document`: blocks whose output
/// another program records (the benchmark's figures), shown by the book (book/cut.py) in place
/// of the block. Checked to exist; never written by this test.
pub fn shown_files(document: &str) -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(document))
        .expect("read the document");
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(name) = line
            .trim()
            .strip_prefix("<!-- transcript:")
            .and_then(|rest| rest.strip_suffix("-->"))
        else {
            continue;
        };
        let name = name.trim();
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)),
            "{document}:{}: a transcript marker names a file of transcripts/: {name:?}",
            i + 1
        );
        assert!(
            lines.get(i + 1).is_some_and(|l| l.starts_with("```")),
            "{document}:{}: the marker must be right above a fenced block",
            i + 1
        );
        found.push(name.to_string());
    }
    found
}

/// `pty_run.py`, which runs a command of a `pty` block at a terminal of its own.
pub fn pty_runner() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("transcript")
        .join("pty_run.py")
}

pub fn path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("transcripts")
        .join(format!("{name}.txt"))
}

/// Writes the transcript (when recording) or compares it with the file; `Err` says what differs.
pub fn keep_or_check(name: &str, fresh: &str, loose: Loose) -> Result<(), String> {
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
    let stored_lines: Vec<String> = stored.lines().map(|l| super::normalize(l, loose)).collect();
    let fresh_lines: Vec<String> = fresh.lines().map(|l| super::normalize(l, loose)).collect();
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
