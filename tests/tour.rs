//! `00-tour` runs every lesson end to end and exits 0.

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_00-tour");

/// `--pause` too: with stdin not a terminal (here a closed pipe) it must not wait.
#[test]
fn tour_runs_every_lesson() {
    let out = common::run(BIN, &["--pause"], "");
    assert!(
        out.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    assert!(out.stdout.contains(", 0 failed"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("-- now by hand: walkthrough.md, section \"14-ftp: "),
        "each stop bridges to the walkthrough: {}",
        out.stdout
    );
}

#[test]
fn tour_lists_lessons() {
    let out = common::run(BIN, &["--list"], "");
    assert!(out.status.success());
    assert!(out.stdout.contains("01-echo-once"));
}

#[test]
fn unknown_lesson_is_an_error() {
    let out = common::run(BIN, &["99"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("no lesson '99'"), "{}", out.stderr);
}
