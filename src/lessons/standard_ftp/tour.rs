//! Lesson 15's stage in `00-tour`: lesson 14's account, served over RFC 959, driven line by
//! line: the greeting, USER and PASS (in clear), EPSV and a second connection for the data,
//! STOR with its `150 ... 226`, a listing, a resumed download, SITE MD5, and two refusals (a
//! path out of the home, the quota).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::server::{run_server, ServerConfig};
use crate::accounts::{admin, scram};
use crate::tour::{Tour, TourError};
use crate::transfer::md5_file;

const USER: &str = "demo";
const PASSWORD: &str = "demo password";
const QUOTA: u64 = 64 * 1024;

/// The lesson's stage in `00-tour`.
pub fn tour(t: &mut Tour) -> Result<(), TourError> {
    t.say(
        "The same homework server speaking real FTP (RFC 959), so curl, Python's ftplib, lftp \
         and FileZilla can use it: text commands and numbered replies on one connection, the \
         data on a second one. Same accounts, homes, jail and quota as 14.",
    );
    let dir = tempfile::tempdir()?;
    let root = dir.path().join("ftp-root");
    t.step(&format!(
        "14-ftp adduser {USER} --quota 64K: the account lesson 14 would make"
    ));
    admin::add_user(&root, USER, PASSWORD, QUOTA, scram::MIN_ITERATIONS)?;

    let config = ServerConfig::new(&root);
    let server =
        t.start_tcp(move |listener, log, shutdown| run_server(listener, &config, &log, &shutdown))?;
    let lines = &server.lines;
    t.expect_log("server", lines, "serving")?;
    let addr = SocketAddr::from(([127, 0, 0, 1], server.port()));

    t.step("the control connection: a greeting, then USER and PASS, the password in clear");
    let mut ftp = Control::connect(t, addr)?;
    ftp.expect(t, &format!("USER {USER}"), 331)?;
    ftp.expect(t, &format!("PASS {PASSWORD}"), 230)?;
    t.check(
        true,
        "the password just crossed the network as plain text: anyone on the path can read it \
         (lesson 14's SCRAM login never sends it)",
    )?;

    t.step("EPSV: the server opens a port for the data; STOR: 150, the bytes, the close, 226");
    let notes: Vec<u8> = (1..=200)
        .flat_map(|i| format!("line {i}: two connections, one conversation\n").into_bytes())
        .collect();
    ftp.expect(t, "TYPE I", 200)?;
    let mut data = ftp.epsv(t)?;
    ftp.expect(t, "STOR notes.txt", 150)?;
    data.write_all(&notes)?;
    t.show(
        "data",
        &format!(
            "{} bytes sent, then the data connection closed",
            notes.len()
        ),
    );
    drop(data);
    ftp.reply_expected(t, 226)?;
    t.expect_log("server", lines, "STOR notes.txt: 226")?;

    t.step("LIST: the listing comes over a new data connection, `ls -l` lines");
    let mut data = ftp.epsv(t)?;
    ftp.expect(t, "LIST", 150)?;
    let listing = read_all(&mut data)?;
    for line in String::from_utf8_lossy(&listing).lines() {
        t.show("data", line);
    }
    ftp.reply_expected(t, 226)?;

    t.step("resume a download (断点续传): SIZE, then REST 4000 and RETR send only the rest");
    ftp.expect(t, "SIZE notes.txt", 213)?;
    let mut data = ftp.epsv(t)?;
    ftp.expect(t, "REST 4000", 350)?;
    ftp.expect(t, "RETR notes.txt", 150)?;
    let rest = read_all(&mut data)?;
    ftp.reply_expected(t, 226)?;
    t.check(
        rest == notes.get(4000..).unwrap_or_default(),
        format!(
            "the {} bytes from byte 4000 on arrived, nothing before",
            rest.len()
        ),
    )?;

    t.step("SITE MD5: lesson 14's consistency check (文件一致性), as a command");
    let md5 = ftp.expect(t, "SITE MD5 notes.txt", 213)?;
    let local = dir.path().join("notes.txt");
    std::fs::write(&local, &notes)?;
    t.check(
        md5.contains(&md5_file(&local)?),
        "the md5 the server recorded while the bytes arrived is the md5 of what was sent",
    )?;

    t.step("the jail and the quota hold as in 14: RETR ../users.json, then a file too big");
    let _data = ftp.epsv(t)?;
    ftp.expect(t, "RETR ../users.json", 550)?;
    let mut data = ftp.epsv(t)?;
    ftp.expect(t, "STOR big.bin", 150)?;
    // The server stops reading when the quota is reached: a failed write is its answer.
    let _ = data.write_all(&vec![0u8; 200 * 1024]);
    drop(data);
    ftp.reply_expected(t, 552)?;
    t.check(
        !root.join("home").join(USER).join("big.bin").exists(),
        "552, and nothing named big.bin: a file appears only when whole",
    )?;
    ftp.expect(t, "QUIT", 221)?;
    Ok(())
}

/// A control connection read line by line, each exchange shown.
struct Control {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
    peer: SocketAddr,
}

impl Control {
    fn connect(t: &mut Tour, addr: SocketAddr) -> Result<Control, TourError> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
        // A tour must fail, not hang, if the server does not answer.
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut control = Control {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
            peer: addr,
        };
        control.reply_expected(t, 220)?;
        Ok(control)
    }

    /// Sends `line`, shows it, and requires the reply `code`; returns the reply's text.
    fn expect(&mut self, t: &mut Tour, line: &str, code: u16) -> Result<String, TourError> {
        self.writer.write_all(format!("{line}\r\n").as_bytes())?;
        t.show("client", line);
        self.reply_expected(t, code)
    }

    /// Reads one reply (all its lines), shows it, and requires `code`.
    fn reply_expected(&mut self, t: &mut Tour, code: u16) -> Result<String, TourError> {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(TourError::new("the server closed the control connection"));
            }
            let line = line.trim_end().to_string();
            t.show("server", &line);
            let last = line.as_bytes().get(3) != Some(&b'-');
            text.push_str(&line);
            if last {
                break;
            }
        }
        if !text.starts_with(&code.to_string()) {
            return Err(TourError::new(format!(
                "expected a {code} reply, got {text}"
            )));
        }
        Ok(text)
    }

    /// EPSV, and the data connection to the port it names.
    fn epsv(&mut self, t: &mut Tour) -> Result<TcpStream, TourError> {
        let reply = self.expect(t, "EPSV", 229)?;
        let port = reply
            .split('|')
            .nth(3)
            .and_then(|p| p.parse::<u16>().ok())
            .ok_or_else(|| TourError::new(format!("no port in {reply}")))?;
        let data = TcpStream::connect_timeout(
            &SocketAddr::new(self.peer.ip(), port),
            Duration::from_secs(10),
        )?;
        data.set_read_timeout(Some(Duration::from_secs(10)))?;
        t.show("data", &format!("connected to port {port}"));
        Ok(data)
    }
}

fn read_all(data: &mut TcpStream) -> Result<Vec<u8>, TourError> {
    let mut bytes = Vec::new();
    data.read_to_end(&mut bytes)?;
    Ok(bytes)
}
