//! Fixtures shared by the integration tests. Each owns its temp dirs and servers and stops them on
//! Drop, also when a test fails.

#![allow(dead_code)]

pub mod nginx;
pub mod world;
