//! Checkers of lesson 10: a student's client for the framed remote shell, `length` or `json`.
//!
//! The client reads one command per line of its standard input, sends each (raw UTF-8, one
//! `sendall`, as lesson 10's wire format says), reads the framed answer and prints it as text.
//! The checker's server does not run anything: it answers each command with a text it chose,
//! framed as `--framing length` or `json` would, and cuts the header and the answer the way a
//! network may. A client that reads the header with one `recv(4)` gets part of it.

use std::net::TcpStream;
use std::time::Duration;

use rand::rngs::StdRng;
use serde_json::json;

use super::{
    client_verdict, input_lines, quoted, read_to_close, write_cut, Checker, Cut, Ending, Lesson,
    StudentClient, Timed, Verdict,
};
use crate::framing::Framing;
use crate::shell::answer::seq_output;

/// `10-remote-cmd-framed check client --framing json` (the default).
pub const JSON: Lesson = Lesson {
    binary: "10-remote-cmd-framed",
    server: None,
    client: Some(check_json_client),
};

/// `10-remote-cmd-framed check client --framing length`.
pub const LENGTH: Lesson = Lesson {
    binary: "10-remote-cmd-framed",
    server: None,
    client: Some(check_length_client),
};

const HINT: &str =
    "10-remote-cmd-framed, \"Wire formats\" and \"What the tutorial gets wrong\" (recv_exact)";

/// How the checker frames its answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framed {
    Length,
    Json,
}

impl Framed {
    /// The value of `--framing` that names it, as the student types it.
    fn flag(self) -> &'static str {
        match self {
            Framed::Length => "length",
            Framed::Json => "json",
        }
    }
}

fn check_json_client(checker: &mut Checker, student: &StudentClient) {
    check_client(checker, student, Framed::Json);
}

fn check_length_client(checker: &mut Checker, student: &StudentClient) {
    check_client(checker, student, Framed::Length);
}

/// The commands of one point and the answer the checker gives to each.
type Exchanges<'a> = Vec<(&'a str, &'a str)>;

fn check_client(checker: &mut Checker, student: &StudentClient, framed: Framed) {
    let seq = String::from_utf8_lossy(&seq_output(30_000)).into_owned();
    let cases: [(&str, Exchanges, Cut); 5] = [
        (
            "one command, the answer in one write",
            vec![("date", "Tue Dec  1 12:00:00 UTC 2026\n")],
            Cut::Whole,
        ),
        (
            "length and answer in 1-byte writes",
            vec![("echo hello", "hello\n")],
            Cut::OneByte,
        ),
        (
            "a 168894-byte answer in random pieces",
            vec![("seq 1 30000", &seq)],
            Cut::Random,
        ),
        (
            "Chinese text, then a second command, random pieces",
            vec![("echo 你好", "你好\n"), ("echo next", "next\n")],
            Cut::Random,
        ),
        (
            "an empty answer, then a second command",
            vec![("true", ""), ("echo after", "after\n")],
            Cut::Random,
        ),
    ];
    for (name, exchanges, cut) in cases {
        let timeout = checker.timeout();
        checker.point(name, HINT, |rng| {
            answer_point(student, &exchanges, cut, framed, rng, timeout)
        });
    }
}

/// Runs the client with the commands of `exchanges` as its input; it must print every answer.
fn answer_point(
    student: &StudentClient,
    exchanges: &[(&str, &str)],
    cut: Cut,
    framed: Framed,
    rng: &mut StdRng,
    timeout: Duration,
) -> Verdict {
    let commands: Vec<&str> = exchanges.iter().map(|(command, _)| *command).collect();
    let sent = format!(
        "commands {} (answers in {cut}, --framing {})",
        quoted(commands.join(" | ").as_bytes()),
        framed.flag()
    );
    let (run, served) = student.run(&input_lines(&commands), &[], timeout, |conn| {
        let mut rng = rng.clone();
        serve_answers(conn, exchanges, cut, framed, &mut rng, timeout)
    });
    let answers: Vec<&str> = exchanges.iter().map(|(_, a)| a.trim_end()).collect();
    client_verdict(sent, &run, &served, &answers)
}

/// Most bytes of a command the checker reads, as lesson 10's server (`recv(1024)`).
const COMMAND_BUFSIZE: usize = 1024;

/// The checker's server for one connection: for each expected command, one `recv` (the
/// commands are not framed), then the framed answer, cut. Then it waits for the client to go.
fn serve_answers(
    conn: TcpStream,
    exchanges: &[(&str, &str)],
    cut: Cut,
    framed: Framed,
    rng: &mut StdRng,
    timeout: Duration,
) -> Result<(), String> {
    let mut conn = conn;
    for (command, answer) in exchanges {
        let mut buf = [0u8; COMMAND_BUFSIZE];
        let got = {
            let mut timed = Timed::new(&conn, timeout);
            std::io::Read::read(&mut timed, &mut buf)
                .map_err(|e| format!("waiting for {}: {e}", quoted(command.as_bytes())))?
        };
        let got = buf.get(..got).unwrap_or_default();
        if got != command.as_bytes() {
            return Err(format!(
                "the server expected the command {} and received {}",
                quoted(command.as_bytes()),
                quoted(got)
            ));
        }
        let bytes = framed_answer(answer.as_bytes(), framed);
        write_cut(&mut conn, &bytes, cut, rng)
            .map_err(|e| format!("your client went while it was sending an answer ({e})"))?;
    }
    let (extra, ending) = read_to_close(&conn, 4096, timeout);
    match (extra.is_empty(), ending) {
        (false, _) => Err(format!("your client sent more: {}", quoted(&extra))),
        (true, Ending::TimedOut) => Err("your client did not close the connection".to_string()),
        _ => Ok(()),
    }
}

/// The bytes of an answer as lesson 10's server frames it.
fn framed_answer(answer: &[u8], framed: Framed) -> Vec<u8> {
    let framing = Framing::default();
    let mut bytes = Vec::new();
    // The checker's answers are far below every limit: these writes into a Vec cannot fail.
    match framed {
        Framed::Length => {
            let _ = framing.write_frame(&mut bytes, answer);
        }
        Framed::Json => {
            let header = json!({"data_size": answer.len(), "exit_code": 0,
                                "timed_out": false, "truncated": false});
            let _ = framing.write_header(&mut bytes, &header);
            bytes.extend_from_slice(answer);
        }
    }
    bytes
}
