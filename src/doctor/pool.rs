//! The doctor's checks run at once: at most [`WIDTH`] jobs at a time, each on a worker thread,
//! while the calling thread only waits for their results, for a signal and for the time limit.
//!
//! A blocking DNS or HTTP question cannot be cut short, so the caller never waits on one: on a
//! signal it returns at once (`Err(interrupted)`), at the time limit it returns what finished,
//! and a worker still blocked finishes on its own, its result unread (the doctor's questions
//! change nothing). Knows nothing about what a job checks.

use crate::error::Result;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Most jobs running at once.
pub const WIDTH: usize = 8;

/// How often the waiting thread looks for a signal.
const SLICE: Duration = Duration::from_millis(50);

/// One job: runs on a worker thread.
pub type Job<T> = Box<dyn FnOnce() -> T + Send>;

/// When to stop: no job starts after `start_by`; nothing is waited for after `give_up`.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub start_by: Option<Instant>,
    pub give_up: Instant,
}

/// What became of one job.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome<T> {
    Done(T),
    /// Not started: `start_by` had passed.
    NotStarted,
    /// Not finished by `give_up` (running, or still waiting for a worker).
    Unfinished,
}

type Queue<T> = Arc<Mutex<VecDeque<(usize, Job<T>)>>>;

/// Runs `jobs`, at most [`WIDTH`] at a time, and returns each one's outcome in order; an error
/// (interrupted) as soon as a signal arrives.
pub fn run<T: Send + 'static>(jobs: Vec<Job<T>>, limits: Limits) -> Result<Vec<Outcome<T>>> {
    let count = jobs.len();
    let queue: Queue<T> = Arc::new(Mutex::new(jobs.into_iter().enumerate().collect()));
    let stop = Arc::new(AtomicBool::new(false));
    let (events, inbox) = mpsc::channel();
    for _ in 0..count.min(WIDTH) {
        let (queue, stop, events) = (queue.clone(), stop.clone(), events.clone());
        std::thread::spawn(move || work(&queue, &stop, limits.start_by, &events));
    }
    drop(events);
    let mut outcomes: Vec<Outcome<T>> = (0..count).map(|_| Outcome::Unfinished).collect();
    let waited = wait(&inbox, &mut outcomes, limits.give_up);
    // Workers start nothing more, whatever ended the wait.
    stop.store(true, Ordering::SeqCst);
    waited.map(|()| outcomes)
}

/// Takes jobs from `queue` until it is empty or `stop` is set.
fn work<T>(
    queue: &Queue<T>,
    stop: &AtomicBool,
    start_by: Option<Instant>,
    events: &mpsc::Sender<(usize, Outcome<T>)>,
) {
    while !stop.load(Ordering::SeqCst) {
        let Some((index, job)) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front() else {
            return;
        };
        let outcome = if start_by.is_some_and(|t| Instant::now() >= t) {
            Outcome::NotStarted
        } else {
            // A job that panicked (a bug) is unfinished, but not waited for.
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(job))
                .map_or(Outcome::Unfinished, Outcome::Done)
        };
        if events.send((index, outcome)).is_err() {
            return;
        }
    }
}

/// Collects the workers' outcomes into `outcomes` until every job is accounted for, `give_up`
/// passes or a signal arrives (then the error).
fn wait<T>(
    inbox: &mpsc::Receiver<(usize, Outcome<T>)>,
    outcomes: &mut [Outcome<T>],
    give_up: Instant,
) -> Result<()> {
    let mut left = outcomes.len();
    while left > 0 {
        crate::signals::check()?;
        let time_left = give_up.saturating_duration_since(Instant::now());
        if time_left.is_zero() {
            return Ok(());
        }
        match inbox.recv_timeout(time_left.min(SLICE)) {
            Ok((i, outcome)) => outcomes[i] = outcome,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        }
        left -= 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(start_by: Option<Duration>, give_up: Duration) -> Limits {
        let now = Instant::now();
        Limits {
            start_by: start_by.map(|d| now + d),
            give_up: now + give_up,
        }
    }

    #[test]
    fn runs_every_job_at_most_width_at_once_and_keeps_their_order() {
        let running = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let most = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let jobs: Vec<Job<usize>> = (0..3 * WIDTH)
            .map(|i| {
                let (running, most) = (running.clone(), most.clone());
                Box::new(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                    i
                }) as Job<usize>
            })
            .collect();
        let outcomes = run(jobs, limits(None, Duration::from_secs(30))).unwrap();
        let want: Vec<Outcome<usize>> = (0..3 * WIDTH).map(Outcome::Done).collect();
        assert_eq!(outcomes, want);
        assert!(most.load(Ordering::SeqCst) <= WIDTH);
        assert!(most.load(Ordering::SeqCst) > 1, "ran one at a time");
    }

    #[test]
    fn a_job_that_hangs_is_left_unfinished_at_the_time_limit() {
        let started = Instant::now();
        let jobs: Vec<Job<u8>> = vec![
            Box::new(|| 1),
            Box::new(|| {
                std::thread::sleep(Duration::from_secs(30));
                2
            }),
        ];
        let outcomes = run(jobs, limits(None, Duration::from_millis(300))).unwrap();
        assert_eq!(outcomes, vec![Outcome::Done(1), Outcome::Unfinished]);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_job_that_panics_is_unfinished_and_not_waited_for() {
        let started = Instant::now();
        let jobs: Vec<Job<u8>> = vec![Box::new(|| panic!("a bug")), Box::new(|| 2)];
        let outcomes = run(jobs, limits(None, Duration::from_secs(30))).unwrap();
        assert_eq!(outcomes, vec![Outcome::Unfinished, Outcome::Done(2)]);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn no_job_starts_after_start_by() {
        let jobs: Vec<Job<u8>> = vec![Box::new(|| 1), Box::new(|| 2)];
        let outcomes = run(jobs, limits(Some(Duration::ZERO), Duration::from_secs(30))).unwrap();
        assert_eq!(outcomes, vec![Outcome::NotStarted, Outcome::NotStarted]);
    }
}
