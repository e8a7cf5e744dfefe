//! Waiting until every server serves a record: one [`PropagationCheck`] trait, one polling engine.
//!
//! A check (`dns.rs`, `http.rs`) only discovers *which* servers must serve each record and knows how to
//! ask one of them once: it returns one [`Probe`] per (record, server). [`poll_each`] then polls
//! every (server, record) pair until it is served or the deadline passes, reporting each record the
//! moment every server serves it, so a caller (revalidate) can act on it while the others are still
//! awaited. [`wait_until_served`] is the all-or-nothing wait `auth` needs. The wait is the slowest
//! server's, not the sum; a record that never appears holds up nothing but itself; and no fixed sleep
//! is ever taken where a condition can be polled.
//!
//! This file is the vocabulary checks and callers share ([`Probe`], [`Observation`], [`Polling`])
//! and the all-or-nothing report; `poll.rs` is the polling engine, `route.rs` the routability
//! filter checks apply to the addresses they find.

use crate::error::{Error, Result};
use crate::record::Record;
use std::time::Duration;

pub mod dns;
pub mod http;
mod poll;
mod route;

pub use poll::{ASKS_PER_INTERVAL, MIN_PAUSE, pause_for, poll_all, poll_each};
pub use route::{keep_routable, routable};

/// What one server answered for one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observation {
    /// The server serves the expected value.
    Served,
    /// The server answered, but not with the value; the text says what it did return.
    Missing(String),
    /// The server could not be asked (timeout, refused, network error); the text says why.
    Unreachable(String),
    /// The server keeps giving an answer that waiting will not change (a web server's 403 for 30 s):
    /// this probe is not asked again (the others go on); the text says what and what to do.
    Failed(String),
}

/// Asks one server about one record.
pub trait Probe: Send + Sync {
    fn record(&self) -> &Record;
    /// The server as shown to the user, e.g. `ns2.example.com (192.0.2.2)` or `192.0.2.80:80`.
    fn server(&self) -> String;
    /// Asks once, giving up after `within` at the latest (and after the probe's own per-query
    /// timeout), so a wait never runs past its deadline.
    fn observe(&self, within: Duration) -> Observation;
}

/// Finds the servers that must serve each record.
pub trait PropagationCheck {
    /// One probe per (record, server) pair; every record gets at least one probe or an error.
    fn probes(&self, records: &[Record]) -> Result<Vec<Box<dyn Probe>>>;
}

/// How often and how long to poll.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Polling {
    pub interval: Duration,
    pub timeout: Duration,
}

/// A record and the servers that were seen serving it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Served {
    pub record: Record,
    pub servers: Vec<String>,
}

/// Why a probe's record was not seen served, for messages: `ns2 (192.0.2.2) answered no TXT`.
pub fn shortfall(probe: &dyn Probe, outcome: Option<&Observation>) -> String {
    match outcome {
        Some(Observation::Served) => format!("{} serves it", probe.server()),
        Some(Observation::Missing(what)) => format!("{} answered {what}", probe.server()),
        Some(Observation::Unreachable(why)) => format!("{} unreachable ({why})", probe.server()),
        Some(Observation::Failed(what)) => format!("{} fails: {what}", probe.server()),
        None => format!("{} not asked in time", probe.server()),
    }
}

/// Polls every probe until all are served, or fails with `TempFail` at the deadline naming every
/// record still missing and, per record, each server that lacks it and what it last answered (see
/// [`poll_each`]).
pub fn wait_until_served(
    probes: &[Box<dyn Probe>],
    polling: Polling,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Vec<Served>> {
    let outcomes = poll_all(probes, polling, progress)?;
    // An answer that waiting will not fix (see `http::advice`) is what the error names first.
    if let Some(what) = probes.iter().zip(&outcomes).find_map(|(probe, o)| match o {
        Some(Observation::Failed(what)) => Some(format!("{}: {what}", probe.server())),
        _ => None,
    }) {
        return Err(Error::temp_fail(format!("gave up waiting: {what}")));
    }
    // Per record, in the order given: the servers that do not serve it.
    let failures = grouped(
        probes
            .iter()
            .zip(&outcomes)
            .filter(|(_, outcome)| outcome.as_ref() != Some(&Observation::Served))
            .map(|(probe, outcome)| (probe.record(), shortfall(probe.as_ref(), outcome.as_ref()))),
    );
    if !failures.is_empty() {
        let listed: Vec<String> = failures
            .iter()
            .map(|(record, servers)| format!("{} ({})", record.name(), servers.join(", ")))
            .collect();
        return Err(Error::temp_fail(format!(
            "propagation timed out after {}s: {} record(s) not served everywhere: {}; raise --propagation-timeout or fix the servers named, then run auth again",
            seconds(polling.timeout),
            failures.len(),
            listed.join("; "),
        )));
    }
    let served = grouped(probes.iter().map(|probe| (probe.record(), probe.server())));
    Ok(served
        .into_iter()
        .map(|(record, servers)| Served {
            record: record.clone(),
            servers,
        })
        .collect())
}

/// The values of `pairs` grouped by key, keys in first-seen order.
fn grouped<K: PartialEq, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Vec<(K, Vec<V>)> {
    let mut groups: Vec<(K, Vec<V>)> = Vec::new();
    for (key, value) in pairs {
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, values)) => values.push(value),
            None => groups.push((key, vec![value])),
        }
    }
    groups
}

/// Seconds for messages: `600`, `1.5`.
pub fn seconds(d: Duration) -> String {
    let text = format!("{:.1}", d.as_secs_f64());
    text.strip_suffix(".0").map(str::to_string).unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RecordType;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A probe that is served from its `serve_from`-th observation on (never, for `usize::MAX`).
    struct Flipping {
        record: Record,
        asked: AtomicUsize,
        serve_from: usize,
    }

    impl Probe for Flipping {
        fn record(&self) -> &Record {
            &self.record
        }
        fn server(&self) -> String {
            format!("fake-{}", self.serve_from)
        }
        fn observe(&self, _within: Duration) -> Observation {
            let n = self.asked.fetch_add(1, Ordering::SeqCst) + 1;
            if n >= self.serve_from {
                Observation::Served
            } else {
                Observation::Missing(format!("nothing on ask {n}"))
            }
        }
    }

    fn probe(serve_from: usize) -> Box<dyn Probe> {
        Box::new(Flipping {
            record: Record::new_dns("example.com", RecordType::Txt, "example.com", "v"),
            asked: AtomicUsize::new(0),
            serve_from,
        })
    }

    #[test]
    fn waits_for_every_probe_and_lists_servers() {
        let probes = vec![probe(1), probe(3)];
        let polling = Polling {
            interval: Duration::from_millis(10),
            timeout: Duration::from_secs(5),
        };
        let lines = Mutex::new(Vec::new());
        let served = wait_until_served(&probes, polling, &|l| {
            lines.lock().unwrap().push(l.to_string())
        })
        .expect("served");
        assert_eq!(served.len(), 1);
        assert_eq!(served[0].servers, vec!["fake-1", "fake-3"]);
        assert_eq!(lines.lock().unwrap().len(), 2);
    }

    #[test]
    fn timeout_names_the_lagging_server_and_its_answer() {
        let probes = vec![probe(1), probe(usize::MAX)];
        let polling = Polling {
            interval: Duration::from_millis(10),
            timeout: Duration::from_millis(100),
        };
        let err = wait_until_served(&probes, polling, &|_| {}).unwrap_err();
        assert_eq!(err.kind(), crate::error::Kind::TempFail);
        assert!(err.message().contains("fake-18446744073709551615"), "{err}");
        assert!(err.message().contains("answered nothing on ask"), "{err}");
        assert!(!err.message().contains("fake-1 "), "{err}");
    }
}
