//! The polling engine: one thread per server asks its probes in rounds until each is served, the
//! deadline passes or a signal arrives, at a pace that never floods a server (see [`poll_each`]).
//! Says through `progress` each time a server starts serving a record; builds no error message
//! (`mod.rs` does).

use super::{Observation, Polling, Probe};
use crate::error::Result;
use crate::record::Record;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
    // What becomes of the records is the command's to say (`auth` keeps them, `run` cleans up).
    crate::signals::check().map_err(|e| e.context("stopped waiting for propagation"))?;
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
    // The probes' indexes by the server they ask.
    let groups = super::grouped(probes.iter().enumerate().map(|(i, p)| (p.server(), i)));
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
            unreachable = matches!(observation, Observation::Unreachable(_));
            let (served, failed) = (
                observation == Observation::Served,
                matches!(observation, Observation::Failed(_)),
            );
            last[k] = Some(observation);
            if served {
                on_served(members[k]);
                continue;
            }
            // A failed probe (an answer waiting will not fix) is not asked again; the server's
            // other records still are, so one broken record holds up no other.
            if !failed {
                queue.push_back(k);
            }
            break;
        }
        if queue.is_empty() || crate::signals::pending().is_some() {
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
    use crate::propagation::wait_until_served;
    use crate::record::RecordType;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Probes of one server that share a counter of questions (`serve_from` 0: it fails).
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
            if self.serve_from == 0 {
                return Observation::Failed("HTTP 403 for 30s".into());
            }
            if self.mine.fetch_add(1, Ordering::SeqCst) + 1 >= self.serve_from {
                Observation::Served
            } else {
                Observation::Missing("no".into())
            }
        }
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
                    record: Record::new_dns("d", RecordType::Txt, format!("n{i}"), "v"),
                    asked: asked.clone(),
                    mine: AtomicUsize::new(0),
                    serve_from,
                }) as Box<dyn Probe>
            })
            .collect()
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
    fn a_lagging_server_is_asked_four_times_per_interval_but_never_over_ten_a_second() {
        assert_eq!(
            pause_for(Duration::from_secs(1)),
            Duration::from_millis(250)
        );
        assert_eq!(pause_for(Duration::from_secs(8)), Duration::from_secs(2));
        assert_eq!(pause_for(Duration::from_millis(1)), MIN_PAUSE);
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

    #[test]
    fn a_failed_record_is_asked_no_more_and_holds_up_no_other_on_its_server() {
        let asked = std::sync::Arc::new(AtomicUsize::new(0));
        let probes = on_one_server(&asked, &[0, 3, 1]);
        let polling = Polling {
            interval: Duration::from_millis(20),
            timeout: Duration::from_secs(30),
        };
        let outcomes = poll_each(&probes, polling, &|_| {}, &|_| {});
        assert!(
            matches!(outcomes[0], Some(Observation::Failed(_))),
            "{outcomes:?}"
        );
        assert_eq!(outcomes[1], Some(Observation::Served));
        assert_eq!(outcomes[2], Some(Observation::Served));
        // Once for the failed record, three times for the second, once for the third.
        assert_eq!(asked.load(Ordering::SeqCst), 1 + 3 + 1);
        let err = wait_until_served(&probes, polling, &|_| {}).unwrap_err();
        assert_eq!(err.kind(), crate::error::Kind::TempFail);
        assert!(err.message().contains("HTTP 403"), "{err}");
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
        let probes: Vec<Box<dyn Probe>> = vec![Box::new(Silent(Record::new_dns(
            "d",
            RecordType::Txt,
            "d",
            "v",
        )))];
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
