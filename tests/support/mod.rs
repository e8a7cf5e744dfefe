//! Fixtures shared by the integration tests. Each owns its temporary directory, servers and processes
//! and cleans them up on Drop, also when a test panics.

#![allow(dead_code)]

pub mod acme;
pub mod bind;
#[cfg(feature = "route53")]
pub mod moto;
pub mod nginx;
pub mod pdns;
pub mod pebble;
pub mod update_proxy;
pub mod world;

use dcv_hook::record::{Record, RecordType};

/// A TXT record at `name` for the domain the name is under (`_dnsauth.` taken off).
pub fn txt(name: &str, value: &str) -> Record {
    Record {
        domain: name.trim_start_matches("_dnsauth.").into(),
        rtype: RecordType::Txt,
        name: name.into(),
        value: value.into(),
    }
}
