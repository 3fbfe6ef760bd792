//! Lesson 11: threaded echo server. See `socklab::lessons::threaded_echo` and walkthrough.md.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use socklab::check;
use socklab::cli::{self, BufSize, Endpoint, Remote};
use socklab::lessons::echo_loop::echo_each;
use socklab::lessons::threaded_echo::{run_server, ServerConfig};
use socklab::load::{self, run_load, LoadConfig};
use socklab::log::Log;
use socklab::net;
use socklab::server::Shutdown;
use socklab::units;

/// Threaded TCP echo (Python's ThreadingTCPServer): every client gets its own thread, so many
/// talk at once; each message comes back upper-cased.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(subcommand)]
    role: Role,
}

#[derive(Subcommand)]
enum Role {
    /// Check your own threaded echo server: `check server 127.0.0.1:9011` (see walkthrough.md, 11).
    Check(check::CheckArgs<check::ServerOnly>),
    /// Serve many clients at once, one thread each, for ever (Ctrl-C stops it).
    Server {
        #[command(flatten)]
        endpoint: Endpoint<9011>,
        #[command(flatten)]
        bufsize: BufSize,
        /// Most clients served at once; the next one gets a one-line refusal and is closed.
        #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        max_clients: u64,
        /// How long a client may stay silent (or leave our replies unread) before the server
        /// closes its connection and frees its thread: seconds (300) or 90s, 10m.
        #[arg(long, default_value = "300", value_parser = units::parse_timeout)]
        idle_timeout: Duration,
        /// Log only clients coming and going, not a line per message: for a server under load
        /// (`bench`), whose per-message lines would scroll past unread and cost about 5% of its
        /// speed.
        #[arg(long)]
        quiet: bool,
    },
    /// Send each message (the arguments, or lines of stdin until `quit`) on one connection and
    /// print each reply on its own line.
    Client {
        #[command(flatten)]
        endpoint: Remote<9011>,
        /// How long to wait for each reply before giving up: seconds (2, 0.5) or 90s, 10m.
        #[arg(long, default_value = "30", value_parser = units::parse_timeout)]
        timeout: Duration,
        /// The messages to send, one per argument. None: read lines from stdin.
        messages: Vec<String>,
    },
    /// Load an echo server (this lesson's, or 03's one-at-a-time server) with many clients at
    /// once and print requests per second and latency percentiles.
    Bench {
        #[command(flatten)]
        endpoint: Endpoint<9011>,
        /// Clients connected at once, each with one request in flight.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=20_000))]
        clients: u64,
        /// Requests each client sends, one after the other.
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        requests: u64,
        /// The message of every request (16 bytes by default).
        #[arg(long, default_value = "0123456789abcdef")]
        message: String,
        /// How long a client waits to connect, or for a reply, before it gives up: seconds (30)
        /// or 90s, 10m.
        #[arg(long, default_value = "30", value_parser = units::parse_timeout)]
        timeout: Duration,
        /// Threads driving the clients, each a share of them in lock-step (a request on each,
        /// then each reply in turn), so the load costs the machine little. A server that
        /// serves one connection at a time (lesson 03's) needs as many as --clients.
        #[arg(long, default_value_t = load::DEFAULT_THREADS as u64, value_parser = clap::value_parser!(u64).range(1..=20_000))]
        threads: u64,
    },
}

fn main() -> ExitCode {
    cli::run(|| match Args::parse().role {
        Role::Check(args) => check::run(&check::threaded_echo::LESSON, args),
        Role::Server {
            endpoint,
            bufsize,
            max_clients,
            idle_timeout,
            quiet,
        } => {
            let listener = net::listen_tcp(&endpoint.host, endpoint.port, &Default::default())?;
            let log = Log::stdout();
            net::announce_listening(listener.local_addr()?, &log);
            let config = ServerConfig {
                bufsize: bufsize.get(),
                max_clients: usize::try_from(max_clients)?,
                idle_timeout,
                log_messages: !quiet,
            };
            run_server(listener, &config, &log, &Shutdown::new())?;
            Ok(())
        }
        Role::Client {
            endpoint,
            timeout,
            messages,
        } => {
            let messages = cli::messages(messages);
            echo_each(&endpoint.host, endpoint.port, timeout, messages, |reply| {
                cli::print_line(String::from_utf8_lossy(reply))
            })
        }
        Role::Bench {
            endpoint,
            clients,
            requests,
            message,
            timeout,
            threads,
        } => {
            anyhow::ensure!(!message.is_empty(), "--message must not be empty");
            let addr = net::resolve(&endpoint.host, endpoint.port)?
                .into_iter()
                .next()
                .ok_or_else(|| anyhow::anyhow!("{} has no address", endpoint.host))?;
            let config = LoadConfig {
                clients: usize::try_from(clients)?,
                requests: usize::try_from(requests)?,
                message: message.into_bytes(),
                timeout,
                threads: usize::try_from(threads)?,
            };
            let report = run_load(addr, &config);
            cli::print_line(report.summary())?;
            for failure in report.failures.iter().take(5) {
                cli::print_line(format!("failed: {failure}"))?;
            }
            anyhow::ensure!(
                report.failures.is_empty(),
                "{} of {clients} clients failed",
                report.failures.len()
            );
            Ok(())
        }
    })
}
