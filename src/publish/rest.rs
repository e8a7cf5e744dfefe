//! One request to a provider's REST API, tried again while the answer says "later": for the
//! providers that call their API with reqwest themselves (powerdns, azure, google). A network error, a 5xx
//! and a 429 are retried under a [`Policy`], honouring the server's `Retry-After` (in seconds);
//! every other answer, success or not, goes back to the provider, which alone knows what its
//! statuses and error bodies mean. When the attempts run out the last failure is returned as the
//! provider described it (usually `Unavailable`, 69), with the attempt count.

use crate::error::{Error, Result};
use crate::retry::{Policy, Retry};
use reqwest::blocking::RequestBuilder;
use std::time::Duration;

/// A longer `Retry-After` than this is not waited out: the call fails at once.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// An answer the provider interprets.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// The `ETag` header, when the answer has one.
    pub etag: Option<String>,
    /// The `Retry-After` header, when it gives seconds.
    pub retry_after: Option<Duration>,
    pub body: String,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// How a provider describes what went wrong (its name, the call, what to check).
pub trait Describe {
    /// Whether `answer` means "try later": 429 and 5xx, and whatever else the API says so with
    /// (Google's 403 `rateLimitExceeded`).
    fn is_busy(&self, answer: &Answer) -> bool {
        answer.status == 429 || answer.status >= 500
    }
    /// A 429 or 5xx `answer`, should it be the last.
    fn busy(&self, answer: &Answer) -> Error;
    /// A request that got no answer.
    fn unreachable(&self, error: &reqwest::Error) -> Error;
}

/// The plain description: `{provider}: {what}: HTTP {status} (throttled | a server error)`, and
/// for no answer the cause and `check {check} and the network`.
pub struct Plain<'a> {
    pub provider: &'a str,
    pub what: &'a str,
    pub check: &'a str,
}

impl Describe for Plain<'_> {
    fn busy(&self, answer: &Answer) -> Error {
        let why = if answer.status == 429 {
            "throttled"
        } else {
            "a server error"
        };
        Error::unavailable(format!(
            "{}: {}: HTTP {} ({why}); try again later",
            self.provider, self.what, answer.status
        ))
    }

    fn unreachable(&self, error: &reqwest::Error) -> Error {
        Error::unavailable(format!(
            "{}: {}: {}; check {} and the network",
            self.provider,
            self.what,
            crate::error::chain(error),
            self.check
        ))
    }
}

/// Sends the request `build` makes (anew for each attempt, so a credential it adds may be renewed
/// in between) until it gets an answer that is not "try later".
pub fn send(
    retry: Policy,
    describe: &dyn Describe,
    build: impl Fn() -> Result<RequestBuilder>,
) -> Result<Answer> {
    let mut tries = Retry::new(retry, None);
    loop {
        let (failure, retry_after) = match build()?.send() {
            Ok(response) => {
                let answer = read(response);
                if !describe.is_busy(&answer) {
                    return Ok(answer);
                }
                (describe.busy(&answer), answer.retry_after)
            }
            Err(e) => (describe.unreachable(&e), None),
        };
        if let Some(wait) = retry_after.filter(|w| *w > MAX_RETRY_AFTER) {
            return Err(failure.context(format!(
                "the API asks to retry after {}s, longer than dcv-hook waits; try again later",
                wait.as_secs()
            )));
        }
        match tries.pause(retry_after) {
            Some(pause) => crate::signals::sleep(pause)?,
            None => {
                return Err(Error::new(
                    failure.kind(),
                    format!("{} (after {} attempts)", failure.message(), tries.attempt()),
                ));
            }
        }
    }
}

/// The answer's status, `ETag`, `Retry-After` (in seconds) and body.
fn read(response: reqwest::blocking::Response) -> Answer {
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let etag = header("etag");
    let retry_after = header("retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = response.text().unwrap_or_default();
    Answer {
        status,
        etag,
        retry_after,
        body,
    }
}

/// `text` as one URL path segment: unreserved characters, `=` (PowerDNS's escape in zone ids) and
/// `*` (a wildcard record name) kept, every other byte percent-encoded.
pub fn path_segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'=' | b'*' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
