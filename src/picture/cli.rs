//! `--picture FILE.svg` on a lesson binary: a tracer whose recording is drawn into the file each
//! time a connection closes; `--picture FILE.json` writes the recording itself, for the `picture`
//! binary to draw together with the other side's ([`draw_record_files`]).
//!
//! This lives with the drawing code, not in [`crate::trace`]: tracing and recording are shared by
//! every lesson and know nothing of pictures; the picture code knows them.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::recording::{self, read_records, RecordFileError, Recorder, Recording, Saver};
use crate::trace::Tracer;

impl Tracer {
    /// What a lesson binary's `--trace` and `--picture FILE` ask for: a picture (`FILE.svg`), or
    /// the records to draw later with the other side's (`FILE.json`). The caption is the command
    /// line (minus the file's name, so that the same run gives the same picture wherever it is
    /// written).
    pub fn for_cli(party: &str, trace: bool, picture: Option<PathBuf>) -> Tracer {
        let tracer = Tracer::for_party(party, trace);
        let Some(file) = picture else {
            return tracer;
        };
        let saver = if is_record_file(&file) {
            recording::record_file(file)
        } else {
            svg_file(file)
        };
        tracer.and_record(&Recorder::saving_with(command_line(), saver))
    }
}

/// Does `--picture FILE` ask for the records rather than the picture?
fn is_record_file(file: &Path) -> bool {
    file.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// Why record files could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum DrawError {
    #[error("cannot read {}: {source}", file.display())]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", file.display())]
    Records {
        file: PathBuf,
        source: RecordFileError,
    },
}

/// The picture of one or more record files (`--picture FILE.json`), merged: a client's and a
/// server's files of one conversation give one picture with both lanes, every write joined to
/// the read that got it.
pub fn draw_record_files(files: &[PathBuf]) -> Result<String, DrawError> {
    let mut merged = Recording::default();
    for file in files {
        let read_error = |source| DrawError::Read {
            file: file.clone(),
            source,
        };
        let mut bytes = Vec::new();
        std::fs::File::open(file)
            .and_then(|f| {
                f.take(recording::MAX_FILE as u64 + 1)
                    .read_to_end(&mut bytes)
            })
            .map_err(read_error)?;
        let recording = read_records(&bytes).map_err(|source| DrawError::Records {
            file: file.clone(),
            source,
        })?;
        merged.merge(&recording);
    }
    Ok(super::render(&merged))
}

/// A [`Saver`] that draws the recording into `file`. A failure is reported on stderr rather than
/// ending the program: the picture is a by-product of the run.
pub fn svg_file(file: PathBuf) -> Saver {
    Arc::new(move |recording: &Recording| {
        if let Err(e) = super::save(&file, &super::render(recording)) {
            eprintln!("cannot write the picture {}: {e}", file.display());
        }
    })
}

/// The program's command line without its `--picture FILE` (the file's name says nothing about
/// the run, and would make the same run give different pictures).
fn command_line() -> String {
    caption_of(std::env::args())
}

/// The caption for a command line: the program's file name, then its arguments as a shell would
/// need them typed (`'seq 1 5000'` keeps its quotes), without `--picture FILE`.
fn caption_of(mut args: impl Iterator<Item = String>) -> String {
    let mut words = Vec::new();
    if let Some(program) = args.next() {
        let name = Path::new(&program)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or(program);
        words.push(name);
    }
    while let Some(arg) = args.next() {
        if arg == "--picture" {
            args.next();
        } else if !arg.starts_with("--picture=") {
            words.push(quoted(&arg));
        }
    }
    words.join(" ")
}

/// `arg` as typed in a shell: as it is when it is one plain word, else in single quotes.
fn quoted(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_alphanumeric() || "-_./:=,+@%".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::{write_records, Direction, MessageFormat, StreamKey};

    fn tcp(from: u16, to: u16) -> StreamKey {
        StreamKey::Tcp {
            from: std::net::SocketAddr::from(([127, 0, 0, 1], from)),
            to: std::net::SocketAddr::from(([127, 0, 0, 1], to)),
        }
    }

    /// A server's run with two clients, one after the other, and a reset on the second.
    fn server_run() -> Recording {
        let mut r = Recording::default();
        r.caption = "07-remote-cmd server".into();
        let w = MessageFormat::Writes;
        for client in [5001, 5002] {
            r.add(
                "server",
                Direction::Recv,
                tcp(client, 9007),
                w,
                b"seq 1 5000",
            );
            r.add(
                "server",
                Direction::Send,
                tcp(9007, client),
                w,
                &[b'1'; 2000],
            );
            r.add("server", Direction::Recv, tcp(client, 9007), w, b"echo hi");
        }
        r.add_failure("server", Direction::Send, tcp(9007, 5002), "reset by peer");
        r
    }

    #[test]
    fn a_picture_drawn_from_record_files_is_the_picture_drawn_live() {
        let dir = tempfile::tempdir().unwrap();
        let live = server_run();
        let file = dir.path().join("server.json");
        std::fs::write(&file, write_records(&live)).unwrap();
        let drawn = draw_record_files(std::slice::from_ref(&file)).unwrap();
        assert_eq!(drawn, super::super::render(&live));
        // The server's blocks per connection, from the addresses the file kept.
        assert!(
            drawn.contains("connection 2 · client 127.0.0.1:5002"),
            "{drawn}"
        );
        // And with the client's file too: the same blocks, the client's lane beside them.
        let mut client = Recording::default();
        let w = MessageFormat::Writes;
        client.add("client", Direction::Send, tcp(5001, 9007), w, b"seq 1 5000");
        let other = dir.path().join("client.json");
        std::fs::write(&other, write_records(&client)).unwrap();
        let both = draw_record_files(&[file, other]).unwrap();
        assert!(
            both.contains("connection 2 · client 127.0.0.1:5002"),
            "{both}"
        );
    }

    #[test]
    fn the_caption_keeps_the_quotes_an_argument_needs() {
        let args = [
            "/x/target/debug/10-remote-cmd-framed",
            "client",
            "--picture",
            "out.svg",
            "seq 1 5000",
            "echo it's",
            "--port=9010",
        ];
        assert_eq!(
            caption_of(args.iter().map(|a| a.to_string())),
            r"10-remote-cmd-framed client 'seq 1 5000' 'echo it'\''s' --port=9010"
        );
    }
}
