//! The publishers of a run: the command line's provider and one per `[[zone]]`, each built from
//! its own flags; for cleanup, one built from what the records to remove remember.

use crate::config::zones::{self, ZoneRule};
use crate::context::Context;
use crate::env::ProcessEnv;
use crate::error::{Error, Result};
use crate::publish::{self, Publisher, Setup};
use crate::record::{Published, Record};

/// The publishers a run needs: the command line's provider and one per `[[zone]]` of the config
/// file, all built (so every setting checked, every secret read) before anything changes anywhere.
pub struct Publishers {
    /// `None` zone: the command line's provider.
    all: Vec<(Option<String>, Box<dyn Publisher>)>,
}

impl Publishers {
    pub fn build(ctx: &Context) -> Result<Publishers> {
        let mut all = Vec::new();
        if let Some(name) = ctx.cfg.provider.map(|p| p.name) {
            all.push((None, build(ctx, name, None, &[])?));
        }
        for zone in &ctx.cfg.zones {
            let publisher = build(ctx, &zone.provider, Some(zone), &[])
                .map_err(|e| e.context(format!("[[zone]] {}", zone.name)))?;
            all.push((Some(zone.name.clone()), publisher));
        }
        Ok(Publishers { all })
    }

    /// `records` grouped by the publisher that takes them (index into [`Publishers::get`]): the
    /// most specific `[[zone]]` holding the record's name, else the command line's provider.
    pub fn route(&self, ctx: &Context, records: &[Record]) -> Result<Vec<(usize, Vec<Record>)>> {
        let mut groups: Vec<(usize, Vec<Record>)> = Vec::new();
        for record in records {
            let zone = zones::zone_for(&ctx.cfg.zones, publish::route_name(record))
                .map(|z| z.name.clone());
            let index = self
                .all
                .iter()
                .position(|(z, _)| *z == zone)
                .ok_or_else(|| {
                    Error::usage(format!(
                        "{} is in no [[zone]] of the config file and no --provider was given",
                        record.name()
                    ))
                })?;
            match groups.iter_mut().find(|(i, _)| *i == index) {
                Some((_, group)) => group.push(record.clone()),
                None => groups.push((index, vec![record.clone()])),
            }
        }
        Ok(groups)
    }

    pub fn get(&mut self, index: usize) -> &mut dyn Publisher {
        self.all[index].1.as_mut()
    }
}

/// Provider `name` built with `zone`'s settings (else the command line's flags) and, for cleanup,
/// the records it is to undo.
fn build(
    ctx: &Context,
    name: &str,
    zone: Option<&ZoneRule>,
    remembered: &[Published],
) -> Result<Box<dyn Publisher>> {
    let flags = match zone {
        Some(z) => &z.flags,
        None => &ctx.cfg.provider_flags,
    };
    (publish::spec(name)?.build)(&Setup {
        flags,
        env: &ProcessEnv,
        remembered,
        ttl: ctx.cfg.ttl,
        resolver: &|| ctx.resolver(),
        state_dir: &ctx.cfg.state_dir,
    })
}

/// The publisher that undoes `published` (all from provider `name`, published alike), with the
/// settings of the `[[zone]]` the records are in when that zone uses this provider.
pub(super) fn for_cleanup(
    ctx: &Context,
    name: &str,
    published: &[Published],
) -> Result<Box<dyn Publisher>> {
    let zone = published
        .first()
        .and_then(|p| zones::zone_for(&ctx.cfg.zones, publish::route_name(&p.record)))
        .filter(|z| z.provider == name);
    build(ctx, name, zone, published)
}
