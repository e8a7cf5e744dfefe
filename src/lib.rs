//! dcv-hook: proves control of a domain to DigiCert CertCentral (DCV) and to ACME clients.
//!
//! The binary (`main.rs`) is thin; everything it runs lives in these modules so that tests, examples and
//! benchmarks can reach them too. `app` parses and dispatches; `commands` holds one function per
//! command; `source` says what to validate (CertCentral or an ACME client); `publish` and `propagation` change and watch
//! the outside world; `state` remembers what was changed.

pub mod acme;
pub mod app;
pub mod certcentral;
pub mod cli;
pub mod commands;
pub mod config;
pub mod context;
pub mod dates;
pub mod dcv;
pub mod dnsquery;
pub mod doctor;
pub mod each_account;
pub mod env;
pub mod error;
pub mod filelock;
pub mod fsutil;
pub mod http_client;
pub mod http_fetch;
pub mod metrics;
pub mod output;
pub mod persist;
pub mod pipeline;
pub mod process;
pub mod progress;
pub mod propagation;
pub mod publish;
pub mod random;
pub mod record;
pub mod resolver;
pub mod retry;
pub mod runtime;
pub mod secret;
pub mod setting;
pub mod signals;
pub mod source;
pub mod state;
pub mod stats;
pub mod ui;
