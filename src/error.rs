//! The one error type of dcv-hook and the only place that turns an error kind into an exit code.
//!
//! Every failure is an [`Error`] with a [`Kind`] chosen where the cause is known (a TSIG rejection is
//! `NoPerm` even when the DNS library reports it as a protocol error) and a one-line, lowercase message
//! that says what failed and what to do. Exit codes follow sysexits(3); the numbers appear nowhere else.

use std::fmt;

/// What went wrong, as far as a calling script needs to know. The names double as JSON `error.kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Bad or missing flags (64).
    Usage,
    /// Bad input data: a domain name, token, state or ini file (65).
    DataErr,
    /// A remote service stayed unavailable after retries (69).
    Unavailable,
    /// A bug or an impossible state (70).
    Software,
    /// Cannot write the web root or the state directory (73).
    CantCreat,
    /// Try again later: propagation timed out or DCV is not valid yet (75).
    TempFail,
    /// Credentials rejected (77).
    NoPerm,
    /// Configuration missing or invalid (78).
    Config,
    /// Stopped by a signal (128 + its number: 130 for SIGINT, 143 for SIGTERM).
    Interrupted(i32),
}

impl Kind {
    /// The sysexits code for this kind.
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Usage => 64,
            Kind::DataErr => 65,
            Kind::Unavailable => 69,
            Kind::Software => 70,
            Kind::CantCreat => 73,
            Kind::TempFail => 75,
            Kind::NoPerm => 77,
            Kind::Config => 78,
            Kind::Interrupted(signal) => u8::try_from(128 + signal).unwrap_or(130),
        }
    }

    /// The kind a sysexits code stands for (a program run by the exec provider may say why it failed).
    pub fn from_exit_code(code: i32) -> Option<Kind> {
        [
            Kind::Usage,
            Kind::DataErr,
            Kind::Unavailable,
            Kind::Software,
            Kind::CantCreat,
            Kind::TempFail,
            Kind::NoPerm,
            Kind::Config,
        ]
        .into_iter()
        .find(|k| i32::from(k.exit_code()) == code)
    }

    /// The stable name used in JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Usage => "usage",
            Kind::DataErr => "data",
            Kind::Unavailable => "unavailable",
            Kind::Software => "software",
            Kind::CantCreat => "cantcreat",
            Kind::TempFail => "tempfail",
            Kind::NoPerm => "noperm",
            Kind::Config => "config",
            Kind::Interrupted(_) => "interrupted",
        }
    }
}

/// A failure with its kind and a one-line message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: Kind,
    message: String,
    /// A change may have happened even though it failed (a lost reply, a failed rollback): whoever
    /// recorded it must keep the record so cleanup can still undo it.
    leftovers: bool,
    /// A conditional change was refused because what it was computed from changed since it was
    /// read: nothing was changed, and reading again and recomputing it may succeed.
    conflict: bool,
}

/// Result with dcv-hook's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with `message` (one line, lowercase, no trailing period).
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            leftovers: false,
            conflict: false,
        }
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Kind::Usage, message)
    }
    pub fn data(message: impl Into<String>) -> Self {
        Self::new(Kind::DataErr, message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(Kind::Unavailable, message)
    }
    pub fn software(message: impl Into<String>) -> Self {
        Self::new(Kind::Software, message)
    }
    pub fn cant_create(message: impl Into<String>) -> Self {
        Self::new(Kind::CantCreat, message)
    }
    pub fn temp_fail(message: impl Into<String>) -> Self {
        Self::new(Kind::TempFail, message)
    }
    pub fn no_perm(message: impl Into<String>) -> Self {
        Self::new(Kind::NoPerm, message)
    }
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(Kind::Config, message)
    }
    pub fn interrupted(signal: i32) -> Self {
        let name = match signal {
            2 => "SIGINT",
            15 => "SIGTERM",
            _ => "a signal",
        };
        Self::new(Kind::Interrupted(signal), format!("interrupted by {name}"))
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }
    pub fn message(&self) -> &str {
        &self.message
    }
    pub fn exit_code(&self) -> u8 {
        self.kind.exit_code()
    }

    /// Marks that the failed change may have left something behind (see [`Error::may_have_left_records`]).
    pub fn with_leftovers(mut self) -> Self {
        self.leftovers = true;
        self
    }

    /// Whether something may remain published after this failure, so its state must be kept.
    pub fn may_have_left_records(&self) -> bool {
        self.leftovers
    }

    /// Appends what followed the failure ("...; cleanup then removed the 1 record(s) it had
    /// published").
    pub fn note(mut self, text: impl fmt::Display) -> Self {
        self.message = format!("{}; {text}", self.message);
        self
    }

    /// Marks a conditional change refused because its data changed since it was read (see
    /// [`Error::is_conflict`]).
    pub fn with_conflict(mut self) -> Self {
        self.conflict = true;
        self
    }

    /// Whether the change was refused, changing nothing, because what it was computed from
    /// changed meanwhile: a caller may read again and retry.
    pub fn is_conflict(&self) -> bool {
        self.conflict
    }

    /// Prefixes the message with where it happened ("rfc2136: ...").
    pub fn context(mut self, prefix: impl fmt::Display) -> Self {
        self.message = format!("{prefix}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Messages are promised to be one line of text; fold any stray newline (or other control
        // character: a NUL, a terminal escape) that a name, file or foreign error carried in.
        let text: String = self
            .message
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        f.write_str(&text)
    }
}

impl std::error::Error for Error {}

/// An error and all its causes on one line (`chain` leaves out a cause the text already holds).
pub fn one_line(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// An error with its causes (a reqwest error's), one line.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_sysexits() {
        let table = [
            (Kind::Usage, 64),
            (Kind::DataErr, 65),
            (Kind::Unavailable, 69),
            (Kind::Software, 70),
            (Kind::CantCreat, 73),
            (Kind::TempFail, 75),
            (Kind::NoPerm, 77),
            (Kind::Config, 78),
        ];
        for (kind, code) in table {
            assert_eq!(kind.exit_code(), code, "{kind:?}");
            assert_eq!(Kind::from_exit_code(i32::from(code)), Some(kind));
        }
        assert_eq!(Kind::from_exit_code(1), None);
    }

    #[test]
    fn display_is_one_line() {
        let e = Error::data("bad\nname").context("dcv");
        assert_eq!(e.to_string(), "dcv: bad name");
        assert_eq!(Error::data("a\0b\x1b[31m").to_string(), "a b [31m");
    }
}
