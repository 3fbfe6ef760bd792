//! Lesson 02: the communication loop. See `socklab::lessons::echo_loop` and walkthrough.md.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use socklab::check;
use socklab::cli::{self, BufSize, Endpoint, Remote};
use socklab::lessons::echo_loop::{any_reply_each, echo_each, run_server, ServerConfig};
use socklab::log::Log;
use socklab::net;
use socklab::server::Shutdown;
use socklab::units;

/// TCP echo with a communication loop: the server answers every message of its one client,
/// upper-cased, until that client disconnects, then exits.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(subcommand)]
    role: Role,
}

#[derive(Subcommand)]
enum Role {
    /// Check your own client: `check client -- python3 client.py {port}` (see walkthrough.md, 02).
    Check(check::CheckArgs<check::ClientOnly>),
    /// Serve one client for as long as it stays connected, then exit.
    Server {
        #[command(flatten)]
        endpoint: Endpoint<9002>,
        #[command(flatten)]
        bufsize: BufSize,
    },
    /// Send each message (the arguments, or lines of stdin until `quit`) on one connection and
    /// print each reply on its own line.
    Client {
        #[command(flatten)]
        endpoint: Remote<9002>,
        /// How long to wait for each reply before giving up: seconds (2, 0.5) or 90s, 10m.
        #[arg(long, default_value = "30", value_parser = units::parse_timeout)]
        timeout: Duration,
        /// Print whatever one recv(1024) brings back instead of checking that it is the echo:
        /// for servers whose replies are not the message upper-cased (tutorial 001's add b'sb').
        #[arg(long)]
        any_reply: bool,
        /// The messages to send, one per argument. None: read lines from stdin.
        messages: Vec<String>,
    },
}

fn main() -> ExitCode {
    cli::run(|| match Args::parse().role {
        Role::Check(args) => check::run(&check::echo::ECHO_LOOP, args),
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
            any_reply,
            messages,
        } => {
            let messages = cli::messages(messages);
            let print = |reply: &[u8]| cli::print_line(String::from_utf8_lossy(reply));
            if any_reply {
                any_reply_each(&endpoint.host, endpoint.port, timeout, messages, print)
            } else {
                echo_each(&endpoint.host, endpoint.port, timeout, messages, print)
            }
        }
    })
}
