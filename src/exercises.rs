//! The list of exercises, with their contracts and the student's progress: `00-tour exercises`.
//!
//! Each lesson whose exercise asks for a program of the student's own has a checker
//! (`NN check`). This list says, for each, what the program must do, how it is called (its
//! arguments, its standard input, what it prints, its environment variables), the command that
//! checks it, and whether it has passed on this machine (from [`crate::progress`], written by
//! every check run in the current folder). The solution's path is shown only once the exercise
//! has passed: reading it first would spoil the exercise. A hint comes after a failure.
//!
//! This is a catalog and nothing more: it imports no checker and no lesson, so the checkers do
//! not depend on it either.

use std::fmt::Write as _;

use crate::progress::Progress;

/// One exercise.
#[derive(Debug, Clone, Copy)]
pub struct Exercise {
    /// The key its checker writes into the progress file: binary, variant flags, side.
    pub key: &'static str,
    /// `01`.
    pub lesson: &'static str,
    /// What the program must do.
    pub task: &'static str,
    /// How it is called: arguments, standard input, what it prints, environment variables.
    pub interface: &'static str,
    /// The command that checks it.
    pub check: &'static str,
    /// The walkthrough section to read.
    pub section: &'static str,
    /// A reference solution, shown once the exercise has passed.
    pub solution: &'static str,
}

/// Every exercise, in the order of the lessons.
pub const EXERCISES: &[Exercise] = &[
    Exercise {
        key: "01-echo-once client",
        lesson: "01",
        task: "a TCP client: send one message, print the whole reply (the server then closes)",
        interface: "argument 1: the port (or SOCKLAB_PORT; host SOCKLAB_HOST); stdin: one line, \
                    the message; print: the reply as text",
        check: "01-echo-once check client -- python3 client.py {port}",
        section: "01-echo-once, \"Check it with a program\"",
        solution: "tests/solutions/01_echo_once_client.py",
    },
    Exercise {
        key: "02-echo-loop client",
        lesson: "02",
        task:
            "a TCP client: one message per input line, each whole reply printed; after the last, \
               close with a reset (SO_LINGER 0)",
        interface: "argument 1: the port (or SOCKLAB_PORT); stdin: one message per line; print: \
                    each reply as text, one per line",
        check: "02-echo-loop check client -- python3 client.py {port}",
        section: "02-echo-loop, \"Exercise\"",
        solution: "tests/solutions/02_echo_loop_client.py",
    },
    Exercise {
        key: "03-echo-reconnect server",
        lesson: "03",
        task: "a TCP echo server with a link loop: answer each message upper-cased, one client \
               after another, survive clients that reset",
        interface: "listens on a port of your choice; answers the bytes received, upper-cased",
        check: "03-echo-reconnect check server 127.0.0.1:9003",
        section: "03-echo-reconnect, \"Write the server too\"",
        solution: "tests/solutions/03_echo_reconnect_server.py",
    },
    Exercise {
        key: "04-udp-echo client",
        lesson: "04",
        task: "a UDP client: send each message as a datagram, print the reply; when none comes \
               within a timeout, send again",
        interface: "argument 1: the port (or SOCKLAB_PORT); stdin: one message per line; print: \
                    each reply as text",
        check: "04-udp-echo check client -- python3 client.py {port}",
        section: "04-udp-echo, \"Exercise\"",
        solution: "tests/solutions/04_udp_echo_client.py",
    },
    Exercise {
        key: "06-udp-time server",
        lesson: "06",
        task: "a UDP time server: answer each datagram (a strftime format; empty means \
               %Y-%m-%d %H:%M:%S) with the time, and survive bytes that are not UTF-8",
        interface: "listens on a UDP port of your choice; one reply datagram per request",
        check: "06-udp-time check server 127.0.0.1:9006",
        section: "06-udp-time, \"Write the server too\"",
        solution: "tests/solutions/06_udp_time_server.py",
    },
    Exercise {
        key: "09-sticky server",
        lesson: "09",
        task: "a framed receiver: read frames (struct.pack('<i', len) + bytes) exactly, however \
               they are cut, and send each message back as a frame",
        interface: "listens on a port of your choice; one frame back per frame received",
        check: "09-sticky check server 127.0.0.1:9009",
        section: "09-sticky, \"Exercise\"",
        solution: "tests/solutions/09_sticky_server.py",
    },
    Exercise {
        key: "09-sticky client",
        lesson: "09",
        task: "a framed sender: send every input line as one frame of its UTF-8 bytes",
        interface: "argument 1: the port (or SOCKLAB_PORT); stdin: one message per line; prints \
                    nothing that is checked",
        check: "09-sticky check client -- python3 sender.py {port}",
        section: "09-sticky, \"Exercise\"",
        solution: "tests/solutions/09_sticky_client.py",
    },
    Exercise {
        key: "10-remote-cmd-framed client",
        lesson: "10",
        task: "a remote-shell client, json framing: send each command, read the 4-byte length, \
               the JSON header and exactly data_size bytes, print the answer",
        interface: "argument 1: the port (or SOCKLAB_PORT); stdin: one command per line; print: \
                    each answer as text",
        check: "10-remote-cmd-framed check client -- python3 client.py {port}",
        section: "10-remote-cmd-framed, \"Check it with a program\"",
        solution: "tests/solutions/10_remote_cmd_framed_client.py",
    },
    Exercise {
        key: "10-remote-cmd-framed --framing length client",
        lesson: "10",
        task: "the same client for the length framing: a 4-byte length, then the answer",
        interface: "argument 1: the port; argument 2: length; stdin: one command per line; \
                    print: each answer as text",
        check: "10-remote-cmd-framed check --framing length client -- python3 client.py {port} \
                length",
        section: "10-remote-cmd-framed, \"Check it with a program\"",
        solution: "tests/solutions/10_remote_cmd_framed_client.py",
    },
    Exercise {
        key: "11-threaded-echo server",
        lesson: "11",
        task: "a threaded echo server: a thread per client, answers upper-cased, a silent client \
               must not block the others",
        interface: "listens on a port of your choice; answers the bytes received, upper-cased",
        check: "11-threaded-echo check server 127.0.0.1:9011",
        section: "11-threaded-echo, \"Write the server too\"",
        solution: "tests/solutions/11_threaded_echo_server.py",
    },
    Exercise {
        key: "12-auth client",
        lesson: "12",
        task: "an authenticating client: answer the 32-byte challenge with HMAC-SHA256, then send \
               each line as a frame and print each reply frame; stop with an error when refused",
        interface: "argument 1: the port (or SOCKLAB_PORT); environment: SOCKLAB_KEY, the key; \
                    stdin: one message per line; print: each reply as text",
        check: "12-auth check client -- python3 client.py {port}",
        section: "12-auth, \"Check it with a program\"",
        solution: "tests/solutions/12_auth_client.py",
    },
    Exercise {
        key: "13-file-upload server",
        lesson: "13",
        task: "a file server for 13's protocol: put and get with a JSON header, names checked, a \
               reply to every request",
        interface: "listens on a port of your choice and stores into a folder of your choice",
        check: "13-file-upload check server 127.0.0.1:9013",
        section: "13-file-upload, \"Exercise\"",
        solution: "tests/solutions/13_file_upload_server.py",
    },
    Exercise {
        key: "14-ftp server",
        lesson: "14",
        task: "the FTP homework: SCRAM login, a home folder per user, quota, put/get with resume, \
               mkdir/cd/ls/pwd",
        interface: "listens on a port of your choice; an account the checker logs in as \
                    (password in SOCKLAB_PASSWORD for the checker)",
        check: "14-ftp check server 127.0.0.1:9014 --user alice",
        section: "14-ftp in depth, \"Check your own server\"",
        solution: "socklab's own 14-ftp server (src/lessons/ftp/)",
    },
    Exercise {
        key: "15-ftp server",
        lesson: "15",
        task: "the homework server speaking real FTP (RFC 959): USER/PASS, PWD, EPSV or PASV, \
               STOR, RETR, REST, APPE, SIZE, LIST, NLST, MLSD, paths kept inside the home",
        interface: "listens on a port of your choice; an account the checker logs in as \
                    (password in SOCKLAB_PASSWORD for the checker)",
        check: "15-ftp check server 127.0.0.1:9015 --user alice",
        section: "15-ftp, \"What real clients send\"",
        solution: "socklab's own 15-ftp server (src/lessons/standard_ftp/)",
    },
];

/// The exercise list as `00-tour exercises` prints it, with each one's status from `progress`.
pub fn render(progress: &Progress) -> String {
    let mut out = String::new();
    let passed = EXERCISES
        .iter()
        .filter(|e| progress.exercises.get(e.key).is_some_and(|o| o.ever_passed))
        .count();
    let _ = writeln!(
        out,
        "{passed} of {} exercises passed on this machine (from {} in this folder, written by \
         each check run)\n",
        EXERCISES.len(),
        crate::progress::FILE_NAME
    );
    for exercise in EXERCISES {
        let outcome = progress.exercises.get(exercise.key);
        let status = match outcome {
            None => "not checked yet".to_string(),
            Some(o) if o.passed => format!("PASSED ({} points, {})", o.points, o.when),
            Some(o) if o.ever_passed => {
                format!("passed before; the last run failed ({} points)", o.points)
            }
            Some(o) => format!("failed ({} points, {})", o.points, o.when),
        };
        let _ = writeln!(out, "{}  {}  [{status}]", exercise.lesson, exercise.key);
        let _ = writeln!(out, "    task:      {}", exercise.task);
        let _ = writeln!(out, "    interface: {}", exercise.interface);
        let _ = writeln!(out, "    check:     {}", exercise.check);
        let _ = writeln!(out, "    read:      walkthrough.md, {}", exercise.section);
        if let Some(o) = outcome.filter(|o| !o.passed) {
            if let Some(point) = &o.first_failure {
                let _ = writeln!(out, "    failed at: {point}");
            }
            if let Some(hint) = &o.hint {
                let _ = writeln!(out, "    hint:      {hint}");
            }
        }
        if outcome.is_some_and(|o| o.ever_passed) {
            let _ = writeln!(out, "    solution:  {}", exercise.solution);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Outcome;

    #[test]
    fn the_solution_shows_only_once_passed_and_a_hint_after_a_failure() {
        let mut progress = Progress::default();
        let fresh = render(&progress);
        assert!(fresh.contains("0 of 14 exercises passed"), "{fresh}");
        assert!(!fresh.contains("tests/solutions/01_echo_once_client.py"));
        progress.record(
            "01-echo-once client",
            Outcome {
                passed: false,
                points: "3/4".into(),
                first_failure: Some("reply in 1-byte writes".into()),
                hint: Some("walkthrough.md, 01".into()),
                seed: 1,
                when: "2026-12-07T15:00:00Z".into(),
                ever_passed: false,
            },
        );
        let failed = render(&progress);
        assert!(
            failed.contains("failed at: reply in 1-byte writes"),
            "{failed}"
        );
        assert!(!failed.contains("tests/solutions/01_echo_once_client.py"));
        progress.record(
            "01-echo-once client",
            Outcome {
                passed: true,
                points: "4/4".into(),
                first_failure: None,
                hint: None,
                seed: 2,
                when: "2026-12-07T15:10:00Z".into(),
                ever_passed: false,
            },
        );
        let done = render(&progress);
        assert!(done.contains("1 of 14 exercises passed"), "{done}");
        assert!(done.contains("solution:  tests/solutions/01_echo_once_client.py"));
    }
}
