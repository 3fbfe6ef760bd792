//! `00-tour`: runs every lesson end to end on loopback and explains what happens.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use socklab::cli;
use socklab::lessons::TOUR;
use socklab::tour;

/// A guided tour of every socklab lesson: each one runs on loopback (no setup, ephemeral ports)
/// and is narrated. Exits non-zero if any lesson misbehaves.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Run one lesson only: its number (05) or binary name (05-udp-chat). `exercises` lists the
    /// exercises instead: what each program must do, its interface, its check command, and
    /// whether it has passed here (from .socklab-progress.json in this folder).
    lesson: Option<String>,
    /// List the lessons and exit.
    #[arg(long)]
    list: bool,
    /// Also draw the sticky-packet lessons' conversations (07, 09, 10) as SVG pictures in DIR,
    /// for a teacher to project. `00-tour --pictures pictures` remakes walkthrough.md's.
    #[arg(long, value_name = "DIR")]
    pictures: Option<PathBuf>,
    /// Wait for Enter between lessons, for a teacher presenting the tour (only when stdin is a
    /// terminal; end of input, Ctrl-D, stops the waiting).
    #[arg(long)]
    pause: bool,
}

fn main() -> ExitCode {
    cli::run(|| {
        let args = Args::parse();
        // `writeln!` and not `println!`: the tour is often piped into `less` or `head`, and
        // `println!` panics when the reader goes away.
        let mut out = std::io::stdout();
        if args.lesson.as_deref() == Some("exercises") {
            let progress = socklab::progress::Progress::load(&socklab::progress::path_in(
                std::path::Path::new("."),
            ));
            cli::print_line(socklab::exercises::render(&progress).trim_end())?;
            return Ok(());
        }
        if args.list {
            for stop in TOUR {
                let _ = writeln!(out, "{}  {:<22} {}", stop.number, stop.binary, stop.title);
            }
            return Ok(());
        }
        let pace = if args.pause {
            tour::Pace::PauseForEnter
        } else {
            tour::Pace::NonStop
        };
        let summary = tour::run(TOUR, args.lesson.as_deref(), args.pictures.as_deref(), pace)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let _ = writeln!(
            out,
            "\ntour: {} passed, {} failed",
            summary.passed.len(),
            summary.failed.len()
        );
        if let Some((binary, why)) = summary.failed.first() {
            anyhow::bail!(
                "{} lesson(s) misbehaved, first {binary}: {why}",
                summary.failed.len()
            );
        }
        Ok(())
    })
}
