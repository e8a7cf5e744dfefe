//! HTTP checks (http-token, http-01): every A and AAAA address of the name and its answer.

use super::{Finding, Subject};
use crate::context::Context;
use crate::resolver::Resolver;

/// Every HTTP finding for `subjects`.
pub fn check(_ctx: &Context, _resolver: &Resolver, _subjects: &[&Subject]) -> Vec<Finding> {
    Vec::new()
}
