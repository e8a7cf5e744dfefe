//! Submitting the selected domains for validation, side by side: one `submit-for-token` (and the
//! token, asked for when it does not come back) per domain, and the record each token is placed in.
//! Never publishes.

use super::Work;
use crate::context::Context;
use crate::dcv::{DomainName, Method};
use crate::error::Result;
use crate::pipeline::follow_cnames;
use crate::progress::StatusLine;
use crate::record::Record;
use crate::source::certcentral::token_record;
use std::sync::Mutex;
use std::time::Instant;

/// Runs `job` for each of `items` on up to `threads` threads; returns (item, result) for every item
/// started (none is started once a signal arrived or `stop` says so).
pub(super) fn side_by_side<T: Send>(
    threads: usize,
    items: &[usize],
    stop: impl Fn() -> bool + Sync,
    job: impl Fn(usize) -> T + Sync,
) -> Vec<(usize, T)> {
    let next = Mutex::new(items.iter().copied());
    let results = Mutex::new(Vec::with_capacity(items.len()));
    let mut status = Mutex::new(StatusLine::new());
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, items.len().max(1)) {
            scope.spawn(|| {
                loop {
                    if crate::signals::pending().is_some() || stop() {
                        return;
                    }
                    let Some(i) = next.lock().unwrap_or_else(|e| e.into_inner()).next() else {
                        return;
                    };
                    let result = job(i);
                    let mut results = results.lock().unwrap_or_else(|e| e.into_inner());
                    results.push((i, result));
                    status
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .update(&format!(
                            "submitted {}/{}, {:.0}s",
                            results.len(),
                            items.len(),
                            started.elapsed().as_secs_f64()
                        ));
                }
            });
        }
    });
    let status = status.get_mut().unwrap_or_else(|e| e.into_inner());
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    status.finish(&format!(
        "submitted {}/{} domain(s) for validation in {:.1}s",
        results.len(),
        items.len(),
        started.elapsed().as_secs_f64()
    ));
    results
}

/// Submits `w`'s domain for validation with `method` and returns the record to publish.
pub(super) fn submit(ctx: &Context, w: &Work, method: Method) -> Result<Record> {
    let api = ctx.api()?;
    let id = w.row.domain_id;
    let token = api.submit_for_domain_token(id, &w.row.validation_types, method.as_str())?;
    let domain = DomainName::parse(&w.row.domain)?;
    let url = token.http_token_url.as_deref();
    let record = token_record(ctx.cfg.txt_name, method, &domain, &token.token, url)?;
    Ok(follow_cnames(ctx, &[record])?.remove(0))
}
