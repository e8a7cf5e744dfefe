//! Judging what a web server answered: the status, the body's size and content against the probe
//! (or a missing file's 404), the hops it took, and whether a name's addresses agree. Pure: never
//! fetches.

use crate::doctor::{Finding, Severity};
use crate::propagation::http::{Unserved, advice};
use std::net::IpAddr;

/// DigiCert reads at most this much of the body.
pub(super) const MAX_BODY: usize = 5000;

/// A final answer as fetched: its status and the start of its body (`more` when it went on).
pub(super) struct Answer<'a> {
    pub(super) status: u16,
    pub(super) body: &'a [u8],
    pub(super) more: bool,
    /// How many redirects led to it.
    pub(super) hops: usize,
}

/// A warning when the addresses of `host` did not all end with the same finding.
pub(super) fn disagreement(host: &str, outcomes: &[(IpAddr, &'static str)]) -> Option<Finding> {
    let mut codes: Vec<&str> = outcomes.iter().map(|(_, c)| *c).collect();
    codes.sort();
    codes.dedup();
    (codes.len() > 1).then(|| {
        let each: Vec<String> = outcomes.iter().map(|(a, c)| format!("{a}: {c}")).collect();
        Finding::new(
            "http.addresses.disagree",
            Severity::Warns,
            host,
            format!("the addresses answer differently ({})", each.join(", ")),
            "serve the same content from every address: the CA may pick any of them",
        )
    })
}

/// The finding for the final `answer`.
pub(super) fn judge_response(
    answer: &Answer,
    expect: Option<&str>,
    acme: bool,
    subject: String,
) -> Finding {
    let (status, body, hops) = (answer.status, answer.body, answer.hops);
    let via = match hops {
        0 => String::new(),
        n => format!(" after {n} redirect(s)"),
    };
    if let Some(f) = judge_status(status, expect, &subject, &via) {
        return f;
    }
    if !acme && answer.more {
        return Finding::new(
            "http.body.too_big",
            Severity::Blocks,
            &subject,
            format!(
                "HTTP {status}{via} with a body over {MAX_BODY} bytes: DigiCert reads at most {MAX_BODY}"
            ),
            "serve the file itself, not a page",
        );
    }
    let Some(value) = expect else {
        return Finding::new(
            "http.catch_all",
            Severity::Warns,
            &subject,
            format!("HTTP {status}{via} for a file that does not exist (a catch-all page?)"),
            "make missing files under /.well-known/ answer 404, and check the real file is served",
        );
    };
    // An empty value: the token is not known (diagnosing DigiCert's "not validated"), so any
    // content is taken as served.
    if value.is_empty() || String::from_utf8_lossy(body).trim() == value {
        return judge_served(acme, &subject, &via, hops);
    }
    Finding::new(
        "http.probe.content",
        Severity::Blocks,
        &subject,
        format!(
            "HTTP {status}{via} with other content: {:?}",
            String::from_utf8_lossy(&body[..body.len().min(40)])
        ),
        "the server serves something else for the path (a rewrite, another web root): serve /.well-known/ from the web root",
    )
}

/// The finding for an answer that is not 2xx (`None` for 2xx): a 404 is right only for a file
/// that must be missing (`expect` is `None`).
fn judge_status(status: u16, expect: Option<&str>, subject: &str, via: &str) -> Option<Finding> {
    let blocks =
        |code, seen: String, fix: &str| Finding::new(code, Severity::Blocks, subject, seen, fix);
    match status {
        200..=299 => None,
        404 if expect.is_none() => Some(Finding::ok(
            "http.ok",
            subject,
            format!("a missing file answers 404{via}, as it should"),
        )),
        404 => Some(blocks(
            "http.status.404",
            format!("HTTP 404{via} for the file just published"),
            "the web root given is not the one the server serves for this name: point --webroot at the server's root for it",
        )),
        401 | 403 | 500..=599 => {
            // The same words as auth's wait uses when it gives up on this answer.
            let (code, fix) =
                advice(&Unserved::Status(status)).unwrap_or(("http.status.other", ""));
            let why = match status {
                403 => ": the web server refuses the file",
                401 => ": the file is behind authentication",
                _ => ": the web server fails",
            };
            Some(blocks(code, format!("HTTP {status}{via}{why}"), fix))
        }
        _ => Some(blocks(
            "http.status.other",
            format!("HTTP {status}{via}"),
            "serve the file with HTTP 200",
        )),
    }
}

/// The finding for the expected content served after `hops` redirects.
fn judge_served(acme: bool, subject: &str, via: &str, hops: usize) -> Finding {
    if hops > 1 && !acme {
        return Finding::new(
            "http.redirect.hops",
            Severity::Warns,
            subject,
            format!("served{via}: an older DigiCert rule follows one redirect only"),
            "serve the file with at most one redirect",
        );
    }
    Finding::ok("http.ok", subject, format!("serves the probe file{via}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judges_answers() {
        let j = |status, body: &[u8], expect| {
            let more = body.len() > MAX_BODY;
            let answer = Answer {
                status,
                body: &body[..body.len().min(MAX_BODY)],
                more,
                hops: 0,
            };
            judge_response(&answer, expect, false, "s".into()).code
        };
        assert_eq!(j(200, b"tok\n", Some("tok")), "http.ok");
        assert_eq!(j(200, b"other", Some("tok")), "http.probe.content");
        assert_eq!(j(200, &[b'x'; 5001], Some("tok")), "http.body.too_big");
        assert_eq!(j(404, b"", Some("tok")), "http.status.404");
        assert_eq!(j(404, b"", None), "http.ok");
        assert_eq!(j(200, b"page", None), "http.catch_all");
        assert_eq!(j(403, b"", Some("tok")), "http.status.403");
        assert_eq!(j(503, b"", Some("tok")), "http.status.5xx");
    }
}
