//! certbot's manual-hook protocol: the challenge from `CERTBOT_DOMAIN`, `CERTBOT_VALIDATION` and
//! `CERTBOT_TOKEN`, and the batch the call belongs to (`CERTBOT_ALL_DOMAINS`, the process group
//! certbot runs its hooks in, `CERTBOT_REMAINING_CHALLENGES`).

use super::Batch;
use super::{AcmeTarget, challenge};
use crate::dcv::DomainName;
use crate::env::Env;
use crate::error::{Error, Result};

/// certbot's manual hooks: `CERTBOT_DOMAIN` and `CERTBOT_VALIDATION` (both or neither),
/// `CERTBOT_TOKEN` for http-01, `CERTBOT_REMAINING_CHALLENGES` for batching.
pub(super) fn from_env(env: &dyn Env) -> Result<Option<AcmeTarget>> {
    let (domain, value) = match (env.var("CERTBOT_DOMAIN"), env.var("CERTBOT_VALIDATION")) {
        (None, None) => return Ok(None),
        (Some(d), Some(v)) => (d, v),
        (domain, _) => {
            let (set, unset) = match domain {
                Some(_) => ("CERTBOT_DOMAIN", "CERTBOT_VALIDATION"),
                None => ("CERTBOT_VALIDATION", "CERTBOT_DOMAIN"),
            };
            return Err(Error::usage(format!(
                "{set} is set but {unset} is not; run dcv-hook as certbot's --manual-auth-hook, or unset {set}"
            )));
        }
    };
    let domain = DomainName::parse(&domain).map_err(|e| e.context("CERTBOT_DOMAIN"))?;
    let token = env.var("CERTBOT_TOKEN");
    let challenge = challenge(&domain, &value, token.as_deref())?;
    let remaining = match env.var("CERTBOT_REMAINING_CHALLENGES") {
        None => 0,
        Some(text) => text.trim().parse::<u32>().map_err(|_| {
            Error::usage(format!(
                "CERTBOT_REMAINING_CHALLENGES is {text:?}, not a number; is this certbot's hook environment?"
            ))
        })?,
    };
    let all_domains = env
        .var("CERTBOT_ALL_DOMAINS")
        .unwrap_or_else(|| domain.to_string());
    Ok(Some(AcmeTarget {
        challenges: vec![challenge],
        batch: Some(Batch {
            key: certbot_batch_key(&all_domains, &run_group(rustix::process::getpgrp())),
            remaining,
        }),
    }))
}

/// Names one certbot run: the names of the certificate and the run's process group, so two runs
/// for different certificates, or two runs one after the other, never wait for each other.
pub fn certbot_batch_key(all_domains: &str, run: &str) -> String {
    let mut names: Vec<String> = all_domains
        .split(',')
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
    names.sort();
    names.dedup();
    format!("certbot {run} {}", names.join(","))
}

/// The process group `group` as one run: certbot starts its hooks with `subprocess.run(shell=True)`,
/// in its own process group, so every hook of a run (and any wrapper shell between) shares it,
/// whatever the command lines say. The group leader's start time tells a later group that reuses
/// the number apart (certbot as PID 1 in a container is group 1 on every start).
fn run_group(group: rustix::process::Pid) -> String {
    let id = group.as_raw_nonzero().get().unsigned_abs();
    match crate::process::start_time(id) {
        Some(start) => format!("pg{id}@{start}"),
        None => format!("pg{id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::process::{Pid, getpgrp};
    use std::os::unix::process::CommandExt;

    #[test]
    fn the_batch_is_the_process_group_and_its_leaders_start() {
        let ours = run_group(getpgrp());
        assert_eq!(ours, run_group(getpgrp()), "stable within a run");
        assert!(
            ours.starts_with(&format!("pg{}", getpgrp().as_raw_nonzero())),
            "{ours}"
        );
        // A process in a group of its own (as a second certbot run would be) is another batch.
        let mut other = std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        let group = Pid::from_raw(other.id() as i32).unwrap();
        let theirs = run_group(group);
        let _ = other.kill();
        let _ = other.wait();
        assert_ne!(ours, theirs);
        assert!(
            theirs.contains('@'),
            "a live leader has a start time: {theirs}"
        );
        assert_eq!(
            certbot_batch_key("B.test, a.test", &theirs),
            format!("certbot {theirs} a.test,b.test")
        );
    }
}
