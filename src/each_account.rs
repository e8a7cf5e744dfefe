//! A command run over every configured CertCentral account in one process (`status`, `revalidate`
//! and `doctor` when the config file names several `[[account]]`s and `--account` none).
//! The doctor's checks of names ask DigiCert nothing, so they run once, and then each account (or
//! the one `--account` names) is looked at by `doctor::account`.
//!
//! Each account gets its own context, and so its own CertCentral client and rate limiter (DigiCert
//! counts requests per key), and its own report, folded into the command's under a line naming the
//! account. One account failing (its key refused, 77; DigiCert unavailable, 69) never stops the
//! next; only a signal does. The exit code is the worst outcome, in [`rank`]'s order. With
//! `--metrics-file`, one file holds every account's run, an account that failed before writing
//! any counted as a failed run.

use crate::config::{Account, Config};
use crate::context::Context;
use crate::error::{Error, Kind, Result};
use crate::metrics::{AccountRun, RunMetric, Sink};
use crate::output::Report;
use std::time::Instant;

/// Runs one command with its resolved configuration.
pub type Dispatch = fn(&Context, &mut Report) -> Result<()>;

/// Runs `dispatch` for `cfg`: once, or once per account (the chosen one, or all) when accounts
/// are configured and the command runs over them.
pub fn run(cfg: Config, report: &mut Report, dispatch: Dispatch) -> Result<()> {
    use crate::config::accounts::{Use, usage};
    let uses = usage(cfg.command, &cfg.target);
    if cfg.command == crate::cli::Command::Doctor
        && uses == Use::Neither
        && !cfg.accounts.is_empty()
    {
        return doctor_then_accounts(cfg, report, dispatch);
    }
    if cfg.accounts.is_empty() || uses != Use::Each {
        return dispatch(&Context::new(cfg), report);
    }
    // With accounts configured the report is labelled, for one account as for all.
    let accounts = chosen(&cfg);
    let failures = over(&cfg, &accounts, report, dispatch);
    worst(failures, accounts.len())
}

/// The doctor's checks of names once, then each account (the chosen one, or all) looked at.
fn doctor_then_accounts(cfg: Config, report: &mut Report, dispatch: Dispatch) -> Result<()> {
    let names = dispatch(&Context::new(cfg.clone()), report);
    let chosen = chosen(&cfg);
    let accounts = over(&cfg, &chosen, report, crate::doctor::account::check);
    match names {
        Err(e) if accounts.is_empty() => Err(e),
        names => {
            let names = names.err().map(|e| ("the names' checks".to_string(), e));
            worst(accounts.into_iter().chain(names).collect(), chosen.len())
        }
    }
}

/// The account `--account` names (or the only one), else every account.
fn chosen(cfg: &Config) -> Vec<&Account> {
    match &cfg.account {
        Some(name) => cfg.accounts.iter().filter(|a| &a.name == name).collect(),
        None => cfg.accounts.iter().collect(),
    }
}

/// Runs `dispatch` for each of `accounts`, each with its own context and report folded into
/// `report`; the failures, by account (and the metrics file's, when it cannot be written).
fn over(
    cfg: &Config,
    accounts: &[&Account],
    report: &mut Report,
    dispatch: Dispatch,
) -> Vec<(String, Error)> {
    let sink: Sink = Sink::default();
    let mut failures: Vec<(String, Error)> = Vec::new();
    for &account in accounts {
        if let Err(e) = crate::signals::check() {
            failures.push((format!("account {}", account.name), e));
            break;
        }
        let started = Instant::now();
        let mut one = cfg.for_account(account);
        one.metrics_sink = Some(sink.clone());
        let mut sub = Report::new(report.command, cfg.dry_run);
        let outcome = dispatch(&Context::new(one), &mut sub);
        sub.finish(&outcome, started.elapsed().as_secs_f64());
        report.absorb(&account.name, &account.api_url, sub);
        if let Err(e) = outcome {
            failed_run(cfg, &sink, account, started);
            failures.push((format!("account {}", account.name), e));
        }
    }
    // A dry run writes no metrics file, as with one account.
    if let Some(path) = cfg.metrics_file.as_ref().filter(|_| !cfg.dry_run) {
        let runs = sink.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Err(e) = crate::metrics::write(path, &crate::metrics::render(&runs)) {
            failures.push(("--metrics-file".into(), e));
        }
    }
    failures
}

/// A failed account's run for the metrics file, when revalidate wrote none for it.
fn failed_run(cfg: &Config, sink: &Sink, account: &Account, started: Instant) {
    if cfg.metrics_file.is_none() || cfg.command != crate::cli::Command::Revalidate {
        return;
    }
    let mut runs = sink.lock().unwrap_or_else(|e| e.into_inner());
    if runs
        .iter()
        .any(|r| r.account.as_deref() == Some(account.name.as_str()))
    {
        return;
    }
    runs.push(AccountRun {
        account: Some(account.name.clone()),
        domains: Vec::new(),
        run: RunMetric {
            counts: Vec::new(),
            seconds: started.elapsed().as_secs_f64(),
            finished: crate::dates::now(),
            ok: false,
        },
    });
}

/// How bad an outcome is: a signal, then a broken configuration (78), a refused key (77), the
/// other errors, DigiCert unavailable (69), and last some domains not validated / something
/// blocking (75).
fn rank(kind: Kind) -> u8 {
    match kind {
        Kind::Interrupted(_) => 9,
        Kind::Config => 8,
        Kind::NoPerm => 7,
        Kind::Software => 6,
        Kind::CantCreat => 5,
        Kind::Usage => 4,
        Kind::DataErr => 3,
        Kind::Unavailable => 2,
        Kind::TempFail => 1,
    }
}

/// The run's outcome: `Ok` when every account succeeded, else the worst failure, its message
/// naming the account (or part) and the others that failed.
fn worst(failures: Vec<(String, Error)>, accounts: usize) -> Result<()> {
    let summary: Vec<String> = failures
        .iter()
        .map(|(name, e)| format!("{name} ({})", e.exit_code()))
        .collect();
    let Some((name, e)) = failures.into_iter().max_by_key(|(_, e)| rank(e.kind())) else {
        return Ok(());
    };
    let message = match summary.len() {
        1 => format!("{name}: {}", e.message()),
        n => format!(
            "{name}: {}; {n} failure(s) over {accounts} account(s): {}",
            e.message(),
            summary.join(", ")
        ),
    };
    Err(Error::new(e.kind(), message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_outcome_wins_and_the_line_names_every_failure() {
        let failures = vec![
            (
                "account a".to_string(),
                Error::temp_fail("2 domains not validated"),
            ),
            ("account b".to_string(), Error::no_perm("key refused")),
            ("account c".to_string(), Error::unavailable("DigiCert down")),
        ];
        let e = worst(failures, 4).unwrap_err();
        assert_eq!(e.exit_code(), 77);
        assert_eq!(
            e.message(),
            "account b: key refused; 3 failure(s) over 4 account(s): account a (75), account b (77), account c (69)"
        );
        let one = worst(vec![("account a".into(), Error::unavailable("down"))], 2);
        assert_eq!(one.unwrap_err().message(), "account a: down");
        assert!(worst(Vec::new(), 2).is_ok());
        assert!(rank(Kind::Config) > rank(Kind::NoPerm));
        assert!(rank(Kind::Unavailable) > rank(Kind::TempFail));
    }
}
