//! The resolved configuration plus the expensive handles a command may need, each made on first use
//! (a command that never talks to DigiCert never asks for an API key).

use crate::certcentral::{CertCentral, Client};
use crate::config::Config;
use crate::error::Result;
use crate::resolver::Resolver;
use std::sync::{Arc, OnceLock};

pub struct Context {
    pub cfg: Config,
    resolver: OnceLock<Arc<Resolver>>,
    api: OnceLock<Arc<CertCentral>>,
}

impl Context {
    pub fn new(cfg: Config) -> Context {
        Context {
            cfg,
            resolver: OnceLock::new(),
            api: OnceLock::new(),
        }
    }

    /// A context for `cfg` whose resolver is `resolver` (one set up its own way, e.g. the
    /// doctor's, which gives up on a silent server after its first timeout).
    pub fn with_resolver(cfg: Config, resolver: Arc<Resolver>) -> Context {
        let context = Context::new(cfg);
        let _ = context.resolver.set(resolver);
        context
    }

    /// The resolver from `--resolver` (or the system's).
    pub fn resolver(&self) -> Result<Arc<Resolver>> {
        if let Some(r) = self.resolver.get() {
            return Ok(r.clone());
        }
        let r = Arc::new(Resolver::new(&self.cfg.resolvers)?);
        Ok(self.resolver.get_or_init(|| r).clone())
    }

    /// The CertCentral API (needs the API key).
    pub fn api(&self) -> Result<&CertCentral> {
        Ok(self.api_handle()?)
    }

    /// The same API as a handle a thread may keep after the caller stops waiting for it (an
    /// idempotent request given up on at a signal).
    pub fn api_shared(&self) -> Result<Arc<CertCentral>> {
        Ok(self.api_handle()?.clone())
    }

    fn api_handle(&self) -> Result<&Arc<CertCentral>> {
        if let Some(api) = self.api.get() {
            return Ok(api);
        }
        let client = Client::new(&self.cfg.api_url, self.cfg.api_key()?, self.cfg.api_timeout)?;
        Ok(self.api.get_or_init(|| Arc::new(CertCentral::new(client))))
    }
}
