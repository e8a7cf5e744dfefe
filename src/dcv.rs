//! DCV vocabulary: methods, domain names and where each method's token goes.
//!
//! Pure functions, no I/O: names are checked (LDH labels, length limits), IDNs turned into A-labels,
//! and a (method, domain, token) becomes the provider-neutral [`Record`] to publish.

use crate::error::{Error, Result};
use crate::record::{HttpUrl, Place, Record, RecordType};
use std::fmt;

/// Where a dns-txt-token record goes (`--txt-name`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum TxtName {
    /// TXT at the domain itself.
    Apex,
    /// TXT at _dnsauth.DOMAIN.
    Dnsauth,
}

/// Where DigiCert looks for a `dns-cname-token`: `_dnsauth.NAME CNAME <token>.` + this.
pub const CNAME_TARGET_SUFFIX: &str = "dcv.digicert.com";
/// Where DigiCert looks for an `http-token`.
pub const HTTP_TOKEN_PATH: &str = "/.well-known/pki-validation/fileauth.txt";
/// The directory of every DigiCert validation file.
pub const HTTP_TOKEN_DIR: &str = "/.well-known/pki-validation/";
/// Stands for the file name DigiCert chooses for `http-token-dynamic` where it is not known yet (a
/// dry run, the doctor): it names the directory the file goes to.
pub const UNKNOWN_FILE_NAME: &str = "chosen-by-digicert.txt";

/// A DCV method that publishes a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    DnsTxtToken,
    DnsCnameToken,
    HttpToken,
    /// http-token with the file name chosen by DigiCert (`http_token_url`; OV/EV only).
    HttpTokenDynamic,
}

impl Method {
    /// Parses a method name, accepting the non-ASCII hyphens DigiCert's pages sometimes print.
    pub fn parse(text: &str) -> Result<Method> {
        let ascii: String = text
            .trim()
            .chars()
            .map(|c| match c {
                '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2212}' | '_' => '-',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        match ascii.as_str() {
            "dns-txt-token" => Ok(Method::DnsTxtToken),
            "dns-cname-token" => Ok(Method::DnsCnameToken),
            "http-token" => Ok(Method::HttpToken),
            "http-token-dynamic" => Ok(Method::HttpTokenDynamic),
            _ => Err(Error::usage(format!(
                "unknown --method {text:?}: use dns-txt-token, dns-cname-token, http-token or http-token-dynamic"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::DnsTxtToken => "dns-txt-token",
            Method::DnsCnameToken => "dns-cname-token",
            Method::HttpToken => "http-token",
            Method::HttpTokenDynamic => "http-token-dynamic",
        }
    }

    pub fn is_dns(self) -> bool {
        !matches!(self, Method::HttpToken | Method::HttpTokenDynamic)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is wrong with one A-label of a domain name, if anything.
fn label_problem(label: &str) -> Option<String> {
    if label.is_empty() {
        return Some("it has an empty label".into());
    }
    if label.len() > 63 {
        return Some(format!("label {label:.20}... is longer than 63 characters"));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Some(format!("label {label} starts or ends with '-'"));
    }
    if !label
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Some(format!(
            "label {label} has characters other than letters, digits and '-'"
        ));
    }
    None
}

/// A checked domain name: A-label form, lowercase, no trailing dot; maybe a wildcard (`*.` prefix).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainName(String);

impl DomainName {
    /// Checks `input` and turns an IDN into A-labels. Errors are `DataErr` (65) naming the problem.
    pub fn parse(input: &str) -> Result<DomainName> {
        let trimmed = input.trim();
        let (wildcard, rest) = match trimmed.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let rest = rest.strip_suffix('.').unwrap_or(rest);
        let bad = |why: &str| {
            Error::data(format!(
                "invalid domain name {input:?}: {why}; give a name like example.com"
            ))
        };
        if rest.is_empty() {
            return Err(bad("it is empty"));
        }
        if rest
            .chars()
            .any(|c| c.is_whitespace() || c == '/' || c == '\\' || c == '*')
        {
            return Err(bad("it contains a space, slash or stray '*'"));
        }
        if rest.split('.').any(str::is_empty) {
            return Err(bad("it has an empty label"));
        }
        // Not the strict variant: its length and character errors say nothing about which label is
        // wrong, and the checks below name it.
        let ascii = idna::domain_to_ascii(rest)
            .map_err(|_| bad("it is not a valid internationalized name"))?;
        let labels: Vec<&str> = ascii.split('.').collect();
        if labels.len() < 2 {
            return Err(bad("it needs at least two labels"));
        }
        if let Some(why) = labels.iter().find_map(|l| label_problem(l)) {
            return Err(bad(&why));
        }
        // 253 characters of text is the 255-octet wire limit; leave room for the "*." of a wildcard.
        let full_len = ascii.len() + if wildcard { 2 } else { 0 };
        if full_len > 253 {
            return Err(bad(&format!(
                "it is {full_len} characters long, more than 253"
            )));
        }
        let name = if wildcard {
            format!("*.{ascii}")
        } else {
            ascii
        };
        Ok(DomainName(name.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_wildcard(&self) -> bool {
        self.0.starts_with("*.")
    }

    /// The name DNS methods validate: a wildcard `*.NAME` is validated at `NAME`.
    pub fn base(&self) -> &str {
        self.0.strip_prefix("*.").unwrap_or(&self.0)
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether a value can go into a TXT record or a file as it is: 1 to 255 printable ASCII characters
/// without spaces, quotes or backslashes.
pub fn is_plain_value(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 255
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
}

/// Checks a DCV token before it is put into DNS or a file: printable ASCII without spaces or quotes.
pub fn check_token(token: &str) -> Result<()> {
    if is_plain_value(token) {
        Ok(())
    } else {
        Err(Error::data(format!(
            "the DCV token {:?} is not usable (empty, too long, or has spaces or quotes); ask DigiCert for a new one",
            token.chars().take(40).collect::<String>()
        )))
    }
}

/// The record that proves control of `domain` with `method` and `token`.
pub fn placement(
    method: Method,
    txt_name: TxtName,
    domain: &DomainName,
    token: &str,
) -> Result<Record> {
    check_token(token)?;
    let base = domain.base();
    match method {
        Method::DnsTxtToken => {
            let name = match txt_name {
                TxtName::Apex => base.to_string(),
                TxtName::Dnsauth => format!("_dnsauth.{base}"),
            };
            Ok(Record::new_dns(
                domain.to_string(),
                RecordType::Txt,
                name,
                token,
            ))
        }
        Method::DnsCnameToken => {
            let label_ok = token.len() <= 63
                && token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !label_ok {
                return Err(Error::data(format!(
                    "the DCV token {token:?} cannot be a DNS label, so dns-cname-token cannot carry it; use dns-txt-token"
                )));
            }
            let target = format!("{}.{CNAME_TARGET_SUFFIX}", token.to_ascii_lowercase());
            let name = format!("_dnsauth.{base}");
            Ok(Record::new_dns(
                domain.to_string(),
                RecordType::Cname,
                name,
                target,
            ))
        }
        Method::HttpToken | Method::HttpTokenDynamic => {
            if domain.is_wildcard() {
                return Err(Error::data(format!(
                    "{domain} is a wildcard, which {method} cannot validate; use a DNS method (--method dns-txt-token)"
                )));
            }
            let path = match method {
                Method::HttpToken => HTTP_TOKEN_PATH.to_string(),
                _ => format!("{HTTP_TOKEN_DIR}{UNKNOWN_FILE_NAME}"),
            };
            let url = HttpUrl {
                host: base.to_string(),
                path,
            };
            Ok(Record::new_http(domain.to_string(), url, token))
        }
    }
}

/// Whether `name` is a file name DigiCert may choose for `http-token-dynamic`: one plain name (a
/// letter or digit first, then letters, digits, `.`, `_` or `-`) ending in `.txt`. The webroot's
/// cleanup accepts exactly these beside `fileauth.txt`.
pub fn is_dynamic_file_name(name: &str) -> bool {
    let stem = name.strip_suffix(".txt").unwrap_or("");
    name.len() <= 255
        && stem.starts_with(|c: char| c.is_ascii_alphanumeric())
        && stem
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// `record` (an http-token-dynamic placement) moved to the file DigiCert's `http_token_url` names.
/// The URL is untrusted input: it is taken only as `http(s)://NAME/.well-known/pki-validation/FILE.txt`
/// with NAME the name validated and FILE a plain name (no other directory, `..`, query or port);
/// anything else is 65 naming it.
pub fn at_token_url(mut record: Record, url: &str) -> Result<Record> {
    let Place::Http(at) = &mut record.at else {
        return Err(Error::software(format!(
            "only an http-token-dynamic file moves to DigiCert's http_token_url, not {record}"
        )));
    };
    let host = at.host.clone();
    let bad = |why: &str| {
        Error::data(format!(
            "DigiCert's http_token_url {:?} for {host} is refused: {why}; nothing was written (ask DigiCert for a new token, or use --method http-token)",
            url.chars().take(120).collect::<String>()
        ))
    };
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| bad("it is not an http:// URL"))?;
    let (url_host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if !url_host.eq_ignore_ascii_case(&host) {
        return Err(bad(&format!("its host {url_host:?} is not {host}")));
    }
    let file = path
        .strip_prefix(HTTP_TOKEN_DIR)
        .filter(|f| !f.contains(['/', '\\']))
        .ok_or_else(|| bad("the file is not directly under /.well-known/pki-validation/"))?;
    if !is_dynamic_file_name(file) {
        return Err(bad(
            "the file name is not one plain name ending in .txt (letters, digits, '.', '_', '-')",
        ));
    }
    at.path = format!("{HTTP_TOKEN_DIR}{file}");
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_names_are_checked() {
        let long_label = format!("{}.com", "a".repeat(64));
        let long_name = format!("{}.com", vec!["a".repeat(62); 4].join("."));
        let table: &[(&str, Option<&str>)] = &[
            ("Example.COM.", Some("example.com")),
            ("*.example.com", Some("*.example.com")),
            ("bücher.example", Some("xn--bcher-kva.example")),
            ("../etc", None),
            ("exa mple.com", None),
            (&long_label, None),
            (&long_name, None),
            ("localhost", None),
            ("-a.example.com", None),
            ("a..example.com", None),
            ("a_b.example.com", None),
            ("shop..example.com", None),
            ("*.*.example.com", None),
            ("", None),
        ];
        for (input, want) in table {
            let got = DomainName::parse(input);
            assert_eq!(
                got.as_ref().ok().map(|d| d.as_str()),
                *want,
                "{input:?}: {got:?}"
            );
            if let Err(e) = got {
                assert_eq!(e.kind(), crate::error::Kind::DataErr);
            }
        }
    }

    #[test]
    fn only_a_plain_txt_file_under_pki_validation_on_the_name_is_taken_from_digicert() {
        let d = DomainName::parse("www.example.com").unwrap();
        let r = placement(Method::HttpTokenDynamic, TxtName::Apex, &d, "tok").unwrap();
        let at = |url: &str| at_token_url(r.clone(), url).map(|r| r.name().into_owned());
        assert_eq!(
            at("http://www.example.com/.well-known/pki-validation/a1b2C3.txt").unwrap(),
            "http://www.example.com/.well-known/pki-validation/a1b2C3.txt"
        );
        assert!(at("https://WWW.example.com/.well-known/pki-validation/x_y-z.1.txt").is_ok());
        for hostile in [
            "http://www.example.com/.well-known/other/a.txt",
            "http://www.example.com/.well-known/pki-validation/../a.txt",
            "http://www.example.com/.well-known/pki-validation/sub/a.txt",
            "http://www.example.com/.well-known/pki-validation/..txt",
            "http://www.example.com/.well-known/pki-validation/.txt",
            "http://www.example.com/.well-known/pki-validation/a.html",
            "http://www.example.com/.well-known/pki-validation/a.txt?x=1",
            "http://www.example.com/.well-known/pki-validation/a.txt#f",
            "http://www.example.com/.well-known/pki-validation/%2e%2e.txt",
            "http://www.example.com:8080/.well-known/pki-validation/a.txt",
            "http://evil.example.net/.well-known/pki-validation/a.txt",
            "http://user@www.example.com/.well-known/pki-validation/a.txt",
            "ftp://www.example.com/.well-known/pki-validation/a.txt",
            "/.well-known/pki-validation/a.txt",
            "",
        ] {
            let err = at(hostile).unwrap_err();
            assert_eq!(err.kind(), crate::error::Kind::DataErr, "{hostile}");
        }
    }

    #[test]
    fn methods_parse_with_odd_hyphens() {
        assert_eq!(
            Method::parse("dns\u{2011}txt\u{2011}token").unwrap(),
            Method::DnsTxtToken
        );
        assert_eq!(Method::parse("HTTP-TOKEN").unwrap(), Method::HttpToken);
        assert_eq!(
            Method::parse("email").unwrap_err().kind(),
            crate::error::Kind::Usage
        );
    }

    #[test]
    fn placement_follows_the_contract() {
        let d = |s| DomainName::parse(s).unwrap();
        let table = [
            (
                Method::DnsTxtToken,
                TxtName::Apex,
                "*.example.com",
                "TXT",
                "example.com",
                "tok",
            ),
            (
                Method::DnsTxtToken,
                TxtName::Dnsauth,
                "example.com",
                "TXT",
                "_dnsauth.example.com",
                "tok",
            ),
            (
                Method::DnsCnameToken,
                TxtName::Apex,
                "www.example.com",
                "CNAME",
                "_dnsauth.www.example.com",
                "tok.dcv.digicert.com",
            ),
            (
                Method::HttpToken,
                TxtName::Apex,
                "www.example.com",
                "HTTP",
                "http://www.example.com/.well-known/pki-validation/fileauth.txt",
                "tok",
            ),
        ];
        for (method, txt, domain, rtype, name, value) in table {
            let r = placement(method, txt, &d(domain), "tok").unwrap();
            assert_eq!(
                (r.type_name(), r.name().as_ref(), r.value.as_str()),
                (rtype, name, value),
                "{method} {domain}"
            );
        }
        let err =
            placement(Method::HttpToken, TxtName::Apex, &d("*.example.com"), "tok").unwrap_err();
        assert_eq!(err.kind(), crate::error::Kind::DataErr);
        assert!(placement(Method::DnsTxtToken, TxtName::Apex, &d("a.com"), "has space").is_err());
    }
}
