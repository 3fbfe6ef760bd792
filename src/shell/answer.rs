//! What a remote-shell server sends back for a command: the bytes of the answer.
//!
//! Lessons 07, 08 and 10 all answer the same way, and differ only in how the answer travels
//! (raw over TCP, in one datagram, framed). The answer is the command's stdout then its stderr,
//! as the tutorials send them, followed by one note line for each limit that was hit
//! (`[socklab: command killed after 10 s (--cmd-timeout)]`). A command that cannot run at all
//! (its bytes are not UTF-8 text, the shell would not start) is not an error for the server: the
//! client gets an answer that says what was wrong, and the server goes on.

use std::net::SocketAddr;
use std::time::Duration;

use super::{seconds, CommandOutput, Limits};
use crate::escape::preview;
use crate::log::Log;

/// What the server sends when a command printed nothing: the tutorials' "cmd has no output".
/// Where nothing else marks the end of an answer (07, 08, and 10's `ack` framing), an empty
/// answer would be no bytes at all, no `send`, and the client would wait in `recv` for ever.
pub const NO_OUTPUT: &[u8] = b"(no output)";

/// What the server makes of one command.
#[derive(Debug)]
pub enum Outcome {
    /// The command ran (perhaps killed at a limit).
    Ran(CommandOutput),
    /// It could not run; the text says why (the command was not UTF-8 text, the shell would
    /// not start).
    Refused(String),
}

/// Decodes `command`, runs it within `limits` and logs what happened. Garbage is not an error
/// for the server: it becomes an answer that says what was wrong.
pub fn execute(command: &[u8], limits: &Limits, log: &Log, peer: SocketAddr) -> Outcome {
    let Ok(text) = std::str::from_utf8(command) else {
        log.line(format!(
            "{peer} sent {} bytes that are not UTF-8 text: {}",
            command.len(),
            preview(command, 40)
        ));
        return Outcome::Refused(
            "the command is not valid UTF-8 text (send it encoded as UTF-8)".into(),
        );
    };
    log.line(format!("command from {peer}: {}", preview(command, 60)));
    match super::run(text, limits) {
        Ok(output) => {
            log.line(format!("command done: {}", output.summary()));
            Outcome::Ran(output)
        }
        Err(e) => {
            log.line(format!("command failed: {e}"));
            Outcome::Refused(e.to_string())
        }
    }
}

/// The bytes of an answer: stdout then stderr, then one line for each limit that was hit; or
/// an error line. Empty when the command printed nothing (the caller decides whether to send
/// [`NO_OUTPUT`] instead).
pub fn answer_text(outcome: &Outcome, limits: &Limits) -> Vec<u8> {
    match outcome {
        Outcome::Refused(why) => format!("socklab: error: {why}\n").into_bytes(),
        Outcome::Ran(output) => {
            let mut answer = output.combined();
            if output.timed_out {
                push_note(&mut answer, &timeout_note(limits.timeout));
            }
            if output.truncated {
                push_note(&mut answer, &cap_note(limits.max_output));
            }
            answer
        }
    }
}

/// [`answer_text`], or [`NO_OUTPUT`] when that is empty: for answers that nothing else delimits.
pub fn answer_never_empty(outcome: &Outcome, limits: &Limits) -> Vec<u8> {
    let answer = answer_text(outcome, limits);
    if answer.is_empty() {
        NO_OUTPUT.to_vec()
    } else {
        answer
    }
}

/// The line that tells the client its command was killed at the time limit.
pub fn timeout_note(limit: Duration) -> String {
    format!(
        "[socklab: command killed after {} (--cmd-timeout)]",
        seconds(limit)
    )
}

/// The line that tells the client its answer was cut at the output cap.
pub fn cap_note(max_output: usize) -> String {
    format!("[socklab: output cut at {max_output} bytes (--max-output)]")
}

/// Appends `note` on a line of its own.
pub fn push_note(answer: &mut Vec<u8>, note: &str) {
    if !answer.is_empty() && !answer.ends_with(b"\n") {
        answer.push(b'\n');
    }
    answer.extend_from_slice(note.as_bytes());
    answer.push(b'\n');
}

/// What `seq 1 N` prints: the long output the lessons ask for, to compare answers with.
pub fn seq_output(n: u32) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 1..=n {
        out.extend_from_slice(format!("{i}\n").as_bytes());
    }
    out
}

/// How the platform's shell ends a line of output: `\n` for `sh`, `\r\n` for `cmd.exe`.
pub const LINE_END: &[u8] = if cfg!(windows) { b"\r\n" } else { b"\n" };

/// A command of the platform's shell that prints the numbers 1 to `n`, one per line: the long
/// answer the tour asks for. `seq 1 N` for `sh`; `cmd.exe` has no `seq`, and its
/// `for /L %i in (1,1,N) do @echo %i` prints the same numbers (`@` keeps cmd from echoing each
/// command first).
pub fn count_command(n: u32) -> String {
    if cfg!(windows) {
        format!("for /L %i in (1,1,{n}) do @echo %i")
    } else {
        format!("seq 1 {n}")
    }
}

/// What [`count_command`] prints: the numbers 1 to `n`, each followed by [`LINE_END`].
pub fn count_output(n: u32) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 1..=n {
        out.extend_from_slice(i.to_string().as_bytes());
        out.extend_from_slice(LINE_END);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_go_on_their_own_line() {
        let mut answer = b"partial".to_vec();
        push_note(&mut answer, "[note]");
        assert_eq!(answer, b"partial\n[note]\n");
        let mut answer = b"line\n".to_vec();
        push_note(&mut answer, "[note]");
        assert_eq!(answer, b"line\n[note]\n");
        let mut answer = Vec::new();
        push_note(&mut answer, "[note]");
        assert_eq!(answer, b"[note]\n");
    }

    #[test]
    fn garbage_is_answered_not_run() {
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let outcome = execute(b"\xff\xfe", &Limits::default(), &Log::silent(), peer);
        let answer = answer_text(&outcome, &Limits::default());
        assert!(answer.starts_with(b"socklab: error: the command is not valid UTF-8"));
    }

    #[test]
    fn an_empty_answer_can_be_replaced_by_the_placeholder() {
        let nothing = Outcome::Ran(CommandOutput::default());
        assert_eq!(answer_text(&nothing, &Limits::default()), b"");
        assert_eq!(answer_never_empty(&nothing, &Limits::default()), NO_OUTPUT);
    }

    #[test]
    fn seq_output_matches_the_real_size() {
        assert_eq!(seq_output(5000).len(), 23893);
    }

    #[test]
    fn the_counting_command_prints_what_count_output_says() {
        let limits = Limits::default();
        let outcome = Outcome::Ran(crate::shell::run(&count_command(300), &limits).unwrap());
        assert_eq!(answer_text(&outcome, &limits), count_output(300));
        if cfg!(unix) {
            assert_eq!(count_output(5000), seq_output(5000));
        }
    }
}
