//! What a failed Cloudflare call means: a [`Failure`] classifies the crate's error (status,
//! Cloudflare's codes, whether the credentials were refused, whether to retry, whether the request
//! may have landed) and says it in one line; the client turns it into dcv-hook's error, naming its
//! credentials and API.

use cloudflare::framework::response::{ApiFailure, ResponseInfo};

/// Cloudflare's error codes that mean the credentials were refused (a malformed or unknown
/// token or key, missing auth headers, or a token without the permission).
const AUTH_CODES: [u16; 17] = [
    1000, 6003, 6100, 6101, 6102, 6103, 6104, 6105, 6106, 6107, 6108, 6109, 6110, 6111, 9103, 9109,
    10000,
];

/// A failed call, classified.
#[derive(Debug)]
pub struct Failure {
    /// The HTTP status, when there was an answer with a status.
    pub status: Option<u16>,
    /// Cloudflare's errors as `code N: message` (empty when the body had none the crate could
    /// read).
    pub errors: Vec<String>,
    /// Why there was no usable answer (network error, unreadable body).
    pub detail: Option<String>,
    /// There was an answer, but its body could not be read.
    pub unreadable: bool,
    /// The credentials were refused.
    pub auth: bool,
    /// Worth trying again (429, 5xx, network).
    pub retryable: bool,
    /// The request may have been carried out although it failed (5xx, a timeout, a success whose
    /// body could not be read).
    pub may_have_landed: bool,
    /// Attempts made.
    pub attempts: u32,
}

/// One of Cloudflare's errors as `code N: message (code M: cause, ...)`, with the causes it
/// gives in `error_chain`.
fn error_text(e: &ResponseInfo) -> String {
    let chain = e
        .other
        .get("error_chain")
        .and_then(|c| c.as_array())
        .map(|chain| {
            chain
                .iter()
                .filter_map(|c| {
                    Some(format!(
                        "code {}: {}",
                        c.get("code")?,
                        c.get("message")?.as_str()?
                    ))
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let mut text = format!("code {}: {}", e.code, e.message.trim_end_matches('.'));
    if !chain.is_empty() {
        text.push_str(&format!(" ({})", chain.join(", ")));
    }
    text
}

impl Failure {
    pub(super) fn from_api(failure: ApiFailure) -> Failure {
        match failure {
            ApiFailure::Error(status, body) => {
                let status = status.as_u16();
                let codes: Vec<u16> = body.errors.iter().map(|e| e.code).collect();
                let errors = body.errors.iter().map(error_text).collect();
                Failure {
                    status: Some(status),
                    errors,
                    detail: None,
                    unreadable: false,
                    auth: status == 401
                        || status == 403
                        || (status == 400 && codes.iter().any(|c| AUTH_CODES.contains(c))),
                    retryable: status == 429 || status >= 500,
                    may_have_landed: status >= 500,
                    attempts: 1,
                }
            }
            ApiFailure::Invalid(e) => {
                let connect = e.is_connect();
                let decode = e.is_decode();
                Failure {
                    status: e.status().map(|s| s.as_u16()),
                    errors: Vec::new(),
                    detail: Some(chain_text(&e)),
                    unreadable: decode,
                    auth: false,
                    // An unreadable success is not fixed by asking again; a lost one may be.
                    retryable: !decode,
                    may_have_landed: !connect,
                    attempts: 1,
                }
            }
        }
    }

    /// `HTTP 403, code 9109: Invalid access token`, or what happened instead of an answer.
    pub fn describe(&self) -> String {
        let mut text = match (self.status, &self.detail) {
            (Some(status), _) if !self.errors.is_empty() => {
                format!("HTTP {status}, {}", self.errors.join("; "))
            }
            (_, Some(detail)) if self.unreadable => {
                format!("an answer the client library cannot read ({detail})")
            }
            (_, Some(detail)) => format!("no answer ({detail})"),
            (Some(status), None) => format!(
                "HTTP {status} (no error code the client library could read: Cloudflare's DNS codes do not fit it)"
            ),
            (None, None) => "no answer".to_string(),
        };
        if self.attempts > 1 {
            text.push_str(&format!(", after {} attempts", self.attempts));
        }
        text
    }
}

/// A reqwest error with its causes, one line.
pub(super) fn chain_text(error: &dyn std::error::Error) -> String {
    crate::error::chain(error)
}
