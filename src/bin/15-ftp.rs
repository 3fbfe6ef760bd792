//! Lesson 15: the homework's server speaking real FTP (RFC 959). See
//! `socklab::lessons::standard_ftp` and walkthrough.md.

use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use socklab::check;
use socklab::cli::{self, Endpoint};
use socklab::lessons::ftp::server::DEFAULT_MAX_FILES;
use socklab::lessons::standard_ftp::server::{run_server, ServerConfig};
use socklab::log::Log;
use socklab::net;
use socklab::server::Shutdown;
use socklab::trace::Tracer;
use socklab::units;

/// The multi-user FTP of lesson 14 (same accounts, homes, jail and quotas) speaking the real
/// protocol, RFC 959: curl, Python's ftplib, lftp and FileZilla can use it. Users are made with
/// `14-ftp adduser`. The password crosses the network in clear, as in every plain FTP.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: one thread per control connection, each user jailed in its home.
    Server(ServerArgs),
    /// Check your own RFC 959 server with curl's, ftplib's and FileZilla's command sequences:
    /// `15-ftp check server 127.0.0.1:9015 --user alice`, with the password in the environment
    /// variable SOCKLAB_PASSWORD (see walkthrough.md, 15-ftp).
    Check(check::standard_ftp::CheckArgs),
}

#[derive(Args)]
struct ServerArgs {
    /// The server's folder, the same as 14-ftp's: users in ROOT/users.json, homes in
    /// ROOT/home/NAME.
    #[arg(long, default_value = "./ftp-root")]
    root: PathBuf,
    #[command(flatten)]
    endpoint: Endpoint<9015>,
    /// Most clients connected at once; the next one gets `421`.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    max_clients: u32,
    /// Disconnect a client that sends no command and moves no data for this long: seconds, or
    /// 30s, 5m, 1h.
    #[arg(long, default_value = "300", value_parser = units::parse_timeout)]
    idle_timeout: Duration,
    /// Close a connection that has not logged in this long after connecting: seconds, or 30s.
    #[arg(long, default_value = "60", value_parser = units::parse_timeout)]
    login_timeout: Duration,
    /// How long to wait for the client's data connection after a transfer command.
    #[arg(long, default_value = "30", value_parser = units::parse_timeout)]
    data_timeout: Duration,
    /// Ports for passive data connections, e.g. 50000-50100 (to open in a firewall); default:
    /// any port the system gives.
    #[arg(long, value_name = "FIRST-LAST", value_parser = parse_port_range)]
    passive_ports: Option<RangeInclusive<u16>>,
    /// Accept PORT and EPRT (the server connects to the client), only to the client's own
    /// address and a port of 1024 or more. Off: passive mode is what clients use.
    #[arg(long)]
    allow_port: bool,
    /// Refuse EPSV, to watch a client fall back to PASV.
    #[arg(long)]
    no_epsv: bool,
    /// Most files and directories one user may have, on top of the quota in bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_FILES, value_parser = clap::value_parser!(u64).range(1..))]
    max_files: u64,
    /// Print one line per send/recv call on stderr, control and data connections alike.
    #[arg(long)]
    trace: bool,
    /// Also draw every send and recv as an SVG timeline into FILE.svg (or keep the records in
    /// FILE.json for the `picture` binary): the control connection and the data connections in
    /// two lanes, `150`, the data, `226`. Rewritten each time a connection closes. See
    /// walkthrough.md, 15-ftp.
    #[arg(long, value_name = "FILE.svg")]
    picture: Option<PathBuf>,
}

/// `50000-50100` → 50000..=50100.
fn parse_port_range(text: &str) -> Result<RangeInclusive<u16>, String> {
    let (first, last) = text
        .split_once('-')
        .ok_or_else(|| "give the range as FIRST-LAST, e.g. 50000-50100".to_string())?;
    let port = |p: &str| {
        p.trim()
            .parse::<u16>()
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| format!("{p:?} is not a port number (1 to 65535)"))
    };
    let (first, last) = (port(first)?, port(last)?);
    if first > last {
        return Err(format!("{first} is above {last}"));
    }
    Ok(first..=last)
}

fn main() -> ExitCode {
    cli::run(|| match Cli::parse().command {
        Command::Server(args) => server(args),
        Command::Check(args) => check::standard_ftp::run(args),
    })
}

fn server(args: ServerArgs) -> anyhow::Result<()> {
    let listener = net::listen_tcp(&args.endpoint.host, args.endpoint.port, &Default::default())?;
    let log = Log::stdout();
    net::announce_listening(listener.local_addr()?, &log);
    let mut config = ServerConfig::new(args.root);
    config.max_clients = args.max_clients as usize;
    config.idle_timeout = args.idle_timeout;
    config.login_timeout = args.login_timeout;
    config.data_timeout = args.data_timeout;
    config.passive_ports = args.passive_ports;
    config.allow_port = args.allow_port;
    config.epsv = !args.no_epsv;
    config.max_files = args.max_files;
    config.tracer = Tracer::for_cli("server", args.trace, args.picture);
    run_server(listener, &config, &log, &Shutdown::new())?;
    Ok(())
}
