//! A remote shell is a remote shell: the rules every remote-shell server (07, 08, 10) follows.
//!
//! - It listens on loopback unless told otherwise: [`check_bind_host`] refuses any other address
//!   without `--allow-remote`, and with it returns a warning for the server to print.
//! - Every command has a time limit and an output cap: [`ShellArgs`] holds the flags that set
//!   them (`--cmd-timeout`, `--max-output`) and turns them into [`Limits`] for [`super::run`].

use std::time::Duration;

use super::Limits;
use crate::net::{self, NetError};
use crate::units;

/// The largest `--max-output` accepted: 1 GiB, well inside the 4-byte signed length header of
/// lesson 10 (which stops at 2 GiB).
pub const MAX_MAX_OUTPUT: u64 = 1024 * 1024 * 1024;
/// The longest `--cmd-timeout` accepted: an hour. A lesson's command that runs longer is a
/// mistake, and a server that serves one command at a time (07, 08) would be stuck behind it.
pub const MAX_CMD_TIMEOUT: Duration = Duration::from_secs(3600);

/// Refusal to serve a remote shell on an address other machines can reach.
#[derive(Debug, thiserror::Error)]
pub enum RemoteShellRefused {
    #[error(
        "refusing to listen on {host}: it is not a loopback address, and this server runs any \
         command it is sent, for anyone who can reach it. Use 127.0.0.1, or add --allow-remote \
         if you really mean it"
    )]
    NotLoopback { host: String },
    #[error(transparent)]
    Resolve(#[from] NetError),
}

/// The `--allow-remote` rule for the remote-shell servers.
///
/// A loopback `host` (127.0.0.1, ::1, or a name that resolves only to loopback) is fine:
/// `Ok(None)`. Any other host is refused unless `allow_remote`; when allowed, the answer is a
/// warning line for the server to print. A host that does not resolve is reported as such, not
/// as "not loopback".
pub fn check_bind_host(
    host: &str,
    allow_remote: bool,
) -> Result<Option<String>, RemoteShellRefused> {
    let addrs = net::resolve(host, 0)?;
    if addrs.iter().all(|a| a.ip().is_loopback()) {
        return Ok(None);
    }
    if !allow_remote {
        return Err(RemoteShellRefused::NotLoopback {
            host: host.to_string(),
        });
    }
    Ok(Some(format!(
        "warning: --allow-remote: listening on {host}. Anyone who can reach it can run any \
         command on this machine as this user. Stop the server when you are done."
    )))
}

/// The flags every remote-shell server shares.
#[derive(clap::Args, Debug, Clone)]
pub struct ShellArgs {
    /// Allow --host to be an address other than loopback (127.0.0.1, ::1). This server runs any
    /// command it receives: with this flag, anyone who can reach the address can run commands on
    /// this machine as you.
    #[arg(long)]
    pub allow_remote: bool,
    /// How long a command may run: seconds (10, 0.5) or with a unit (90s, 5m), at most 1h. Then
    /// it, and every process it started, is killed, and the client is told.
    #[arg(long, value_name = "DURATION", default_value = "10", value_parser = parse_cmd_timeout)]
    pub cmd_timeout: Duration,
    /// Most bytes of output (stdout and stderr together) kept per command; past that the command
    /// is killed and the client is told its answer was cut. Units K, M, G (KiB, MiB, GiB): 64K,
    /// 16M. At most 1G.
    #[arg(long, value_name = "BYTES", default_value = "16M", value_parser = parse_max_output)]
    pub max_output: usize,
}

impl ShellArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            timeout: self.cmd_timeout,
            max_output: self.max_output,
        }
    }
}

/// `--cmd-timeout`: a duration ([`units::parse_timeout`]) of at most [`MAX_CMD_TIMEOUT`].
pub fn parse_cmd_timeout(text: &str) -> Result<Duration, String> {
    let timeout = units::parse_timeout(text).map_err(|e| e.to_string())?;
    if timeout > MAX_CMD_TIMEOUT {
        return Err(format!("'{text}' is longer than the limit of 1h"));
    }
    Ok(timeout)
}

/// `--max-output`: a size ([`units::parse_size`]) from 1 byte to [`MAX_MAX_OUTPUT`].
pub fn parse_max_output(text: &str) -> Result<usize, String> {
    let bytes = units::parse_size(text).map_err(|e| e.to_string())?;
    if !(1..=MAX_MAX_OUTPUT).contains(&bytes) {
        return Err(format!("'{text}' is out of range (1 byte to 1G)"));
    }
    usize::try_from(bytes).map_err(|_| format!("'{text}' is too large for this machine"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_allowed_and_other_hosts_need_the_flag() {
        assert_eq!(check_bind_host("127.0.0.1", false).unwrap(), None);
        assert_eq!(check_bind_host("::1", false).unwrap(), None);
        let refused = check_bind_host("0.0.0.0", false).unwrap_err().to_string();
        assert!(refused.contains("--allow-remote"), "{refused}");
        let warning = check_bind_host("0.0.0.0", true).unwrap().unwrap();
        assert!(warning.starts_with("warning: --allow-remote"), "{warning}");
    }

    #[test]
    fn limits_parse_with_units_and_bounds() {
        assert_eq!(parse_max_output("4096"), Ok(4096));
        assert_eq!(parse_max_output("64K"), Ok(65536));
        assert_eq!(parse_max_output("16M"), Ok(16 * 1024 * 1024));
        assert_eq!(parse_max_output("1G"), Ok(1024 * 1024 * 1024));
        assert!(parse_max_output("0").is_err());
        assert!(parse_max_output("2G").is_err());
        assert!(parse_max_output("12Q").is_err());
        assert_eq!(parse_cmd_timeout("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_cmd_timeout("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_cmd_timeout("1h"), Ok(MAX_CMD_TIMEOUT));
        assert!(parse_cmd_timeout("0").is_err());
        assert!(parse_cmd_timeout("2h").is_err());
    }
}
