//! Lesson 07: the toy remote shell, naive on purpose. See `socklab::lessons::remote_cmd` and
//! walkthrough.md.

use std::io::ErrorKind;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use encoding_rs::Encoding;
use socklab::cli::{self, BufSize, Endpoint, Remote};
use socklab::lessons::remote_cmd::{run_server, Client, ClientConfig, ServerConfig};
use socklab::log::Log;
use socklab::net;
use socklab::server::Shutdown;
use socklab::shell::safety::{check_bind_host, ShellArgs};
use socklab::shell::terminal::{console_encoding_label, parse_encoding, print_answer};
use socklab::trace::Tracer;
use socklab::units;

/// A remote shell over TCP, naive on purpose: the server runs each command it receives and
/// sends back the raw output, with nothing to say where it ends; the client reads each answer
/// with ONE recv of --bufsize bytes. Try `seq 1 5000` then `echo hi`: the first answer is cut,
/// and the rest spills into the second (sticky packets, 粘包). Lesson 10 fixes it.
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
    /// Run each command a client sends (sh -c on Unix, cmd /C on Windows) and send back its
    /// stdout then its stderr, raw. One client at a time.
    Server {
        #[command(flatten)]
        endpoint: Endpoint<9007>,
        #[command(flatten)]
        bufsize: BufSize,
        #[command(flatten)]
        shell: ShellArgs,
        /// Print one line per send/recv on stderr.
        #[arg(long)]
        trace: bool,
        /// Also draw every send and recv as an SVG timeline into FILE.svg (rewritten each time
        /// a connection closes). See walkthrough.md, "the wire as a picture".
        #[arg(long, value_name = "FILE.svg")]
        picture: Option<PathBuf>,
    },
    /// Send commands and print each answer, read with ONE recv of --bufsize bytes.
    Client {
        #[command(flatten)]
        endpoint: Remote<9007>,
        #[command(flatten)]
        bufsize: BufSize,
        /// How the server's output is encoded: utf-8, or gbk for a Chinese Windows server
        /// (the tutorials' decode('gbk')); any WHATWG encoding label works. The default is
        /// this console's code page: utf-8 on Unix, gbk on a Chinese Windows.
        #[arg(long, default_value = console_encoding_label(), value_parser = parse_encoding)]
        encoding: &'static Encoding,
        /// How long to wait for an answer before giving up: seconds (60, 0.5) or with a unit
        /// (90s, 5m).
        #[arg(long, value_name = "DURATION", default_value = "60", value_parser = units::parse_timeout)]
        timeout: Duration,
        /// Print one line per send/recv on stderr.
        #[arg(long)]
        trace: bool,
        /// Also draw every send and recv as an SVG timeline into FILE.svg (rewritten each time
        /// a connection closes). See walkthrough.md, "the wire as a picture".
        #[arg(long, value_name = "FILE.svg")]
        picture: Option<PathBuf>,
        /// Commands to run, one per argument (quote each: "seq 1 5000" "echo hi"). Without
        /// any, commands are read from stdin, one per line; `quit` ends.
        commands: Vec<String>,
    },
}

fn main() -> ExitCode {
    cli::run(|| match Args::parse().role {
        Role::Server {
            endpoint,
            bufsize,
            shell,
            trace,
            picture,
        } => {
            if let Some(warning) = check_bind_host(&endpoint.host, shell.allow_remote)? {
                eprintln!("{warning}");
            }
            let listener = net::listen_tcp(&endpoint.host, endpoint.port, &Default::default())?;
            let log = Log::stdout();
            net::announce_listening(listener.local_addr()?, &log);
            let config = ServerConfig {
                bufsize: bufsize.get(),
                limits: shell.limits(),
                tracer: Tracer::for_cli("server", trace, picture),
            };
            run_server(listener, &config, &log, &Shutdown::new())?;
            Ok(())
        }
        Role::Client {
            endpoint,
            bufsize,
            encoding,
            timeout,
            trace,
            picture,
            commands,
        } => {
            let config = ClientConfig {
                bufsize: bufsize.get(),
                timeout,
                tracer: Tracer::for_cli("client", trace, picture),
            };
            let mut client = Client::connect(&endpoint.host, endpoint.port, &config)?;
            for command in cli::messages(commands) {
                let answer = client.ask(&command)?;
                match print_answer(&answer, encoding, std::io::stdout()) {
                    // Our reader went away (`... | head`): no one is left to print for.
                    Err(e) if e.kind() == ErrorKind::BrokenPipe => break,
                    printed => printed?,
                }
            }
            Ok(())
        }
    })
}
