//! Publishing records: one [`Publisher`] trait, one file per provider.
//!
//! A publisher changes the outside world and nothing else: it never waits for propagation, never prints
//! and never picks an exit code beyond the error kind of its failure. It takes whole batches so that a
//! DNS provider can send one UPDATE per zone for a run's records.

use crate::error::Result;
use crate::record::{Published, Record};

pub mod rfc2136;
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
