//! Lesson 10: the remote shell with framed answers. See `socklab::lessons::remote_cmd_framed`
//! and walkthrough.md.

use std::io::{ErrorKind, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use encoding_rs::Encoding;
use socklab::check;
use socklab::cli::{self, BufSize, Endpoint, Remote};
use socklab::framing::LengthOrder;
use socklab::lessons::remote_cmd_framed::{
    header_notes, run_server, AnswerFraming, Client, ClientConfig, FramedError, ServerConfig,
};
use socklab::log::Log;
use socklab::net;
use socklab::server::{ServerOptions, Shutdown};
use socklab::shell::safety::{check_bind_host, ShellArgs};
use socklab::shell::terminal::{console_encoding_label, parse_encoding, Decoding};
use socklab::trace::Tracer;
use socklab::units;

/// A remote shell whose answers arrive whole: the server says how long each answer is before
/// sending it, and the client reads exactly that much, in a loop, whatever its --bufsize. Three
/// framings, as the tutorials build them up: ack, length, json (server and client must agree).
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
    /// Check your own client: `check --framing json client -- python3 client.py {port}` (see
    /// walkthrough.md, 10).
    Check {
        /// The framing your client reads: json or length.
        #[arg(long, value_parser = ["json", "length"], default_value = "json")]
        framing: String,
        #[command(flatten)]
        check: check::CheckArgs<check::ClientOnly>,
    },
    /// Run each command a client sends (sh -c on Unix, cmd /C on Windows) and send back its
    /// stdout then stderr, framed. One thread per client.
    Server {
        #[command(flatten)]
        endpoint: Endpoint<9010>,
        #[command(flatten)]
        bufsize: BufSize,
        /// How each answer's length is sent: ack = decimal digits, wait for the client's ack,
        /// then the answer; length = 4-byte little-endian length, then the answer; json = 4-byte
        /// header length, JSON header {"data_size": N, ...}, then the answer.
        #[arg(long, value_enum, default_value_t = AnswerFraming::Json)]
        framing: AnswerFraming,
        /// Byte order of the 4-byte lengths in length and json framing: little (the tutorials'
        /// struct.pack('i')) or big (network order, struct.pack('!I')). Must match the client's.
        #[arg(long, default_value = "little", value_parser = cli::length_order_parser())]
        byte_order: LengthOrder,
        #[command(flatten)]
        shell: ShellArgs,
        /// Most clients served at once (each answer is held in memory while it is sent).
        #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
        max_clients: u16,
        /// Print one line per send/recv on stderr.
        #[arg(long)]
        trace: bool,
        /// Also draw every send and recv as an SVG timeline into FILE.svg (rewritten each time
        /// a connection closes). See walkthrough.md, "the wire as a picture".
        #[arg(long, value_name = "FILE.svg")]
        picture: Option<PathBuf>,
    },
    /// Send commands and print each whole answer.
    Client {
        #[command(flatten)]
        endpoint: Remote<9010>,
        #[command(flatten)]
        bufsize: BufSize,
        /// How the server frames its answers: ack, length or json. Must match the server's.
        #[arg(long, value_enum, default_value_t = AnswerFraming::Json)]
        framing: AnswerFraming,
        /// Byte order of the 4-byte lengths: little or big. Must match the server's.
        #[arg(long, default_value = "little", value_parser = cli::length_order_parser())]
        byte_order: LengthOrder,
        /// How the server's output is encoded: utf-8, or gbk for a Chinese Windows server
        /// (the tutorials' decode('gbk')); any WHATWG encoding label works. The default is
        /// this console's code page: utf-8 on Unix, gbk on a Chinese Windows.
        #[arg(long, default_value = console_encoding_label(), value_parser = parse_encoding)]
        encoding: &'static Encoding,
        /// How long to wait for each read before giving up: seconds (60, 0.5) or with a unit
        /// (90s, 5m).
        #[arg(long, value_name = "DURATION", default_value = "60", value_parser = units::parse_timeout)]
        timeout: Duration,
        /// Longest answer accepted (units K, M, G: 64M, 1G). A larger announced length is
        /// refused before anything is read. Raise it with the server's --max-output.
        #[arg(long, value_name = "BYTES", default_value = "64M", value_parser = units::parse_size)]
        max_answer: u64,
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
        Role::Check { framing, check } => match framing.as_str() {
            "length" => check::run(&check::remote_cmd_framed::LENGTH, check),
            _ => check::run(&check::remote_cmd_framed::JSON, check),
        },
        Role::Server {
            endpoint,
            bufsize,
            framing,
            byte_order,
            shell,
            max_clients,
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
                framing,
                length_order: byte_order,
                limits: shell.limits(),
                tracer: Tracer::for_cli("server", trace, picture),
                options: ServerOptions {
                    max_clients: max_clients.into(),
                    ..ServerOptions::default()
                },
            };
            run_server(listener, &config, &log, &Shutdown::new())?;
            Ok(())
        }
        Role::Client {
            endpoint,
            bufsize,
            framing,
            byte_order,
            encoding,
            timeout,
            max_answer,
            trace,
            picture,
            commands,
        } => {
            let config = ClientConfig {
                bufsize: bufsize.get(),
                framing,
                length_order: byte_order,
                timeout,
                max_answer,
                tracer: Tracer::for_cli("client", trace, picture),
            };
            let mut client = Client::connect(&endpoint.host, endpoint.port, &config)?;
            for command in cli::messages(commands) {
                match ask_and_print(&mut client, &command, encoding) {
                    // Our reader went away (`... | head`): no one is left to print for.
                    Err(FramedError::Output(e)) if e.kind() == ErrorKind::BrokenPipe => break,
                    printed => printed?,
                }
            }
            Ok(())
        }
    })
}

/// Sends `command`, prints its whole answer as it arrives, and the JSON header's notes (time
/// limit, output cap) on stderr.
fn ask_and_print(
    client: &mut Client,
    command: &str,
    encoding: &'static Encoding,
) -> Result<(), FramedError> {
    let mut text = Decoding::new(encoding, std::io::stdout().lock());
    let info = client.ask(command, &mut text)?;
    if info.size > 0 && info.last_byte != Some(b'\n') {
        text.write_all(b"\n").map_err(FramedError::Output)?;
    }
    drop(text.finish().map_err(FramedError::Output)?);
    for note in header_notes(&info) {
        eprintln!("{note}");
    }
    Ok(())
}
