//! Waiting until every server serves a record: one [`PropagationCheck`] trait, one polling engine.
//!
//! A check (`dns.rs`, `http.rs`) only discovers *which* servers must serve each record and knows how to
//! ask one of them once: it returns one [`Probe`] per (record, server). [`wait_until_served`] then polls
//! every probe independently at the poll interval until it is served or the deadline passes, reporting
//! each server as it flips. So the wait is the slowest server's, not the sum, and no fixed sleep is ever
//! taken where a condition can be polled.

use crate::error::{Error, Result};
use crate::record::Record;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, UdpSocket};
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
    /// The server keeps giving an answer that waiting will not change (a web server's 403 for 30 s):
    /// the wait stops; the text says what and what to do.
    Failed(String),
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

/// A lagging server is asked this many times per `--poll-interval`: with the default 1 s, every
/// 0.25 s (240 questions a minute), so `auth` returns within about a quarter second of the last
/// server serving, however long it lagged.
pub const ASKS_PER_INTERVAL: u32 = 4;

/// Never more than 10 questions a second to one server, whatever `--poll-interval` says.
pub const MIN_PAUSE: Duration = Duration::from_millis(100);

/// The pause between two questions to one server that answers.
pub fn pause_for(interval: Duration) -> Duration {
    (interval / ASKS_PER_INTERVAL).max(MIN_PAUSE)
}

/// Polls every probe until all are served or the deadline passes, and returns what each last saw
/// (`None`: not asked, an earlier record of its server was still missing). `Err` only when a signal
/// stopped the wait.
///
/// Probes of one server are polled by one thread, independently of other servers. Each round asks
/// the first record that server does not serve yet and, once it does, the next ones straight away:
/// records published together arrive together (one UPDATE, one zone transfer), so waiting costs one
/// query per server per round however many records there are, and every record is still confirmed.
pub fn poll_all(
    probes: &[Box<dyn Probe>],
    polling: Polling,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Vec<Option<Observation>>> {
    let started = Instant::now();
    let deadline = started + polling.timeout;
    let total = probes.len();
    let done = Mutex::new(0usize);
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, probe) in probes.iter().enumerate() {
        let server = probe.server();
        match groups.iter_mut().find(|(s, _)| *s == server) {
            Some((_, members)) => members.push(i),
            None => groups.push((server, vec![i])),
        }
    }
    let mut outcomes: Vec<Option<Observation>> = vec![None; total];
    std::thread::scope(|scope| {
        let handles: Vec<_> = groups
            .iter()
            .map(|(_, members)| {
                let group: Vec<&dyn Probe> = members.iter().map(|&i| probes[i].as_ref()).collect();
                let on_served = |probe: &dyn Probe| {
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
                };
                scope.spawn(move || poll_server(&group, polling.interval, deadline, &on_served))
            })
            .collect();
        for ((_, members), handle) in groups.iter().zip(handles) {
            let results = handle.join().unwrap_or_else(|_| {
                vec![Some(Observation::Unreachable("probe thread panicked".into())); members.len()]
            });
            for (&i, outcome) in members.iter().zip(results) {
                outcomes[i] = outcome;
            }
        }
    });

    crate::signals::check().map_err(|e| {
        e.context(
            "stopped waiting for propagation; the records stay published and recorded for cleanup",
        )
    })?;
    Ok(outcomes)
}

/// Polls every probe until all are served, or fails with `TempFail` at the deadline naming each server
/// that still fails and what it last answered (see [`poll_all`]).
pub fn wait_until_served(
    probes: &[Box<dyn Probe>],
    polling: Polling,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Vec<Served>> {
    let outcomes = poll_all(probes, polling, progress)?;
    let failures: Vec<String> = probes
        .iter()
        .zip(&outcomes)
        .filter_map(|(probe, outcome)| match outcome {
            Some(Observation::Served) => None,
            Some(Observation::Missing(what)) => Some(format!(
                "{} does not serve {} yet (answered: {what})",
                probe.server(),
                probe.record().name
            )),
            Some(Observation::Unreachable(why)) => Some(format!(
                "{} unreachable for {} ({why})",
                probe.server(),
                probe.record().name
            )),
            Some(Observation::Failed(what)) => Some(format!(
                "{} fails for {}: {what}",
                probe.server(),
                probe.record().name
            )),
            None => Some(format!(
                "{} not asked for {} (an earlier record is still missing there)",
                probe.server(),
                probe.record().name
            )),
        })
        .collect();
    if let Some(what) = probes.iter().zip(&outcomes).find_map(|(probe, o)| match o {
        Some(Observation::Failed(what)) => Some(format!("{}: {what}", probe.server())),
        _ => None,
    }) {
        return Err(Error::temp_fail(format!("gave up waiting: {what}")));
    }
    if !failures.is_empty() {
        // One line stays readable: name a few, count the rest (the progress lines named who did flip).
        const SHOWN: usize = 5;
        let mut listed = failures[..failures.len().min(SHOWN)].join("; ");
        if failures.len() > SHOWN {
            listed.push_str(&format!("; and {} more", failures.len() - SHOWN));
        }
        return Err(Error::temp_fail(format!(
            "propagation timed out after {}s: {listed}; raise --propagation-timeout or fix the servers named, then run auth again",
            seconds(polling.timeout),
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

/// Whether this machine has a route to `addr` at all. A host without IPv6 connectivity cannot ask a
/// server's AAAA address, and waiting on it would always end in a timeout that says nothing about
/// the server; checks skip such addresses with a warning instead.
pub fn routable(addr: IpAddr) -> bool {
    let local: IpAddr = if addr.is_ipv6() {
        Ipv6Addr::UNSPECIFIED.into()
    } else {
        Ipv4Addr::UNSPECIFIED.into()
    };
    // A UDP connect sends nothing; it only asks the kernel for a route.
    UdpSocket::bind((local, 0))
        .and_then(|s| s.connect((addr, 9)))
        .is_ok()
}

/// Drops the addresses this machine cannot reach, warning about each; keeps all when none is reachable
/// (the check then reports them as unreachable, which is the truth).
pub fn keep_routable(what: &str, addrs: Vec<IpAddr>) -> Vec<IpAddr> {
    let (ok, unroutable): (Vec<IpAddr>, Vec<IpAddr>) = addrs.iter().partition(|a| routable(**a));
    if ok.is_empty() {
        return addrs;
    }
    for a in unroutable {
        crate::ui::warn(&format!(
            "not checking {what} at {a}: this machine has no route to it"
        ));
    }
    ok
}

/// Seconds for messages: `600`, `1.5`.
pub fn seconds(d: Duration) -> String {
    let text = format!("{:.1}", d.as_secs_f64());
    text.strip_suffix(".0").map(str::to_string).unwrap_or(text)
}

/// Polls one server's probes in order until all are served or the deadline passes; returns the last
/// observation of each (`None`: never asked, an earlier one never came).
fn poll_server(
    group: &[&dyn Probe],
    interval: Duration,
    deadline: Instant,
    on_served: &dyn Fn(&dyn Probe),
) -> Vec<Option<Observation>> {
    let mut last: Vec<Option<Observation>> = vec![None; group.len()];
    let mut next = 0;
    let base = pause_for(interval);
    let mut pause = base;
    // Asks from `next` on until one is missing; true when all are served.
    let ask = |next: &mut usize, last: &mut [Option<Observation>]| {
        while *next < group.len() {
            let observation = group[*next].observe();
            let served = observation == Observation::Served;
            last[*next] = Some(observation);
            if !served {
                return false;
            }
            on_served(group[*next]);
            *next += 1;
        }
        true
    };
    loop {
        let asked_at = Instant::now();
        if ask(&mut next, &mut last) {
            return last;
        }
        if let Some(Some(Observation::Failed(_))) = last.get(next) {
            return last;
        }
        // A server that times out or refuses is asked less and less often (up to once per
        // --poll-interval), and at the full rate again once it answers.
        pause = match last.get(next) {
            Some(Some(Observation::Unreachable(_))) => (pause * 2).min(interval.max(base)),
            _ => base,
        };
        if crate::signals::pending().is_some() {
            return last;
        }
        let wake = asked_at + pause;
        if wake >= deadline {
            // One last look exactly at the deadline, so a short timeout still gets a fair final answer.
            let now = Instant::now();
            if now < deadline {
                std::thread::sleep(deadline - now);
                ask(&mut next, &mut last);
            }
            return last;
        }
        if crate::signals::sleep(wake.saturating_duration_since(Instant::now())).is_err() {
            return last;
        }
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

    /// Probes of one server that share a counter of questions.
    struct OnOneServer {
        record: Record,
        asked: std::sync::Arc<AtomicUsize>,
        mine: AtomicUsize,
        serve_from: usize,
    }

    impl Probe for OnOneServer {
        fn record(&self) -> &Record {
            &self.record
        }
        fn server(&self) -> String {
            "one".into()
        }
        fn observe(&self) -> Observation {
            self.asked.fetch_add(1, Ordering::SeqCst);
            if self.mine.fetch_add(1, Ordering::SeqCst) + 1 >= self.serve_from {
                Observation::Served
            } else {
                Observation::Missing("no".into())
            }
        }
    }

    #[test]
    fn a_server_is_asked_one_record_per_round_until_it_has_them() {
        let asked = std::sync::Arc::new(AtomicUsize::new(0));
        let probes: Vec<Box<dyn Probe>> = (0..5)
            .map(|i| {
                Box::new(OnOneServer {
                    record: Record {
                        domain: "d".into(),
                        rtype: RecordType::Txt,
                        name: format!("n{i}"),
                        value: "v".into(),
                    },
                    asked: asked.clone(),
                    mine: AtomicUsize::new(0),
                    serve_from: if i == 0 { 4 } else { 1 },
                }) as Box<dyn Probe>
            })
            .collect();
        let polling = Polling {
            interval: Duration::from_millis(20),
            timeout: Duration::from_secs(5),
        };
        let served = wait_until_served(&probes, polling, &|_| {}).unwrap();
        assert_eq!(served.len(), 5);
        // Four rounds for the first record, then one question for each of the other four.
        assert_eq!(asked.load(Ordering::SeqCst), 4 + 4);
    }

    #[test]
    fn loopback_is_routable() {
        assert!(routable("127.0.0.1".parse().unwrap()));
        assert_eq!(
            keep_routable("x", vec!["127.0.0.1".parse().unwrap()]).len(),
            1
        );
    }

    #[test]
    fn a_lagging_server_is_asked_four_times_per_interval_but_never_over_ten_a_second() {
        assert_eq!(
            pause_for(Duration::from_secs(1)),
            Duration::from_millis(250)
        );
        assert_eq!(pause_for(Duration::from_secs(8)), Duration::from_secs(2));
        assert_eq!(pause_for(Duration::from_millis(1)), MIN_PAUSE);
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
