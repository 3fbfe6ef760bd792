//! The student's progress: which exercises have passed their checker on this machine.
//!
//! Every `NN check` run writes its outcome into `.socklab-progress.json` in the folder it runs in
//! (the folder the student works in, as rustlings keeps `.rustlings-state.txt`), and
//! `00-tour exercises` reads it to show each exercise's status. Only a full run counts: a
//! `--point` replay of one point says nothing about the others.
//!
//! The file is a convenience: a folder where it cannot be written costs nothing but the status,
//! and a file that is damaged or too large is read as empty, never trusted.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The file's name, in the current folder.
pub const FILE_NAME: &str = ".socklab-progress.json";

/// Largest progress file read (a few dozen exercises take a few KiB).
const MAX_FILE: u64 = 1 << 20;

/// The last full check of one exercise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// Every point passed.
    pub passed: bool,
    /// `3/4` points passed.
    pub points: String,
    /// The first failed point, if any, and its hint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_failure: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The seed of that run.
    pub seed: u64,
    /// When, as RFC 3339 UTC.
    pub when: String,
    /// Passed at least once, on any run (a later failing run does not take it back).
    #[serde(default)]
    pub ever_passed: bool,
}

/// Every exercise's last outcome, by exercise key (`01-echo-once client`,
/// `10-remote-cmd-framed --framing length client`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Progress {
    #[serde(default)]
    pub exercises: BTreeMap<String, Outcome>,
}

/// The progress file in `dir`.
pub fn path_in(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

impl Progress {
    /// Reads the progress file at `path`; missing, unreadable, too large or damaged is empty.
    pub fn load(path: &Path) -> Progress {
        let Ok(file) = std::fs::File::open(path) else {
            return Progress::default();
        };
        let mut text = String::new();
        if file.take(MAX_FILE).read_to_string(&mut text).is_err() {
            return Progress::default();
        }
        serde_json::from_str(&text).unwrap_or_default()
    }

    /// Writes the file at `path` whole or not at all (a temporary file, then a rename).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let mut temp = tempfile::NamedTempFile::new_in(dir)?;
        std::io::Write::write_all(&mut temp, format!("{text}\n").as_bytes())?;
        temp.persist(path).map_err(|e| e.error)?;
        Ok(())
    }

    /// Records `outcome` for `key`, keeping that it once passed.
    pub fn record(&mut self, key: &str, mut outcome: Outcome) {
        let before = self.exercises.get(key).is_some_and(|o| o.ever_passed);
        outcome.ever_passed = before || outcome.passed;
        self.exercises.insert(key.to_string(), outcome);
    }
}

/// Records `outcome` for `key` in the progress file of the current folder. Errors are returned
/// for the caller to ignore or mention; they never fail a check.
pub fn record_here(key: &str, outcome: Outcome) -> std::io::Result<()> {
    let path = path_in(Path::new("."));
    let mut progress = Progress::load(&path);
    progress.record(key, outcome);
    progress.save(&path)
}

/// Now, as RFC 3339 UTC, to the second.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(passed: bool) -> Outcome {
        Outcome {
            passed,
            points: if passed { "4/4" } else { "3/4" }.into(),
            first_failure: None,
            hint: None,
            seed: 1,
            when: now(),
            ever_passed: false,
        }
    }

    #[test]
    fn a_pass_is_kept_after_a_later_failure_and_the_file_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_in(dir.path());
        let mut progress = Progress::load(&path);
        assert!(progress.exercises.is_empty());
        progress.record("01-echo-once client", outcome(true));
        progress.record("01-echo-once client", outcome(false));
        progress.save(&path).unwrap();
        let again = Progress::load(&path);
        let got = &again.exercises["01-echo-once client"];
        assert!(!got.passed && got.ever_passed);
    }

    #[test]
    fn a_damaged_file_reads_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_in(dir.path());
        std::fs::write(&path, "{\"exercises\": [1, 2").unwrap();
        assert!(Progress::load(&path).exercises.is_empty());
    }
}
