//! The CertCentral HTTP transport: the only code that talks to DigiCert.
//!
//! Every request carries the API key header, JSON content type and `User-Agent: dcv-hook/<version>`,
//! and has a timeout. 429, 5xx and network errors are retried with exponential backoff and jitter,
//! honouring `Retry-After`, a bounded number of times; then the failure is `Unavailable` (69).
//! A POST (submitting a domain for validation, creating a token) is not idempotent: it is retried
//! only when DigiCert cannot have acted on it — the connection was never made, or a 429/503 with
//! `Retry-After` says it was not processed. After any other failure (a timeout, a reset, a 5xx) it
//! may have been done, so it fails at once (69) saying so, rather than doing it twice. Error
//! bodies are parsed into DigiCert's code and message by `failure.rs`. The key is never logged or put in an error,
//! and never leaves for another origin: redirects are not followed (reqwest would carry the
//! `X-DC-DEVKEY` header along); a 3xx is a configuration error (78) naming where it pointed.

use super::failure::{Answer, api_error, describe_transport_error};
use super::ratelimit::RateLimit;
use crate::error::{Error, Kind, Result};
use crate::retry::{Policy, Retry};
use crate::secret::Secret;
use crate::ui;
use reqwest::blocking::{Client as HttpClient, Response};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How failed requests are retried.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Attempts, backoff and jitter (see `retry.rs`).
    pub backoff: Policy,
    /// A longer `Retry-After` than this is not waited out: the call fails at once.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            backoff: Policy {
                attempts: Some(5),
                first: Duration::from_millis(500),
                max: Duration::from_secs(30),
                jitter: true,
            },
            max_retry_after: Duration::from_secs(120),
        }
    }
}

/// A CertCentral API client.
pub struct Client {
    http: HttpClient,
    base: String,
    key: Secret,
    retry: RetryPolicy,
    /// The per-request timeout (`--api-timeout`).
    timeout: Duration,
    /// When the caller must have an answer (`verify --timeout`): no request or retry pause runs past it.
    deadline: Mutex<Option<Instant>>,
    /// DigiCert's per-key limit, kept for every request of this run.
    limit: RateLimit,
}

/// How one request went: an answer for the caller to interpret (success or not), or this.
type Attempt = std::result::Result<Answer, Failed>;

/// A failure that may be retried: what went wrong, the server's `Retry-After`, and whether
/// DigiCert certainly did not act on the request (so even a POST may be sent again).
struct Failed {
    failure: Error,
    retry_after: Option<Duration>,
    not_processed: bool,
}

impl Client {
    /// A client for `base_url` (e.g. `https://www.digicert.com/services/v2`).
    pub fn new(base_url: &str, key: Secret, timeout: Duration) -> Result<Client> {
        let http = crate::http_client::api_client("", timeout)?;
        Ok(Client {
            http,
            base: base_url.trim_end_matches('/').to_string(),
            key,
            retry: RetryPolicy::default(),
            timeout,
            deadline: Mutex::new(None),
            limit: RateLimit::digicert(),
        })
    }

    /// Bounds every later request, its retries and their pauses by `deadline`.
    pub fn set_deadline(&self, deadline: Option<Instant>) {
        *self.deadline.lock().unwrap_or_else(|e| e.into_inner()) = deadline;
    }

    fn deadline(&self) -> Option<Instant> {
        *self.deadline.lock().unwrap_or_else(|e| e.into_inner())
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
        let deadline = self.deadline();
        let mut retry = Retry::new(self.retry.backoff, deadline);
        loop {
            let attempt = retry.attempt();
            let Failed {
                failure,
                retry_after,
                not_processed,
            } = match self.send_once(method, path, body, deadline)? {
                Ok(answer) => return Ok(answer),
                Err(failed) => failed,
            };
            if *method == Method::POST && !not_processed {
                return Err(Error::new(
                    Kind::Unavailable,
                    format!(
                        "{}; not retried: a POST is not idempotent and DigiCert may have done it, so check with `dcv-hook status` before trying again",
                        failure.message()
                    ),
                ));
            }
            if let Some(wait) = retry_after.filter(|w| *w > self.retry.max_retry_after) {
                return Err(failure.context(format!(
                    "DigiCert asks to retry after {}s, longer than dcv-hook waits; try again later",
                    wait.as_secs()
                )));
            }
            let Some(wait) = retry.pause(retry_after) else {
                return Err(Error::new(Kind::Unavailable, failure.message().to_string())
                    .context(format!("gave up after {attempt} attempts")));
            };
            ui::progress(&format!(
                "{} (attempt {attempt}/{}); retrying in {:.1}s",
                failure,
                self.retry.backoff.attempts.unwrap_or(0),
                wait.as_secs_f64()
            ));
            crate::signals::sleep(wait)?;
        }
    }

    /// One request, within the rate limit and never waiting for an answer past the deadline.
    fn send_once(
        &self,
        method: &Method,
        path: &str,
        body: Option<&serde_json::Value>,
        deadline: Option<Instant>,
    ) -> Result<Attempt> {
        let started = Instant::now();
        // The request's own timeout, shrunk to what is left before the deadline (75 once it passed).
        let left = deadline.map_or(self.timeout, |d| {
            d.saturating_duration_since(Instant::now())
        });
        if deadline.is_some() && left.is_zero() {
            return Err(Error::temp_fail(format!(
                "certcentral: {method} {path}: the time allowed (--timeout) ran out"
            )));
        }
        let timeout = left.min(self.timeout);
        self.limit.acquire(deadline)?;
        ui::verbose(&format!("certcentral: {method} {path}"));
        let request = self
            .http
            .request(method.clone(), format!("{}{}", self.base, path))
            .timeout(timeout)
            .header("X-DC-DEVKEY", self.key.expose())
            .header("Accept", "application/json");
        let request = match body {
            Some(json) => request.json(json),
            None => request.header("Content-Type", "application/json"),
        };
        let response = match request.send() {
            Ok(response) => response,
            Err(e) => {
                return Ok(Err(Failed {
                    failure: Error::unavailable(format!(
                        "certcentral: {method} {path} failed: {}; check --api-url and the network",
                        describe_transport_error(&e)
                    )),
                    retry_after: None,
                    // A connection never made carried nothing to DigiCert.
                    not_processed: e.is_connect(),
                }));
            }
        };
        ui::verbose(&format!(
            "certcentral: {method} {path} -> {} ({} ms)",
            response.status(),
            started.elapsed().as_millis()
        ));
        Ok(judge_answer(method, path, response))
    }
}

/// The answer for the caller, or a failure worth retrying (429, 5xx) and whether DigiCert said
/// it turned the request away.
fn judge_answer(method: &Method, path: &str, response: Response) -> Attempt {
    let status = response.status();
    let retry_after = retry_after(&response);
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .map(|l| String::from_utf8_lossy(l.as_bytes()).into_owned());
    let answer = Answer {
        status,
        body: read_capped(response),
        location,
    };
    if status != StatusCode::TOO_MANY_REQUESTS && !status.is_server_error() {
        return Ok(answer);
    }
    Err(Failed {
        failure: api_error(method, path, &answer),
        retry_after,
        // 429, and 503 with Retry-After, say the request was turned away, not done.
        not_processed: retry_after.is_some()
            && matches!(
                status,
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
            ),
    })
}

/// Longest API answer read: CertCentral's largest (a page of 1000 domains) is far below it; a body
/// that goes on is cut here rather than read until the timeout.
const MAX_BODY: u64 = 32 * 1024 * 1024;

/// The body as text, at most [`MAX_BODY`] bytes (a cut body then fails to parse, naming the call).
fn read_capped(response: Response) -> String {
    use std::io::Read;
    let mut bytes = Vec::new();
    let _ = response.take(MAX_BODY).read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
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
        // Not from_secs_f64, which panics on a value past Duration::MAX (say 2^64).
        .map(|s| Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loopback HTTP server answering `reply` to every request; each request's head arrives on the
    /// channel before the reply is sent.
    fn serve(reply: String) -> (String, std::sync::mpsc::Receiver<String>) {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut head = vec![0u8; 8192];
                let n = stream.read(&mut head).unwrap_or(0);
                let _ = tx.send(String::from_utf8_lossy(&head[..n]).into_owned());
                let _ = stream.write_all(reply.as_bytes());
            }
        });
        (url, rx)
    }

    #[test]
    fn a_redirect_is_a_config_error_naming_it_and_the_key_never_reaches_the_other_origin() {
        let (elsewhere, elsewhere_saw) = serve(
            "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}".to_string(),
        );
        let (api, api_saw) = serve(format!(
            "HTTP/1.1 302 Found\r\nConnection: close\r\nLocation: {elsewhere}/steal\r\nContent-Length: 0\r\n\r\n"
        ));
        let client = Client::new(
            &api,
            Secret::new("the-api-key".to_string()),
            Duration::from_secs(5),
        )
        .unwrap();
        let err = client.get::<serde_json::Value>("/user/me").unwrap_err();
        assert_eq!(err.kind(), Kind::Config, "{err}");
        assert!(
            err.message()
                .contains(&format!("redirects to {elsewhere}/steal")),
            "{err}"
        );
        assert!(!err.message().contains("the-api-key"), "{err}");
        assert!(
            api_saw.recv().unwrap().contains("the-api-key"),
            "the API itself gets the key"
        );
        assert!(
            elsewhere_saw.try_recv().is_err(),
            "nothing, and so no key, may reach the other origin"
        );
    }

    #[test]
    fn a_post_is_retried_only_when_digicert_says_it_was_not_processed() {
        let quick = RetryPolicy {
            backoff: Policy {
                attempts: Some(3),
                first: Duration::from_millis(1),
                max: Duration::from_millis(1),
                jitter: false,
            },
            ..RetryPolicy::default()
        };
        let requests = |status: &str, retry_after: &str, method: Method| {
            let (url, saw) = serve(format!(
                "HTTP/1.1 {status}\r\nConnection: close\r\n{retry_after}Content-Length: 0\r\n\r\n"
            ));
            let mut client = Client::new(&url, Secret::new("k"), Duration::from_secs(5)).unwrap();
            client.retry = quick;
            let err = client
                .call::<serde_json::Value>(method, "/domain/1/dcv/token", None)
                .unwrap_err();
            assert_eq!(err.kind(), Kind::Unavailable, "{err}");
            (saw.try_iter().count(), err)
        };
        // A 500 may come after the work was done: a POST is sent once, a PUT retried.
        let (sent, err) = requests("500 Internal Server Error", "", Method::POST);
        assert_eq!(sent, 1);
        assert!(err.message().contains("not retried"), "{err}");
        assert_eq!(requests("500 Internal Server Error", "", Method::PUT).0, 3);
        // 503 with Retry-After says it was not processed: safe to send again.
        let ra = "Retry-After: 0\r\n";
        assert_eq!(requests("503 Service Unavailable", ra, Method::POST).0, 3);
        assert_eq!(requests("429 Too Many Requests", ra, Method::POST).0, 3);
        // Nothing listening: the request never left, so a POST is retried too.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let mut client = Client::new(&url, Secret::new("k"), Duration::from_secs(5)).unwrap();
        client.retry = quick;
        let err = client
            .call::<serde_json::Value>(Method::POST, "/x", None)
            .unwrap_err();
        assert!(err.message().contains("gave up after 3 attempts"), "{err}");
    }
}
