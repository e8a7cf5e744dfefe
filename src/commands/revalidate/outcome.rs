//! What became of one selected domain: the one value the table, the JSON, the counts and the
//! metrics file all show. A row has none (`None`) only while the run is still at it; every way a
//! run ends gives each row one.

use serde::{Serialize, Serializer};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Validated,
    /// Its method is one dcv-hook cannot publish.
    Skipped,
    Failed,
    /// Submitted (maybe published), but a signal or the breaker ended the run before the check.
    NotChecked,
    /// The run ended before it was submitted.
    NotSubmitted,
    /// `--dry-run`.
    WouldValidate,
    /// `status --expiring-within`: not yet expired.
    Expiring,
    /// `status --expiring-within`: expired, or never validated.
    Expired,
}

impl Outcome {
    /// Always counted (each has a metrics series to alert on), in this order; the others when any
    /// domain ends so.
    pub const COUNTED: [Outcome; 5] = [
        Outcome::Validated,
        Outcome::Failed,
        Outcome::Skipped,
        Outcome::NotChecked,
        Outcome::NotSubmitted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Validated => "validated",
            Outcome::Skipped => "skipped",
            Outcome::Failed => "failed",
            Outcome::NotChecked => "not checked",
            Outcome::NotSubmitted => "not submitted",
            Outcome::WouldValidate => "would validate",
            Outcome::Expiring => "expiring",
            Outcome::Expired => "expired",
        }
    }
}

/// In the JSON as in the table.
impl Serialize for Outcome {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_name_is_the_table_name() {
        for o in [Outcome::WouldValidate, Outcome::Expiring, Outcome::Expired]
            .into_iter()
            .chain(Outcome::COUNTED)
        {
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
    }
}
