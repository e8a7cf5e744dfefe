//! CertCentral's failed answers turned into dcv-hook errors: DigiCert's codes and messages, and the
//! kind a script needs (a rejected key is NoPerm, a token DigiCert cannot see yet TempFail, a page
//! that is no API answer Config, a redirect Config naming where it pointed), and transport errors
//! in one line. Sends nothing and decides no retry: `client.rs` does both.

use super::types::ErrorBody;
use crate::error::{Error, Kind};
use reqwest::{Method, StatusCode};

/// What the server answered, before interpretation.
pub(super) struct Answer {
    pub(super) status: StatusCode,
    pub(super) body: String,
    /// Where a 3xx pointed.
    pub(super) location: Option<String>,
}

/// Interprets a non-success answer: DigiCert's code and message, and the kind a script needs.
pub(super) fn api_error(method: &Method, path: &str, answer: &Answer) -> Error {
    let parsed: ErrorBody = serde_json::from_str(&answer.body).unwrap_or_default();
    let codes: Vec<&str> = parsed.errors.iter().map(|e| e.code.as_str()).collect();
    let detail = error_detail(&parsed, answer);
    let not_valid_yet = codes.iter().any(|c| {
        matches!(
            *c,
            "invalid_dns_txt" | "file_random_value_not_found" | "invalid_dns_cname"
        )
    });
    // A 4xx that is no CertCentral error document (an HTML page, say) comes from something else
    // answering at --api-url: blaming the order id would send the user the wrong way.
    let foreign = parsed.errors.is_empty()
        && serde_json::from_str::<serde_json::Value>(&answer.body).is_err()
        && !answer.body.trim().is_empty();
    if answer.status.is_redirection() {
        return redirect_error(method, path, answer);
    }
    let (kind, hint) = match answer.status.as_u16() {
        s if foreign && (400..500).contains(&s) => (
            Kind::Config,
            "that is not a CertCentral API answer (not JSON): check --api-url",
        ),
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

/// A redirect from the API, never followed: following would send the key wherever the answer
/// points; the user decides instead.
fn redirect_error(method: &Method, path: &str, answer: &Answer) -> Error {
    let to = answer
        .location
        .as_deref()
        .unwrap_or("nowhere (no Location)");
    Error::config(format!(
        "certcentral: {method} {path}: HTTP {} redirects to {}; dcv-hook does not follow redirects with the API key: check --api-url (set it to the final URL if you trust it)",
        answer.status.as_u16(),
        crate::ui::one_line(to)
    ))
}

/// The status and DigiCert's error codes and messages, else the start of the body.
fn error_detail(parsed: &ErrorBody, answer: &Answer) -> String {
    if parsed.errors.is_empty() {
        let snippet: String = answer.body.chars().take(120).collect();
        return match snippet.trim() {
            "" => format!("HTTP {}", answer.status.as_u16()),
            text => format!("HTTP {} {text}", answer.status.as_u16()),
        };
    }
    let items: Vec<String> = parsed
        .errors
        .iter()
        .map(|e| format!("{}: {}", e.code, e.message.trim_end_matches('.')))
        .collect();
    format!("HTTP {} {}", answer.status.as_u16(), items.join("; "))
}

/// A transport error in one line without the URL's query (where a secret could never be, but keep it short).
pub(super) fn describe_transport_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "could not connect".to_string()
    } else {
        crate::error::one_line(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
                location: None,
            };
            let e = api_error(&Method::PUT, "/x", &answer);
            assert_eq!(e.kind(), kind, "{status}");
            assert!(e.message().contains(needle), "{e}");
        }
    }
}
