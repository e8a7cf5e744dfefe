//! Fixtures shared by the integration tests. Each owns its temporary directory and its processes and
//! cleans both up on drop, also when a test panics.

pub mod bind;
