//! Lesson 10's remote shell running `true` 500 times over one connection, against the least a
//! command can cost: a shell loop starting `sh -c true` 500 times.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::procs::{lesson, time_command, Server};
use crate::table::{Row, Samples, Table};
use crate::Options;

const COMMANDS: usize = 500;
const LIMIT: Duration = Duration::from_secs(120);

pub fn rows(options: &Options, dir: &Path, table: &mut Table) -> anyhow::Result<()> {
    println!("10-remote-cmd-framed, {COMMANDS} commands `true` on one connection:");
    let mut socklab = Samples::default();
    let mut shell = Samples::default();
    let per_command = |took: Duration| took.as_secs_f64() * 1e6 / COMMANDS as f64;
    for _ in 0..options.runs() {
        let mut server_command = Command::new(lesson("10-remote-cmd-framed"));
        server_command.args(["server", "--port", "0"]);
        let server = Server::start(server_command, &dir.join("remote.log"))?;
        let mut client = Command::new(lesson("10-remote-cmd-framed"));
        client.args(["client", "--port", &server.addr.port().to_string()]);
        client.args(std::iter::repeat_n("true", COMMANDS));
        socklab.push(per_command(time_command(client, None, LIMIT)?));
        drop(server);

        let mut dash = Command::new("sh");
        dash.arg("-c").arg(format!(
            "i=0; while [ $i -lt {COMMANDS} ]; do sh -c true; i=$((i+1)); done"
        ));
        shell.push(per_command(time_command(dash, None, LIMIT)?));
    }
    table.add(Row {
        what: format!("10 remote command `true`, {COMMANDS} on one connection"),
        unit: "µs each",
        digits: 0,
        socklab,
        reference_name: "sh loop spawning `sh -c true`".into(),
        reference: shell,
        goal: "<= 1.25x".into(),
    });
    Ok(())
}
