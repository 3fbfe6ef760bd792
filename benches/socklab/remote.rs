//! Lesson 10's remote shell running `true` 500 times over one connection, against the least a
//! command can cost (a shell loop starting `sh -c true` 500 times) and against the least a
//! command sent over the network can cost (a minimal Rust remote shell, [`serve_reference`]).
//! A third reference, a Rust loop starting the same commands with no network
//! ([`run_spawn_loop`]), shows where the difference goes: into starting a process from Rust, or
//! into carrying the command to a server and its answer back.
//!
//! Besides the wall time of the client's whole command, each variant's CPU time per command is
//! measured (server, its shells and the client together; for the loop, the loop's shell and the
//! shells it starts): what the work costs, which a busy machine disturbs far less than wall time.
//! Where the two ratios differ, the difference is time spent waiting, not working: the hand-offs
//! between processes (client to server, server to shell and back, server to client).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::procs::{children_cpu, lesson, time_command, Server};
use crate::table::{Row, Samples, Table};
use crate::Options;

const COMMANDS: usize = 500;
const LIMIT: Duration = Duration::from_secs(120);

/// The reference remote shell: lesson 10's `json` framing and nothing else, what anyone would
/// write by hand; lesson 10 should cost little more. It is the outside harness's own file
/// (`benches/outside/min_shell.rs`, which `remote.py` compiles alone with `rustc -O`), so both
/// harnesses measure the same reference.
#[path = "../outside/min_shell.rs"]
mod min_shell;

/// Serves as the reference remote shell (the runner starts itself with `--serve-reference-shell`).
pub fn serve_reference() -> std::io::Result<()> {
    min_shell::main()
}

/// The Rust loop with no network: `sh -c true` started 500 times with `Command::output()`, as
/// the minimal remote shell starts each command. The outside harness's file too.
#[path = "../outside/spawn_loop.rs"]
mod spawn_loop;

/// Runs the Rust spawn loop (the runner starts itself with `--run-spawn-loop`).
pub fn run_spawn_loop() -> std::io::Result<()> {
    spawn_loop::main()
}

/// Wall time and CPU time of one variant, per command.
#[derive(Default)]
struct Measured {
    wall: Samples,
    cpu: Samples,
}

pub fn rows(options: &Options, dir: &Path, table: &mut Table) -> anyhow::Result<()> {
    println!("10-remote-cmd-framed, {COMMANDS} commands `true` on one connection:");
    let mut socklab = Measured::default();
    let mut minimal = Measured::default();
    let mut shell = Measured::default();
    let mut rust_loop = Measured::default();
    for _ in 0..options.runs() {
        let mut server = Command::new(lesson("10-remote-cmd-framed"));
        server.args(["server", "--port", "0"]);
        over_the_network(server, dir, &mut socklab)?;

        let mut server = Command::new(std::env::current_exe()?);
        server.arg("--serve-reference-shell");
        over_the_network(server, dir, &mut minimal)?;

        let mut dash = Command::new("sh");
        dash.arg("-c").arg(format!(
            "i=0; while [ $i -lt {COMMANDS} ]; do sh -c true; i=$((i+1)); done"
        ));
        let before = children_cpu();
        let took = time_command(dash, None, LIMIT)?;
        shell.wall.push(per_command(took));
        if let (Some(before), Some(after)) = (before, children_cpu()) {
            shell.cpu.push(per_command(after.saturating_sub(before)));
        }

        let mut spawner = Command::new(std::env::current_exe()?);
        spawner.arg("--run-spawn-loop");
        let before = children_cpu();
        let took = time_command(spawner, None, LIMIT)?;
        rust_loop.wall.push(per_command(took));
        if let (Some(before), Some(after)) = (before, children_cpu()) {
            rust_loop
                .cpu
                .push(per_command(after.saturating_sub(before)));
        }
    }
    where_it_goes(&socklab, &minimal, &rust_loop, &shell, table);
    let what = format!("10 remote command `true`, {COMMANDS} on one connection");
    table.add(Row {
        what: what.clone(),
        unit: "µs each",
        digits: 0,
        socklab: socklab.wall.clone(),
        reference_name: "sh loop spawning `sh -c true`".into(),
        reference: shell.wall,
        goal: "<= 1.1x".into(),
    });
    table.add(Row {
        what: what.clone(),
        unit: "µs each",
        digits: 0,
        socklab: socklab.wall.clone(),
        reference_name: "minimal Rust remote shell".into(),
        reference: minimal.wall,
        goal: "<= 1.05x".into(),
    });
    table.add(Row {
        what,
        unit: "µs each",
        digits: 0,
        socklab: socklab.wall,
        reference_name: "Rust loop spawning `sh -c true`, no network".into(),
        reference: rust_loop.wall,
        goal: "(the network's share)".into(),
    });
    if socklab.cpu.values.is_empty() {
        table.note("10 remote command: CPU time not measured on this system (no getrusage)");
        return Ok(());
    }
    table.add(Row {
        what: "10 remote command `true`, CPU time (server, shells, client)".into(),
        unit: "µs each",
        digits: 0,
        socklab: socklab.cpu.clone(),
        reference_name: "sh loop (the loop and its shells)".into(),
        reference: shell.cpu,
        goal: "(the work)".into(),
    });
    table.add(Row {
        what: "10 remote command `true`, CPU time (server, shells, client)".into(),
        unit: "µs each",
        digits: 0,
        socklab: socklab.cpu.clone(),
        reference_name: "minimal Rust remote shell".into(),
        reference: minimal.cpu,
        goal: "(the work)".into(),
    });
    table.add(Row {
        what: "10 remote command `true`, CPU time (server, shells, client)".into(),
        unit: "µs each",
        digits: 0,
        socklab: socklab.cpu,
        reference_name: "Rust loop spawning `sh -c true`, no network".into(),
        reference: rust_loop.cpu,
        goal: "(the work)".into(),
    });
    Ok(())
}

/// Splits a command's wall time into three parts, from the medians: starting the process from
/// Rust (the Rust loop; the shell loop's fork is shown beside it), carrying the command over the
/// network and back (the minimal remote shell less the Rust loop), and socklab's own work on
/// top (socklab less the minimal remote shell: its framing, time limit, process group, log).
fn where_it_goes(
    socklab: &Measured,
    minimal: &Measured,
    rust_loop: &Measured,
    shell: &Measured,
    table: &mut Table,
) {
    let [s, m, r, l] = [socklab, minimal, rust_loop, shell].map(|v| v.wall.median());
    if [s, m, r, l].iter().any(|v| v.is_nan()) {
        return;
    }
    // Medians of noisy runs: a difference below zero means "none measurable", said so.
    let part = |d: f64| {
        if d >= 0.0 {
            format!("{d:.0} µs")
        } else {
            format!("none measurable ({d:.0} µs)")
        }
    };
    table.note(format!(
        "10 remote command, where a command's {s:.0} µs go (medians): starting `sh -c true` \
         from a Rust loop {r:.0} µs (the shell loop's fork: {l:.0}); the network round trip and \
         the hand-offs between client, server and shell {} (minimal remote shell less the Rust \
         loop); socklab's own work on top {} (socklab less the minimal remote shell)",
        part(m - r),
        part(s - m)
    ));
}

/// One run of a remote shell: the server started, the client's whole command timed, the server
/// stopped. CPU time is counted from before the server starts until it has been waited for.
fn over_the_network(server: Command, dir: &Path, into: &mut Measured) -> anyhow::Result<()> {
    let before = children_cpu();
    let server = Server::start(server, &dir.join("remote.log"))?;
    let mut client = Command::new(lesson("10-remote-cmd-framed"));
    client.args(["client", "--port", &server.addr.port().to_string()]);
    client.args(std::iter::repeat_n("true", COMMANDS));
    into.wall
        .push(per_command(time_command(client, None, LIMIT)?));
    drop(server);
    if let (Some(before), Some(after)) = (before, children_cpu()) {
        into.cpu.push(per_command(after.saturating_sub(before)));
    }
    Ok(())
}

/// Microseconds per command.
fn per_command(took: Duration) -> f64 {
    took.as_secs_f64() * 1e6 / COMMANDS as f64
}
