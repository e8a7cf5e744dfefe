//! Token sources: where the records to publish come from, and what "verify" means for them.
//!
//! One [`TokenSource`] trait with one implementation per origin: CertCentral (an order's random value
//! or a domain's token, `certcentral.rs`) and an ACME client in host-tool mode (the value certbot,
//! lego, dehydrated, uacme or acme.sh hands its hook, `acme.rs`). `auth`'s back half (find servers,
//! publish with state, wait) and `cleanup` are shared and never ask which source they serve.

use crate::config::{Config, Target};
use crate::context::Context;
use crate::error::Result;
use crate::output::Report;
use crate::record::Record;
use crate::state::{Entry, Source};

pub mod acme;
pub mod certcentral;

/// What `auth` is to publish, before CNAMEs are followed.
#[derive(Debug, Default)]
pub struct Plan {
    /// What the records are published for, as the state remembers it.
    pub source: Source,
    pub records: Vec<Record>,
    /// Names skipped because the CA already approved them.
    pub already_approved: Vec<String>,
    /// Lines for the report (dry-run notes, say).
    pub notes: Vec<String>,
    /// Set when this call is one of several of one ACME client run (certbot's batching).
    pub batch: Option<Batch>,
}

pub use crate::acme::Batch;

/// Where the records come from.
pub trait TokenSource {
    /// What to publish for this run (may ask the CA, and in a real run change its state).
    fn plan(&self, ctx: &Context) -> Result<Plan>;

    /// Asks the CA to check now; with `wait`, until valid or `--timeout`.
    fn verify(&self, ctx: &Context, report: &mut Report, wait: bool) -> Result<()>;

    /// Whether `cleanup` of this target removes `entry`.
    fn selects(&self, entry: &Entry) -> bool;
}

/// The token source for the configured target.
pub fn for_config(cfg: &Config) -> Box<dyn TokenSource> {
    match &cfg.target {
        Target::Acme(target) => Box::new(acme::Acme {
            target: target.clone(),
        }),
        other => Box::new(certcentral::CertCentralSource {
            target: other.clone(),
        }),
    }
}
