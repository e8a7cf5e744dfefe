//! The circuit breaker: when DigiCert fails [`TRIP_AFTER`] domains in a row (each unavailable after
//! the client's own retries: 5xx, timeouts, no connection), the service is down, not the domains;
//! the run then starts no new domain (neither its submission nor its check), reports those as not
//! submitted or not checked, and ends 69 early instead of sending every retry of every domain.
//! An answer of any other kind (a success, a domain DigiCert refuses) closes the streak.
//! Shared by the threads of one run; sends nothing itself.

use crate::error::{Error, Kind, Result};
use std::sync::Mutex;

/// Domains failing in a row that stop the run.
pub(super) const TRIP_AFTER: usize = 5;

/// The failures in a row so far, and the error that tripped the breaker.
#[derive(Default)]
pub(super) struct Breaker(Mutex<(usize, Option<Error>)>);

impl Breaker {
    /// Counts one domain's answer from DigiCert.
    pub(super) fn record<T>(&self, result: &Result<T>) {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Err(e) if e.kind() == Kind::Unavailable => {
                state.0 += 1;
                if state.0 >= TRIP_AFTER && state.1.is_none() {
                    state.1 = Some(Error::unavailable(format!(
                        "DigiCert failed {TRIP_AFTER} domains in a row, so no more were started (the last: {}); run revalidate again once DigiCert answers",
                        e.message()
                    )));
                }
            }
            _ => state.0 = 0,
        }
    }

    /// Why no new domain starts, once the breaker tripped.
    pub(super) fn tripped(&self) -> Option<Error> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).1.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trips_after_a_streak_of_service_failures_only() {
        let breaker = Breaker::default();
        let down: Result<()> = Err(Error::unavailable("503"));
        let refused: Result<()> = Err(Error::data("not a domain of yours"));
        for _ in 1..TRIP_AFTER {
            breaker.record(&down);
        }
        // Another kind of answer means DigiCert works: the streak starts again.
        breaker.record(&refused);
        for _ in 1..TRIP_AFTER {
            breaker.record(&down);
        }
        assert!(breaker.tripped().is_none());
        breaker.record(&down);
        let why = breaker.tripped().expect("tripped");
        assert_eq!(why.kind(), Kind::Unavailable);
        assert!(why.message().contains("(the last: 503)"), "{why}");
        breaker.record(&Ok(()));
        assert!(breaker.tripped().is_some(), "it stays tripped");
    }
}
