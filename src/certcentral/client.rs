//! The CertCentral HTTP transport: the only code that talks to DigiCert.
//!
//! Every request carries the API key header, JSON content type and `User-Agent: dcv-hook/<version>`,
//! and has a timeout. 429, 5xx and network errors are retried with exponential backoff and jitter,
//! honouring `Retry-After`, a bounded number of times; then the failure is `Unavailable` (69). Error
//! bodies are parsed into DigiCert's code and message. The key is never logged or put in an error.

use super::types::ErrorBody;
use crate::error::{Error, Kind, Result};
use crate::secret::Secret;
use crate::ui;
use reqwest::blocking::{Client as HttpClient, Response};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use std::time::{Duration, Instant};

/// How failed requests are retried.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// Wait before the first retry; doubles each time, with ±25% jitter.
    pub base_delay: Duration,
    /// Longest wait between two attempts.
    pub max_delay: Duration,
    /// A longer `Retry-After` than this is not waited out: the call fails at once.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The backoff before retry number `retry` (1-based), jittered so that parallel clients spread out.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = self.base_delay.saturating_mul(1u32 << (retry - 1).min(16));
        let capped = exp.min(self.max_delay);
        capped.mul_f64(0.75 + fastrand::f64() * 0.5)
    }
}

/// A CertCentral API client.
pub struct Client {
    http: HttpClient,
    base: String,
    key: Secret,
    retry: RetryPolicy,
}

/// What the server answered, before interpretation.
struct Answer {
    status: StatusCode,
    body: String,
}

impl Client {
    /// A client for `base_url` (e.g. `https://www.digicert.com/services/v2`).
    pub fn new(base_url: &str, key: Secret, timeout: Duration) -> Result<Client> {
        let http = HttpClient::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10).min(timeout))
            .user_agent(concat!("dcv-hook/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::software(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client {
            http,
            base: base_url.trim_end_matches('/').to_string(),
            key,
            retry: RetryPolicy::default(),
        })
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Client {
        self.retry = retry;
        self
    }

    /// `GET path`, parsed as `T`.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call(Method::GET, path, None)?.ok_or_else(|| {
            Error::unavailable(format!("certcentral: GET {path} answered with no body"))
        })
    }

    /// `PUT path` with an optional JSON body; `None` for 204 No Content.
    pub fn put<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Option<T>> {
        self.call(Method::PUT, path, body)
    }

    /// `POST path` with an optional JSON body; `None` for 204 No Content.
    pub fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Option<T>> {
        self.call(Method::POST, path, body)
    }

    fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Option<T>> {
        let answer = self.send_with_retries(&method, path, body)?;
        if answer.status.is_success() {
            if answer.status == StatusCode::NO_CONTENT || answer.body.trim().is_empty() {
                return Ok(None);
            }
            return serde_json::from_str(&answer.body).map(Some).map_err(|e| {
                Error::unavailable(format!(
                    "certcentral: {method} {path} answered {} with a body dcv-hook cannot read ({e}); check --api-url",
                    answer.status
                ))
            });
        }
        Err(api_error(&method, path, &answer))
    }

    fn send_with_retries(
        &self,
        method: &Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Answer> {
        let url = format!("{}{}", self.base, path);
        let mut attempt = 1;
        loop {
            let started = Instant::now();
            ui::verbose(&format!("certcentral: {method} {path}"));
            let mut request = self
                .http
                .request(method.clone(), &url)
                .header("X-DC-DEVKEY", self.key.expose())
                .header("Accept", "application/json");
            request = match body {
                Some(json) => request.json(json),
                None => request.header("Content-Type", "application/json"),
            };
            let outcome = request.send();
            let (retry_after, failure) = match outcome {
                Ok(response) => {
                    let status = response.status();
                    ui::verbose(&format!(
                        "certcentral: {method} {path} -> {status} ({} ms)",
                        started.elapsed().as_millis()
                    ));
                    let retry_after = retry_after(&response);
                    let retryable =
                        status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
                    let body = response.text().unwrap_or_default();
                    let answer = Answer { status, body };
                    if !retryable {
                        return Ok(answer);
                    }
                    (retry_after, api_error(method, path, &answer))
                }
                Err(e) => (
                    None,
                    Error::unavailable(format!(
                        "certcentral: {method} {path} failed: {}; check --api-url and the network",
                        describe_transport_error(&e)
                    )),
                ),
            };
            if attempt >= self.retry.attempts {
                return Err(Error::new(Kind::Unavailable, failure.message().to_string())
                    .context(format!("gave up after {attempt} attempts")));
            }
            let wait = match retry_after {
                Some(wait) if wait > self.retry.max_retry_after => {
                    return Err(failure.context(format!(
                        "DigiCert asks to retry after {}s, longer than dcv-hook waits; try again later",
                        wait.as_secs()
                    )));
                }
                Some(wait) => wait,
                None => self.retry.backoff(attempt),
            };
            ui::progress(&format!(
                "{} (attempt {attempt}/{}); retrying in {:.1}s",
                failure,
                self.retry.attempts,
                wait.as_secs_f64()
            ));
            std::thread::sleep(wait);
            attempt += 1;
        }
    }
}

/// `Retry-After` in seconds (HTTP-date forms are rare for APIs and are treated as absent).
fn retry_after(response: &Response) -> Option<Duration> {
    let value = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// Interprets a non-success answer: DigiCert's code and message, and the kind a script needs.
fn api_error(method: &Method, path: &str, answer: &Answer) -> Error {
    let parsed: ErrorBody = serde_json::from_str(&answer.body).unwrap_or_default();
    let codes: Vec<&str> = parsed.errors.iter().map(|e| e.code.as_str()).collect();
    let detail = if parsed.errors.is_empty() {
        let snippet: String = answer.body.chars().take(120).collect();
        format!(
            "HTTP {}{}",
            answer.status.as_u16(),
            if snippet.trim().is_empty() {
                String::new()
            } else {
                format!(" {}", snippet.trim())
            }
        )
    } else {
        let items: Vec<String> = parsed
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.code, e.message.trim_end_matches('.')))
            .collect();
        format!("HTTP {} {}", answer.status.as_u16(), items.join("; "))
    };
    let not_valid_yet = codes.iter().any(|c| {
        matches!(
            *c,
            "invalid_dns_txt" | "file_random_value_not_found" | "invalid_dns_cname"
        )
    });
    let (kind, hint) = match answer.status.as_u16() {
        401 | 403 => (
            Kind::NoPerm,
            "check the API key (DIGICERT_API_KEY or --api-key-file) and its permissions",
        ),
        404 => (Kind::DataErr, "check the order or domain id"),
        429 => (
            Kind::Unavailable,
            "DigiCert's rate limit was hit; try again later",
        ),
        s if s >= 500 => (
            Kind::Unavailable,
            "DigiCert is having trouble; try again later",
        ),
        _ if not_valid_yet => (
            Kind::TempFail,
            "the token is not visible to DigiCert yet; wait and verify again",
        ),
        _ => (Kind::DataErr, "check the request's ids, names and method"),
    };
    Error::new(
        kind,
        format!("certcentral: {method} {path}: {detail}; {hint}"),
    )
}

/// A transport error in one line without the URL's query (where a secret could never be, but keep it short).
fn describe_transport_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "could not connect".to_string()
    } else {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text = format!("{text}: {s}");
            source = s.source();
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let p = RetryPolicy::default();
        for retry in 1..=10 {
            let nominal = (p.base_delay * (1 << (retry - 1))).min(p.max_delay);
            let got = p.backoff(retry);
            assert!(
                got >= nominal.mul_f64(0.74) && got <= nominal.mul_f64(1.26),
                "{retry}: {got:?}"
            );
        }
    }

    #[test]
    fn errors_carry_digicert_code_and_kind() {
        let table = [
            (
                401,
                r#"{"errors":[{"code":"access_denied","message":"Invalid API key."}]}"#,
                Kind::NoPerm,
                "access_denied",
            ),
            (
                404,
                r#"{"errors":[{"code":"not_found|order","message":"Order not found"}]}"#,
                Kind::DataErr,
                "not_found|order",
            ),
            (
                400,
                r#"{"errors":[{"code":"invalid_dns_txt","message":"Could not find a valid TXT record."}]}"#,
                Kind::TempFail,
                "invalid_dns_txt",
            ),
            (503, "oops", Kind::Unavailable, "HTTP 503 oops"),
        ];
        for (status, body, kind, needle) in table {
            let answer = Answer {
                status: StatusCode::from_u16(status).unwrap(),
                body: body.to_string(),
            };
            let e = api_error(&Method::PUT, "/x", &answer);
            assert_eq!(e.kind(), kind, "{status}");
            assert!(e.message().contains(needle), "{e}");
        }
    }
}
