//! The zones an API provider (cloudflare, powerdns, route53, azure, google) has looked up this run:
//! each exact name (or id) asked once, and the search for the zone holding a record name, longest candidate
//! first. The provider supplies how to ask its API and what to say when no candidate is a zone.

use super::txt::zone_candidates;
use crate::error::{Error, Result};
use std::collections::HashMap;

/// What the API said of each exact zone name (or id) asked this run: a `Zones<Option<Z>>` keeps
/// `None` for a name the API has no zone of.
#[derive(Debug)]
pub struct Zones<V> {
    known: HashMap<String, V>,
}

impl<V> Default for Zones<V> {
    fn default() -> Self {
        Zones {
            known: HashMap::new(),
        }
    }
}

impl<V: Clone> Zones<V> {
    /// What `lookup` says of the zone called exactly `name`, asked only the first time.
    pub fn named(&mut self, name: &str, lookup: impl FnOnce(&str) -> Result<V>) -> Result<V> {
        if let Some(known) = self.known.get(name) {
            return Ok(known.clone());
        }
        let zone = lookup(name)?;
        self.known.insert(name.to_string(), zone.clone());
        Ok(zone)
    }
}

impl<Z: Clone> Zones<Option<Z>> {
    /// The zone that holds `name`: the longest of the name and its parents that `lookup` finds;
    /// otherwise the error `missing` makes of the names tried.
    pub fn holding(
        &mut self,
        name: &str,
        mut lookup: impl FnMut(&str) -> Result<Option<Z>>,
        missing: impl FnOnce(&[String]) -> Error,
    ) -> Result<Z> {
        let candidates = zone_candidates(name);
        for candidate in &candidates {
            if let Some(zone) = self.named(candidate, &mut lookup)? {
                return Ok(zone);
            }
        }
        Err(missing(&candidates))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_zone_wins_and_each_name_is_asked_once() {
        let mut zones = Zones::default();
        let mut asked = Vec::new();
        let mut lookup = |n: &str| {
            asked.push(n.to_string());
            Ok((n == "example.com").then(|| n.to_string()))
        };
        let zone = zones.holding("_acme.A.Example.com.", &mut lookup, |_| unreachable!());
        assert_eq!(zone.unwrap(), "example.com");
        let again = zones.holding("_acme.a.example.com", &mut lookup, |_| unreachable!());
        assert_eq!(again.unwrap(), "example.com");
        assert_eq!(
            asked,
            ["_acme.a.example.com", "a.example.com", "example.com"]
        );
    }

    #[test]
    fn no_zone_reports_every_name_tried() {
        let mut zones: Zones<Option<String>> = Zones::default();
        let err = zones
            .holding(
                "a.example.org",
                |_| Ok(None),
                |tried| Error::config(tried.join(",")),
            )
            .unwrap_err();
        assert_eq!(err.message(), "a.example.org,example.org");
    }
}
