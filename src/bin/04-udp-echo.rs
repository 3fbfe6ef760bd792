//! Lesson 04: UDP echo. See `socklab::lessons::udp_echo` and walkthrough.md.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use socklab::check;
use socklab::cli::{self, BufSize, Endpoint, Remote};
use socklab::lessons::udp_echo::{run_server, ServerConfig, UdpClient};
use socklab::log::Log;
use socklab::net;
use socklab::server::Shutdown;
use socklab::units;

/// UDP echo: the server answers every datagram with its bytes upper-cased. No connection: a
/// datagram longer than the server's buffer is cut, and a lost one is never sent again.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(subcommand)]
    role: Role,
}

#[derive(Subcommand)]
enum Role {
    /// Check your own UDP client: `check client -- python3 client.py {port}` (see walkthrough.md, 04).
    Check(check::CheckArgs<check::ClientOnly>),
    /// Answer every datagram, for ever (Ctrl-C stops it).
    Server {
        #[command(flatten)]
        endpoint: Endpoint<9004>,
        #[command(flatten)]
        bufsize: BufSize,
    },
    /// Send each message (the arguments, or lines of stdin until `quit`) as one datagram and
    /// print each reply on its own line.
    Client {
        #[command(flatten)]
        endpoint: Remote<9004>,
        /// How long to wait for each reply: seconds (2, 0.5) or 90s, 1m. UDP does not
        /// retransmit: if nothing comes back in time, the client says so and exits with status 1.
        #[arg(long, default_value = "2", value_parser = units::parse_timeout)]
        timeout: Duration,
        /// The messages to send, one datagram per argument. None: read lines from stdin.
        messages: Vec<String>,
    },
}

fn main() -> ExitCode {
    cli::run(|| match Args::parse().role {
        Role::Check(args) => check::run(&check::udp_echo::LESSON, args),
        Role::Server { endpoint, bufsize } => {
            let socket = net::bind_udp(&endpoint.host, endpoint.port)?;
            let log = Log::stdout();
            net::announce_listening(socket.local_addr()?, &log);
            let config = ServerConfig {
                bufsize: bufsize.get(),
            };
            run_server(socket, &config, &log, &Shutdown::new())?;
            Ok(())
        }
        Role::Client {
            endpoint,
            timeout,
            messages,
        } => {
            let client = UdpClient::new(&endpoint.host, endpoint.port, timeout)?;
            for message in cli::messages(messages) {
                let reply = client.request(message.as_bytes())?;
                cli::print_line(String::from_utf8_lossy(&reply))?;
            }
            Ok(())
        }
    })
}
