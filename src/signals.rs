//! SIGINT and SIGTERM: the first asks dcv-hook to stop at the next safe point (a wait, a pause between
//! retries), so `auth` returns with its state complete and `run` still cleans up; a second one exits
//! at once. The exit code is 128 + the signal's number (130 for SIGINT, 143 for SIGTERM).
//!
//! The handler only stores the signal number (async-signal-safe); long waits poll [`pending`] or
//! sleep through [`sleep`], which returns early when a signal arrived.

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// The first signal received, 0 while none.
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// How often a sleep looks for a signal.
const SLICE: Duration = Duration::from_millis(50);

extern "C" fn on_signal(signal: libc::c_int) {
    if RECEIVED
        .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        // The second signal: the user means it.
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(128 + signal) }
    }
}

/// Installs the handlers (once, from `main`).
pub fn install() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only touches an atomic and calls _exit, both async-signal-safe.
        unsafe {
            libc::signal(
                signal,
                on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t,
            );
        }
    }
}

/// The signal received so far, if any.
pub fn pending() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// `Err(interrupted)` once a signal arrived.
pub fn check() -> Result<()> {
    match pending() {
        Some(signal) => Err(Error::interrupted(signal)),
        None => Ok(()),
    }
}

/// Sleeps `duration`, or less when a signal arrives (then `Err(interrupted)`).
pub fn sleep(duration: Duration) -> Result<()> {
    let until = Instant::now() + duration;
    loop {
        check()?;
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(SLICE));
    }
}
