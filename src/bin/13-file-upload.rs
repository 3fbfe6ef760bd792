//! Lesson 13: file upload and download with a JSON header. See `socklab::lessons::file_upload`
//! and walkthrough.md.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args as ClapArgs, Parser, Subcommand};
use socklab::check;
use socklab::cli::{self, Endpoint, Remote};
use socklab::lessons::file_upload::client::{download_path, get_file, put_files, ClientConfig};
use socklab::lessons::file_upload::{
    download_ack, download_header, open_store, run_server, Protocol, ServerConfig,
    DEFAULT_MAX_FILE_SIZE,
};
use socklab::log::Log;
use socklab::net;
use socklab::server::Shutdown;
use socklab::trace::Tracer;
use socklab::units;

/// Upload and download files: a 4-byte length, a JSON header, then exactly the file's bytes
/// (tutorial 004's protocol), stored safely and checked with MD5. With --protocol, the server and
/// `client get` speak the tutorials' two earlier downloads instead.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(subcommand)]
    role: Role,
}

#[derive(Subcommand)]
enum Role {
    /// Check your own file server: `check server 127.0.0.1:9013` (see walkthrough.md, 13).
    Check(check::CheckArgs<check::ServerOnly>),
    /// Store uploaded files in a folder and send them back on request, one thread per client.
    Server {
        #[command(flatten)]
        endpoint: Endpoint<9013>,
        /// Folder the files are stored in (created if missing). Only bare names are stored there.
        #[arg(long, default_value = "./uploads")]
        dir: PathBuf,
        /// The protocol to serve: socklab's upload and download, or one of the tutorials'
        /// download-only protocols (name-header: 001 §6.5; size-ack-md5: 000 §4).
        #[arg(long, value_enum, default_value_t = Protocol::Socklab)]
        protocol: Protocol,
        /// Most clients served at once; the next one gets a too_many_clients error reply.
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        max_clients: u32,
        /// How long a client may stay silent (or stop reading) before its connection is closed:
        /// seconds, or 90s, 10m, 1h; 0 waits for ever.
        #[arg(long, default_value = "300", value_parser = units::parse_duration)]
        idle_timeout: Duration,
        /// Largest upload accepted: bytes, or with K, M, G, T (powers of 1024: 512K, 100M,
        /// 1.5G). A bigger filesize is refused with too_large before any of its bytes are read.
        #[arg(long, default_value = "16G", value_parser = units::parse_size)]
        max_file_size: u64,
        /// Print one line per send/recv call on stderr (a file's body is many calls).
        #[arg(long)]
        trace: bool,
        /// Also draw every send and recv as an SVG timeline into FILE.svg (rewritten each time
        /// a connection closes; past 300 calls the rest are summarised). See walkthrough.md,
        /// "the wire as a picture".
        #[arg(long, value_name = "FILE.svg")]
        picture: Option<PathBuf>,
    },
    /// Upload files (`put`) or download one (`get`).
    Client {
        #[command(subcommand)]
        action: Action,
    },
}

#[derive(Subcommand)]
enum Action {
    /// Upload files, each under its own file name, over one connection (the requests are
    /// pipelined: sent back to back, the replies read as they come) once the server has
    /// confirmed the first; to a server that confirms nothing, one connection per file. Prints
    /// one line per file.
    Put {
        /// The files to upload.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Send no MD5, in the header or after the body (the tutorial's header). The server then
        /// cannot refuse damaged bytes; the client still compares the MD5 the server reports
        /// with the MD5 of what it sent.
        #[arg(long)]
        no_md5: bool,
        #[command(flatten)]
        common: ClientArgs,
    },
    /// Download one file. It is written to a temporary file and renamed into place only if its
    /// MD5 matches the one the server announced.
    Get {
        /// The stored file's name.
        name: String,
        /// Where to save it: a file path, or an existing folder to save NAME in. Default: ./NAME.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Replace the output file if it already exists (by default that is an error).
        #[arg(long)]
        force: bool,
        /// The server's protocol: socklab's, or a tutorial's download (name-header: a bare
        /// name, then a JSON header and the bytes; size-ack-md5: the size, our ack, the bytes,
        /// the MD5).
        #[arg(long, value_enum, default_value_t = Protocol::Socklab)]
        protocol: Protocol,
        #[command(flatten)]
        common: ClientArgs,
    },
}

/// Flags every client action takes.
#[derive(ClapArgs)]
struct ClientArgs {
    #[command(flatten)]
    endpoint: Remote<9013>,
    /// Do not draw a progress bar (it is only drawn when stderr is a terminal anyway).
    #[arg(long)]
    no_progress: bool,
    /// Print every JSON header sent and received on stderr.
    #[arg(long)]
    show_headers: bool,
    /// How long to wait for the server (a reply, or room to send) before giving up: seconds,
    /// or 90s, 10m.
    #[arg(long, default_value = "60", value_parser = units::parse_timeout)]
    timeout: Duration,
    /// Largest file a get accepts (512K, 10MiB, 2G...); a larger announced size is refused
    /// before the first byte. Default: the free space of the folder the file is saved in.
    #[arg(long, value_parser = units::parse_size)]
    max_size: Option<u64>,
    /// Print one line per send/recv call on stderr (a file's body is many calls).
    #[arg(long)]
    trace: bool,
    /// Also draw every send and recv as an SVG timeline into FILE.svg (rewritten each time
    /// a connection closes; past 300 calls the rest are summarised). See walkthrough.md,
    /// "the wire as a picture".
    #[arg(long, value_name = "FILE.svg")]
    picture: Option<PathBuf>,
}

impl ClientArgs {
    fn config(&self, send_md5: bool) -> ClientConfig {
        ClientConfig {
            host: self.endpoint.host.clone(),
            port: self.endpoint.port,
            send_md5,
            progress: !self.no_progress,
            timeout: self.timeout,
            max_size: self.max_size,
            tracer: Tracer::for_cli("client", self.trace, self.picture.clone()),
        }
    }

    fn wire(&self) -> Log {
        if self.show_headers {
            Log::stderr()
        } else {
            Log::silent()
        }
    }
}

fn main() -> ExitCode {
    cli::run(|| match Args::parse().role {
        Role::Check(args) => check::run(&check::file_upload::LESSON, args),
        Role::Server {
            endpoint,
            dir,
            protocol,
            max_clients,
            idle_timeout,
            max_file_size,
            trace,
            picture,
        } => {
            let config = ServerConfig {
                protocol,
                dir,
                max_file_size,
                max_clients: max_clients as usize,
                idle_timeout: (!idle_timeout.is_zero()).then_some(idle_timeout),
                tracer: Tracer::for_cli("server", trace, picture),
            };
            // Fail before listening if the folder cannot be used.
            open_store(&config)?;
            let listener = net::listen_tcp(&endpoint.host, endpoint.port, &Default::default())?;
            let log = Log::stdout();
            net::announce_listening(listener.local_addr()?, &log);
            run_server(listener, &config, &log, &Shutdown::new())?;
            Ok(())
        }
        Role::Client {
            action:
                Action::Put {
                    files,
                    no_md5,
                    common,
                },
        } => {
            let began = Instant::now();
            let outcomes = put_files(&common.config(!no_md5), &files, &common.wire())?;
            let took = began.elapsed();
            let mut failed = 0;
            let mut sent = 0;
            for outcome in &outcomes {
                match &outcome.result {
                    Ok(stored) if stored.confirmed => {
                        sent += stored.size;
                        cli::print_line(format!(
                            "{}  {} bytes  md5 {}",
                            stored.name, stored.size, stored.md5
                        ))?
                    }
                    Ok(unconfirmed) => {
                        sent += unconfirmed.size;
                        cli::print_line(format!(
                            "{}  {} bytes  md5 {}  (sent; unconfirmed)",
                            unconfirmed.name, unconfirmed.size, unconfirmed.md5
                        ))?;
                        eprintln!(
                            "note: {}: sent {}; the server sent no confirmation, as the \
                             tutorial's server never does (socklab's server confirms every file)",
                            unconfirmed.name,
                            units::format_size(unconfirmed.size)
                        );
                    }
                    Err(why) => {
                        failed += 1;
                        eprintln!("error: {}: {why}", outcome.file.display());
                    }
                }
            }
            // Unconfirmed files went whole to a server that never replies: not failures.
            if failed > 0 {
                anyhow::bail!("{failed} of {} file(s) not stored", outcomes.len());
            }
            // On stderr, with the progress bars: stdout keeps one line per file for scripts.
            let speed = units::format_speed(sent, took);
            let _ = writeln!(std::io::stderr(), "sent {sent} bytes in {speed}");
            Ok(())
        }
        Role::Client {
            action:
                Action::Get {
                    name,
                    out,
                    force,
                    protocol,
                    common,
                },
        } => {
            let path = download_path(&name, out.as_deref(), force)?;
            let (config, wire) = (common.config(true), common.wire());
            let began = Instant::now();
            let fetched = match protocol {
                Protocol::Socklab => get_file(&config, &name, &path, &wire)?,
                Protocol::NameHeader => download_header::get_file(&config, &name, &path, &wire)?,
                Protocol::SizeAckMd5 => download_ack::get_file(&config, &name, &path, &wire)?,
            };
            let took = began.elapsed();
            cli::print_line(format!(
                "{}  {} bytes  md5 {}",
                fetched.path.display(),
                fetched.size,
                fetched.md5
            ))?;
            let speed = units::format_speed(fetched.size, took);
            let _ = writeln!(
                std::io::stderr(),
                "received {} bytes in {speed}",
                fetched.size
            );
            Ok(())
        }
    })
}

/// Keeps the documented default and the library's constant in step.
const _: () = assert!(DEFAULT_MAX_FILE_SIZE == 16 << 30);
