//! Progress and verbose lines on stderr, honouring `-q` and `-v`.
//!
//! Process-wide flags set once by `app.rs`, because progress comes from deep inside (each server as it
//! flips, each API call) and threading a logger through every call would obscure the code. Never
//! pass a secret to these functions.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};

const QUIET: u8 = 0;
/// Warnings and errors, no progress (a hook whose caller shows any stderr as a warning).
const WARNINGS: u8 = 1;
const NORMAL: u8 = 2;
const VERBOSE: u8 = 3;

static LEVEL: AtomicU8 = AtomicU8::new(NORMAL);

/// Sets the level from `-q` / `-v` (quiet wins).
pub fn set_level(quiet: bool, verbose: bool) {
    let level = if quiet {
        QUIET
    } else if verbose {
        VERBOSE
    } else {
        NORMAL
    };
    LEVEL.store(level, Ordering::Relaxed);
}

/// Leaves progress out (unless `-v`): certbot shows anything its hook prints on stderr as a warning,
/// so a hook that succeeds should print none there; the report on stdout says what was done.
pub fn progress_only_with_verbose() {
    if LEVEL.load(Ordering::Relaxed) == NORMAL {
        LEVEL.store(WARNINGS, Ordering::Relaxed);
    }
}

/// A progress line (suppressed by `-q`).
pub fn progress(line: &str) {
    if LEVEL.load(Ordering::Relaxed) >= NORMAL {
        eprintln!("dcv-hook: {}", one_line(line));
    }
}

/// A detail line (only with `-v`).
pub fn verbose(line: &str) {
    if LEVEL.load(Ordering::Relaxed) >= VERBOSE {
        eprintln!("dcv-hook: {}", one_line(line));
    }
}

/// Warnings already shown in this run.
static WARNED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// A warning (shown unless `-q`), once per run however often its cause is met (a credentials file
/// read for every zone, say).
pub fn warn(line: &str) {
    let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
    if warned.iter().any(|w| w == line) {
        return;
    }
    warned.push(line.to_string());
    if LEVEL.load(Ordering::Relaxed) >= WARNINGS {
        eprintln!("dcv-hook: warning: {}", one_line(line));
    }
}

/// `line` with control characters (a newline in a file name, say) made spaces: each message stays
/// one line of plain text.
pub fn one_line(line: &str) -> String {
    line.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Whether progress lines are shown (neither `-q` nor a hook's quiet success mode).
pub fn shows_progress() -> bool {
    LEVEL.load(Ordering::Relaxed) >= NORMAL
}

/// Whether `-q` was given: text output on stdout is then left out too (JSON is still printed).
pub fn is_quiet() -> bool {
    LEVEL.load(Ordering::Relaxed) == QUIET
}
