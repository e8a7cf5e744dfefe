//! Providers per zone: the config file's `[[zone]]` tables map a DNS zone (and every name below it)
//! to a provider with its own settings, so one run can span DNS hosts. The most specific zone wins;
//! names under no zone use the command line's provider.
//!
//! ```toml
//! provider = "rfc2136"              # the default
//! rfc2136-server = "192.0.2.1"
//! [[zone]]
//! name = "example.com"
//! provider = "exec"
//! exec = "/usr/local/bin/other-dns"
//! ```
//! A zone's other keys are that provider's own long option names, read into its typed flags (any
//! other key is a config error naming it; `zones` reads them). They do not inherit
//! the top-level provider settings.

use crate::cli::config_file::{named_tables, read_table};
use crate::error::{Error, Result};
use std::path::Path;

/// One `[[zone]]` table.
#[derive(Clone, Debug)]
pub struct ZoneRule {
    /// The zone apex, lowercase, no trailing dot.
    pub name: String,
    pub provider: String,
    /// The zone's settings, for its provider to read.
    pub flags: crate::publish::ProviderArgs,
}

/// The most specific zone holding `name` (a DNS owner name or a host).
pub fn zone_for<'a>(rules: &'a [ZoneRule], name: &str) -> Option<&'a ZoneRule> {
    let name = crate::record::normalize_name(name);
    crate::record::name_and_parents(&name)
        .find_map(|candidate| rules.iter().find(|r| r.name == candidate))
}

/// The `[[zone]]` tables of the config file at `path` (none when it has none). A zone's keys other
/// than `name` and `provider` are that provider's own settings, checked by clap like its flags; any
/// other key (`ttl`, `state-dir`), a zone named twice or a bad value is a config error (78) naming
/// the file, the zone and the key.
pub fn zones(path: &Path) -> Result<Vec<ZoneRule>> {
    let table = read_table(path)?;
    let Some(zones) = table.get("zone") else {
        return Ok(Vec::new());
    };
    let bad =
        |why: String| Error::config(format!("config file {}: [[zone]] {why}", path.display()));
    let list = zones
        .as_array()
        .ok_or_else(|| bad("must be an array of tables: write [[zone]] before each".into()))?;
    named_tables(path, "zone", list, zone_rule, |r| &r.name)
}

/// One `[[zone]]` table; the error is the reason alone (the caller names file and table).
fn zone_rule(zone: &toml::Table) -> std::result::Result<ZoneRule, String> {
    let name = zone
        .get("name")
        .and_then(|v| v.as_str())
        .ok_or("has no name = \"ZONE\"")?;
    let name = crate::dcv::DomainName::parse(name)
        .map_err(|e| format!("name {name:?}: {}", e.message()))?
        .as_str()
        .to_string();
    let provider = zone
        .get("provider")
        .and_then(|v| v.as_str())
        .ok_or(format!("{name} has no provider = \"NAME\""))?;
    let spec = crate::publish::spec(provider).map_err(|e| format!("{name}: {}", e.message()))?;
    let settings: toml::Table = zone
        .iter()
        .filter(|(k, _)| *k != "name" && *k != "provider")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let flags = (spec.zone_flags)(&settings).map_err(|e| format!("{name}: {e}"))?;
    Ok(ZoneRule {
        name,
        provider: spec.name.to_string(),
        flags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_specific_zone_wins() {
        let rule = |name: &str, provider: &str| ZoneRule {
            name: name.into(),
            provider: provider.into(),
            flags: Default::default(),
        };
        let rules = [
            rule("example.com", "exec"),
            rule("shop.example.com", "rfc2136"),
        ];
        let provider = |name| zone_for(&rules, name).map(|z| z.provider.as_str());
        assert_eq!(provider("_dnsauth.a.shop.example.com"), Some("rfc2136"));
        assert_eq!(provider("WWW.example.com."), Some("exec"));
        assert_eq!(provider("example.org"), None);
        assert_eq!(provider("notexample.com"), None);
    }

    #[test]
    fn a_zone_takes_its_providers_settings_only_once_each() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        let zone = "[[zone]]\nname = \"Shop.Example.com\"\nprovider = \"rfc2136\"\nrfc2136-server = \"192.0.2.9\"\n";
        std::fs::write(&path, zone).unwrap();
        let rules = zones(&path).unwrap();
        assert_eq!(rules[0].name, "shop.example.com");
        let server = rules[0].flags.rfc2136.rfc2136_server.as_deref();
        assert_eq!(server, Some("192.0.2.9"));
        for (extra, named) in [
            ("ttl = 300\n", "\"ttl\""),
            ("propagation-timeout = 1\n", "propagation-timeout"),
            ("state-dir = \"/tmp\"\n", "state-dir"),
            ("exec = \"/bin/true\"\n", "\"exec\""),
            ("rfc2136-serverr = \"x\"\n", "rfc2136-serverr"),
            (zone, "given twice"),
        ] {
            std::fs::write(&path, format!("{zone}{extra}")).unwrap();
            let err = zones(&path).unwrap_err();
            assert_eq!(err.kind(), crate::error::Kind::Config, "{extra}");
            let message = err.message();
            assert!(message.contains(named), "{extra}: {message}");
            assert!(message.contains("shop.example.com"), "{message}");
            assert!(message.contains("c.toml"), "{message}");
        }
    }

    #[test]
    fn a_zones_values_are_typed_and_checked_as_the_flags_are() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        let zone = "[[zone]]\nname = \"example.com\"\nprovider = \"exec\"\nexec = \"/bin/true\"\n";
        for (timeout, want) in [("30", Some(30.0)), ("\"2.5\"", Some(2.5))] {
            std::fs::write(&path, format!("{zone}exec-timeout = {timeout}\n")).unwrap();
            let rules = zones(&path).unwrap();
            assert_eq!(rules[0].flags.exec.exec_timeout, want, "{timeout}");
            assert_eq!(
                rules[0].flags.exec.exec.as_deref(),
                Some(Path::new("/bin/true"))
            );
        }
        for (bad, named) in [
            ("exec-timeout = -1\n", "positive number of seconds"),
            ("exec-timeout = \"soon\"\n", "soon"),
            ("webroot = 7\n", "invalid type"),
        ] {
            let zone = zone.replace("exec = \"/bin/true\"\n", "");
            let zone = match bad.starts_with("webroot") {
                true => zone.replace("\"exec\"", "\"webroot\""),
                false => zone,
            };
            std::fs::write(&path, format!("{zone}{bad}")).unwrap();
            let err = zones(&path).unwrap_err();
            assert_eq!(err.kind(), crate::error::Kind::Config, "{bad}");
            assert!(err.message().contains(named), "{bad}: {err}");
            assert!(err.message().contains("example.com"), "{err}");
        }
    }
}
