//! The progress of a long run (revalidate over hundreds of domains) as one status line: on a
//! terminal a line rewritten in place, in a log (stderr not a terminal: systemd, cron) a plain line
//! every [`LOG_EVERY`] at most, so a ten-minute run writes dozens of lines, not thousands. `-q`
//! shows nothing. The caller says what the line holds; this only decides when and how it shows.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// The least time between two progress lines in a log.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// A status line on stderr (see the module docs).
pub struct StatusLine {
    terminal: bool,
    shown: bool,
    /// When a log line was last written.
    logged: Option<Instant>,
    /// The text last written, so an unchanged line is not repeated.
    last: String,
}

impl StatusLine {
    pub fn new() -> StatusLine {
        StatusLine {
            terminal: std::io::stderr().is_terminal(),
            shown: crate::ui::shows_progress(),
            logged: None,
            last: String::new(),
        }
    }

    /// Shows `text` now on a terminal; in a log, only when [`LOG_EVERY`] has passed since the last
    /// line (the first one shows at once).
    pub fn update(&mut self, text: &str) {
        if !self.shown || text == self.last {
            return;
        }
        if self.terminal {
            // \r and "erase line": the line is rewritten, not scrolled.
            eprint!("\r\x1b[2Kdcv-hook: {text}");
            let _ = std::io::stderr().flush();
        } else if self.logged.is_none_or(|at| at.elapsed() >= LOG_EVERY) {
            self.logged = Some(Instant::now());
            crate::ui::progress(text);
        } else {
            return;
        }
        self.last = text.to_string();
    }

    /// Shows `text` as the final state, whatever the time, and ends the terminal line.
    pub fn finish(&mut self, text: &str) {
        if !self.shown {
            return;
        }
        if self.terminal {
            eprintln!("\r\x1b[2Kdcv-hook: {text}");
        } else {
            crate::ui::progress(text);
        }
        self.last.clear();
    }
}

impl Default for StatusLine {
    fn default() -> Self {
        StatusLine::new()
    }
}
