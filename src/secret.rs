//! Secrets (API key, TSIG secret, Cloudflare token) in a newtype that never prints its content.
//!
//! `Debug` and `Display` show `***`, so a secret cannot reach stdout, stderr or a log by accident; the
//! value is only reachable through [`Secret::expose`], at the one place that sends it.

use std::fmt;

/// A secret string.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`, trimming surrounding white space (files usually end in a newline).
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into().trim().to_string())
    }

    /// The secret itself: call only where it is sent or decoded.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_value() {
        let s = Secret::new(" hunter2\n");
        assert_eq!(s.expose(), "hunter2");
        assert!(!format!("{s} {s:?}").contains("hunter2"));
    }
}
