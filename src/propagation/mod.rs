//! Waiting until every server serves a record: one [`PropagationCheck`] trait, one polling engine.
//!
//! A check (`dns.rs`, `http.rs`) only discovers *which* servers must serve each record and knows how to
//! ask one of them once: it returns one [`Probe`] per (record, server). [`wait_until_served`] then polls
//! every probe independently at the poll interval until it is served or the deadline passes, reporting
//! each server as it flips. So the wait is the slowest server's, not the sum, and no fixed sleep is ever
//! taken where a condition can be polled.

use crate::error::{Error, Result};
use crate::record::Record;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub mod dns;
pub mod http;

/// What one server answered for one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observation {
    /// The server serves the expected value.
    Served,
    /// The server answered, but not with the value; the text says what it did return.
    Missing(String),
    /// The server could not be asked (timeout, refused, network error); the text says why.
    Unreachable(String),
}

/// Asks one server about one record.
pub trait Probe: Send + Sync {
    fn record(&self) -> &Record;
    /// The server as shown to the user, e.g. `ns2.example.com (192.0.2.2)` or `192.0.2.80:80`.
    fn server(&self) -> String;
    /// Asks once. Must return within a bounded time (a per-query timeout).
    fn observe(&self) -> Observation;
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

/// Polls every probe until all are served, or fails with `TempFail` at the deadline naming each server
/// that still fails and what it last answered.
pub fn wait_until_served(
    probes: &[Box<dyn Probe>],
    polling: Polling,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Vec<Served>> {
    let started = Instant::now();
    let deadline = started + polling.timeout;
    let total = probes.len();
    let done = Mutex::new(0usize);
    let outcomes: Vec<Observation> = std::thread::scope(|scope| {
        let handles: Vec<_> = probes
            .iter()
            .map(|probe| {
                let done = &done;
                scope.spawn(move || {
                    let last = poll_one(probe.as_ref(), polling.interval, deadline);
                    if last == Observation::Served {
                        let mut n = done.lock().unwrap_or_else(|e| e.into_inner());
                        *n += 1;
                        progress(&format!(
                            "{} serves {} ({}/{}, {:.1}s)",
                            probe.server(),
                            probe.record(),
                            *n,
                            total,
                            started.elapsed().as_secs_f64()
                        ));
                    }
                    last
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Observation::Unreachable("probe thread panicked".into()))
            })
            .collect()
    });

    let failures: Vec<String> = probes
        .iter()
        .zip(&outcomes)
        .filter_map(|(probe, outcome)| match outcome {
            Observation::Served => None,
            Observation::Missing(what) => Some(format!(
                "{} does not serve {} yet (answered: {what})",
                probe.server(),
                probe.record().name
            )),
            Observation::Unreachable(why) => Some(format!(
                "{} unreachable for {} ({why})",
                probe.server(),
                probe.record().name
            )),
        })
        .collect();
    if !failures.is_empty() {
        return Err(Error::temp_fail(format!(
            "propagation timed out after {}s: {}; raise --propagation-timeout or fix the servers named, then run auth again",
            seconds(polling.timeout),
            failures.join("; ")
        )));
    }

    let mut served: Vec<Served> = Vec::new();
    for probe in probes {
        match served.iter_mut().find(|s| &s.record == probe.record()) {
            Some(s) => s.servers.push(probe.server()),
            None => served.push(Served {
                record: probe.record().clone(),
                servers: vec![probe.server()],
            }),
        }
    }
    Ok(served)
}

/// Seconds for messages: `600`, `1.5`.
pub fn seconds(d: Duration) -> String {
    let text = format!("{:.1}", d.as_secs_f64());
    text.strip_suffix(".0").map(str::to_string).unwrap_or(text)
}

/// Asks one probe until it is served or the deadline passes; returns the last observation.
fn poll_one(probe: &dyn Probe, interval: Duration, deadline: Instant) -> Observation {
    loop {
        let asked_at = Instant::now();
        let observation = probe.observe();
        if observation == Observation::Served {
            return observation;
        }
        let next = asked_at + interval;
        if next >= deadline {
            // One last look exactly at the deadline, so a short timeout still gets a fair final answer.
            let now = Instant::now();
            if now < deadline {
                std::thread::sleep(deadline - now);
                return probe.observe();
            }
            return observation;
        }
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RecordType;
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
        fn observe(&self) -> Observation {
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
            record: Record {
                domain: "example.com".into(),
                rtype: RecordType::Txt,
                name: "example.com".into(),
                value: "v".into(),
            },
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
        assert!(err.message().contains("answered: nothing on ask"), "{err}");
        assert!(!err.message().contains("fake-1 "), "{err}");
    }
}
