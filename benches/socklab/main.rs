//! socklab's benchmark: socklab side by side with minimal hand-written programs doing the same
//! job, with the tutorials' Python programs, and with the machine's limits (issue 11).
//!
//! Run it with `cargo bench --bench socklab` (release build of the lesson binaries and of this
//! runner), `cargo bench --bench socklab -- --quick` for a smaller, faster pass, or
//! `-- --only echo` for one group of rows, `-- --save transcripts/bench.txt` to record the final
//! table for the walkthrough; `-- --help` lists every flag. It is not a test: it
//! asserts nothing, `.ci/run` does not run it, and its numbers depend on the machine and on what
//! else runs there. Ratios are what count: every variant of a row runs in turn, interleaved,
//! `--runs` times, and the table shows the median (min-max) of each and the median of the runs'
//! own ratios (socklab over its reference in the same run: see `table::Row::ratio`).
//!
//! Everything runs on loopback, in a temporary folder that is removed at the end; every loop is
//! bounded in count, and every wait in time.

mod echo;
mod files;
mod framing;
mod procs;
mod remote;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, ValueEnum};

use crate::table::Table;

/// socklab's benchmark: every row of issue 11's table, socklab against its references.
#[derive(Parser, Debug, Clone)]
pub struct Options {
    /// Runs of every variant (the median is shown).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub runs: u32,
    /// A short pass: 3 runs, 256 MiB files, 1000 idle connections, 200 requests per client.
    #[arg(long)]
    pub quick: bool,
    /// Run only these groups of rows (repeat the flag for several).
    #[arg(long, value_enum)]
    pub only: Vec<Group>,
    /// Size of the files moved by 13 and 14 (K, M, G are powers of 1024). Default 1G (256M with
    /// --quick); the folder needs about fifteen times this much free space (every file a run
    /// writes stays until the run is over).
    #[arg(long, value_parser = socklab::units::parse_size)]
    pub file_size: Option<u64>,
    /// Idle connections opened for the memory row (default 5000; 1000 with --quick).
    #[arg(long)]
    pub connections: Option<usize>,
    /// Folder for the temporary files (default: the system's temporary folder).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Also write the final table to FILE (for example `transcripts/bench.txt`, which the
    /// walkthrough's speed figures come from), headed by the machine, the date, the command
    /// and the number of runs. Written only when every row was measured.
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,
    /// Internal: serve as the reference Rust echo server (the runner starts itself with it).
    #[arg(long, hide = true)]
    pub serve_reference_echo: bool,
    /// Internal: serve as the reference Rust remote shell (the runner starts itself with it).
    #[arg(long, hide = true)]
    pub serve_reference_shell: bool,
    /// Internal: run the Rust spawn loop of the remote row (the runner starts itself with it).
    #[arg(long, hide = true)]
    pub run_spawn_loop: bool,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    pub bench: bool,
}

/// The groups of rows.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// 11-threaded-echo: requests per second and latency, 100 clients.
    Echo,
    /// 11-threaded-echo: memory and descriptors per idle connection.
    Memory,
    /// 14-ftp put and get against md5sum.
    Ftp,
    /// 13-file-upload put and get against the tutorial's Python.
    Upload,
    /// 10-remote-cmd-framed running `true` against a shell loop.
    Remote,
    /// Length-prefixed frames, 16 bytes and 1 MiB.
    Framing,
}

impl Options {
    pub fn runs(&self) -> u32 {
        if self.quick {
            self.runs.min(3)
        } else {
            self.runs
        }
    }

    pub fn file_size(&self) -> u64 {
        self.file_size
            .unwrap_or(if self.quick { 256 << 20 } else { 1 << 30 })
    }

    pub fn connections(&self) -> usize {
        self.connections
            .unwrap_or(if self.quick { 1000 } else { 5000 })
    }

    /// Requests per client in the echo rows: 200,000 in all, about two seconds a run, so that a
    /// stall of the shared machine moves a run's figure by little (500 each, a quarter second
    /// a run, left the median 7% from the outside harness's).
    pub fn requests(&self) -> usize {
        if self.quick {
            200
        } else {
            2000
        }
    }

    fn wants(&self, group: Group) -> bool {
        self.only.is_empty() || self.only.contains(&group)
    }
}

/// A role the runner starts itself in, for a reference it measures: its name and its body.
type Role = (&'static str, fn() -> std::io::Result<()>);

fn main() -> ExitCode {
    let options = Options::parse();
    let role: Option<Role> = if options.serve_reference_echo {
        Some(("reference echo", echo::serve_reference))
    } else if options.serve_reference_shell {
        Some(("reference remote shell", remote::serve_reference))
    } else if options.run_spawn_loop {
        Some(("spawn loop", remote::run_spawn_loop))
    } else {
        None
    };
    let outcome = match role {
        Some((name, body)) => body().map_err(|e| anyhow::anyhow!("{name}: {e}")),
        None => run(&options).map_err(|e| e.context("benchmark failed")),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(options: &Options) -> anyhow::Result<()> {
    let base = options.dir.clone().unwrap_or_else(std::env::temp_dir);
    let temp = tempfile::Builder::new()
        .prefix("socklab-bench-")
        .tempdir_in(base)?;
    let python = procs::python3();
    let heading = [
        format!(
            "socklab benchmark: {} runs per variant, interleaved; median (min-max), and the median \
             of the runs' own ratios.",
            options.runs()
        ),
        format!("machine: {}", procs::machine()),
        format!("date: {}", chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")),
        format!("command: cargo bench --bench socklab -- {}", arguments()),
    ];
    for line in &heading {
        println!("{line}");
    }
    if python.is_none() {
        println!("python3 not found: the Python references are skipped");
    }
    let mut table = Table::new();
    if options.wants(Group::Framing) {
        framing::rows(options, python.as_deref(), temp.path(), &mut table)?;
    }
    if options.wants(Group::Echo) {
        echo::throughput_rows(options, python.as_deref(), temp.path(), &mut table)?;
    }
    if options.wants(Group::Memory) {
        echo::memory_rows(options, python.as_deref(), temp.path(), &mut table)?;
    }
    if options.wants(Group::Remote) {
        remote::rows(options, temp.path(), &mut table)?;
    }
    if options.wants(Group::Ftp) || options.wants(Group::Upload) {
        files::rows(options, python.as_deref(), temp.path(), &mut table)?;
    }
    println!();
    table.print();
    if let Some(path) = &options.save {
        let text = format!("{}\n\n{}", heading.join("\n"), table.render());
        std::fs::write(path, text)
            .with_context(|| format!("writing the table to {}", path.display()))?;
        println!("\ntable written to {}", path.display());
    }
    Ok(())
}

/// The flags this run was given (without cargo's `--bench`), to be repeated exactly.
fn arguments() -> String {
    std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect::<Vec<_>>()
        .join(" ")
}
