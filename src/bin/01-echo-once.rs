//! Lesson 01: one-shot TCP echo. See `socklab::lessons::echo_once` and walkthrough.md.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use socklab::check;
use socklab::cli::{self, BufSize, Endpoint, Remote};
use socklab::lessons::echo_once::{
    describe_ending, run_client, run_server, Received, ServerConfig,
};
use socklab::lessons::greeting;
use socklab::log::Log;
use socklab::net;
use socklab::server::Shutdown;
use socklab::units;

/// One-shot TCP echo: the server accepts one client, reads once, replies with the bytes
/// upper-cased, and exits. Second stage (tutorial 002): `greet-server` speaks first and closes;
/// `greet-client` only receives.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(subcommand)]
    role: Role,
}

#[derive(Subcommand)]
enum Role {
    /// Check your own client: `check client -- python3 client.py {port}` (see walkthrough.md, 01).
    Check(check::CheckArgs<check::ClientOnly>),
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
        /// How long to wait for the whole reply (the server closing) before giving up: seconds
        /// (5, 0.5) or 90s, 10m. What arrived is printed either way.
        #[arg(long, default_value = "30", value_parser = units::parse_timeout)]
        timeout: Duration,
        /// The message to send.
        message: Vec<String>,
    },
    /// Greet clients one after another without reading from them: send a line, close (tutorial
    /// 002's first server). Ctrl-C stops it.
    GreetServer {
        #[command(flatten)]
        endpoint: Endpoint<9001>,
        /// The line to send (followed by \r\n).
        #[arg(long, default_value = greeting::DEFAULT_GREETING)]
        greeting: String,
    },
    /// Connect, send nothing, print what the server sends until it closes (tutorial 002's first
    /// client).
    GreetClient {
        #[command(flatten)]
        endpoint: Endpoint<9001>,
        /// How long to wait for the server to close: seconds (5, 0.5) or 90s, 10m.
        #[arg(long, default_value = "30", value_parser = units::parse_timeout)]
        timeout: Duration,
    },
}

/// Prints what arrived, then says how the connection ended: an error (exit 1) unless the server
/// closed cleanly.
fn print_received(received: &Received) -> anyhow::Result<()> {
    if !received.data.is_empty() {
        cli::print_line(String::from_utf8_lossy(&received.data).trim_end_matches(['\r', '\n']))?;
    }
    match describe_ending(received) {
        None => Ok(()),
        Some(why) => anyhow::bail!(why),
    }
}

fn main() -> ExitCode {
    cli::run(|| match Args::parse().role {
        Role::Check(args) => check::run(&check::echo::ECHO_ONCE, args),
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
        Role::Client {
            endpoint,
            timeout,
            message,
        } => {
            let message = if message.is_empty() {
                cli::messages(Vec::new()).next().unwrap_or_default()
            } else {
                message.join(" ")
            };
            if message.is_empty() {
                anyhow::bail!("nothing to send (give a message as an argument or on stdin)");
            }
            let received = run_client(
                &endpoint.host,
                endpoint.port,
                message.as_bytes(),
                1 << 20,
                timeout,
            )?;
            print_received(&received)
        }
        Role::GreetServer { endpoint, greeting } => {
            let listener = net::listen_tcp(&endpoint.host, endpoint.port, &Default::default())?;
            let log = Log::stdout();
            net::announce_listening(listener.local_addr()?, &log);
            let config = greeting::ServerConfig { greeting };
            greeting::run_server(listener, &config, &log, &Shutdown::new())?;
            Ok(())
        }
        Role::GreetClient { endpoint, timeout } => {
            let received = greeting::run_client(&endpoint.host, endpoint.port, 1 << 20, timeout)?;
            print_received(&received)
        }
    })
}
