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
//! A zone's other keys are that provider's own long option names, checked by clap like flags (any
//! other key is a config error naming it; `config_file::zones` reads them). They do not inherit
//! the top-level provider settings.

use clap::ArgMatches;

/// One `[[zone]]` table.
#[derive(Clone, Debug)]
pub struct ZoneRule {
    /// The zone apex, lowercase, no trailing dot.
    pub name: String,
    pub provider: String,
    /// The zone's settings as clap matched them, for its provider to read.
    pub matches: ArgMatches,
}

/// The most specific zone holding `name` (a DNS owner name or a host).
pub fn zone_for<'a>(rules: &'a [ZoneRule], name: &str) -> Option<&'a ZoneRule> {
    let name = crate::record::normalize_name(name);
    crate::record::name_and_parents(&name)
        .find_map(|candidate| rules.iter().find(|r| r.name == candidate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_specific_zone_wins() {
        let rule = |name: &str, provider: &str| ZoneRule {
            name: name.into(),
            provider: provider.into(),
            matches: ArgMatches::default(),
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
}
