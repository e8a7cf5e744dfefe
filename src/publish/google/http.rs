//! What a Google API call (Cloud DNS or a token endpoint) tells the shared retry loop
//! (`publish/rest.rs`): network errors, 5xx, 429 and Google's 403 `rateLimitExceeded` are tried
//! again with backoff, honouring `Retry-After`; and reading Google's error bodies.

use crate::error::Error;
use crate::publish::rest::{Answer, Describe};

/// How a Google call that did not go through is described (`context` starts messages), for
/// `rest::send`.
pub struct Google<'a> {
    pub context: &'a str,
}

impl Describe for Google<'_> {
    fn is_busy(&self, answer: &Answer) -> bool {
        let rate_limited = || {
            matches!(
                said(&answer.body).0.as_str(),
                "rateLimitExceeded" | "userRateLimitExceeded"
            )
        };
        answer.status == 429 || answer.status >= 500 || (answer.status == 403 && rate_limited())
    }

    fn busy(&self, answer: &Answer) -> Error {
        let why = if answer.status >= 500 {
            "the service is unavailable"
        } else {
            "throttled"
        };
        Error::unavailable(format!(
            "{}: {why} (HTTP {}); try again later",
            self.context, answer.status
        ))
    }

    fn unreachable(&self, error: &reqwest::Error) -> Error {
        Error::unavailable(format!(
            "{}: {}; try again later",
            self.context,
            crate::error::chain(error)
        ))
    }
}

/// Google's error reason (`error.errors[0].reason`) and message of an error answer (the start
/// of the body when it is not Google's JSON).
pub fn said(body: &str) -> (String, String) {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let error = &v["error"];
    let reason = error["errors"][0]["reason"].as_str().unwrap_or_default();
    let message = error["message"]
        .as_str()
        .map_or_else(|| body.trim().chars().take(200).collect(), str::to_string);
    (reason.to_string(), message)
}
