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
