//! Checker of lesson 12: a student's authenticating client.
//!
//! The client takes the key from `SOCKLAB_KEY`, answers the server's 32-byte challenge with
//! `hmac.new(key, challenge, hashlib.sha256).digest()`, then sends each line of its standard input
//! as a frame and prints each reply frame as text (lesson 12's wire format, the tutorial's
//! protocol). `--welcome` checks socklab's extension instead: the server confirms a right answer
//! with a `welcome` frame, which the client must read before its first message. The checker's server cuts the challenge and the frames the way a network may,
//! and once gives the client a key that is not the server's: the client must then stop with an
//! error, not hang and not claim a reply.

use std::net::TcpStream;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::Rng;

use super::{
    client_verdict, input_lines, quoted, read_exactly, write_cut, Checker, Cut, Ending, Lesson,
    StudentClient, Timed, Verdict,
};
use crate::framing::Framing;
use crate::lessons::auth::{Digest, Key, CHALLENGE_LEN, KEY_ENV, MAX_MESSAGE, WELCOME};

pub const LESSON: Lesson = Lesson {
    binary: "12-auth",
    server: None,
    client: Some(check_client),
};

/// `12-auth check --welcome client`: the extension, a `welcome` frame after a right answer.
pub const WITH_WELCOME: Lesson = Lesson {
    binary: "12-auth",
    server: None,
    client: Some(check_client_with_welcome),
};

const HINT: &str = "12-auth, the Python client and \"What the tutorial gets wrong\" (read exactly N bytes; the length of the bytes)";

/// The key the checker's server knows and, except in the wrong-key point, gives the client.
const KEY: &str = "correct horse";

fn conversation() -> Framing {
    Framing {
        max_frame: MAX_MESSAGE,
        ..Framing::default()
    }
}

fn check_client(checker: &mut Checker, student: &StudentClient) {
    check_points(checker, student, Welcome::No)
}

fn check_client_with_welcome(checker: &mut Checker, student: &StudentClient) {
    check_points(checker, student, Welcome::Yes)
}

/// Whether the checker's server sends the `welcome` frame after a right answer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Welcome {
    /// The tutorial's protocol, and the lesson's default: no frame.
    No,
    /// socklab's `--welcome` extension.
    Yes,
}

fn check_points(checker: &mut Checker, student: &StudentClient, welcome: Welcome) {
    let cases: [(&str, &[&str], Cut); 3] = [
        (
            "handshake and one message, whole writes",
            &["hello"],
            Cut::Whole,
        ),
        (
            "challenge and replies in 1-byte writes",
            &["hello", "again"],
            Cut::OneByte,
        ),
        (
            "Chinese text (length of the bytes), random pieces",
            &["你好，世界", "粘包 sticky"],
            Cut::Random,
        ),
    ];
    for (name, lines, cut) in cases {
        let timeout = checker.timeout();
        checker.point(name, HINT, |rng| {
            conversation_point(student, lines, cut, welcome, rng, timeout)
        });
    }
    let timeout = checker.timeout();
    checker.point(
        "a wrong key is refused, and your client says so",
        "12-auth, \"Run it\" (a wrong key) and \"What the tutorial gets wrong\" (the client never learns)",
        |rng| wrong_key_point(student, welcome, rng, timeout),
    );
}

/// A normal session: every line must come back upper-cased, and be printed.
fn conversation_point(
    student: &StudentClient,
    lines: &[&str],
    cut: Cut,
    welcome: Welcome,
    rng: &mut StdRng,
    timeout: Duration,
) -> Verdict {
    let sent = format!(
        "a 32-byte challenge, {}then lines {} (all in {cut})",
        if welcome == Welcome::Yes {
            "the welcome frame, "
        } else {
            ""
        },
        quoted(lines.join(" | ").as_bytes())
    );
    let (run, served) = student.run(&input_lines(lines), &[(KEY_ENV, KEY)], timeout, |conn| {
        let mut rng = rng.clone();
        serve(conn, lines, cut, welcome, &mut rng, timeout)
    });
    let replies: Vec<String> = lines.iter().map(|l| l.to_ascii_uppercase()).collect();
    let replies: Vec<&str> = replies.iter().map(String::as_str).collect();
    client_verdict(sent, &run, &served, &replies)
}

/// The client is given another key: the server refuses it, and the client must end with a
/// non-zero exit status, within the time, printing no reply.
fn wrong_key_point(
    student: &StudentClient,
    welcome: Welcome,
    rng: &mut StdRng,
    timeout: Duration,
) -> Verdict {
    let sent = "a challenge, with SOCKLAB_KEY set to a key the server does not know";
    let (run, served) = student.run(
        &input_lines(&["hello"]),
        &[(KEY_ENV, "a wrong guess")],
        timeout,
        |conn| {
            let mut rng = rng.clone();
            serve(conn, &["hello"], Cut::Whole, welcome, &mut rng, timeout)
        },
    );
    let refused = matches!(served.first(), Some(Err(p)) if p.contains("wrong answer"));
    let quiet = !run.output().contains("HELLO");
    let stopped = !run.timed_out && run.exit_code.is_some_and(|c| c != 0);
    Verdict::when(
        refused && quiet && stopped,
        sent,
        format!(
            "{}; {}{}",
            if refused { "refused" } else { "not refused?" },
            run.ending(),
            if quiet {
                ""
            } else {
                "; but it printed a reply"
            }
        ),
    )
}

/// The checker's server for one connection: challenge, check the answer, the welcome frame
/// (with `--welcome`), then answer each expected line upper-cased.
fn serve(
    conn: TcpStream,
    lines: &[&str],
    cut: Cut,
    welcome: Welcome,
    rng: &mut StdRng,
    timeout: Duration,
) -> Result<(), String> {
    let mut conn = conn;
    let key = Key::new(KEY.as_bytes().to_vec(), "the checker").map_err(|e| e.to_string())?;
    let mut challenge = [0u8; CHALLENGE_LEN];
    rng.fill(&mut challenge);
    write_cut(&mut conn, &challenge, cut, rng)
        .map_err(|e| format!("sending the challenge: {e}"))?;
    let digest = Digest::Sha256;
    let (answer, ending) = read_exactly(&conn, digest.answer_len(), timeout);
    if ending != Ending::Complete {
        return Err(format!(
            "the server got {} of the 32 bytes of the answer, {ending}",
            answer.len()
        ));
    }
    if !digest
        .verify(&key, &challenge, &answer)
        .map_err(|e| e.to_string())?
    {
        // Refused: the connection closes, as lesson 12's server does.
        return Err("wrong answer to the challenge (a recv(32) that got part of it?)".to_string());
    }
    let framing = conversation();
    if welcome == Welcome::Yes {
        let mut frame = Vec::new();
        let _ = framing.write_frame(&mut frame, WELCOME);
        write_cut(&mut conn, &frame, cut, rng).map_err(|e| format!("sending welcome: {e}"))?;
    }
    for line in lines {
        let frame = {
            let mut timed = Timed::new(&conn, timeout);
            framing.read_frame(&mut timed)
        };
        match frame {
            Ok(Some(got)) if got == line.as_bytes() => {}
            Ok(Some(got)) => {
                return Err(format!(
                    "the server expected the frame {} and received {}",
                    quoted(line.as_bytes()),
                    quoted(&got)
                ))
            }
            Ok(None) => {
                return Err(format!(
                    "the connection closed before {}",
                    quoted(line.as_bytes())
                ))
            }
            Err(e) => {
                return Err(format!(
                    "waiting for the frame {}: {e}",
                    quoted(line.as_bytes())
                ))
            }
        }
        let mut reply = Vec::new();
        let _ = framing.write_frame(&mut reply, line.to_ascii_uppercase().as_bytes());
        write_cut(&mut conn, &reply, cut, rng).map_err(|e| format!("sending a reply: {e}"))?;
    }
    Ok(())
}
