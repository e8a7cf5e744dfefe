//! Waiting until every server serves a record: one [`PropagationCheck`] trait, one polling engine.
//!
//! A check (`dns.rs`, `http.rs`) only discovers *which* servers must serve each record and knows how to
//! ask one of them once: it returns one [`Probe`] per (record, server). [`poll_each`] then polls
//! every (server, record) pair until it is served or the deadline passes, reporting each record the
//! moment every server serves it, so a caller (revalidate) can act on it while the others are still
//! awaited. [`wait_until_served`] is the all-or-nothing wait `auth` needs. The wait is the slowest
//! server's, not the sum; a record that never appears holds up nothing but itself; and no fixed sleep
//! is ever taken where a condition can be polled.

use crate::error::{Error, Result};
use crate::record::Record;
use std::collections::{BTreeMap, VecDeque};
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

/// A lagging server is asked this many times per `--poll-interval`: with the default 1 s, every
/// 0.25 s (240 questions a minute), so `auth` returns within about a quarter second of the last
/// server serving, however long it lagged.
pub const ASKS_PER_INTERVAL: u32 = 4;

/// Never more than 10 questions a second to one server that does not serve what it is asked about,
/// whatever `--poll-interval` says.
pub const MIN_PAUSE: Duration = Duration::from_millis(100);

/// The pause between two questions to one server that answers.
pub fn pause_for(interval: Duration) -> Duration {
    (interval / ASKS_PER_INTERVAL).max(MIN_PAUSE)
}

/// How long before the deadline the last round starts: a short timeout still gets a final answer,
/// and that answer still comes before the deadline.
const LAST_LOOK: Duration = Duration::from_millis(100);

/// Polls every probe until all are served or the deadline passes, and returns what each last saw
/// (`None`: not asked in time). `Err` only when a signal stopped the wait.
pub fn poll_all(
    probes: &[Box<dyn Probe>],
    polling: Polling,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Vec<Option<Observation>>> {
    let outcomes = poll_each(probes, polling, progress, &|_| {});
    crate::signals::check().map_err(|e| {
        e.context(
            "stopped waiting for propagation; the records stay published and recorded for cleanup",
        )
    })?;
    Ok(outcomes)
}

/// Polls every probe until all are served, the deadline passes or a signal arrives, and returns
/// what each last saw (`None`: not asked in time). `ready` gets each record (by its first probe's
/// index) the moment every one of its servers serves it; it runs on a polling thread, so it should
/// only hand the record on.
///
/// Each server is polled by its own thread, independently of the others. A round asks the server's
/// unresolved records in turn, going straight on after each one it serves: records published
/// together arrive together (one UPDATE, one zone transfer), so a whole zone is confirmed in one
/// round as soon as it arrives. The first record it does not serve yet ends the round and goes to
/// the back of the queue, so the next round starts with another one: a record that never appears
/// costs one question per round and holds up none of the others, and a server is asked about
/// something it does not serve at most once per [`pause_for`] (10 a second at most).
pub fn poll_each(
    probes: &[Box<dyn Probe>],
    polling: Polling,
    progress: &(dyn Fn(&str) + Sync),
    ready: &(dyn Fn(usize) + Sync),
) -> Vec<Option<Observation>> {
    let started = Instant::now();
    let deadline = started + polling.timeout;
    let total = probes.len();
    let (first_of, missing) = first_probes(probes);
    let tally = Mutex::new((0usize, missing));
    let groups = by_server(probes);
    let on_served = |i: usize| {
        let record_done = {
            let mut tally = tally.lock().unwrap_or_else(|e| e.into_inner());
            tally.0 += 1;
            progress(&format!(
                "{} serves {} ({}/{}, {:.1}s)",
                probes[i].server(),
                probes[i].record(),
                tally.0,
                total,
                started.elapsed().as_secs_f64()
            ));
            let left = tally.1.get_mut(&first_of[i]).expect("counted");
            *left -= 1;
            *left == 0
        };
        if record_done {
            ready(first_of[i]);
        }
    };
    let mut outcomes: Vec<Option<Observation>> = vec![None; total];
    std::thread::scope(|scope| {
        let handles: Vec<_> = groups
            .iter()
            .map(|(_, members)| {
                let on_served = &on_served;
                scope.spawn(move || {
                    poll_server(probes, members, polling.interval, deadline, on_served)
                })
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
    outcomes
}

/// Each probe's record's first probe, and per record (by its first probe) how many of its servers
/// do not serve it yet.
fn first_probes(probes: &[Box<dyn Probe>]) -> (Vec<usize>, BTreeMap<usize, usize>) {
    let mut first_of: Vec<usize> = Vec::with_capacity(probes.len());
    let mut index: BTreeMap<&Record, usize> = BTreeMap::new();
    let mut missing: BTreeMap<usize, usize> = BTreeMap::new();
    for (i, probe) in probes.iter().enumerate() {
        let first = *index.entry(probe.record()).or_insert(i);
        first_of.push(first);
        *missing.entry(first).or_default() += 1;
    }
    (first_of, missing)
}

/// The probes' indexes grouped by the server they ask, in first-seen order.
fn by_server(probes: &[Box<dyn Probe>]) -> Vec<(String, Vec<usize>)> {
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, probe) in probes.iter().enumerate() {
        let server = probe.server();
        match groups.iter_mut().find(|(s, _)| *s == server) {
            Some((_, members)) => members.push(i),
            None => groups.push((server, vec![i])),
        }
    }
    groups
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
    // An answer that waiting will not fix (see `http::advice`) ends the wait at once.
    if let Some(what) = probes.iter().zip(&outcomes).find_map(|(probe, o)| match o {
        Some(Observation::Failed(what)) => Some(format!("{}: {what}", probe.server())),
        _ => None,
    }) {
        return Err(Error::temp_fail(format!("gave up waiting: {what}")));
    }
    // Per record, in the order given: the servers that do not serve it.
    let mut failures: Vec<(&Record, Vec<String>)> = Vec::new();
    for (probe, outcome) in probes.iter().zip(&outcomes) {
        if outcome.as_ref() == Some(&Observation::Served) {
            continue;
        }
        let why = shortfall(probe.as_ref(), outcome.as_ref());
        match failures.iter_mut().find(|(r, _)| *r == probe.record()) {
            Some((_, list)) => list.push(why),
            None => failures.push((probe.record(), vec![why])),
        }
    }
    if !failures.is_empty() {
        let listed: Vec<String> = failures
            .iter()
            .map(|(record, servers)| format!("{} ({})", record.name, servers.join(", ")))
            .collect();
        return Err(Error::temp_fail(format!(
            "propagation timed out after {}s: {} record(s) not served everywhere: {}; raise --propagation-timeout or fix the servers named, then run auth again",
            seconds(polling.timeout),
            failures.len(),
            listed.join("; "),
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

/// Polls the probes `members` of one server (see [`poll_each`]) until all are served, the deadline
/// passes or a signal arrives; returns the last observation of each (`None`: never asked).
fn poll_server(
    probes: &[Box<dyn Probe>],
    members: &[usize],
    interval: Duration,
    deadline: Instant,
    on_served: &(dyn Fn(usize) + Sync),
) -> Vec<Option<Observation>> {
    let mut last: Vec<Option<Observation>> = vec![None; members.len()];
    // Positions in `members` still to be confirmed, the next one to ask first.
    let mut queue: VecDeque<usize> = (0..members.len()).collect();
    let base = pause_for(interval);
    let mut pause = base;
    loop {
        let round = Instant::now();
        let mut unreachable = false;
        while let Some(k) = queue.pop_front() {
            let now = Instant::now();
            if now >= deadline {
                queue.push_front(k);
                break;
            }
            let observation = probes[members[k]].observe(deadline - now);
            let served = observation == Observation::Served;
            unreachable = matches!(observation, Observation::Unreachable(_));
            last[k] = Some(observation);
            if served {
                on_served(members[k]);
            } else {
                queue.push_back(k);
                break;
            }
        }
        if queue.is_empty() || crate::signals::pending().is_some() {
            return last;
        }
        if last
            .iter()
            .any(|o| matches!(o, Some(Observation::Failed(_))))
        {
            return last;
        }
        // A server that times out or refuses is asked less and less often (up to once per
        // --poll-interval), and at the full rate again once it answers.
        pause = if unreachable {
            (pause * 2).min(interval.max(base))
        } else {
            base
        };
        let now = Instant::now();
        let last_look = deadline.checked_sub(LAST_LOOK).unwrap_or(deadline);
        if now >= last_look {
            return last;
        }
        let wake = (round + pause).min(last_look);
        if crate::signals::sleep(wake.saturating_duration_since(now)).is_err() {
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
        fn observe(&self, _within: Duration) -> Observation {
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
        let probes = on_one_server(&asked, &[4, 1, 1, 1, 1]);
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
        assert!(err.message().contains("answered nothing on ask"), "{err}");
        assert!(!err.message().contains("fake-1 "), "{err}");
    }

    fn on_one_server(
        asked: &std::sync::Arc<AtomicUsize>,
        serve_from: &[usize],
    ) -> Vec<Box<dyn Probe>> {
        serve_from
            .iter()
            .enumerate()
            .map(|(i, &serve_from)| {
                Box::new(OnOneServer {
                    record: Record {
                        domain: "d".into(),
                        rtype: RecordType::Txt,
                        name: format!("n{i}"),
                        value: "v".into(),
                    },
                    asked: asked.clone(),
                    mine: AtomicUsize::new(0),
                    serve_from,
                }) as Box<dyn Probe>
            })
            .collect()
    }

    #[test]
    fn a_record_that_never_appears_holds_up_no_other_record_on_its_server() {
        let asked = std::sync::Arc::new(AtomicUsize::new(0));
        let probes = on_one_server(&asked, &[usize::MAX, 3, 1]);
        let polling = Polling {
            interval: Duration::from_millis(20),
            timeout: Duration::from_millis(1500),
        };
        let ready = Mutex::new(Vec::new());
        let outcomes = poll_each(&probes, polling, &|_| {}, &|i| {
            ready.lock().unwrap().push(i)
        });
        let mut ready = ready.into_inner().unwrap();
        ready.sort();
        assert_eq!(ready, vec![1, 2]);
        assert_eq!(outcomes[1], Some(Observation::Served));
        assert_eq!(outcomes[2], Some(Observation::Served));
        assert!(
            matches!(outcomes[0], Some(Observation::Missing(_))),
            "{outcomes:?}"
        );
    }

    /// A server that never answers: each question takes all the time it is given (up to 10 s).
    struct Silent(Record);

    impl Probe for Silent {
        fn record(&self) -> &Record {
            &self.0
        }
        fn server(&self) -> String {
            "silent".into()
        }
        fn observe(&self, within: Duration) -> Observation {
            std::thread::sleep(within.min(Duration::from_secs(10)));
            Observation::Unreachable("timeout".into())
        }
    }

    #[test]
    fn the_last_question_ends_by_the_deadline() {
        let probes: Vec<Box<dyn Probe>> = vec![Box::new(Silent(Record {
            domain: "d".into(),
            rtype: RecordType::Txt,
            name: "d".into(),
            value: "v".into(),
        }))];
        let polling = Polling {
            interval: Duration::from_millis(100),
            timeout: Duration::from_millis(300),
        };
        let started = Instant::now();
        let outcomes = poll_each(&probes, polling, &|_| {}, &|_| {});
        // Not a speed goal: a question given its own 10 s would take that long past the deadline.
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert!(matches!(outcomes[0], Some(Observation::Unreachable(_))));
    }
}
