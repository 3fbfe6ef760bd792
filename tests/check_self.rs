//! The checkers' own tests, the other half (tests/exercise_checks.rs proves that the reference
//! solutions pass and the tutorials' naive programs fail): a program that hangs and a program
//! that cheats (prints the expected text without touching the network) must fail every client
//! checker at its first point, and a UDP time server that never answers must fail 06's.
//!
//! Short `--timeout`s and `fail_fast` keep this file quick.

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use socklab::check::{self, Lesson, Options, StudentClient};

/// A client that prints, upper-cased, every line it is given, and never connects: what a
/// student might write to fool a checker that only reads the output.
const CHEAT: &str = "import sys\nfor line in sys.stdin:\n    print(line.rstrip('\\n').upper())\n";

/// A client that connects to nothing and never ends.
const HANG: &str = "import time\ntime.sleep(600)\n";

fn every_client_checker() -> [&'static Lesson; 8] {
    [
        &check::echo::ECHO_ONCE,
        &check::echo::ECHO_LOOP,
        &check::udp_echo::LESSON,
        &check::sticky::LESSON,
        &check::remote_cmd_framed::JSON,
        &check::remote_cmd_framed::LENGTH,
        &check::auth::LESSON,
        &check::auth::WITH_WELCOME,
    ]
}

fn options(timeout: Duration) -> Options {
    Options {
        timeout,
        fail_fast: true,
        ..Options::quiet(1)
    }
}

fn python(code: &str) -> StudentClient {
    StudentClient::new(vec!["python3".into(), "-c".into(), code.into()]).unwrap()
}

#[test]
fn a_client_that_cheats_fails_every_checker() {
    if !common::have_python() {
        return;
    }
    let cheat = python(CHEAT);
    for lesson in every_client_checker() {
        let report =
            check::check_client(lesson, cheat.clone(), &options(Duration::from_secs(10))).unwrap();
        let first = report.points.first().expect("a point");
        assert!(!first.passed, "{}: {first}", lesson.binary);
        // The sender of 09 prints nothing: its checker counts the frames that came.
        assert!(
            first.got.contains("no connection") || first.got.starts_with("0 frame"),
            "{}: {first}",
            lesson.binary
        );
    }
}

#[test]
fn a_client_that_hangs_fails_every_checker_in_time() {
    if !common::have_python() {
        return;
    }
    let hang = python(HANG);
    let timeout = Duration::from_millis(700);
    for lesson in every_client_checker() {
        let started = std::time::Instant::now();
        let report = check::check_client(lesson, hang.clone(), &options(timeout)).unwrap();
        let first = report.points.first().expect("a point");
        assert!(!first.passed, "{}: {first}", lesson.binary);
        assert!(
            first.steps.iter().any(|s| s.contains("killed")),
            "{}: {first}",
            lesson.binary
        );
        // One point, at most a few of its timeouts (04 waits for a retry too).
        assert!(
            started.elapsed() < timeout * 4 + common::WAIT,
            "{}: {:?}",
            lesson.binary,
            started.elapsed()
        );
    }
}

#[test]
fn a_udp_time_server_that_never_answers_fails() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let report = check::check_server(
        &check::udp_time::LESSON,
        addr,
        &options(Duration::from_millis(500)),
    )
    .unwrap();
    let first = report.points.first().expect("a point");
    assert!(!first.passed, "{first}");
    assert!(report.error.is_none(), "{:?}", report.error);
}

#[test]
fn a_point_name_that_is_no_point_is_one_clear_error() {
    let cheat = python(CHEAT);
    let options = Options {
        only: Some("no such point".into()),
        ..Options::quiet(1)
    };
    let report = check::check_client(&check::echo::ECHO_ONCE, cheat, &options).unwrap();
    assert!(report.points.is_empty());
    let error = report.error.expect("an error");
    assert!(
        error.contains("no point named 'no such point'")
            && error.contains("'reply in 1-byte writes'"),
        "{error}"
    );
}

/// A "server" of lesson 15 that greets, answers every PASS with `pass_reply` (a lenient one
/// accepts a wrong password too) and 500 to everything else but QUIT.
fn ftp_server(pass_reply: &'static [u8]) -> std::net::SocketAddr {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            std::thread::spawn(move || {
                let _ = conn.set_read_timeout(Some(common::WAIT));
                let _ = conn.write_all(b"220 lenient\r\n");
                let mut lines = BufReader::new(conn.try_clone().unwrap()).lines();
                while let Some(Ok(line)) = lines.next() {
                    let reply: &[u8] = match line.split(' ').next().unwrap_or("") {
                        "USER" => b"331 password?\r\n",
                        "PASS" => pass_reply,
                        "QUIT" => b"221 bye\r\n",
                        _ => b"500 no\r\n",
                    };
                    if conn.write_all(reply).is_err() || line.starts_with("QUIT") {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// 15's checker, like every other, shows a FAIL's numbered steps with the bytes escaped and in
/// hex, the first difference marked, and the command that replays the point (with the
/// `--seed` and `--point` its own command line accepts).
#[test]
fn a_fail_of_15s_checker_shows_the_steps_the_difference_and_the_replay() {
    let addr = ftp_server(b"230 welcome, whoever you are\r\n");
    let account = check::standard_ftp::Account {
        user: "alice".into(),
        password: "secret".into(),
    };
    let options = Options {
        command_line: Some(
            [
                "15-ftp",
                "check",
                "server",
                "127.0.0.1:9015",
                "--user",
                "alice",
            ]
            .map(String::from)
            .to_vec(),
        ),
        ..options(Duration::from_secs(10))
    };
    let report = check::standard_ftp::report(addr, &account, &options).unwrap();
    // A PASS names the commands and the reply codes, in short.
    let greeting = report.points.first().expect("a point");
    assert_eq!(
        (greeting.sent.as_str(), greeting.got.as_str()),
        ("PWD, QUIT", "replies 220, 500, 221"),
        "{greeting}"
    );
    let failed = report.first_failure().expect("a failure");
    assert_eq!(failed.name, "a wrong password gets 530", "{failed}");
    let shown = failed.to_string();
    assert!(shown.contains("    1. connected to"), "{shown}");
    assert!(shown.contains("received '220 lenient\\r\\n'"), "{shown}");
    assert!(shown.contains(" hex 32 32 30"), "{shown}");
    // The password never shows.
    assert!(shown.contains("sent 'PASS ****\\r\\n'"), "{shown}");
    assert!(!shown.contains("secret"), "{shown}");
    assert!(shown.contains("differ first at byte 0"), "{shown}");
    assert!(
        shown.contains(
            "replay this point: 15-ftp check --seed 1 --point 'a wrong password gets 530' server"
        ),
        "{shown}"
    );
}

/// The replay line of 15's checker is a command its own parser takes: `--seed` and `--point`.
#[test]
fn fifteens_replay_line_parses() {
    let address = format!("127.0.0.1:{}", common::closed_port());
    let run = common::run_with_env(
        env!("CARGO_BIN_EXE_15-ftp"),
        &[
            "check",
            "--seed",
            "1",
            "--point",
            "a wrong password gets 530",
            "server",
            &address,
            "--user",
            "alice",
        ],
        "",
        &[("SOCKLAB_PASSWORD", "secret")],
    );
    assert_eq!(run.status.code(), Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("nothing listens"), "{}", run.stderr);
}

/// A sender of 09 that takes the length of the text, not of its bytes: the transcript marks the
/// length byte itself as the first difference.
#[test]
fn a_length_of_characters_is_marked_at_byte_0() {
    if !common::have_python() {
        return;
    }
    let sender = python(
        "import socket, struct, sys, os\n\
         s = socket.create_connection(('127.0.0.1', int(os.environ['SOCKLAB_PORT'])))\n\
         for line in sys.stdin.read().splitlines():\n    \
             s.sendall(struct.pack('<i', len(line)) + line.encode())\n\
         s.close()\n",
    );
    let options = Options {
        only: Some("Chinese text (length of the bytes, not the characters)".into()),
        ..options(Duration::from_secs(10))
    };
    let report = check::check_client(&check::sticky::LESSON, sender, &options).unwrap();
    let failed = report.first_failure().expect("a failure");
    let shown = failed.to_string();
    assert!(
        shown.contains("differ first at byte 0: expected '\\x0f' (0x0f), got '\\x05' (0x05)"),
        "{shown}"
    );
}

/// Echo servers for 03's checker, each on its own thread: `answer` makes the reply.
fn echo_server(answer: fn(&[u8]) -> Vec<u8>, clients: Option<usize>) -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut served = 0;
        while clients.is_none_or(|n| served < n) {
            let Ok((mut conn, _)) = listener.accept() else {
                return;
            };
            served += 1;
            std::thread::spawn(move || {
                let _ = conn.set_read_timeout(Some(common::WAIT));
                let mut buf = [0u8; 1024];
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 || conn.write_all(&answer(&buf[..n])).is_err() {
                        return;
                    }
                }
            });
        }
        // `listener` is dropped here: nothing listens any more.
    });
    addr
}

/// Tutorial 001's server answers `data.upper() + b'sb'`: the first point fails, and says why.
#[test]
fn an_answer_with_bytes_added_fails_at_once() {
    let addr = echo_server(
        |data| [data.to_ascii_uppercase(), b"sb".to_vec()].concat(),
        None,
    );
    let report = check::check_server(
        &check::threaded_echo::LINK_LOOP,
        addr,
        &options(Duration::from_secs(10)),
    )
    .unwrap();
    let first = report.points.first().expect("a point");
    assert!(!first.passed, "{first}");
    assert!(first.got.contains("then 'sb' more"), "{first}");
    assert!(
        first.to_string().contains("differ first at byte 5"),
        "{first}"
    );
}

/// A server that stops listening after its first client: one FAIL that says so, and no more
/// points (not one "connection refused" per point, each with a hint about something else).
#[test]
fn a_server_that_stops_is_named_once_and_the_check_stops() {
    let addr = echo_server(|data| data.to_ascii_uppercase(), Some(1));
    let options = Options {
        fail_fast: false,
        ..options(Duration::from_secs(10))
    };
    let report = check::check_server(&check::threaded_echo::LINK_LOOP, addr, &options).unwrap();
    assert!(report.error.is_none(), "{:?}", report.error);
    assert_eq!(report.points.len(), 2, "{report:?}");
    assert!(report.points[0].passed, "{}", report.points[0]);
    let stopped = &report.points[1];
    assert!(
        stopped.got.contains("nothing listens on") && stopped.got.contains("any more"),
        "{stopped}"
    );
    assert!(
        stopped.got.contains("the remaining points were not run"),
        "{stopped}"
    );
}

/// With a password the server refuses, 15's checker says so once and stops, instead of failing
/// every point that logs in.
#[test]
fn fifteens_checker_stops_at_a_refused_login() {
    let addr = ftp_server(b"530 no\r\n");
    let account = check::standard_ftp::Account {
        user: "alice".into(),
        password: "typo".into(),
    };
    let options = Options {
        fail_fast: false,
        ..options(Duration::from_secs(10))
    };
    let report = check::standard_ftp::report(addr, &account, &options).unwrap();
    assert_eq!(report.points.len(), 3, "{report:?}");
    let last = report.points.last().unwrap();
    assert!(!last.passed, "{last}");
    assert!(
        last.got
            .contains("is SOCKLAB_PASSWORD the password of 'alice'"),
        "{last}"
    );
}

/// A UDP time server with a wrong clock: 06's FAIL marks where its year differs.
#[test]
fn a_wrong_year_is_marked() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        while let Ok((_, from)) = server.recv_from(&mut buf) {
            let _ = server.send_to(b"1999", from);
        }
    });
    let report = check::check_server(
        &check::udp_time::LESSON,
        addr,
        &options(Duration::from_secs(5)),
    )
    .unwrap();
    let first = report.points.first().expect("a point");
    assert!(!first.passed, "{first}");
    assert!(
        first.to_string().contains("differ first at byte 0"),
        "{first}"
    );
}

/// A 13 server that reads every request and never answers (tutorial 004's): the FAIL says so in
/// words, with the time waited.
#[test]
fn a_file_server_that_never_answers_is_told_so() {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            std::thread::spawn(move || {
                let _ = conn.set_read_timeout(Some(common::WAIT));
                let mut sink = [0u8; 4096];
                while matches!(conn.read(&mut sink), Ok(n) if n > 0) {}
            });
        }
    });
    let report = check::check_server(
        &check::file_upload::LESSON,
        addr,
        &options(Duration::from_secs(1)),
    )
    .unwrap();
    let first = report.points.first().expect("a point");
    assert!(!first.passed, "{first}");
    assert!(
        first
            .got
            .contains("no reply within 1 s (--timeout): your server must answer"),
        "{first}"
    );
    assert!(first.to_string().contains("timed out after 1 s"), "{first}");
}
