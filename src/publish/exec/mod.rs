//! The `exec` provider: runs any program to publish, the way lego's exec provider does, so every DNS
//! service (and any web server) dcv-hook has no provider for is one small script away.
//!
//! Called once per record as `PROGRAM present NAME VALUE` and `PROGRAM cleanup NAME VALUE`, with the
//! environment passed through plus `DCV_RECORD_TYPE` (TXT, CNAME or HTTP; lego only ever means
//! TXT). NAME is the DNS owner name with a trailing dot (`_dnsauth.example.com.`, as lego passes its
//! FQDN) for TXT and CNAME records, and the URL for an HTTP file
//! (`http://example.com/.well-known/pki-validation/fileauth.txt`). Exit 0 is success; any other exit
//! is a failure reported with the tail of the program's stderr (never its environment): a sysexits
//! code (64-78) keeps its meaning, anything else is "unavailable" (69). `--exec-timeout` (60 s) bounds
//! each whole call: the program runs in a process group of its own, and when the call ends (the
//! program exits, overruns the timeout, or SIGINT/SIGTERM reaches dcv-hook) the group is killed,
//! and so is every process it started that left the group or its session (a double fork,
//! `setsid`), each named in a warning, so nothing it started outlives the call, holds dcv-hook up
//! or keeps what it inherited (a cron line's `flock`). A program that is killed may have
//! published already: its state is kept for cleanup. `present` is all or nothing: when a record
//! fails, those published before it are cleaned up again.
//!
//! Flags: `--exec PROGRAM`, `--exec-timeout SECONDS` (default 60). Cleanup reuses both from the state.
//!
//! This file is the provider (flags, settings, the calls per record); `run.rs` runs one call,
//! `leftovers.rs` stops what a call left running, `trust.rs` decides which program may run.

mod leftovers;
mod run;
mod trust;

use super::{Provider, Publisher, Serves, Setup, rolled_back};
use crate::error::{Error, Result};
use crate::record::{Place, Published, Record};
use std::path::{Path, PathBuf};
use std::time::Duration;
use trust::{find_program, same_as_remembered, trusted_program};

/// The provider name.
pub const NAME: &str = "exec";

const HEADING: &str = "Provider: exec";
const DEFAULT_TIMEOUT: f64 = 60.0;

/// The exec flags.
#[derive(Clone, Debug, Default, clap::Args, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ExecArgs {
    /// Program for provider exec, run as `PROGRAM present|cleanup NAME VALUE` (lego exec style; NAME
    /// is the record's FQDN with a trailing dot, or the URL of an http-token file).
    #[arg(long, value_name = "PROGRAM", help_heading = HEADING)]
    #[serde(alias = "program")] // the names in state files of 0.1.0
    pub exec: Option<PathBuf>,
    /// Kill the program after this many seconds [default: 60].
    #[arg(long, value_name = "SECONDS", value_parser = crate::dates::seconds_arg, help_heading = HEADING)]
    #[serde(alias = "timeout", deserialize_with = "crate::setting::seconds")]
    pub exec_timeout: Option<f64>,
}

/// What the state keeps, so cleanup needs no flags: the flags as resolved (the program, absolute,
/// and its timeout).
pub type Undo = ExecArgs;

impl Provider for Exec {
    const NAME: &'static str = NAME;
    const SERVES: Serves = Serves::Both;
    type Args = ExecArgs;
    type Undo = Undo;

    /// `--exec` (else, for cleanup, the recorded program) and `--exec-timeout`.
    fn publisher(
        args: ExecArgs,
        _setup: &Setup,
        remembered: Option<&Undo>,
    ) -> Result<Box<dyn Publisher>> {
        let recalled = remembered.and_then(|u| u.exec.as_deref().map(Path::to_string_lossy));
        let program = match (args.exec, recalled) {
            (Some(p), Some(u)) => same_as_remembered(&p, &u)?,
            (Some(p), None) => p,
            (None, Some(u)) => trusted_program(&u)?,
            (None, None) => return Err(Error::usage("--provider exec needs --exec PROGRAM")),
        };
        let timeout = args
            .exec_timeout
            .or(remembered.and_then(|u| u.exec_timeout))
            .unwrap_or(DEFAULT_TIMEOUT);
        if !(timeout.is_finite() && timeout > 0.0 && timeout < 1e6) {
            return Err(Error::usage(format!(
                "--exec-timeout must be a positive number of seconds, not {timeout}"
            )));
        }
        Ok(Box::new(Exec::new(
            &program,
            Duration::from_secs_f64(timeout),
        )?))
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

    fn entry_for(&self, record: &Record) -> Result<Published> {
        let mut p = Published::new(record, NAME);
        p.location = argument_name(record);
        p.set_undo(&Undo {
            exec: Some(self.program.clone()),
            exec_timeout: Some(self.timeout.as_secs_f64()),
        })?;
        Ok(p)
    }
}

impl Publisher for Exec {
    fn provider(&self) -> &'static str {
        NAME
    }

    fn prepare(&mut self, records: &[Record]) -> Result<Vec<Published>> {
        records.iter().map(|r| self.entry_for(r)).collect()
    }

    fn present(&mut self, records: &[Record]) -> Result<Vec<Published>> {
        let mut done: Vec<Published> = Vec::new();
        for record in records {
            if let Err(e) = self.run("present", record) {
                // All or nothing: take back what went out before this one.
                let undo = self.cleanup(&done);
                return Err(rolled_back(e, undo, "the records published before"));
            }
            done.push(self.entry_for(record).map_err(Error::with_leftovers)?);
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

/// What the program is told the record's name is: an FQDN with its trailing dot, or the URL.
fn argument_name(record: &Record) -> String {
    match &record.at {
        Place::Http(url) => url.to_string(),
        Place::Dns { name, .. } => format!("{}.", name.trim_end_matches('.')),
    }
}

#[cfg(test)]
mod tests;
