//! Lesson 01: one-shot TCP echo. See `socklab::lessons::echo_once` and walkthrough.md.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use socklab::cli::{self, BufSize, Endpoint, Remote};
use socklab::lessons::echo_once::{run_client, run_server, ServerConfig};
use socklab::log::Log;
use socklab::net;
use socklab::server::Shutdown;

/// One-shot TCP echo: the server accepts one client, reads once, replies with the bytes
/// upper-cased, and exits.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(subcommand)]
    role: Role,
}

#[derive(Subcommand)]
enum Role {
    /// Wait for one client, echo its message upper-cased, exit.
    Server {
        #[command(flatten)]
        endpoint: Endpoint<9001>,
        #[command(flatten)]
        bufsize: BufSize,
    },
    /// Send one message (the arguments, joined by spaces, or one line of stdin) and print the reply.
    Client {
        #[command(flatten)]
        endpoint: Remote<9001>,
        /// The message to send.
        message: Vec<String>,
    },
}

fn main() -> ExitCode {
    cli::run(|| match Args::parse().role {
        Role::Server { endpoint, bufsize } => {
            let listener = net::listen_tcp(&endpoint.host, endpoint.port, &Default::default())?;
            let log = Log::stdout();
            net::announce_listening(listener.local_addr()?, &log);
            let config = ServerConfig {
                bufsize: bufsize.get(),
            };
            run_server(listener, &config, &log, &Shutdown::new())?;
            Ok(())
        }
        Role::Client { endpoint, message } => {
            let message = if message.is_empty() {
                cli::messages(Vec::new()).next().unwrap_or_default()
            } else {
                message.join(" ")
            };
            if message.is_empty() {
                anyhow::bail!("nothing to send (give a message as an argument or on stdin)");
            }
            let reply = run_client(&endpoint.host, endpoint.port, message.as_bytes(), 1 << 20)?;
            cli::print_line(String::from_utf8_lossy(&reply))
        }
    })
}
