//! The `exec` provider: runs any program to publish, the way lego's exec provider does, so every DNS
//! service (and any web server) dcv-hook has no provider for is one small script away.
//!
//! Called once per record as `PROGRAM present NAME VALUE` and `PROGRAM cleanup NAME VALUE`, with the
//! environment passed through plus `DCV_RECORD_TYPE` (TXT, CNAME or HTTP; lego only ever means TXT). NAME is the DNS owner name with a trailing dot (`_dnsauth.example.com.`,
//! as lego passes its FQDN) for TXT and CNAME records, and the URL for an HTTP file
//! (`http://example.com/.well-known/pki-validation/fileauth.txt`). Exit 0 is success; any other exit
//! is a failure reported with the tail of the program's stderr (never its environment): a sysexits
//! code (64-78) keeps its meaning, anything else is "unavailable" (69). `--exec-timeout` (60 s) bounds
//! each whole call: the program runs in a process group of its own, and when the call ends (the
//! program exits, overruns the timeout, or SIGINT/SIGTERM reaches dcv-hook) the group is killed, so
//! nothing it started outlives the call or holds dcv-hook up. A program that is killed may have
//! published already: its state is kept for cleanup. `present` is all or nothing: when a record fails, those published
//! before it are cleaned up again.
//!
//! Flags: `--exec PROGRAM`, `--exec-timeout SECONDS` (default 60). Cleanup reuses both from the state.

use super::{Provider, Publisher, Serves, Setup, rolled_back};
use crate::error::{Error, Kind, Result};
use crate::record::{Published, Record, RecordType};
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The provider name.
pub const NAME: &str = "exec";

const HEADING: &str = "Provider: exec";
const DEFAULT_TIMEOUT: f64 = 60.0;
/// How many lines of the program's stderr an error shows.
const STDERR_TAIL_LINES: usize = 5;

/// The exec flags.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ExecArgs {
    /// Program for provider exec, run as `PROGRAM present|cleanup NAME VALUE` (lego exec style; NAME
    /// is the record's FQDN with a trailing dot, or the URL of an http-token file).
    #[arg(long, value_name = "PROGRAM", help_heading = HEADING)]
    pub exec: Option<PathBuf>,
    /// Kill the program after this many seconds [default: 60].
    #[arg(long, value_name = "SECONDS", value_parser = crate::dates::seconds_arg, help_heading = HEADING)]
    pub exec_timeout: Option<f64>,
}

/// What the state keeps: the program (absolute) and its timeout, so cleanup needs no flags.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Undo {
    pub program: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<f64>,
}

impl Provider for Exec {
    const NAME: &'static str = NAME;
    const SERVES: Serves = Serves::Both;
    type Args = ExecArgs;
    type Settings = Exec;
    type Undo = Undo;

    /// `--exec` (else, for cleanup, the recorded program) and `--exec-timeout`.
    fn settings(args: ExecArgs, _setup: &Setup, remembered: Option<&Undo>) -> Result<Exec> {
        let recalled = remembered.filter(|u| !u.program.is_empty());
        let program = match (args.exec, recalled) {
            (Some(p), Some(u)) => same_as_remembered(&p, &u.program)?,
            (Some(p), None) => p,
            (None, Some(u)) => trusted_program(&u.program)?,
            (None, None) => return Err(Error::usage("--provider exec needs --exec PROGRAM")),
        };
        let timeout = args
            .exec_timeout
            .or(recalled.and_then(|u| u.timeout))
            .unwrap_or(DEFAULT_TIMEOUT);
        if !(timeout.is_finite() && timeout > 0.0 && timeout < 1e6) {
            return Err(Error::usage(format!(
                "--exec-timeout must be a positive number of seconds, not {timeout}"
            )));
        }
        Exec::new(&program, Duration::from_secs_f64(timeout))
    }

    fn publisher(settings: Exec, _setup: &Setup) -> Result<Box<dyn Publisher>> {
        Ok(Box::new(settings))
    }
}

/// Publishes by running a program.
pub struct Exec {
    program: PathBuf,
    timeout: Duration,
}

impl Exec {
    /// Checks that `program` is an executable file (found on PATH when it has no slash).
    pub fn new(program: &Path, timeout: Duration) -> Result<Exec> {
        let program = find_program(program)?;
        Ok(Exec { program, timeout })
    }

    /// Runs `PROGRAM action NAME VALUE` to completion, the timeout or a signal, whichever comes
    /// first; then nothing it started is left running.
    fn run(&self, action: &str, record: &Record) -> Result<()> {
        // Once asked to stop, start nothing more (a rollback or the next cleanup call included).
        crate::signals::check()?;
        let name = argument_name(record);
        crate::ui::verbose(&format!(
            "exec: {} {action} {name} {}",
            self.program.display(),
            record.value
        ));
        let what = format!("exec: {} {action} {name}", self.program.display());
        let (mut child, mut log) = self.start(&what, action, &name, record)?;
        let end = wait_for_exit(&child, Instant::now() + self.timeout);
        // Its leftovers would outlive the call (and hold what it inherited, such as a cron line's
        // `flock`): the group goes whichever way the call ended. The program is not reaped yet, so
        // its group id cannot have been reused.
        let leftovers = kill_group(child.id());
        let status = child.wait();
        let stderr = read_tail(&mut log);
        match end {
            End::Interrupted(signal) => {
                return Err(Error::interrupted(signal)
                    .context(format!("{what}: stopped"))
                    .with_leftovers());
            }
            End::TimedOut => {
                return Err(Error::unavailable(format!(
                    "{what}: killed after {:.0}s (--exec-timeout){}",
                    self.timeout.as_secs_f64(),
                    tail(&stderr)
                ))
                .with_leftovers());
            }
            End::Failed(e) => {
                return Err(
                    Error::software(format!("{what}: cannot wait for it: {e}")).with_leftovers()
                );
            }
            End::Exited => {}
        }
        let status =
            status.map_err(|e| Error::software(format!("{what}: cannot wait for it: {e}")))?;
        if leftovers {
            // Named without the record, so a batch of calls warns once.
            crate::ui::warn(&format!(
                "exec: {} {action} left processes running after it exited; they were stopped (a program must finish its work before it exits)",
                self.program.display()
            ));
        }
        exit_result(&what, status, &stderr)
    }

    /// Starts `PROGRAM action NAME VALUE` in a process group of its own, so the end of the call
    /// can stop whatever it started too; returns it with the file its stderr goes to.
    fn start(
        &self,
        what: &str,
        action: &str,
        name: &str,
        record: &Record,
    ) -> Result<(std::process::Child, std::fs::File)> {
        // An unlinked temp file, not a pipe: a child the program leaves behind may hold it open,
        // and nothing here ever waits for it to be closed.
        let no_file = |e: std::io::Error| {
            Error::cant_create(format!("{what}: cannot make a file for its stderr: {e}"))
        };
        let log = tempfile::tempfile().map_err(no_file)?;
        let stderr = log.try_clone().map_err(no_file)?;
        let child = Command::new(&self.program)
            .args([action, name, record.value.as_str()])
            .env("DCV_RECORD_TYPE", record.rtype.as_str())
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| Error::config(format!("{what}: cannot start it: {e}; check --exec")))?;
        Ok((child, log))
    }
}

/// What a program's exit means: 0 is success (its stderr shown with `-v`); a sysexits code keeps
/// its meaning; anything else is "unavailable", with the tail of its stderr.
fn exit_result(what: &str, status: std::process::ExitStatus, stderr: &str) -> Result<()> {
    if status.success() {
        for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
            crate::ui::verbose(&format!("exec: {line}"));
        }
        return Ok(());
    }
    let code = status.code();
    let kind = code
        .and_then(Kind::from_exit_code)
        .unwrap_or(Kind::Unavailable);
    let how = match code {
        Some(c) => format!("exited with {c}"),
        None => "was killed by a signal".to_string(),
    };
    Err(Error::new(kind, format!("{what}: {how}{}", tail(stderr))))
}

/// How waiting for a program ended.
enum End {
    /// It exited (it is not reaped yet).
    Exited,
    /// `--exec-timeout` passed first.
    TimedOut,
    /// SIGINT or SIGTERM reached dcv-hook first.
    Interrupted(i32),
    /// Waiting itself failed.
    Failed(std::io::Error),
}

/// Waits until `child` exits, `deadline` passes or a signal arrives, without reaping it.
fn wait_for_exit(child: &std::process::Child, deadline: Instant) -> End {
    use rustix::process::{Pid, WaitId, WaitIdOptions, waitid};
    let Some(pid) = i32::try_from(child.id()).ok().and_then(Pid::from_raw) else {
        return End::Failed(std::io::Error::other("no process id"));
    };
    // WNOWAIT leaves the exited program a zombie, so its pid (and group id) stays ours until reaped.
    let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
    loop {
        match waitid(WaitId::Pid(pid), options) {
            Ok(Some(_)) => return End::Exited,
            Ok(None) => {}
            Err(e) => return End::Failed(e.into()),
        }
        if let Some(signal) = crate::signals::pending() {
            return End::Interrupted(signal);
        }
        if Instant::now() >= deadline {
            return End::TimedOut;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// SIGKILLs the process group `leader` started; true when a process other than the leader was in
/// it (the leader, exited but not reaped, always is).
fn kill_group(leader: u32) -> bool {
    use rustix::process::{Pid, Signal, kill_process_group};
    let Some(group) = i32::try_from(leader).ok().and_then(Pid::from_raw) else {
        return false;
    };
    let others = crate::process::all()
        .into_iter()
        .any(|pid| pid != leader && crate::process::group(pid) == Some(leader));
    let _ = kill_process_group(group, Signal::KILL);
    others
}

/// Longest part of a program's stderr kept: its end, which says why it failed.
const STDERR_KEPT: u64 = 64 * 1024;

/// The last [`STDERR_KEPT`] bytes written to `log`, as text.
fn read_tail(log: &mut std::fs::File) -> String {
    use std::io::{Seek, SeekFrom};
    let len = log.metadata().map(|m| m.len()).unwrap_or(0);
    let mut bytes = Vec::new();
    if log
        .seek(SeekFrom::Start(len.saturating_sub(STDERR_KEPT)))
        .is_ok()
    {
        let _ = log.take(STDERR_KEPT).read_to_end(&mut bytes);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

impl Publisher for Exec {
    fn provider(&self) -> &'static str {
        NAME
    }

    fn prepare(&mut self, records: &[Record]) -> Result<Vec<Published>> {
        Ok(records.iter().map(|r| self.entry_for(r)).collect())
    }

    fn present(&mut self, records: &[Record]) -> Result<Vec<Published>> {
        let mut done: Vec<Published> = Vec::new();
        for record in records {
            if let Err(e) = self.run("present", record) {
                // All or nothing: take back what went out before this one.
                let undo = self.cleanup(&done);
                return Err(rolled_back(e, undo, "the records published before"));
            }
            done.push(self.entry_for(record));
        }
        Ok(done)
    }

    fn cleanup(&mut self, published: &[Published]) -> Result<()> {
        // Every record gets its call, even when one fails, so as little as possible is left.
        let mut first_error = None;
        for p in published.iter().filter(|p| !p.preexisting) {
            if let Err(e) = self.run("cleanup", &p.record) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

impl Exec {
    fn entry_for(&self, record: &Record) -> Published {
        let mut p = Published::new(record, NAME);
        p.location = argument_name(record);
        p.set_undo(&Undo {
            program: self.program.display().to_string(),
            timeout: Some(self.timeout.as_secs_f64()),
        });
        p
    }
}

/// What the program is told the record's name is: an FQDN with its trailing dot, or the URL.
fn argument_name(record: &Record) -> String {
    match record.rtype {
        RecordType::Http => record.name.clone(),
        _ => format!("{}.", record.name.trim_end_matches('.')),
    }
}

/// The last lines of a program's stderr, folded into one line for an error message.
fn tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return String::new();
    }
    let start = lines.len().saturating_sub(STDERR_TAIL_LINES);
    format!("; its stderr ends: {}", lines[start..].join(" | "))
}

/// `--exec` for a cleanup of records an earlier run published with `remembered`: a state file is
/// not trusted to choose the program, so one that differs from the configured one is refused.
fn same_as_remembered(program: &Path, remembered: &str) -> Result<PathBuf> {
    let configured = find_program(program)?;
    let recalled = std::fs::canonicalize(remembered).unwrap_or_else(|_| remembered.into());
    if configured != recalled {
        return Err(Error::config(format!(
            "the state says {remembered} published these records, not --exec {}; clean up with --exec {remembered} (or without --exec) if you trust that program",
            program.display()
        )));
    }
    Ok(configured)
}

/// The program a state file names, for a cleanup given no `--exec`: run only when it is an
/// absolute path to a regular file owned by root or the running user that nobody else may write,
/// in directories nobody else may change (as sudo and ssh's StrictModes ask), since whoever could
/// write it or the state would otherwise choose what runs with our rights.
fn trusted_program(remembered: &str) -> Result<PathBuf> {
    let refuse = |why: &str| {
        Error::config(format!(
            "the state names the exec program {remembered:?}, which {why}; not running it: fix that, or clean up with --exec PROGRAM"
        ))
    };
    let path = Path::new(remembered);
    if !path.is_absolute() {
        return Err(refuse("is not an absolute path"));
    }
    let program =
        std::fs::canonicalize(path).map_err(|e| refuse(&format!("is not usable ({e})")))?;
    let meta = std::fs::metadata(&program).map_err(|e| refuse(&format!("is not usable ({e})")))?;
    if !meta.is_file() {
        return Err(refuse("is not a regular file"));
    }
    if let Some(why) = untrusted(&meta) {
        return Err(refuse(why));
    }
    for dir in program.ancestors().skip(1) {
        let meta = std::fs::metadata(dir).map_err(|e| refuse(&format!("is not usable ({e})")))?;
        // A sticky root directory (/tmp) lets nobody else replace what is ours in it.
        let sticky_root = meta.uid() == 0 && meta.mode() & 0o1000 != 0;
        if !sticky_root && untrusted(&meta).is_some() {
            return Err(refuse(&format!(
                "is in {}, a directory another user may change",
                dir.display()
            )));
        }
    }
    Ok(program)
}

/// Why a file another user could change is not to be trusted, or `None` when it is owned by root
/// or the running user and writable by neither group nor others.
fn untrusted(meta: &std::fs::Metadata) -> Option<&'static str> {
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != 0 && meta.uid() != me {
        Some("is owned by another user")
    } else if meta.mode() & 0o022 != 0 {
        Some("is writable by group or others")
    } else {
        None
    }
}

/// `program` as an absolute path to an executable file: as given when it has a slash, else on PATH.
fn find_program(program: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let candidates: Vec<PathBuf> = if program.components().count() > 1 {
        vec![program.to_path_buf()]
    } else {
        std::env::var_os("PATH")
            .map(|path| {
                std::env::split_paths(&path)
                    .map(|dir| dir.join(program))
                    .collect()
            })
            .unwrap_or_default()
    };
    candidates
        .into_iter()
        .find(|p| executable(p))
        .map(|p| std::fs::canonicalize(&p).unwrap_or(p))
        .ok_or_else(|| {
            Error::config(format!(
                "--exec {}: not an executable file{}; give the program's path",
                program.display(),
                if program.components().count() > 1 {
                    ""
                } else {
                    " on PATH"
                }
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn script(dir: &Path, body: &str) -> PathBuf {
        let path = dir.join("hook");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn txt(name: &str, value: &str) -> Record {
        Record {
            domain: name.into(),
            rtype: RecordType::Txt,
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn calls_the_program_lego_style_once_per_record() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let program = script(dir.path(), &format!("echo \"$@\" >> {}", log.display()));
        let mut exec = Exec::new(&program, Duration::from_secs(5)).unwrap();
        let published = exec
            .present(&[txt("a.example.test", "v1"), txt("b.example.test", "v2")])
            .unwrap();
        exec.cleanup(&published[..1]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "present a.example.test. v1\npresent b.example.test. v2\ncleanup a.example.test. v1\n"
        );
    }

    #[test]
    fn a_failure_shows_the_stderr_tail_maps_sysexits_and_rolls_back() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let program = script(
            dir.path(),
            &format!(
                "echo \"$@\" >> {}\n[ \"$2\" = b.example.test. ] && {{ echo 'line 1' >&2; echo 'token rejected' >&2; exit 77; }}\nexit 0",
                log.display()
            ),
        );
        let mut exec = Exec::new(&program, Duration::from_secs(5)).unwrap();
        let err = exec
            .present(&[txt("a.example.test", "v1"), txt("b.example.test", "v2")])
            .unwrap_err();
        assert_eq!(err.kind(), Kind::NoPerm, "{err}");
        assert!(err.message().contains("token rejected"), "{err}");
        assert!(!err.may_have_left_records());
        assert!(
            std::fs::read_to_string(&log)
                .unwrap()
                .ends_with("cleanup a.example.test. v1\n")
        );
        let odd = script(dir.path(), "exit 3");
        let err = Exec::new(&odd, Duration::from_secs(5))
            .unwrap()
            .present(&[txt("a.example.test", "v")])
            .unwrap_err();
        assert_eq!(err.kind(), Kind::Unavailable, "{err}");
    }

    #[test]
    fn a_program_that_hangs_is_killed_and_its_state_kept() {
        let dir = tempfile::tempdir().unwrap();
        let program = script(dir.path(), "sleep 30");
        let started = Instant::now();
        let err = Exec::new(&program, Duration::from_millis(300))
            .unwrap()
            .present(&[txt("a.example.test", "v")])
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(err.kind(), Kind::Unavailable);
        assert!(err.may_have_left_records(), "{err}");
    }

    #[test]
    fn what_the_program_leaves_running_is_stopped_when_its_call_ends() {
        let dir = tempfile::tempdir().unwrap();
        let pid = dir.path().join("pid");
        // The helper keeps no pipe of ours open: only the group kill stops it.
        let program = script(
            dir.path(),
            &format!("sleep 600 2>/dev/null &\necho $! > {}", pid.display()),
        );
        Exec::new(&program, Duration::from_secs(30))
            .unwrap()
            .present(&[txt("a.example.test", "v")])
            .unwrap();
        let pid: u32 = std::fs::read_to_string(&pid)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while crate::process::is_running(pid) {
            assert!(Instant::now() < deadline, "the helper outlived the call");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn a_remembered_program_runs_only_when_nobody_else_could_have_changed_it() {
        let dir = tempfile::tempdir().unwrap();
        let program = script(dir.path(), "exit 0");
        let name = program.display().to_string();
        assert_eq!(
            trusted_program(&name).unwrap(),
            program.canonicalize().unwrap()
        );
        assert!(same_as_remembered(&program, &name).is_ok());
        let other = dir.path().join("other");
        std::fs::copy(&program, &other).unwrap();
        let err = same_as_remembered(&other, &name).unwrap_err();
        assert_eq!(err.kind(), Kind::Config, "{err}");
        assert!(trusted_program("hook").is_err(), "a relative path");
        assert!(trusted_program(&dir.path().display().to_string()).is_err());
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o775)).unwrap();
        let err = trusted_program(&name).unwrap_err();
        assert!(
            err.message().contains("writable by group or others"),
            "{err}"
        );
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = trusted_program(&name).unwrap_err();
        assert!(err.message().contains("another user may change"), "{err}");
    }

    #[test]
    fn a_missing_program_is_a_config_error() {
        let err = Exec::new(Path::new("/nonexistent/hook"), Duration::from_secs(1))
            .err()
            .unwrap();
        assert_eq!(err.kind(), Kind::Config);
        assert!(Exec::new(Path::new("sh"), Duration::from_secs(1)).is_ok());
    }
}
