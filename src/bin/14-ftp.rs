//! Lesson 14: the multi-user FTP. See `socklab::lessons::ftp` and walkthrough.md.

use std::io::{BufRead, IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use socklab::check;
use socklab::cli::{self, Endpoint, Remote};
use socklab::lessons::ftp::admin;
use socklab::lessons::ftp::client::FtpClient;
use socklab::lessons::ftp::scram::DEFAULT_ITERATIONS;
use socklab::lessons::ftp::server::{run_server, ServerConfig, DEFAULT_MAX_FILES};
use socklab::lessons::ftp::shell::{lines_from, Shell};
use socklab::lessons::ftp::users::{users_file, UserStore};
use socklab::log::Log;
use socklab::net;
use socklab::server::Shutdown;
use socklab::units::{self, format_size};

/// A multi-user FTP: accounts with SCRAM-style login, a home and a quota per user.
///
/// Create users with `adduser` first (no server needed), then run the server and log in with the
/// client.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// One variant per subcommand; each has its own argument struct and its own function below.
#[derive(Subcommand)]
enum Command {
    /// Create a user, or update its password and quota (which logs out its open sessions);
    /// creates its home ROOT/home/NAME.
    Adduser(AdduserArgs),
    /// Delete a user's account (its open sessions end at their next command). Its home and files
    /// are kept: remove ROOT/home/NAME yourself.
    Deluser(DeluserArgs),
    /// List users with their quota and the space they use.
    Users(UsersArgs),
    /// Run the server: many users at once, one thread per connection, each jailed in its home.
    Server(ServerArgs),
    /// Log in and run commands: an `ftp> ` shell, or -c CMD..., or command lines on stdin.
    Client(ClientArgs),
    /// Check your own FTP server (socklab's 14 protocol and SCRAM login):
    /// `14-ftp check server 127.0.0.1:9014 --user alice`, with the password in the environment
    /// variable SOCKLAB_PASSWORD, never on the command line (see walkthrough.md, 14-ftp).
    Check(check::ftp::CheckArgs),
}

/// `--root`, shared by every subcommand.
#[derive(Args, Debug, Clone)]
struct Root {
    /// The server's folder: users in ROOT/users.json, homes in ROOT/home/NAME.
    #[arg(long, default_value = "./ftp-root")]
    root: PathBuf,
}

#[derive(Args)]
struct AdduserArgs {
    /// User name: 1 to 32 letters, digits, '_', '.' or '-', not starting with '.' or '-'.
    name: String,
    #[command(flatten)]
    root: Root,
    /// Most bytes the user may store: 512K, 10MiB, 2G, 1.5G or plain bytes (K/M/G/T are
    /// binary: K = KB = KiB = 1024).
    #[arg(long, value_parser = units::parse_size)]
    quota: u64,
    /// PBKDF2 iterations: each password guess costs this many HMACs. Keep the default for real
    /// accounts; a low value (e.g. 1000) makes tests fast.
    #[arg(long, default_value_t = DEFAULT_ITERATIONS)]
    iterations: u32,
    /// Read the password from the first line of stdin instead of asking for it (for scripts).
    #[arg(long)]
    password_stdin: bool,
}

#[derive(Args)]
struct DeluserArgs {
    /// The user to delete.
    name: String,
    #[command(flatten)]
    root: Root,
}

#[derive(Args)]
struct UsersArgs {
    #[command(flatten)]
    root: Root,
}

#[derive(Args)]
struct ServerArgs {
    #[command(flatten)]
    root: Root,
    #[command(flatten)]
    endpoint: Endpoint<9014>,
    /// Most clients connected at once; the next one gets a `too_many_clients` error.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    max_clients: u32,
    /// Disconnect a client that sends nothing (or reads nothing) for this long: seconds, or
    /// 30s, 5m, 1h.
    #[arg(long, default_value = "300", value_parser = units::parse_timeout)]
    idle_timeout: Duration,
    /// Close a connection that has not logged in this long after connecting, however it trickles
    /// its bytes: seconds, or 30s, 5m.
    #[arg(long, default_value = "60", value_parser = units::parse_timeout)]
    login_timeout: Duration,
    /// Delete kept interrupted uploads untouched for this long: seconds, or 30s, 90m, 24h, 2d.
    #[arg(long, default_value = "24h", value_parser = units::parse_duration)]
    partial_ttl: Duration,
    /// Most files and directories one user may have, on top of the quota in bytes (each costs
    /// the disk an inode even when empty); past it, put and mkdir get quota_exceeded.
    #[arg(long, default_value_t = DEFAULT_MAX_FILES, value_parser = clap::value_parser!(u64).range(1..))]
    max_files: u64,
}

#[derive(Args)]
struct ClientArgs {
    #[command(flatten)]
    endpoint: Remote<9014>,
    /// The account to log in as.
    #[arg(long)]
    user: String,
    /// Read the password from the first line of stdin instead of asking for it; the lines after
    /// it are commands (unless -c is given).
    #[arg(long)]
    password_stdin: bool,
    /// A command to run, e.g. -c 'put a.txt' (repeat for more, run in order); without -c,
    /// commands come from stdin, with an `ftp> ` prompt on a terminal.
    #[arg(short = 'c', long = "command", value_name = "CMD")]
    commands: Vec<String>,
    /// Do not draw progress bars for put and get (they are drawn only on a terminal anyway).
    #[arg(long)]
    no_progress: bool,
    /// The longest wait for the server: the whole login, each reply, the next bytes of a
    /// download, room to send more of an upload. Seconds, or 30s, 5m.
    #[arg(long, default_value = "600", value_parser = units::parse_timeout)]
    timeout: Duration,
    /// Largest file a get accepts (512K, 10MiB, 2G...); a larger announced size is refused
    /// before the first byte. Default: the free space of the folder the file is saved in.
    #[arg(long, value_parser = units::parse_size)]
    max_size: Option<u64>,
}

fn main() -> ExitCode {
    let mut commands_failed = false;
    let code = cli::run(|| match Cli::parse().command {
        Command::Adduser(args) => adduser(args),
        Command::Deluser(args) => deluser(args),
        Command::Users(args) => users(args),
        Command::Server(args) => server(args),
        Command::Check(args) => check::ftp::run(args),
        Command::Client(args) => {
            commands_failed = client(args)?;
            Ok(())
        }
    });
    // Each failed command already printed its own `error: CODE: msg` line.
    if commands_failed {
        ExitCode::FAILURE
    } else {
        code
    }
}

fn server(args: ServerArgs) -> anyhow::Result<()> {
    let listener = net::listen_tcp(&args.endpoint.host, args.endpoint.port, &Default::default())?;
    let log = Log::stdout();
    net::announce_listening(listener.local_addr()?, &log);
    let mut config = ServerConfig::new(args.root.root);
    config.max_clients = args.max_clients as usize;
    config.idle_timeout = args.idle_timeout;
    config.login_timeout = args.login_timeout;
    config.partial_ttl = args.partial_ttl;
    config.max_files = args.max_files;
    run_server(listener, &config, &log, &Shutdown::new())?;
    Ok(())
}

/// Runs the client; `Ok(true)` if some command failed.
fn client(args: ClientArgs) -> anyhow::Result<bool> {
    let interactive = std::io::stdin().is_terminal();
    let password = if args.password_stdin {
        first_stdin_line()?
    } else if interactive {
        rpassword::prompt_password(format!("password for {}: ", args.user))
            .context("cannot read the password")?
    } else {
        bail!(
            "stdin is not a terminal: use --password-stdin to give the password on its first line"
        );
    };
    let (host, port) = (&args.endpoint.host, args.endpoint.port);
    let (mut ftp, ok) = FtpClient::connect_within(host, port, &args.user, &password, args.timeout)?;
    ftp.set_progress(!args.no_progress);
    ftp.set_max_size(args.max_size);
    if interactive && args.commands.is_empty() {
        eprintln!(
            "logged in to {} as {} (used {} of {}); type help for the commands",
            net::display_addr(host, port),
            args.user,
            format_size(ok.used),
            format_size(ok.quota)
        );
    }
    let mut shell = Shell::new(ftp, std::io::stdout(), std::io::stderr());
    if args.commands.is_empty() {
        shell.run_all(lines_from(std::io::stdin().lock(), interactive));
    } else {
        shell.run_all(args.commands);
    }
    Ok(shell.failures() > 0)
}

/// The first line of stdin, without its line end (the rest of stdin stays unread).
fn first_stdin_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .take(MAX_PASSWORD + 1)
        .read_line(&mut line)
        .context("cannot read the password from stdin")?;
    if line.len() as u64 > MAX_PASSWORD {
        bail!("the password line is longer than {MAX_PASSWORD} bytes");
    }
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        bail!("no password on stdin (give it as the first line)");
    }
    Ok(password)
}

fn adduser(args: AdduserArgs) -> anyhow::Result<()> {
    let root = &args.root.root;
    let existed = UserStore::load(root)?.user(&args.name).is_some();
    let password = read_password(&args.name, args.password_stdin)?;
    if args.iterations < 100_000 {
        eprintln!(
            "warning: {} iterations is far below the default {DEFAULT_ITERATIONS}: \
             fine for tests, weak for real passwords",
            args.iterations
        );
    }
    admin::add_user(root, &args.name, &password, args.quota, args.iterations)?;
    cli::print_line(format!(
        "{} user {} (quota {}, {} iterations) in {}",
        if existed { "updated" } else { "created" },
        args.name,
        format_size(args.quota),
        args.iterations,
        users_file(root).display()
    ))?;
    Ok(())
}

fn deluser(args: DeluserArgs) -> anyhow::Result<()> {
    let root = &args.root.root;
    admin::delete_user(root, &args.name)?;
    cli::print_line(format!(
        "deleted user {}; its files are kept in {}",
        args.name,
        socklab::lessons::ftp::users::home_dir(root, &args.name).display()
    ))?;
    Ok(())
}

fn users(args: UsersArgs) -> anyhow::Result<()> {
    let root = &args.root.root;
    let users = admin::list_users(root)?;
    if users.is_empty() {
        cli::print_line(format!(
            "no users in {} (add one with `14-ftp adduser NAME --quota SIZE`)",
            users_file(root).display()
        ))?;
        return Ok(());
    }
    let width = users.iter().map(|u| u.name.len()).max().unwrap_or(0).max(4);
    cli::print_line(format!(
        "{:<width$}  {:>22}  {:>22}",
        "USER", "QUOTA", "USED"
    ))?;
    for user in users {
        cli::print_line(format!(
            "{:<width$}  {:>22}  {:>22}",
            user.name,
            format!("{} ({})", format_size(user.quota), user.quota),
            format!("{} ({})", format_size(user.used), user.used),
        ))?;
    }
    Ok(())
}

/// Longest password line read from stdin.
const MAX_PASSWORD: u64 = 4096;

/// The password: the first line of stdin with `--password-stdin`, otherwise typed twice at the
/// terminal without echo.
fn read_password(name: &str, from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        return first_stdin_line();
    }
    if !std::io::stdin().is_terminal() {
        bail!("stdin is not a terminal: use --password-stdin to read the password from it");
    }
    let first = rpassword::prompt_password(format!("password for {name}: "))
        .context("cannot read the password")?;
    let second =
        rpassword::prompt_password("again, to confirm: ").context("cannot read the password")?;
    if first != second {
        bail!("the two passwords differ; nothing changed");
    }
    if first.is_empty() {
        bail!("the password is empty; nothing changed");
    }
    Ok(first)
}
