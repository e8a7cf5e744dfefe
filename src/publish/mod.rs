//! Publishing records: one [`Publisher`] trait, one file per provider.
//!
//! A publisher changes the outside world and nothing else: it never waits for propagation, never prints
//! and never picks an exit code beyond the error kind of its failure. It takes whole batches so that a
//! DNS provider can send one UPDATE per zone for a run's records.

use crate::error::Result;
use crate::record::{Published, Record};

pub mod webroot;

/// A backend that can add records and take exactly those records away again.
pub trait Publisher {
    /// The provider's name as given to `--provider`.
    fn provider(&self) -> &'static str;

    /// Publishes every record, all or nothing: when it returns an error, nothing this call added
    /// remains. Adding never replaces other values at the same name.
    fn present(&mut self, records: &[Record]) -> Result<Vec<Published>>;

    /// Removes exactly what `present` added (leaving `preexisting` values alone) and restores what it
    /// replaced. Removing something that is already gone is not an error.
    fn cleanup(&mut self, published: &[Published]) -> Result<()>;
}

use crate::cli::ProviderName;
use crate::config::provider_name;
use crate::context::Context;
use crate::error::Error;
use std::path::PathBuf;

/// The publisher `--provider` names, built from the resolved configuration.
pub fn for_config(
    ctx: &Context,
    provider: ProviderName,
    _published: &[Published],
) -> Result<Box<dyn Publisher>> {
    let options = &ctx.cfg.provider_options;
    match provider {
        ProviderName::Webroot => {
            let dir = options
                .webroot
                .as_ref()
                .ok_or_else(|| Error::usage("--provider webroot needs --webroot DIR"))?;
            Ok(Box::new(webroot::Webroot::new(dir)?))
        }
        other => Err(Error::config(format!(
            "provider {} is not available in this version yet; use webroot",
            provider_name(other)
        ))),
    }
}

/// The publisher that undoes `published` (all from provider `name` and one place): what the state
/// recorded (a web root, a DNS server) where it suffices, so cleanup needs only credentials.
pub fn for_cleanup(
    ctx: &Context,
    name: &str,
    published: &[Published],
) -> Result<Box<dyn Publisher>> {
    match name {
        // The state knows the web root each file went to; --webroot is not needed (nor consulted).
        "webroot" => Ok(Box::new(webroot::Webroot::new(&webroot_from_state(
            published,
        )?)?)),
        other => {
            let provider = match other {
                "rfc2136" => ProviderName::Rfc2136,
                "cloudflare" => ProviderName::Cloudflare,
                "exec" => ProviderName::Exec,
                _ => {
                    return Err(Error::data(format!(
                        "state names an unknown provider {other:?}; remove that state file"
                    )));
                }
            };
            for_config(ctx, provider, published)
        }
    }
}

/// Where a published record lives, for grouping cleanups: the web root, or the DNS server.
pub fn place_of(published: &Published) -> String {
    match published.provider.as_str() {
        "webroot" => webroot_from_state(std::slice::from_ref(published))
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        _ => published.server.clone().unwrap_or_default(),
    }
}

/// The web root a recorded file lives in: its path minus the URL path.
fn webroot_from_state(published: &[Published]) -> Result<PathBuf> {
    let p = published
        .first()
        .ok_or_else(|| Error::software("no records to clean up"))?;
    let (_, url_path) = p
        .record
        .http_host_and_path()
        .ok_or_else(|| Error::data(format!("state for {} is not an HTTP record", p.location)))?;
    p.location
        .strip_suffix(url_path)
        .map(PathBuf::from)
        .ok_or_else(|| {
            Error::data(format!(
                "cannot tell the web root of {}; pass --webroot",
                p.location
            ))
        })
}
