//! Publishing records: one [`Publisher`] trait, one file per provider.
//!
//! A publisher changes the outside world and nothing else: it never waits for propagation, never prints
//! and never picks an exit code beyond the error kind of its failure. It takes whole batches so that a
//! DNS provider can send one UPDATE per zone for a run's records.

use crate::error::Result;
use crate::record::{Published, Record};

pub mod cloudflare;
pub mod credentials;
pub mod rfc2136;
pub mod webroot;

/// A backend that can add records and take exactly those records away again.
pub trait Publisher {
    /// The provider's name as given to `--provider`.
    fn provider(&self) -> &'static str;

    /// What cleanup would need if this process died in the middle of `present`, read before anything
    /// changes (the content of a file about to be replaced, say); `auth` saves it as pending state.
    /// The default records only the records themselves, which is all a DNS provider's cleanup needs.
    fn prepare(&self, records: &[Record]) -> Result<Vec<Published>> {
        Ok(records
            .iter()
            .map(|r| Published::new(r, self.provider()))
            .collect())
    }

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
use crate::secret::Secret;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The publisher `--provider` names, built from the resolved configuration.
pub fn for_config(
    ctx: &Context,
    provider: ProviderName,
    published: &[Published],
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
        ProviderName::Rfc2136 => {
            let settings = rfc2136_settings(ctx, published)?;
            Ok(Box::new(rfc2136::Rfc2136::new(settings, ctx.resolver()?)?))
        }
        other => Err(Error::config(format!(
            "provider {} is not available in this version yet; use rfc2136 or webroot",
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

/// RFC2136 settings: the certbot ini file (`--rfc2136-credentials`) if given, overridden by flags and
/// env; for cleanup the primary recorded in the state stands in for a missing `--rfc2136-server`.
fn rfc2136_settings(ctx: &Context, published: &[Published]) -> Result<rfc2136::Rfc2136Settings> {
    let o = &ctx.cfg.provider_options;
    // What auth recorded stands in for a flag that cleanup was not given.
    let remembered = |key: &str| published.iter().find_map(|p| p.settings.get(key).cloned());
    let credentials = o
        .rfc2136_credentials
        .clone()
        .or_else(|| remembered(REMEMBER_CREDENTIALS).map(PathBuf::from));
    let from_ini = match &credentials {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Error::config(format!(
                    "cannot read --rfc2136-credentials {}: {e}",
                    path.display()
                ))
            })?;
            warn_if_world_readable(path);
            Some(rfc2136::parse_certbot_ini(&text).map_err(|e| e.context(path.display()))?)
        }
        None => None,
    };
    let server = match (&o.rfc2136_server, &from_ini) {
        (Some(text), _) => server_address(ctx, text)?,
        (None, Some(ini)) => ini.server,
        (None, None) => match published.iter().find_map(|p| p.server.as_deref()) {
            Some(recorded) => server_address(ctx, recorded)?,
            None => {
                return Err(Error::usage(
                    "--provider rfc2136 needs --rfc2136-server HOST[:PORT] (or --rfc2136-credentials FILE)",
                ));
            }
        },
    };
    let key_name = match (&o.tsig_key, &from_ini, remembered(REMEMBER_TSIG_KEY)) {
        (Some(k), _, _) => k.clone(),
        (None, Some(ini), _) => ini.key_name.clone(),
        (None, None, Some(k)) => k,
        (None, None, None) => return Err(Error::usage("--provider rfc2136 needs --tsig-key NAME")),
    };
    let secret_file = o
        .tsig_secret_file
        .clone()
        .or_else(|| remembered(REMEMBER_SECRET_FILE).map(PathBuf::from));
    let secret = match (
        &o.tsig_secret_file,
        &o.tsig_secret_env,
        &from_ini,
        &secret_file,
    ) {
        (Some(path), _, _, _) => read_secret_file(path)?,
        (None, Some(env), _, _) => env.clone(),
        (None, None, Some(ini), _) => ini.secret.clone(),
        (None, None, None, Some(path)) => read_secret_file(path)?,
        (None, None, None, None) => {
            return Err(Error::config(
                "no TSIG secret: pass --tsig-secret-file FILE or set DCV_TSIG_SECRET (base64)",
            ));
        }
    };
    let mut settings = rfc2136::Rfc2136Settings::new(server, key_name, secret);
    if let Some(alg) = o
        .tsig_algorithm
        .clone()
        .or_else(|| from_ini.as_ref().map(|ini| ini.algorithm.clone()))
        .or_else(|| remembered(REMEMBER_ALGORITHM))
    {
        settings.algorithm = alg;
    }
    settings.zone = o.rfc2136_zone.clone();
    settings.ttl = ctx.cfg.ttl;
    Ok(settings)
}

const REMEMBER_CREDENTIALS: &str = "rfc2136-credentials";
const REMEMBER_TSIG_KEY: &str = "tsig-key";
const REMEMBER_SECRET_FILE: &str = "tsig-secret-file";
const REMEMBER_ALGORITHM: &str = "tsig-algorithm";

/// Non-secret settings worth recording with each published record, so that cleanup can rebuild the
/// publisher from the state alone, given only what auth was given. Files are recorded by absolute
/// path, and a secret never: only where to read it.
pub fn settings_to_remember(ctx: &Context, provider: ProviderName) -> BTreeMap<String, String> {
    let o = &ctx.cfg.provider_options;
    let absolute = |p: &PathBuf| {
        std::fs::canonicalize(p)
            .unwrap_or_else(|_| p.clone())
            .display()
            .to_string()
    };
    let mut settings = BTreeMap::new();
    if provider == ProviderName::Rfc2136 {
        if let Some(p) = &o.rfc2136_credentials {
            settings.insert(REMEMBER_CREDENTIALS.to_string(), absolute(p));
        }
        if let Some(k) = &o.tsig_key {
            settings.insert(REMEMBER_TSIG_KEY.to_string(), k.clone());
        }
        if let Some(p) = &o.tsig_secret_file {
            settings.insert(REMEMBER_SECRET_FILE.to_string(), absolute(p));
        }
        if let Some(a) = &o.tsig_algorithm {
            settings.insert(REMEMBER_ALGORITHM.to_string(), a.clone());
        }
    }
    settings
}

fn read_secret_file(path: &std::path::Path) -> Result<Secret> {
    warn_if_world_readable(path);
    std::fs::read_to_string(path).map(Secret::new).map_err(|e| {
        Error::config(format!(
            "cannot read --tsig-secret-file {}: {e}",
            path.display()
        ))
    })
}

/// `HOST[:PORT]` as a socket address: an IP directly, a host name through the resolver.
fn server_address(ctx: &Context, text: &str) -> Result<std::net::SocketAddr> {
    if let Some(addr) = crate::resolver::parse_server(text, 53) {
        return Ok(addr);
    }
    let (host, port) = match text.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| Error::usage(format!("--rfc2136-server {text:?}: bad port")))?,
        ),
        None => (text, 53),
    };
    let ip = ctx
        .resolver()?
        .addresses(host)
        .map_err(|e| e.context(format!("--rfc2136-server {host}")))?[0];
    Ok(std::net::SocketAddr::new(ip, port))
}

/// certbot's habit: a credentials file others can read is worth a warning, not a refusal.
fn warn_if_world_readable(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o004 != 0
    {
        crate::ui::warn(&format!(
            "{} is readable by every user; chmod 600 it",
            path.display()
        ));
    }
}
