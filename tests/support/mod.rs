//! Fixtures shared by the integration tests. Each owns its temporary directory, servers and processes
//! and cleans them up on Drop, also when a test panics.

#![allow(dead_code)]

pub mod acme;
pub mod bind;
pub mod nginx;
pub mod pdns;
pub mod pebble;
pub mod update_proxy;
pub mod world;
