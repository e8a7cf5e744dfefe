//! `--metrics-file`: the outcome of a `revalidate` run as a Prometheus textfile-collector file (the
//! node_exporter convention: `*.prom` in the collector's directory, replaced atomically so it never
//! reads half a file), so an existing monitoring stack can alert on a domain about to lapse.
//!
//! Per domain: its DCV expiry as a Unix timestamp (the earliest of its OV/EV validations, when
//! known) and, for the domains the run selected, the outcome. Per run: counts by outcome, the
//! duration, when it finished and whether it succeeded. With several CertCentral accounts, one
//! file holds every account's run, each line labelled `account="NAME"` (unlabelled without
//! accounts, as before).

use crate::error::{Error, Result};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// One account's run (`account` `None`: no accounts are configured).
#[derive(Clone, Debug, PartialEq)]
pub struct AccountRun {
    pub account: Option<String>,
    pub domains: Vec<DomainMetric>,
    pub run: RunMetric,
}

/// Where runs are collected when one file is written for several accounts.
pub type Sink = Arc<Mutex<Vec<AccountRun>>>;

/// Hands `run` to `sink` when there is one, else writes it alone to `path`.
pub fn deliver(path: &Path, sink: Option<&Sink>, run: AccountRun) -> Result<()> {
    match sink {
        Some(sink) => {
            sink.lock().unwrap_or_else(|e| e.into_inner()).push(run);
            Ok(())
        }
        None => write(path, &render(&[run])),
    }
}

/// One domain of the account.
#[derive(Clone, Debug, PartialEq)]
pub struct DomainMetric {
    pub domain: String,
    pub domain_id: u64,
    /// The earliest DCV expiry of its validation types (Unix seconds); `None`: never validated.
    pub expiry: Option<i64>,
    /// What this run did to it (`validated`, `failed`, `skipped`, `not checked`, `not submitted`);
    /// `None`: it was not due.
    pub outcome: Option<String>,
}

/// The run as a whole.
#[derive(Clone, Debug, PartialEq)]
pub struct RunMetric {
    /// (outcome, how many domains), e.g. ("validated", 298).
    pub counts: Vec<(String, usize)>,
    pub seconds: f64,
    /// When it finished (Unix seconds).
    pub finished: i64,
    pub ok: bool,
}

/// The file's text, in the Prometheus exposition format: each metric's lines together, under one
/// header, as the format requires.
pub fn render(runs: &[AccountRun]) -> String {
    let domains = || {
        runs.iter()
            .flat_map(|r| r.domains.iter().map(move |d| (r, d)))
    };
    let each_run =
        |value: fn(&RunMetric) -> String| runs.iter().map(move |r| (braces(r, ""), value(&r.run)));
    [
        metric(
            "dcv_hook_domain_dcv_expiry_timestamp_seconds",
            "When the domain's earliest OV/EV domain validation expires (Unix time).",
            domains().filter_map(|(r, d)| Some((labels(r, d, None), d.expiry?.to_string()))),
        ),
        metric(
            "dcv_hook_domain_last_outcome",
            "The outcome of the last revalidate run for the domain (1 for the outcome it had).",
            domains()
                .filter_map(|(r, d)| Some((labels(r, d, Some(d.outcome.as_deref()?)), "1".into()))),
        ),
        metric(
            "dcv_hook_revalidate_domains",
            "Domains the last revalidate run selected, by outcome.",
            runs.iter().flat_map(|r| {
                r.run.counts.iter().map(move |(o, n)| {
                    (
                        braces(r, &format!("outcome=\"{}\"", escape(o))),
                        n.to_string(),
                    )
                })
            }),
        ),
        metric(
            "dcv_hook_revalidate_duration_seconds",
            "How long the last revalidate run took.",
            each_run(|r| format!("{:.3}", r.seconds)),
        ),
        metric(
            "dcv_hook_revalidate_last_run_timestamp_seconds",
            "When the last revalidate run finished (Unix time).",
            each_run(|r| r.finished.to_string()),
        ),
        metric(
            "dcv_hook_revalidate_success",
            "1 when every selected domain ended validated, else 0.",
            each_run(|r| u8::from(r.ok).to_string()),
        ),
    ]
    .concat()
}

/// One metric: its header, then a line for each (labels, value).
fn metric(name: &str, help: &str, lines: impl Iterator<Item = (String, String)>) -> String {
    let mut out = format!("# HELP {name} {help}\n# TYPE {name} gauge\n");
    for (labels, value) in lines {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
    out
}

/// `{account="NAME",rest}` (either part left out when empty; nothing at all when both are).
fn braces(run: &AccountRun, rest: &str) -> String {
    let account = run
        .account
        .as_deref()
        .map(|a| format!("account=\"{}\"", escape(a)));
    let parts: Vec<&str> = account
        .as_deref()
        .into_iter()
        .chain(Some(rest).filter(|r| !r.is_empty()))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

/// Writes `text` to `path` atomically (a temporary file beside it, renamed over it), mode 0644 so
/// the collector (another user) can read it.
pub fn write(path: &Path, text: &str) -> Result<()> {
    let target = if path.parent().is_some_and(|p| p.as_os_str().is_empty()) {
        Path::new(".").join(path)
    } else {
        path.to_path_buf()
    };
    crate::fsutil::write_atomically(&target, text.as_bytes(), 0o644).map_err(|e| {
        Error::cant_create(format!(
            "cannot write --metrics-file {} ({e}); check that its directory exists and is writable",
            path.display()
        ))
    })
}

fn labels(run: &AccountRun, d: &DomainMetric, outcome: Option<&str>) -> String {
    let mut text = format!(
        "domain=\"{}\",domain_id=\"{}\"",
        escape(&d.domain),
        d.domain_id
    );
    if let Some(o) = outcome {
        let _ = write!(text, ",outcome=\"{}\"", escape(o));
    }
    braces(run, &text)
}

/// A label value as the exposition format wants it: backslash, quote and newline escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_each_domain_and_the_run_and_writes_atomically() {
        let domains = vec![
            DomainMetric {
                domain: "a.example".into(),
                domain_id: 7,
                expiry: Some(1_900_000_000),
                outcome: Some("validated".into()),
            },
            DomainMetric {
                domain: "b\"x".into(),
                domain_id: 8,
                expiry: None,
                outcome: None,
            },
        ];
        let run = RunMetric {
            counts: vec![("validated".into(), 1), ("failed".into(), 0)],
            seconds: 1.5,
            finished: 1_800_000_000,
            ok: true,
        };
        let single = AccountRun {
            account: None,
            domains,
            run,
        };
        let text = render(std::slice::from_ref(&single));
        assert!(text.contains(
            "dcv_hook_domain_dcv_expiry_timestamp_seconds{domain=\"a.example\",domain_id=\"7\"} 1900000000\n"
        ), "{text}");
        assert!(text.contains(
            "dcv_hook_domain_last_outcome{domain=\"a.example\",domain_id=\"7\",outcome=\"validated\"} 1\n"
        ), "{text}");
        assert!(!text.contains("domain_id=\"8\""), "{text}");
        assert!(text.contains("dcv_hook_revalidate_domains{outcome=\"failed\"} 0\n"));
        assert!(text.contains("dcv_hook_revalidate_duration_seconds 1.500\n"));
        assert!(text.contains("dcv_hook_revalidate_success 1\n"));
        assert_eq!(escape("b\"x\\"), "b\\\"x\\\\");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("dcv.prom");
        write(&file, &text).unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
        let err = write(&dir.path().join("missing/dcv.prom"), &text).unwrap_err();
        assert!(err.message().contains("--metrics-file"), "{err}");
    }
}

#[cfg(test)]
mod account_tests {
    use super::*;

    fn run(account: &str, ok: bool) -> AccountRun {
        AccountRun {
            account: Some(account.into()),
            domains: vec![DomainMetric {
                domain: format!("{account}.example"),
                domain_id: 1,
                expiry: Some(1_900_000_000),
                outcome: Some("validated".into()),
            }],
            run: RunMetric {
                counts: vec![("validated".into(), 1)],
                seconds: 2.0,
                finished: 1_800_000_000,
                ok,
            },
        }
    }

    #[test]
    fn several_accounts_share_one_header_per_metric_and_label_every_line() {
        let text = render(&[run("us", true), run("eu", false)]);
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.contains("account=\""), "unlabelled: {line}");
        }
        assert_eq!(
            text.matches("# TYPE dcv_hook_revalidate_success gauge")
                .count(),
            1
        );
        assert!(
            text.contains("dcv_hook_revalidate_success{account=\"eu\"} 0\n"),
            "{text}"
        );
        assert!(text.contains(
            "dcv_hook_domain_last_outcome{account=\"us\",domain=\"us.example\",domain_id=\"1\",outcome=\"validated\"} 1\n"
        ), "{text}");
        assert!(
            text.contains("dcv_hook_revalidate_domains{account=\"us\",outcome=\"validated\"} 1\n")
        );
    }
}
