//! The one retry policy: exponential backoff (optionally jittered) that honours a server's
//! `Retry-After`, bounded by a number of attempts and by a deadline. Used by the CertCentral client
//! (429, 5xx, network errors) and by `verify --wait` (DCV not valid yet). The propagation engine polls
//! many servers on its own schedule (`propagation/`), and is not a retry of one call.

use std::time::{Duration, Instant};

/// How a failed call is tried again.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Policy {
    /// Attempts in all, the first included; `None`: until the deadline.
    pub attempts: Option<u32>,
    /// Pause before the first retry; doubles each time.
    pub first: Duration,
    /// Longest pause.
    pub max: Duration,
    /// ±25% jitter, so parallel clients spread out.
    pub jitter: bool,
}

impl Policy {
    /// A DNS provider's REST API (PowerDNS, Azure, Google): 5 attempts, pauses from 0.5 s to 8 s.
    pub const PROVIDER_API: Policy = Policy {
        attempts: Some(5),
        first: Duration::from_millis(500),
        max: Duration::from_secs(8),
        jitter: true,
    };
}

/// One call's retries under a [`Policy`].
#[derive(Clone, Debug)]
pub struct Retry {
    policy: Policy,
    deadline: Option<Instant>,
    attempt: u32,
}

impl Retry {
    pub fn new(policy: Policy, deadline: Option<Instant>) -> Retry {
        Retry {
            policy,
            deadline,
            attempt: 1,
        }
    }

    /// The attempt just made (1-based).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The pause before the next attempt (a server's `retry_after` wins over the backoff), or `None`
    /// when there is none: the attempts are used up or the pause would end past the deadline.
    pub fn pause(&mut self, retry_after: Option<Duration>) -> Option<Duration> {
        if self.policy.attempts.is_some_and(|n| self.attempt >= n) {
            return None;
        }
        let pause = retry_after.unwrap_or_else(|| self.backoff());
        if self.deadline.is_some_and(|d| Instant::now() + pause >= d) {
            return None;
        }
        self.attempt += 1;
        Some(pause)
    }

    fn backoff(&self) -> Duration {
        let exp = self
            .policy
            .first
            .saturating_mul(1u32 << (self.attempt - 1).min(16));
        let capped = exp.min(self.policy.max);
        if self.policy.jitter {
            capped.mul_f64(0.75 + fastrand::f64() * 0.5)
        } else {
            capped
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(attempts: Option<u32>, jitter: bool) -> Policy {
        Policy {
            attempts,
            first: Duration::from_millis(500),
            max: Duration::from_secs(30),
            jitter,
        }
    }

    #[test]
    fn backoff_doubles_is_capped_and_jitters_within_a_quarter() {
        let mut r = Retry::new(policy(None, false), None);
        let pauses: Vec<u64> = (0..8)
            .map(|_| r.pause(None).unwrap().as_millis() as u64)
            .collect();
        assert_eq!(pauses, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
        let mut r = Retry::new(policy(None, true), None);
        for retry in 0..10u32 {
            let nominal = (Duration::from_millis(500) * (1 << retry)).min(Duration::from_secs(30));
            let got = r.pause(None).unwrap();
            assert!(
                got >= nominal.mul_f64(0.74) && got <= nominal.mul_f64(1.26),
                "{got:?}"
            );
        }
    }

    #[test]
    fn attempts_and_deadline_bound_the_retries_and_retry_after_wins() {
        let mut r = Retry::new(policy(Some(3), false), None);
        assert_eq!(
            r.pause(Some(Duration::from_secs(7))),
            Some(Duration::from_secs(7))
        );
        assert!(r.pause(None).is_some());
        assert_eq!(r.attempt(), 3);
        assert_eq!(r.pause(None), None);
        let mut r = Retry::new(
            policy(None, false),
            Some(Instant::now() + Duration::from_secs(2)),
        );
        assert!(r.pause(None).is_some());
        assert_eq!(
            r.pause(Some(Duration::from_secs(5))),
            None,
            "would end past the deadline"
        );
    }
}
