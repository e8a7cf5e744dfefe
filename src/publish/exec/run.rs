//! Running the program once: `PROGRAM action NAME VALUE` in a process group of its own, bounded
//! by `--exec-timeout` and by SIGINT/SIGTERM, everything it started stopped when the call ends
//! (`leftovers.rs`), and its exit status and stderr tail turned into the call's result. Knows
//! nothing of which program is trusted or of records beyond the one call.

use super::{Exec, argument_name, leftovers};
use crate::error::{Error, Kind, Result};
use crate::record::Record;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How many lines of the program's stderr an error shows.
const STDERR_TAIL_LINES: usize = 5;

impl Exec {
    /// Runs `PROGRAM action NAME VALUE` to completion, the timeout or a signal, whichever comes
    /// first; then nothing it started is left running.
    pub(super) fn run(&self, action: &str, record: &Record) -> Result<()> {
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
        // `flock`): they go whichever way the call ended. The program is not reaped yet, so its
        // pid and group id cannot have been reused.
        let stopped = leftovers::stop(child.id());
        let status = child.wait();
        let stderr = read_tail(&mut log);
        if !stopped.is_empty() {
            // Named without the record: the pids say which call it was.
            let when = match end {
                End::Exited => "after it exited",
                _ => "when it was stopped",
            };
            crate::ui::warn(&format!(
                "exec: {} {action} left processes running {when}; they were stopped: {} (a program must finish its work before it exits)",
                self.program.display(),
                stopped.join(", ")
            ));
        }
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
        // Started while no sweep runs, and known as a program (not a leftover) before one can.
        let mut running = leftovers::running();
        let child = Command::new(&self.program)
            .args([action, name, record.value.as_str()])
            .env("DCV_RECORD_TYPE", record.type_name())
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| Error::config(format!("{what}: cannot start it: {e}; check --exec")))?;
        running.add(child.id());
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

/// The last lines of a program's stderr, folded into one line for an error message.
fn tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return String::new();
    }
    let start = lines.len().saturating_sub(STDERR_TAIL_LINES);
    format!("; its stderr ends: {}", lines[start..].join(" | "))
}
