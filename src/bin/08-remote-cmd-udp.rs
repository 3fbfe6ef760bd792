//! Lesson 08: the remote shell over UDP. See `socklab::lessons::remote_cmd_udp` and
//! walkthrough.md.

use std::io::ErrorKind;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use encoding_rs::Encoding;
use socklab::cli::{self, BufSize, Endpoint, Remote};
use socklab::lessons::remote_cmd_udp::{lost_note, run_server, Client, ClientConfig, ServerConfig};
use socklab::log::Log;
use socklab::net;
use socklab::server::Shutdown;
use socklab::shell::safety::{check_bind_host, ShellArgs};
use socklab::shell::terminal::{console_encoding_label, parse_encoding, print_answer};
use socklab::trace::Tracer;
use socklab::units;

/// A remote shell over UDP: one datagram per command, one datagram per answer (at most 65507
/// bytes). A client whose --bufsize is smaller than an answer gets its beginning and loses the
/// rest; nothing sticks to the next answer. TCP merges (lesson 07), UDP loses.
///
/// The server executes whatever it is sent, so it only listens on loopback unless given
/// --allow-remote.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(subcommand)]
    role: Role,
}

#[derive(Subcommand)]
enum Role {
    /// Run each command that arrives in a datagram (sh -c on Unix, cmd /C on Windows) and send
    /// its stdout then stderr back in one datagram, cut to fit. One command at a time.
    Server {
        #[command(flatten)]
        endpoint: Endpoint<9008>,
        #[command(flatten)]
        shell: ShellArgs,
        /// Print one line per datagram sent or received on stderr.
        #[arg(long)]
        trace: bool,
    },
    /// Send each command in a datagram and print the answer datagram, or as much of it as fits
    /// into --bufsize bytes (with a note on stderr saying how much was lost).
    Client {
        #[command(flatten)]
        endpoint: Remote<9008>,
        #[command(flatten)]
        bufsize: BufSize,
        /// How the server's output is encoded: utf-8, or gbk for a Chinese Windows server
        /// (the tutorials' decode('gbk')); any WHATWG encoding label works. The default is
        /// this console's code page: utf-8 on Unix, gbk on a Chinese Windows.
        #[arg(long, default_value = console_encoding_label(), value_parser = parse_encoding)]
        encoding: &'static Encoding,
        /// How long to wait for each answer: seconds (15, 0.5) or with a unit (90s, 5m). UDP
        /// cannot tell "no server" from "lost", so a client can only wait and give up.
        #[arg(long, value_name = "DURATION", default_value = "15", value_parser = units::parse_timeout)]
        timeout: Duration,
        /// Print one line per datagram sent or received on stderr.
        #[arg(long)]
        trace: bool,
        /// Commands to run, one per argument (quote each: "seq 1 5000" "echo hi"). Without
        /// any, commands are read from stdin, one per line; `quit` ends.
        commands: Vec<String>,
    },
}

fn main() -> ExitCode {
    cli::run(|| match Args::parse().role {
        Role::Server {
            endpoint,
            shell,
            trace,
        } => {
            if let Some(warning) = check_bind_host(&endpoint.host, shell.allow_remote)? {
                eprintln!("{warning}");
            }
            let socket = net::bind_udp(&endpoint.host, endpoint.port)?;
            let log = Log::stdout();
            net::announce_listening(socket.local_addr()?, &log);
            let config = ServerConfig {
                limits: shell.limits(),
                tracer: Tracer::stderr("server", trace),
            };
            run_server(socket, &config, &log, &Shutdown::new())?;
            Ok(())
        }
        Role::Client {
            endpoint,
            bufsize,
            encoding,
            timeout,
            trace,
            commands,
        } => {
            let config = ClientConfig {
                bufsize: bufsize.get(),
                timeout,
                tracer: Tracer::stderr("client", trace),
            };
            let mut client = Client::new(&endpoint.host, endpoint.port, &config)?;
            for command in cli::messages(commands) {
                let answer = client.ask(&command)?;
                match print_answer(&answer.bytes, encoding, std::io::stdout()) {
                    // Our reader went away (`... | head`): no one is left to print for.
                    Err(e) if e.kind() == ErrorKind::BrokenPipe => break,
                    printed => printed?,
                }
                if let Some(note) = lost_note(answer.lost, config.bufsize) {
                    eprintln!("{note}");
                }
            }
            Ok(())
        }
    })
}
