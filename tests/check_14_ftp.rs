//! The lesson-14 checker (`14-ftp check server HOST:PORT --user NAME`) against socklab's own
//! 14-ftp server, run as a process on port 0 with a temporary root and an account made with
//! `14-ftp adduser`: the real server passes every point, a server that does not keep interrupted
//! uploads fails exactly the resume point, and a server of another protocol fails the login.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use socklab::check::ftp::{self, Account};
use socklab::check::{Options, Report};

const BIN: &str = env!("CARGO_BIN_EXE_14-ftp");
const UPLOAD_BIN: &str = env!("CARGO_BIN_EXE_13-file-upload");
const PASSWORD: &str = "correct horse";

/// Makes alice (4 MiB quota, few iterations to keep logins fast) in `root`.
fn add_alice(root: &Path) {
    let root = root.to_str().unwrap();
    let added = common::run(
        BIN,
        &[
            "adduser",
            "alice",
            "--root",
            root,
            "--quota",
            "4MiB",
            "--iterations",
            "4096",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(added.status.success(), "adduser: {}", added.stderr);
}

fn server(root: &Path, extra: &[&str]) -> common::ServerProcess {
    let mut args = vec!["server", "--root", root.to_str().unwrap(), "--port", "0"];
    args.extend_from_slice(extra);
    common::ServerProcess::start(BIN, &args)
}

fn alice() -> Account {
    Account {
        user: "alice".into(),
        password: PASSWORD.into(),
    }
}

/// Every point, with a generous time per point for a loaded machine.
fn report(addr: SocketAddr, seed: u64) -> Report {
    let options = Options {
        timeout: Duration::from_secs(60),
        ..Options::quiet(seed)
    };
    ftp::report(addr, &alice(), &options).unwrap()
}

fn lines(report: &Report) -> String {
    report.points.iter().map(|p| format!("{p}\n")).collect()
}

#[test]
fn socklab_server_passes_every_point_and_nothing_is_left_behind() {
    let root = tempfile::tempdir().unwrap();
    add_alice(root.path());
    let server = server(root.path(), &[]);
    let report = report(server.addr, 14);
    assert_eq!(report.failed(), 0, "{}", lines(&report));
    assert_eq!(report.points.len(), 10, "{}", lines(&report));
    // Only the server's own (hidden) folder of partial uploads remains in the home.
    let left: Vec<_> = std::fs::read_dir(root.path().join("home/alice"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with(".socklab"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_server_that_drops_interrupted_uploads_fails_only_the_resume_point() {
    let root = tempfile::tempdir().unwrap();
    add_alice(root.path());
    // Kept partial uploads expire at once: the second put starts again at 0.
    let server = server(root.path(), &["--partial-ttl", "0"]);
    let report = report(server.addr, 7);
    let failed: Vec<_> = report.points.iter().filter(|p| !p.passed).collect();
    assert_eq!(failed.len(), 1, "{}", lines(&report));
    assert!(failed[0].name.contains("resumes"), "{}", lines(&report));
    assert!(failed[0].got.contains("offset 0"), "{}", lines(&report));
}

#[test]
fn a_server_of_another_protocol_fails_the_login() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::ServerProcess::start_in(
        UPLOAD_BIN,
        &["server", "--port", "0"],
        &[],
        Some(dir.path()),
    );
    let report = report(server.addr, 1);
    let first = report.first_failure().expect("a failure");
    assert!(first.name.starts_with("login"), "{}", lines(&report));
    assert_eq!(report.passed(), 0, "{}", lines(&report));
}

/// The command line, against a server of another protocol (every point fails at once: the
/// output's shape is what is tested; a wrong password would meet the server's brake instead).
#[test]
fn the_command_prints_each_point_and_takes_the_password_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::ServerProcess::start_in(
        UPLOAD_BIN,
        &["server", "--port", "0"],
        &[],
        Some(dir.path()),
    );
    let address = server.addr.to_string();
    let args = [
        "check",
        "server",
        address.as_str(),
        "--user",
        "alice",
        "--seed",
        "3",
    ];

    let without = common::run(BIN, &args, "");
    assert_eq!(without.status.code(), Some(1));
    assert!(
        without.stderr.contains("SOCKLAB_PASSWORD"),
        "{}",
        without.stderr
    );
    assert!(without.stdout.is_empty(), "{}", without.stdout);

    // In a folder of its own: each check run writes the progress file there.
    let run = common::run_in(
        BIN,
        &args,
        "",
        &[("SOCKLAB_PASSWORD", PASSWORD)],
        Some(dir.path()),
    );
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert!(run.stdout.contains("seed 3"), "{}", run.stdout);
    assert!(run.stdout.contains("FAIL login"), "{}", run.stdout);
    assert!(
        run.stdout.contains("hint: walkthrough.md, 14-ftp"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.trim_end().ends_with("0 passed, 10 failed"),
        "{}",
        run.stdout
    );
}

/// Like every checker's, a FAIL of 14's shows the point's numbered steps with the frames as
/// escaped bytes and hex (the login and the requests go through the transcript, not only the
/// lesson's client), the first difference marked, and the command that replays the point. The
/// failure is a classic: a server that joins `/etc/passwd` to the home finds a file there.
#[test]
fn a_fail_shows_the_frames_the_difference_and_the_replay_command() {
    let root = tempfile::tempdir().unwrap();
    add_alice(root.path());
    let etc = root.path().join("home/alice/etc");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(etc.join("passwd"), "root:x:0:0\n").unwrap();
    let server = server(root.path(), &[]);
    let point = "hostile paths get the documented codes";
    let options = Options {
        timeout: Duration::from_secs(60),
        only: Some(point.into()),
        command_line: Some(
            [
                "14-ftp",
                "check",
                "server",
                "127.0.0.1:9014",
                "--user",
                "alice",
            ]
            .map(String::from)
            .to_vec(),
        ),
        ..Options::quiet(5)
    };
    let report = ftp::report(server.addr, &alice(), &options).unwrap();
    let failed = report.first_failure().expect("a failure");
    let shown = failed.to_string();
    assert!(shown.contains("FAIL hostile paths"), "{shown}");
    assert!(shown.contains("    1. connected to"), "{shown}");
    // The login frame, escaped, with its binary length prefix in hex.
    assert!(
        shown.contains(r#"\"cmd\":\"login\""#) || shown.contains(r#""cmd":"login""#),
        "{shown}"
    );
    assert!(shown.contains(" hex "), "{shown}");
    assert!(shown.contains("received '"), "{shown}");
    assert!(shown.contains("differ first at byte 0"), "{shown}");
    assert!(
        shown.contains(&format!(
            "replay this point: 14-ftp check --seed 5 --point '{point}' server 127.0.0.1:9014 --user alice"
        )),
        "{shown}"
    );
}
