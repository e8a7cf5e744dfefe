//! The steps `auth`, `run`, `revalidate` and `cleanup` share, in the order a run takes them: build
//! the publishers (`publishers.rs`), follow CNAMEs to where a record must go and find every server
//! that must serve it (`wait.rs`), publish with the state written around the change (`publish.rs`),
//! wait until every server serves it (`wait.rs`), and clean up what the state recorded
//! (`cleanup.rs`); values that are ours by what they say (persistent DCV records) are read and
//! removed by `remove.rs`. Commands are thin users of these steps; nothing here prints a final outcome.
//!
//! State is written before anything is published (status pending) and updated after, so `cleanup`
//! can undo a partial run; a publisher failure removes the pending entries again (publishers are all
//! or nothing) unless the error says something may be live.

mod cleanup;
mod publish;
mod publishers;
mod remove;
mod wait;

pub use cleanup::cleanup_where;
pub use publish::publish_recorded;
pub use publishers::Publishers;
pub use remove::{remove_values, txt_values};
pub use wait::{discover_servers, follow_cnames, wait_for_propagation};
