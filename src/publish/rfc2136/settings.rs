//! The rfc2136 provider's settings: its flags, and the one place they are resolved and checked
//! (flag or env, then the certbot ini, then what the state remembered for cleanup, then defaults),
//! with no network beyond resolving a server given by name.

use super::Undo;
use crate::error::{Error, Result};
use crate::publish::Setup;
use crate::publish::credentials::{self, Ini};
use crate::secret::Secret;
use hickory_proto::rr::rdata::tsig::TsigAlgorithm;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The algorithms hickory can sign with, in the spelling BIND's `tsig-keygen -a` uses.
pub(super) const SUPPORTED: &str = "hmac-sha256, hmac-sha384, hmac-sha512";

const HEADING: &str = "Provider: rfc2136";

/// The rfc2136 flags.
#[derive(Clone, Debug, Default, clap::Args, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Rfc2136Args {
    /// Primary DNS server that takes RFC2136 updates, HOST[:PORT].
    #[arg(long, value_name = "HOST[:PORT]", help_heading = HEADING)]
    pub rfc2136_server: Option<String>,
    /// TSIG key name.
    #[arg(long, value_name = "NAME", help_heading = HEADING)]
    #[serde(alias = "tsig-key")] // the names in state files of 0.1.0
    pub tsig_key: Option<String>,
    /// File holding the base64 TSIG secret (or env DCV_TSIG_SECRET).
    #[arg(long, value_name = "FILE", help_heading = HEADING)]
    #[serde(alias = "tsig-secret-file")]
    pub tsig_secret_file: Option<PathBuf>,
    /// TSIG algorithm: hmac-sha256, hmac-sha384, hmac-sha512 [default: hmac-sha256].
    #[arg(long, value_name = "ALG", help_heading = HEADING)]
    #[serde(alias = "tsig-algorithm")]
    pub tsig_algorithm: Option<String>,
    /// Zone to update, skipping SOA discovery (for views or split horizons).
    #[arg(long, value_name = "ZONE", help_heading = HEADING)]
    pub rfc2136_zone: Option<String>,
    /// certbot-dns-rfc2136 credentials ini (dns_rfc2136_server, _port, _name, _secret, _algorithm).
    #[arg(long, value_name = "FILE", help_heading = HEADING)]
    #[serde(alias = "rfc2136-credentials")]
    pub rfc2136_credentials: Option<PathBuf>,
}

/// The settings from `args` and the environment; for cleanup, what auth recorded stands in for a
/// flag that was not given (and the server auth resolved, for one given nowhere else). Also returns
/// the flags to record with each record (files by absolute path; a secret never, only where to
/// read it).
pub(super) fn resolve(
    setup: &Setup,
    args: &Rfc2136Args,
    remembered: Undo,
) -> Result<(Rfc2136Settings, Rfc2136Args)> {
    let mut given = crate::publish::or_remembered(args.clone(), Some(&remembered.settings))?;
    let absolute = |file: PathBuf| PathBuf::from(crate::publish::recorded_path(&file));
    given.rfc2136_credentials = given.rfc2136_credentials.map(absolute);
    given.tsig_secret_file = given.tsig_secret_file.map(absolute);
    let from_ini = match &given.rfc2136_credentials {
        Some(path) => Some(from_ini(&credentials::read_ini(path, INI_PREFIX)?)?),
        None => None,
    };
    let server = match (&given.rfc2136_server, &from_ini, &remembered.server) {
        (Some(text), _, _) => server_address(setup, text)?,
        (None, Some(ini), _) => ini.server,
        (None, None, Some(recorded)) => server_address(setup, recorded)?,
        (None, None, None) => {
            return Err(Error::usage(
                "--provider rfc2136 needs --rfc2136-server HOST[:PORT] (or --rfc2136-credentials FILE)",
            ));
        }
    };
    let key_name = match (&given.tsig_key, &from_ini) {
        (Some(k), _) => k.clone(),
        (None, Some(ini)) => ini.key_name.clone(),
        (None, None) => return Err(Error::usage("--provider rfc2136 needs --tsig-key NAME")),
    };
    let secret = secret(
        setup,
        args,
        from_ini.as_ref(),
        given.tsig_secret_file.as_deref(),
    )?;
    let mut settings = Rfc2136Settings::new(server, key_name, secret);
    if let Some(alg) = (given.tsig_algorithm.clone()).or_else(|| from_ini.map(|ini| ini.algorithm))
    {
        settings.algorithm = alg;
    }
    settings.zone = given.rfc2136_zone.clone();
    settings.ttl = setup.ttl;
    // The server is recorded as resolved, beside these (`Undo::server`).
    given.rfc2136_server = None;
    Ok((settings, given))
}

/// The TSIG secret: `--tsig-secret-file`, env `DCV_TSIG_SECRET`, the certbot ini, then the file
/// the state remembered (the environment wins over the memory).
fn secret(
    setup: &Setup,
    args: &Rfc2136Args,
    from_ini: Option<&Rfc2136Settings>,
    remembered_file: Option<&Path>,
) -> Result<Secret> {
    match (
        &args.tsig_secret_file,
        setup.env.var("DCV_TSIG_SECRET"),
        from_ini,
        remembered_file,
    ) {
        (Some(path), _, _, _) => credentials::read_secret_file(path, "--tsig-secret-file"),
        (None, Some(env), _, _) => Ok(Secret::new(env)),
        (None, None, Some(ini), _) => Ok(ini.secret.clone()),
        (None, None, None, Some(path)) => credentials::read_secret_file(path, "--tsig-secret-file"),
        (None, None, None, None) => Err(Error::config(
            "no TSIG secret: pass --tsig-secret-file FILE or set DCV_TSIG_SECRET (base64)",
        )),
    }
}

/// `HOST[:PORT]` as a socket address: an IP directly, a host name through the resolver.
fn server_address(setup: &Setup, text: &str) -> Result<SocketAddr> {
    if let Some(addr) = crate::resolver::parse_server(text, 53) {
        return Ok(addr);
    }
    let (host, port) = match text.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| Error::usage(format!("--rfc2136-server {text:?}: bad port")))?,
        ),
        None => (text, 53),
    };
    let ip = (setup.resolver)()?
        .addresses(host)
        .map_err(|e| e.context(format!("--rfc2136-server {host}")))?[0];
    Ok(SocketAddr::new(ip, port))
}

/// Everything the provider needs, resolved and defaulted before any I/O.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rfc2136Settings {
    /// The primary server that accepts UPDATEs.
    pub server: SocketAddr,
    pub key_name: String,
    /// The TSIG secret, base64.
    pub secret: Secret,
    /// The TSIG algorithm as the user wrote it (`hmac-sha256`, `HMAC-SHA512`, `sha384`, ...).
    pub algorithm: String,
    /// The zone to update; `None` finds it with the SOA walk.
    pub zone: Option<String>,
    pub ttl: u32,
    /// The longest one UPDATE (or the question before it) may take.
    pub timeout: Duration,
}

impl Rfc2136Settings {
    /// Settings with the defaults: hmac-sha256, zone from the SOA walk, TTL 60, 10 s timeout.
    pub fn new(server: SocketAddr, key_name: impl Into<String>, secret: Secret) -> Self {
        Rfc2136Settings {
            server,
            key_name: key_name.into(),
            secret,
            algorithm: "hmac-sha256".into(),
            zone: None,
            ttl: 60,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Reads a certbot-dns-rfc2136 credentials file as certbot writes it (the shared certbot ini reader:
/// quoted values, comments, every missing required key named in one `DataErr`).
pub fn parse_certbot_ini(text: &str) -> Result<Rfc2136Settings> {
    from_ini(&Ini::parse(
        text,
        Path::new("(rfc2136 credentials)"),
        INI_PREFIX,
    )?)
}

/// The key prefix of a certbot-dns-rfc2136 credentials file.
const INI_PREFIX: &str = "dns_rfc2136";

fn from_ini(ini: &Ini) -> Result<Rfc2136Settings> {
    ini.require(&["server", "name", "secret"])?;
    let bad = |key: &str, why: &str| {
        Error::data(format!(
            "credentials file {}: {} {why}; fix the file",
            ini.path().display(),
            ini.full_key(key)
        ))
    };
    let port = match ini.get("port") {
        None => 53,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| bad("port", &format!("{p:?} is not a port number")))?,
    };
    let server_text = ini.get("server").unwrap_or_default();
    // certbot takes an IP address and a separate port; an explicit port would be ambiguous.
    let server = server_text
        .parse::<std::net::IpAddr>()
        .map(|ip| SocketAddr::new(ip, port))
        .map_err(|_| bad("server", &format!("{server_text:?} is not an IP address")))?;
    let mut settings = Rfc2136Settings::new(
        server,
        ini.get("name").unwrap_or_default(),
        ini.secret("secret").unwrap_or_else(|| Secret::new("")),
    );
    if let Some(algorithm) = ini.get("algorithm") {
        settings.algorithm = algorithm.to_string();
    }
    Ok(settings)
}

/// Maps a user's algorithm name to hickory's; refuses those hickory cannot sign with.
pub fn parse_algorithm(text: &str) -> Result<TsigAlgorithm> {
    let name = text.trim().trim_end_matches('.').to_ascii_lowercase();
    let bare = name.strip_prefix("hmac-").unwrap_or(&name);
    let algorithm = match bare {
        "sha256" => TsigAlgorithm::HmacSha256,
        "sha384" => TsigAlgorithm::HmacSha384,
        "sha512" => TsigAlgorithm::HmacSha512,
        "md5" | "md5.sig-alg.reg.int" | "sha1" | "sha224" => {
            return Err(Error::config(format!(
                "rfc2136: tsig algorithm {text} is not supported (the DNS library signs only with {SUPPORTED}); generate a key with `tsig-keygen -a hmac-sha256` and pass --tsig-algorithm"
            )));
        }
        _ => {
            return Err(Error::config(format!(
                "rfc2136: unknown tsig algorithm {text:?}; use one of {SUPPORTED}"
            )));
        }
    };
    Ok(algorithm)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = "# Target DNS server (IPv4 or IPv6 address, not a hostname)
dns_rfc2136_server = 192.0.2.1
# Target DNS port
dns_rfc2136_port = 5353
# TSIG key name
dns_rfc2136_name = keyname.
; TSIG key secret
dns_rfc2136_secret = \"4q4wM/2I180UXoMyN4INVhJNi8V9BCV+jMw2mXgZw/CSuxUT8C7NKKFs\"

dns_rfc2136_algorithm = HMAC-SHA512
dns_rfc2136_sign_query = false
";

    /// One certbot ini row: the file, and the settings it gives (server, key name, algorithm) or
    /// words its error must contain.
    struct Case {
        desc: &'static str,
        text: &'static str,
        want: std::result::Result<(&'static str, &'static str, &'static str), &'static str>,
    }

    /// Checks each row: the settings read, or a `DataErr` saying the words and never the secret.
    fn check_certbot_ini(cases: &[Case]) {
        for case in cases {
            let got = parse_certbot_ini(case.text);
            match (got, case.want) {
                (Ok(s), Ok((server, key, algorithm))) => {
                    assert_eq!(s.server.to_string(), server, "{}", case.desc);
                    assert_eq!(s.key_name, key, "{}", case.desc);
                    assert_eq!(s.algorithm, algorithm, "{}", case.desc);
                    assert_eq!(s.ttl, 60, "{}", case.desc);
                }
                (Err(e), Err(want)) => {
                    assert_eq!(e.kind(), crate::error::Kind::DataErr, "{}", case.desc);
                    assert!(
                        e.message().to_ascii_lowercase().contains(want),
                        "{}: {e}",
                        case.desc
                    );
                    assert!(
                        !e.message().contains("4q4wM"),
                        "{}: secret leaked",
                        case.desc
                    );
                }
                (got, want) => panic!("{}: got {got:?}, want {want:?}", case.desc),
            }
        }
    }

    #[test]
    fn certbot_ini_settings_table() {
        check_certbot_ini(&[
            Case {
                desc: "certbot's documented example, quoted secret, unknown key ignored",
                text: FULL,
                want: Ok(("192.0.2.1:5353", "keyname.", "HMAC-SHA512")),
            },
            Case {
                desc: "defaults: port 53, hmac-sha256",
                text: "dns_rfc2136_server=2001:db8::1\ndns_rfc2136_name=k\ndns_rfc2136_secret=AAAA\n",
                want: Ok(("[2001:db8::1]:53", "k", "hmac-sha256")),
            },
        ]);
    }

    #[test]
    fn certbot_ini_missing_keys_table() {
        check_certbot_ini(&[
            Case {
                desc: "every missing key in one message",
                text: "# nothing\n\ndns_rfc2136_port = 53\n",
                want: Err(
                    "missing properties dns_rfc2136_server, dns_rfc2136_name, dns_rfc2136_secret",
                ),
            },
            Case {
                desc: "empty value counts as missing",
                text: "dns_rfc2136_server = 192.0.2.1\ndns_rfc2136_name =\ndns_rfc2136_secret = AAAA\n",
                want: Err("dns_rfc2136_name (empty)"),
            },
        ]);
    }

    #[test]
    fn certbot_ini_bad_values_and_lines_table() {
        check_certbot_ini(&[
            Case {
                desc: "hostname server",
                text: "dns_rfc2136_server = ns.example.com\ndns_rfc2136_name = k\ndns_rfc2136_secret = AAAA\n",
                want: Err("is not an ip address"),
            },
            Case {
                desc: "bad port",
                text: "dns_rfc2136_server = 192.0.2.1\ndns_rfc2136_port = http\ndns_rfc2136_name = k\ndns_rfc2136_secret = AAAA\n",
                want: Err("is not a port number"),
            },
            Case {
                desc: "line without equals",
                text: "dns_rfc2136_server 192.0.2.1\n",
                want: Err("line 1"),
            },
        ]);
    }

    #[test]
    fn secret_from_ini_is_unquoted_and_hidden() {
        let s = parse_certbot_ini(FULL).unwrap();
        assert!(s.secret.expose().starts_with("4q4wM"));
        assert!(!format!("{s:?}").contains("4q4wM"));
    }

    #[test]
    fn algorithms_table() {
        let table = [
            ("hmac-sha256", Some(TsigAlgorithm::HmacSha256)),
            ("HMAC-SHA512", Some(TsigAlgorithm::HmacSha512)),
            ("sha384", Some(TsigAlgorithm::HmacSha384)),
            ("hmac-sha256.", Some(TsigAlgorithm::HmacSha256)),
            ("HMAC-MD5", None),
            ("hmac-md5.sig-alg.reg.int", None),
            ("hmac-sha1", None),
            ("hmac-sha224", None),
            ("rot13", None),
        ];
        for (text, want) in table {
            match (parse_algorithm(text), want) {
                (Ok(got), Some(want)) => assert_eq!(got, want, "{text}"),
                (Err(e), None) => {
                    assert_eq!(e.kind(), crate::error::Kind::Config, "{text}");
                    assert!(e.message().contains(SUPPORTED), "{text}: {e}");
                }
                (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
            }
        }
    }
}
