//! dcv-hook: proves control of a domain to DigiCert CertCentral (DCV) and to ACME clients.
//!
//! The binary (`main.rs`) is thin; everything it runs lives in these modules so that tests, examples and
//! benchmarks can reach them too.

pub mod dnsquery;
pub mod error;
pub mod propagation;
pub mod publish;
pub mod record;
pub mod resolver;
pub mod secret;
pub mod stats;
