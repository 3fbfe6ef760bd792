//! `picture`: draws the record files that the lessons' `--picture FILE.json` write, one or
//! several merged into one picture. See `socklab::picture` and walkthrough.md, "the wire as a
//! picture".

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use socklab::cli;
use socklab::picture;

/// Draw one conversation from the record files of its sides: run the client with
/// `--picture client.json` and the server with `--picture server.json` (in two terminals), then
/// `picture client.json server.json --out both.svg`. Streams with the same two addresses are the
/// same stream, so each write is joined to the read that got it, across the two processes.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Record files written by `--picture FILE.json` (one to four).
    #[arg(required = true, num_args = 1..=4, value_name = "FILE.json")]
    records: Vec<PathBuf>,
    /// Where the picture goes.
    #[arg(long, short, value_name = "FILE.svg", default_value = "picture.svg")]
    out: PathBuf,
}

fn main() -> ExitCode {
    cli::run(|| {
        let args = Args::parse();
        let svg = picture::draw_record_files(&args.records)?;
        picture::save(&args.out, &svg)?;
        println!("picture: {}", args.out.display());
        Ok(())
    })
}
