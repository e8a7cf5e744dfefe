//! Test support for dcv-hook: a CertCentral simulator that checks DCV the way a CA does, a tiny
//! authoritative DNS server and a static web server. Everything binds to loopback only and stops
//! when dropped, so integration tests and the quickstart example run with no internet and no
//! DigiCert account.

pub mod certcentral;
pub mod dns;
pub mod http;
mod serve;
pub mod web;

pub use certcentral::{
    ApiRequest, CheckRecord, DomainSpec, Fault, OrderSpec, SimConfig, Simulator, TargetCheck,
};
pub use dns::{MiniDns, RecordData};
pub use web::{WebRequest, WebServer};
