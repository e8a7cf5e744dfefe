//! DigiCert's rate limit, kept by design rather than learned from 429s: at most 100 requests in any
//! 5 s and 1000 in any 3 minutes per key. Every request of a run (retries included) first takes a slot
//! here, waiting until it fits every window. Windows are measured a little long, so requests that
//! leave right at a window's edge still arrive inside DigiCert's count. A wait that would end past the
//! caller's deadline (`verify --timeout`) is not begun: the call fails at once with 75.

use crate::error::{Error, Result};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Extra length given to each window (send time vs arrival time).
/// With checks in flight side by side, a request may leave its thread well after it took its slot
/// (a new connection, a busy machine): 100 ms let one request in 2000 arrive in a full window
/// (bench_revalidate, N = 1000, 24 in flight); a quarter second costs 3% of the 5 s window.
const MARGIN: Duration = Duration::from_millis(250);

/// A sliding-window limiter over several windows.
pub struct RateLimit {
    /// (most requests, per window).
    windows: Vec<(usize, Duration)>,
    sent: Mutex<VecDeque<Instant>>,
}

impl RateLimit {
    /// DigiCert's documented limits.
    pub fn digicert() -> RateLimit {
        RateLimit::new(vec![
            (100, Duration::from_secs(5)),
            (1000, Duration::from_secs(180)),
        ])
    }

    pub fn new(windows: Vec<(usize, Duration)>) -> RateLimit {
        RateLimit {
            windows,
            sent: Mutex::new(VecDeque::new()),
        }
    }

    /// Waits until one more request fits every window, then counts it as sent now; fails (75)
    /// without waiting when the slot frees only after `deadline`.
    pub fn acquire(&self, deadline: Option<Instant>) -> Result<()> {
        loop {
            let wait = {
                let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                let longest = self.windows.iter().map(|w| w.1).max().unwrap_or_default() + MARGIN;
                while sent
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= longest)
                {
                    sent.pop_front();
                }
                let wait = self
                    .windows
                    .iter()
                    .filter_map(|&(limit, window)| {
                        let window = window + MARGIN;
                        let inside: Vec<&Instant> = sent
                            .iter()
                            .filter(|t| now.duration_since(**t) < window)
                            .collect();
                        (inside.len() >= limit).then(|| {
                            // The slot frees when the oldest request that still counts leaves.
                            let oldest = *inside[inside.len() - limit];
                            (oldest + window).saturating_duration_since(now)
                        })
                    })
                    .max();
                if wait.is_none() {
                    sent.push_back(now);
                }
                wait
            };
            match wait {
                None => return Ok(()),
                Some(wait) if deadline.is_some_and(|d| Instant::now() + wait > d) => {
                    return Err(Error::temp_fail(format!(
                        "certcentral: DigiCert's rate limit allows the next request only in {:.1}s, after the time allowed (--timeout) runs out; try again later",
                        wait.as_secs_f64()
                    )));
                }
                Some(wait) => {
                    crate::ui::verbose(&format!(
                        "certcentral: rate limit: waiting {:.1}s before the next request",
                        wait.as_secs_f64()
                    ));
                    crate::signals::sleep(wait.max(Duration::from_millis(1)))?;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_more_than_the_limit_in_any_window() {
        let limit = RateLimit::new(vec![(5, Duration::from_millis(300))]);
        let started = Instant::now();
        let mut times = Vec::new();
        for _ in 0..12 {
            limit.acquire(None).unwrap();
            times.push(started.elapsed());
        }
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..]
                .iter()
                .filter(|u| **u - *t < Duration::from_millis(300))
                .count();
            assert!(in_window <= 5, "{times:?}");
        }
        // 12 requests at 5 per 0.3 s need at least two full windows.
        assert!(started.elapsed() >= Duration::from_millis(600), "{times:?}");
    }

    #[test]
    fn a_wait_that_would_end_past_the_deadline_fails_at_once() {
        let limit = RateLimit::new(vec![(1, Duration::from_secs(600))]);
        limit.acquire(None).unwrap();
        let err = limit
            .acquire(Some(Instant::now() + Duration::from_secs(1)))
            .unwrap_err();
        assert_eq!(err.kind(), crate::error::Kind::TempFail, "{err}");
        assert!(err.message().contains("--timeout"), "{err}");
    }
}
