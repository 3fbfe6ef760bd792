//! Lesson 10's remote shell running `true` 500 times over one connection, against the least a
//! command can cost (a shell loop starting `sh -c true` 500 times) and against the least a
//! command sent over the network can cost (a minimal Rust remote shell, [`serve_reference`]).
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
    }
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
        what,
        unit: "µs each",
        digits: 0,
        socklab: socklab.wall,
        reference_name: "minimal Rust remote shell".into(),
        reference: minimal.wall,
        goal: "<= 1.05x".into(),
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
        socklab: socklab.cpu,
        reference_name: "minimal Rust remote shell".into(),
        reference: minimal.cpu,
        goal: "(the work)".into(),
    });
    Ok(())
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
