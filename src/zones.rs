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
//! A zone's other keys are that provider's long option names, checked by clap like flags (an unknown
//! key is a config error naming it). They do not inherit the top-level provider settings.

use crate::error::{Error, Result};
use clap::ArgMatches;
use std::path::Path;

/// One `[[zone]]` table.
#[derive(Clone, Debug)]
pub struct ZoneRule {
    /// The zone apex, lowercase, no trailing dot.
    pub name: String,
    pub provider: String,
    /// The zone's settings as clap matched them, for its provider to read.
    pub matches: ArgMatches,
}

/// The `[[zone]]` tables of the config file at `path` (none when it has none).
pub fn read(path: &Path) -> Result<Vec<ZoneRule>> {
    let table = crate::config_file::read_table(path)?;
    let Some(zones) = table.get("zone") else {
        return Ok(Vec::new());
    };
    let bad =
        |why: String| Error::config(format!("config file {}: [[zone]] {why}", path.display()));
    let list = zones
        .as_array()
        .ok_or_else(|| bad("must be an array of tables: write [[zone]] before each".into()))?;
    let mut rules = Vec::new();
    for (i, zone) in list.iter().enumerate() {
        let zone = zone
            .as_table()
            .ok_or_else(|| bad(format!("number {} is not a table", i + 1)))?;
        let name = zone
            .get("name")
            .and_then(|v| v.as_str())
            .ok_or_else(|| bad(format!("number {} has no name = \"ZONE\"", i + 1)))?;
        let name = crate::dcv::DomainName::parse(name)
            .map_err(|e| bad(format!("name {name:?}: {}", e.message())))?
            .as_str()
            .to_string();
        let provider = zone
            .get("provider")
            .and_then(|v| v.as_str())
            .ok_or_else(|| bad(format!("{name} has no provider = \"NAME\"")))?
            .to_string();
        let mut args: Vec<std::ffi::OsString> = vec!["dcv-hook".into(), "auth".into()];
        for (key, value) in zone.iter().filter(|(k, _)| *k != "name") {
            let takes_value = !matches!(value, toml::Value::Boolean(_));
            args.extend(crate::config_file::flags_for(
                path,
                key,
                value,
                takes_value,
            )?);
        }
        let matches = crate::cli::command()
            .try_get_matches_from(&args)
            .map_err(|e| bad(format!("{name}: {}", crate::cli::error_line(&e))))?;
        let (_, sub) = matches.subcommand().expect("auth was given");
        rules.push(ZoneRule {
            name,
            provider,
            matches: sub.clone(),
        });
    }
    Ok(rules)
}

/// The most specific zone holding `name` (a DNS owner name or a host).
pub fn zone_for<'a>(rules: &'a [ZoneRule], name: &str) -> Option<&'a ZoneRule> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    rules
        .iter()
        .filter(|r| name == r.name || name.ends_with(&format!(".{}", r.name)))
        .max_by_key(|r| r.name.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_specific_zone_wins_and_keys_are_checked_like_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "provider = \"rfc2136\"\n[[zone]]\nname = \"example.com\"\nprovider = \"exec\"\nexec = \"/bin/true\"\n[[zone]]\nname = \"Shop.Example.com\"\nprovider = \"rfc2136\"\nrfc2136-server = \"192.0.2.9\"\n",
        )
        .unwrap();
        let rules = read(&path).unwrap();
        assert_eq!(
            zone_for(&rules, "_dnsauth.a.shop.example.com")
                .unwrap()
                .provider,
            "rfc2136"
        );
        assert_eq!(
            zone_for(&rules, "www.example.com.").unwrap().provider,
            "exec"
        );
        assert!(zone_for(&rules, "example.org").is_none());
        assert!(zone_for(&rules, "notexample.com").is_none());
        std::fs::write(
            &path,
            "[[zone]]\nname = \"example.com\"\nprovider = \"exec\"\nexecc = \"x\"\n",
        )
        .unwrap();
        let err = read(&path).unwrap_err();
        assert_eq!(err.kind(), crate::error::Kind::Config);
        assert!(err.message().contains("execc"), "{err}");
    }
}
