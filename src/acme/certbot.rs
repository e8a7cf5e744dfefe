//! certbot's manual-hook protocol: the challenge from `CERTBOT_DOMAIN`, `CERTBOT_VALIDATION` and
//! `CERTBOT_TOKEN`, and the batch the call belongs to (`CERTBOT_ALL_DOMAINS`, the certbot process
//! above the hook, `CERTBOT_REMAINING_CHALLENGES`).

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
        (Some(_), None) => {
            return Err(Error::usage(
                "CERTBOT_DOMAIN is set but CERTBOT_VALIDATION is not; run dcv-hook as certbot's --manual-auth-hook, or unset CERTBOT_DOMAIN",
            ));
        }
        (None, Some(_)) => {
            return Err(Error::usage(
                "CERTBOT_VALIDATION is set but CERTBOT_DOMAIN is not; run dcv-hook as certbot's --manual-auth-hook, or unset CERTBOT_VALIDATION",
            ));
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
            key: certbot_batch_key(&all_domains, certbot_pid()),
            remaining,
        }),
    }))
}

/// Names one certbot run: the names of the certificate and certbot's process id (every hook of a run
/// has the same certbot above it), so two runs for different certificates never wait for each other.
pub fn certbot_batch_key(all_domains: &str, certbot_pid: Option<u32>) -> String {
    let mut names: Vec<String> = all_domains
        .split(',')
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
    names.sort();
    names.dedup();
    match certbot_pid {
        Some(pid) => format!("certbot {pid} {}", names.join(",")),
        None => format!("certbot {}", names.join(",")),
    }
}

/// The nearest ancestor process whose command line mentions certbot (hooks run under `sh -c`).
fn certbot_pid() -> Option<u32> {
    let mut pid = std::os::unix::process::parent_id();
    for _ in 0..6 {
        if pid <= 1 {
            return None;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        if String::from_utf8_lossy(&cmdline).contains("certbot") {
            return Some(pid);
        }
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The fields after the command name (in parentheses, which may hold spaces): state, ppid.
        let after = &stat[stat.rfind(')')? + 1..];
        pid = after.split_whitespace().nth(1)?.parse().ok()?;
    }
    None
}
