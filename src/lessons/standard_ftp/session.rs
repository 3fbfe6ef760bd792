//! One control connection: the greeting, the login (`USER`, `PASS`), then one command at a time
//! until `QUIT`.
//!
//! Commands are read as lines ([`super::control`]), split into a verb and an argument, and
//! answered with a reply each. The session remembers what RFC 959 makes a *sequence*: `USER`
//! then `PASS`, `RNFR` then `RNTO`, `REST` then the transfer it applies to, `PASV` then the
//! transfer that uses its port. A command out of its sequence gets `503`; a command the server
//! does not know, `502`; a command before login, `530`.

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::commands::{self, User};
use super::control::{verb_of, Control, Incoming};
use super::data::{self, DataPlan};
use super::login::{self, Verdict};
use super::reply::{Outcome, Reply};
use super::server::Shared;
use super::transfers::{self, After, ListStyle, Transfer};
use crate::accounts::paths::VirtualPath;
use crate::escape::escape_bytes;
use crate::log::Log;
use crate::net;
use crate::trace::Tracer;

/// How long the server goes on reading (and discarding) from a client it is closing on, so the
/// client gets the last reply instead of a reset.
const LINGER: Duration = Duration::from_secs(2);

/// Failed `PASS` on one connection before the server closes it (each was already slowed by the
/// login brake; a new connection starts again, and the brake remembers).
const MAX_PASS_PER_CONNECTION: u32 = 3;

/// What the loop does after a command.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
}

/// Where the login stands.
enum Login {
    /// No `USER` yet (or a failed `PASS`).
    NoUser,
    /// `USER` given; waiting for `PASS`.
    NeedPass(String),
    LoggedIn(User),
}

/// The commands that need a login, so that before it they get `530`, not `502`.
const NEED_LOGIN: &[&str] = &[
    "PWD", "XPWD", "CWD", "XCWD", "CDUP", "XCUP", "TYPE", "MODE", "STRU", "ALLO", "PASV", "EPSV",
    "PORT", "EPRT", "REST", "RETR", "STOR", "APPE", "LIST", "NLST", "MLSD", "MLST", "SIZE", "MDTM",
    "MKD", "XMKD", "RMD", "XRMD", "DELE", "RNFR", "RNTO", "STAT", "SITE",
];

/// One connection.
pub(super) struct Session<'a> {
    control: Control,
    peer: SocketAddr,
    shared: &'a Shared,
    log: &'a Log,
    login: Login,
    failed_logins: u32,
    login_deadline: Instant,
    data: DataPlan,
    /// Traces the data connections, in their own lane of a picture.
    data_tracer: Tracer,
    /// `REST n`: the offset for the next RETR or STOR only.
    restart: u64,
    /// `RNFR path`: the path for the next RNTO only.
    rename_from: Option<VirtualPath>,
    /// `EPSV ALL`: the client promised to use only EPSV from now on (RFC 2428).
    epsv_only: bool,
}

impl<'a> Session<'a> {
    pub fn new(stream: TcpStream, peer: SocketAddr, shared: &'a Shared, log: &'a Log) -> Self {
        // ftplib and others send ABOR with TCP's "urgent" flag; the urgent byte must stay in the
        // stream, or the ABOR line loses its line end.
        let _ = socket2::SockRef::from(&stream).set_out_of_band_inline(true);
        let label = format!("server {peer}");
        let control_tracer = shared.config.tracer.labelled(&label);
        let data_tracer = shared
            .config
            .tracer
            .second_lane("data")
            .labelled(&format!("{label} data"));
        Session {
            control: Control::new(stream, &control_tracer),
            peer,
            shared,
            log,
            login: Login::NoUser,
            failed_logins: 0,
            login_deadline: Instant::now() + shared.config.login_timeout,
            data: DataPlan::None,
            data_tracer,
            restart: 0,
            rename_from: None,
            epsv_only: false,
        }
    }

    /// Serves commands until the client quits, closes, idles out or breaks the rules.
    pub fn run(mut self) -> std::io::Result<()> {
        self.control.reply(
            220,
            "socklab 15-ftp ready (RFC 959: your password will cross the network in clear)",
        )?;
        loop {
            let logged_in = matches!(self.login, Login::LoggedIn(_));
            let mut deadline = net::deadline_after(self.shared.config.idle_timeout);
            if !logged_in {
                deadline = deadline.min(self.login_deadline);
            }
            let line = match self.control.read_line(deadline) {
                Ok(Incoming::Line(line)) => line,
                Ok(Incoming::Closed) => return Ok(()),
                Ok(Incoming::TooLong) => {
                    let text = format!(
                        "Command line longer than {} bytes; closing",
                        super::control::MAX_LINE
                    );
                    return self.goodbye(500, &text, "line too long: disconnected");
                }
                Err(e) if net::is_timeout(&e) && !logged_in => {
                    return self.goodbye(
                        421,
                        "No login in time; closing",
                        "no login in time: disconnected",
                    )
                }
                Err(e) if net::is_timeout(&e) => {
                    return self.goodbye(
                        421,
                        "No command for longer than the server's --idle-timeout; closing",
                        "idle for too long: disconnected",
                    )
                }
                Err(e) => return Err(e),
            };
            if self.command(&line)? == Flow::Close {
                net::close_gracefully(self.control.stream_mut(), LINGER);
                return Ok(());
            }
        }
    }

    /// A last reply, a log line, and a graceful close.
    fn goodbye(&mut self, code: u16, text: &str, note: &str) -> std::io::Result<()> {
        let _ = self.control.reply(code, text);
        self.note(note);
        net::close_gracefully(self.control.stream_mut(), LINGER);
        Ok(())
    }

    /// One command line.
    fn command(&mut self, line: &[u8]) -> std::io::Result<Flow> {
        let verb = verb_of(line).to_ascii_uppercase();
        let arg_bytes = line
            .iter()
            .position(|&b| b == b' ')
            .and_then(|space| line.get(space + 1..))
            .unwrap_or_default();
        let Ok(arg) = std::str::from_utf8(arg_bytes) else {
            self.send(&Reply::new(501, "The argument is not UTF-8"))?;
            return Ok(Flow::Continue);
        };
        // The one-command-only states: REST and RNFR apply to the next command alone.
        let restart = std::mem::take(&mut self.restart);
        let rename_from = self.rename_from.take();
        let logged_in = matches!(self.login, Login::LoggedIn(_));
        if !logged_in && NEED_LOGIN.contains(&verb.as_str()) {
            self.send(&Reply::new(530, "Log in with USER and PASS first"))?;
            return Ok(Flow::Continue);
        }
        if logged_in {
            if let Some(reply) = self.refresh_account() {
                self.send(&reply)?;
                self.note(&format!("{}; logged out", reply.text));
                return Ok(Flow::Close);
            }
        }
        let shown = describe(&verb, arg);
        let outcome = match verb.as_str() {
            "USER" => self.user(arg),
            "PASS" => return self.pass(arg),
            "QUIT" => {
                self.send(&Reply::new(221, "Goodbye"))?;
                return Ok(Flow::Close);
            }
            "SYST" => Ok(Reply::new(215, "UNIX Type: L8")),
            "NOOP" => Ok(Reply::new(200, "OK")),
            "FEAT" => {
                self.control.reply_lines(211, "Features:", &features(self.shared.config.epsv), "End")?;
                return Ok(Flow::Continue);
            }
            "HELP" => {
                self.control.reply_lines(214, "The commands are:", &help_lines(), "Send them in capitals or not")?;
                return Ok(Flow::Continue);
            }
            "OPTS" => opts(arg),
            "AUTH" | "PBSZ" | "PROT" | "CCC" => Err(Reply::new(
                502,
                "No TLS here: this lesson's FTP is plain text (see lesson 14 for a login that hides the password)",
            )),
            "ABOR" => {
                self.data = DataPlan::None;
                Ok(Reply::new(225, "No transfer to abort"))
            }
            _ if logged_in => return self.logged_in(&verb, arg, restart, rename_from),
            _ => Err(Reply::new(
                502,
                format!("{} is not a command this server knows", escape_bytes(verb.as_bytes())),
            )),
        };
        self.answer(&shown, outcome)?;
        Ok(Flow::Continue)
    }

    /// The commands of a logged-in user.
    fn logged_in(
        &mut self,
        verb: &str,
        arg: &str,
        restart: u64,
        rename_from: Option<VirtualPath>,
    ) -> std::io::Result<Flow> {
        let Login::LoggedIn(user) = &mut self.login else {
            return Ok(Flow::Continue);
        };
        let shown = describe(verb, arg);
        let outcome = match verb {
            "PWD" | "XPWD" => commands::pwd(user),
            "CWD" | "XCWD" => commands::cwd(user, arg),
            "CDUP" | "XCUP" => commands::cwd(user, ".."),
            "TYPE" => match arg.to_ascii_uppercase().as_str() {
                "I" | "L 8" => Ok(Reply::new(200, "Type set to I (binary)")),
                // ASCII mode would turn line ends into CRLF on the way; like most servers
                // today, this one sends the bytes as they are stored.
                "A" | "A N" => Ok(Reply::new(200, "Type set to A (bytes are sent as stored)")),
                _ => Err(Reply::new(504, "Only TYPE A and TYPE I")),
            },
            "MODE" => match arg.to_ascii_uppercase().as_str() {
                "S" => Ok(Reply::new(200, "Mode set to S (stream)")),
                _ => Err(Reply::new(504, "Only MODE S (stream)")),
            },
            "STRU" => match arg.to_ascii_uppercase().as_str() {
                "F" => Ok(Reply::new(200, "Structure set to F (file)")),
                _ => Err(Reply::new(504, "Only STRU F (file)")),
            },
            "ALLO" => Ok(Reply::new(
                202,
                "No storage to allocate in advance; the quota is checked as bytes arrive",
            )),
            "REST" => match arg.trim().parse::<u64>() {
                Ok(offset) => {
                    self.restart = offset;
                    Ok(Reply::new(
                        350,
                        format!("Restarting at {offset}; send RETR or STOR"),
                    ))
                }
                Err(_) => Err(Reply::new(501, "REST needs a byte offset")),
            },
            "RNFR" => match commands::rnfr(user, arg) {
                Ok((path, reply)) => {
                    self.rename_from = Some(path);
                    Ok(reply)
                }
                Err(reply) => Err(reply),
            },
            "RNTO" => match &rename_from {
                Some(from) => commands::rnto(user, from, arg),
                None => Err(Reply::new(503, "Send RNFR first")),
            },
            "MKD" | "XMKD" => commands::mkd(user, arg),
            "RMD" | "XRMD" => commands::rmd(user, arg),
            "DELE" => commands::dele(user, arg),
            "SIZE" => commands::size(user, arg),
            "MDTM" => commands::mdtm(user, arg),
            "MLST" => match commands::mlst(user, arg) {
                Ok((first, lines)) => {
                    self.control.reply_lines(250, &first, &lines, "End")?;
                    self.note(&format!("{shown}: 250"));
                    return Ok(Flow::Continue);
                }
                Err(reply) => Err(reply),
            },
            "SITE" => site(user, arg),
            "STAT" => Ok(Reply::new(
                211,
                format!(
                    "socklab 15-ftp: logged in as {}, in {}",
                    user.name, user.cwd
                ),
            )),
            "PASV" => self.passive(false, arg),
            "EPSV" => self.passive(true, arg),
            "PORT" | "EPRT" => self.active(verb, arg),
            "RETR" | "STOR" | "APPE" | "LIST" | "NLST" | "MLSD" => {
                return self.transfer(verb, arg, restart)
            }
            _ => Err(Reply::new(
                502,
                format!(
                    "{} is not a command this server knows",
                    escape_bytes(verb.as_bytes())
                ),
            )),
        };
        self.answer(&shown, outcome)?;
        Ok(Flow::Continue)
    }

    /// Sends a command's reply and logs it.
    fn answer(&mut self, shown: &str, outcome: Outcome) -> std::io::Result<()> {
        let reply = match outcome {
            Ok(reply) | Err(reply) => reply,
        };
        self.send(&reply)?;
        self.note(&format!("{shown}: {} {}", reply.code, reply.text));
        Ok(())
    }

    fn send(&mut self, reply: &Reply) -> std::io::Result<()> {
        self.control.reply(reply.code, &reply.text)
    }

    fn user(&mut self, arg: &str) -> Outcome {
        if matches!(self.login, Login::LoggedIn(_)) {
            return Err(Reply::new(503, "Already logged in"));
        }
        // An unknown or malformed name is asked for its password all the same: the reply must
        // not tell which names exist.
        self.login = Login::NeedPass(arg.to_string());
        Ok(Reply::new(
            331,
            "Send the password with PASS (it crosses the network in clear)",
        ))
    }

    /// `PASS`: the login brake first (a delay, or a refusal while earlier failures hold the
    /// account's slots), then the password checked against the stored SCRAM keys.
    fn pass(&mut self, password: &str) -> std::io::Result<Flow> {
        let name = match std::mem::replace(&mut self.login, Login::NoUser) {
            Login::NeedPass(name) => name,
            Login::LoggedIn(user) => {
                self.login = Login::LoggedIn(user);
                self.send(&Reply::new(503, "Already logged in"))?;
                return Ok(Flow::Continue);
            }
            Login::NoUser => {
                self.send(&Reply::new(503, "Send USER first"))?;
                return Ok(Flow::Continue);
            }
        };
        match login::log_in(self.shared, self.peer.ip(), &name, password) {
            Verdict::LoggedIn(user) => {
                self.login = Login::LoggedIn(user);
                self.note("logged in");
                self.send(&Reply::new(
                    230,
                    format!("Logged in as {name}; your home is /"),
                ))?;
                Ok(Flow::Continue)
            }
            Verdict::Wrong => {
                self.failed_logins += 1;
                self.note(&format!("login as '{}' failed", commands_cut(&name)));
                self.send(&Reply::new(530, "Wrong user name or password"))?;
                if self.failed_logins >= MAX_PASS_PER_CONNECTION {
                    return Ok(Flow::Close);
                }
                Ok(Flow::Continue)
            }
            Verdict::Closing { reply, why } => {
                self.note(&format!(
                    "login as '{}' refused: {why}",
                    commands_cut(&name)
                ));
                self.send(&reply)?;
                Ok(Flow::Close)
            }
        }
    }

    /// Looks the logged-in user up in users.json again: `Some(reply)` if the session must end
    /// (the account was deleted or its password changed); otherwise the quota is brought up to
    /// date.
    fn refresh_account(&mut self) -> Option<Reply> {
        let Login::LoggedIn(user) = &mut self.login else {
            return None;
        };
        let store = self.shared.accounts.current().ok()?;
        match store.user(&user.name) {
            None => Some(Reply::new(421, "Your account no longer exists; closing")),
            Some(record) if record.stored_key != user.stored_key => Some(Reply::new(
                421,
                "Your password was changed; log in again with the new one",
            )),
            Some(record) => {
                user.limits.bytes = record.quota;
                None
            }
        }
    }

    /// `PASV` and `EPSV`: a new listener (replacing any earlier one: a flood of PASV holds one
    /// port, not thousands).
    fn passive(&mut self, extended: bool, arg: &str) -> Outcome {
        if extended && !self.shared.config.epsv {
            return Err(Reply::new(
                502,
                "EPSV is switched off on this server (--no-epsv); use PASV",
            ));
        }
        if !extended && self.epsv_only {
            return Err(Reply::new(503, "After EPSV ALL only EPSV is accepted"));
        }
        let local = self
            .control
            .stream()
            .local_addr()
            .map_err(|e| super::reply::disk(&e))?;
        if extended {
            match arg.trim() {
                "" => {}
                all if all.eq_ignore_ascii_case("ALL") => {
                    self.epsv_only = true;
                    return Ok(Reply::new(200, "EPSV ALL: only EPSV from now on"));
                }
                "1" if local.ip().to_canonical().is_ipv4() => {}
                "2" if !local.ip().to_canonical().is_ipv4() => {}
                "1" | "2" => {
                    let family = if local.ip().to_canonical().is_ipv4() {
                        1
                    } else {
                        2
                    };
                    return Err(Reply::new(
                        522,
                        format!("Network protocol not supported, use ({family})"),
                    ));
                }
                _ => return Err(Reply::new(501, "EPSV takes 1, 2, ALL or nothing")),
            }
        }
        self.data = DataPlan::None; // the earlier listener's port is given back first
        let listener = data::listen_passive(local.ip(), self.shared.config.passive_ports.as_ref())
            .map_err(|e| Reply::new(425, format!("Cannot open a passive port: {e}")))?;
        let addr = listener.local_addr().map_err(|e| super::reply::disk(&e))?;
        let reply = if extended {
            Reply::new(229, data::epsv_text(addr))
        } else {
            match data::pasv_text(addr) {
                Some(text) => Reply::new(227, text),
                None => {
                    return Err(Reply::new(
                        425,
                        "PASV can only say IPv4 addresses; use EPSV",
                    ))
                }
            }
        };
        self.data = DataPlan::Passive(listener);
        Ok(reply)
    }

    /// `PORT` and `EPRT`: only with `--allow-port`, only to the client's own address, only to
    /// a port of 1024 or more.
    fn active(&mut self, verb: &str, arg: &str) -> Outcome {
        if !self.shared.config.allow_port {
            return Err(Reply::new(
                502,
                format!("{verb} is switched off here: use PASV or EPSV (or run the server with --allow-port)"),
            ));
        }
        if self.epsv_only {
            return Err(Reply::new(503, "After EPSV ALL only EPSV is accepted"));
        }
        let target = if verb == "PORT" {
            data::parse_port(arg)
        } else {
            data::parse_eprt(arg)
        };
        let Some(target) = target else {
            return Err(Reply::new(
                501,
                format!("Cannot read the address in {verb}"),
            ));
        };
        if !data::same_host(target.ip(), self.peer.ip()) || target.port() < 1024 {
            return Err(Reply::new(
                504,
                "The data connection may only go to your own address, on a port of 1024 or more",
            ));
        }
        self.data = DataPlan::Active(target);
        Ok(Reply::new(200, format!("{verb} command successful")))
    }

    /// The commands with a data connection.
    fn transfer(&mut self, verb: &str, arg: &str, restart: u64) -> std::io::Result<Flow> {
        let Login::LoggedIn(user) = &self.login else {
            return Ok(Flow::Continue);
        };
        let peer_ip: IpAddr = self.peer.ip();
        let config = &self.shared.config;
        let mut transfer = Transfer {
            control: &mut self.control,
            plan: std::mem::take(&mut self.data),
            peer_ip,
            data_timeout: config.data_timeout,
            idle_timeout: config.idle_timeout,
            log: self.log,
            tracer: &self.data_tracer,
        };
        let after = match verb {
            "RETR" => transfers::retr(&mut transfer, user, arg, restart)?,
            "STOR" => transfers::store(&mut transfer, user, arg, false, restart)?,
            "APPE" => transfers::store(&mut transfer, user, arg, true, 0)?,
            "LIST" => transfers::list(&mut transfer, user, arg, ListStyle::Long)?,
            "NLST" => transfers::list(&mut transfer, user, arg, ListStyle::Names)?,
            _ => transfers::list(&mut transfer, user, arg, ListStyle::Facts)?,
        };
        let code = self.control.last_code();
        self.note(&format!("{}: {code}", describe(verb, arg)));
        Ok(match after {
            After::Continue => Flow::Continue,
            After::Close => Flow::Close,
        })
    }

    /// One log line about this connection; names come from clients, so control characters are
    /// escaped (a file called "x\nfake log line" must not forge a line of the log).
    fn note(&self, text: &str) {
        let text = escape_bytes(text.as_bytes());
        match &self.login {
            Login::LoggedIn(user) => self.log.line(format!("{}@{} {text}", user.name, self.peer)),
            _ => self.log.line(format!("{} {text}", self.peer)),
        }
    }
}

/// A command in a log line, the password never shown.
fn describe(verb: &str, arg: &str) -> String {
    match verb {
        "PASS" => "PASS ****".into(),
        _ if arg.is_empty() => verb.to_string(),
        _ => format!("{verb} {}", commands_cut(arg)),
    }
}

/// At most 80 characters of a client's text, with `…` if it was longer.
fn commands_cut(text: &str) -> String {
    match text.char_indices().nth(80) {
        Some((end, _)) => format!("{}…", text.get(..end).unwrap_or_default()),
        None => text.to_string(),
    }
}

/// `OPTS UTF8 ON` (names are UTF-8 anyway) and `OPTS MLST ...` (the facts are fixed).
fn opts(arg: &str) -> Outcome {
    let upper = arg.to_ascii_uppercase();
    if upper == "UTF8 ON" || upper == "UTF8" || upper == "UTF-8 ON" {
        Ok(Reply::new(200, "UTF-8 is always on"))
    } else if upper.starts_with("MLST") {
        Ok(Reply::new(200, "MLST OPTS type;size;modify;perm;"))
    } else {
        Err(Reply::new(501, "Only OPTS UTF8 ON and OPTS MLST"))
    }
}

/// `SITE MD5 path` (as libunftp names it) and `SITE HELP`.
fn site(user: &User, arg: &str) -> Outcome {
    let (what, rest) = arg.split_once(' ').unwrap_or((arg, ""));
    match what.to_ascii_uppercase().as_str() {
        "MD5" => commands::site_md5(user, rest),
        "HELP" => Ok(Reply::new(214, "SITE MD5 path: the md5 of a stored file")),
        _ => Err(Reply::new(504, "Only SITE MD5 and SITE HELP")),
    }
}

/// FEAT's lines (RFC 2389): the extensions this server has.
fn features(epsv: bool) -> Vec<String> {
    let mut lines = vec![
        "MDTM",
        "MLST type*;size*;modify*;perm*;",
        "REST STREAM",
        "SIZE",
        "UTF8",
        "TVFS",
    ];
    if epsv {
        lines.insert(0, "EPSV");
    }
    lines.into_iter().map(String::from).collect()
}

fn help_lines() -> Vec<String> {
    [
        "USER PASS QUIT SYST FEAT OPTS NOOP HELP STAT",
        "PWD CWD CDUP MKD RMD DELE RNFR RNTO SIZE MDTM MLST",
        "TYPE MODE STRU PASV EPSV PORT EPRT REST ABOR",
        "RETR STOR APPE LIST NLST MLSD SITE-MD5",
    ]
    .into_iter()
    .map(String::from)
    .collect()
}
