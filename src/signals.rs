//! SIGINT and SIGTERM: the first asks dcv-hook to stop at the next safe point (a wait, a pause between
//! retries), so `auth` returns with its state complete and `run` still cleans up; a second one exits
//! at once. The exit code is 128 + the signal's number (130 for SIGINT, 143 for SIGTERM).
//!
//! The handlers (registered through `signal-hook`, so no unsafe code of ours) only store atomics;
//! long waits poll [`pending`] or sleep through [`sleep`], which returns early when a signal arrived.
//! Cleanup is what a first signal asks for, so code run inside [`cleaning_up`] is not interrupted by
//! it (on that thread): a program that removes records still starts, a lock is still waited for.

use crate::error::{Error, Result};
use signal_hook::consts::{SIGINT, SIGTERM};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The first signal received, 0 while none.
static RECEIVED: AtomicUsize = AtomicUsize::new(0);
/// Set by the first signal; arms the exit on the second.
static STOPPING: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Set while this thread cleans up (see [`cleaning_up`]).
    static CLEANING_UP: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` as cleanup: on this thread a signal received so far no longer interrupts waits, lock
/// retries or programs (each still has its own time limit), so what was published is removed
/// after all; a second signal still exits at once.
pub fn cleaning_up<T>(f: impl FnOnce() -> T) -> T {
    let was = CLEANING_UP.with(|c| c.replace(true));
    let out = f();
    CLEANING_UP.with(|c| c.set(was));
    out
}

/// How often a sleep looks for a signal.
const SLICE: Duration = Duration::from_millis(50);

/// Installs the handlers (once, from `main`).
pub fn install() {
    for signal in [SIGINT, SIGTERM] {
        // Actions run in the order registered: the exit goes first, so only a signal after the one
        // that set STOPPING ends the process (the user means it).
        let registered =
            signal_hook::flag::register_conditional_shutdown(signal, 128 + signal, &STOPPING)
                .and_then(|_| {
                    signal_hook::flag::register_usize(
                        signal,
                        &RECEIVED,
                        signal.unsigned_abs() as usize,
                    )
                })
                .and_then(|_| signal_hook::flag::register(signal, &STOPPING));
        if let Err(e) = registered {
            crate::ui::warn(&format!(
                "cannot handle signal {signal} ({e}); it will stop dcv-hook without cleaning up"
            ));
        }
    }
}

/// The signal received so far, if any (none inside [`cleaning_up`]).
pub fn pending() -> Option<i32> {
    if CLEANING_UP.with(Cell::get) {
        return None;
    }
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        s => i32::try_from(s).ok(),
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
