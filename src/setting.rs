//! One rule per setting value, for both places a value comes from: clap applies a rule to a flag
//! (`value_parser = rule`), serde applies the same rule to a config file's value
//! (`#[serde(deserialize_with = ...)]` through the wrappers here), so a value the command line
//! refuses the file refuses too, with the same words. A file may give a number as a TOML number or
//! as a string, as the flag's text.

use serde::Deserializer;

/// One value of a file, read as the text a flag would carry.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Integer(i64),
    Number(f64),
    Flag(bool),
}

impl Scalar {
    fn text(self) -> String {
        match self {
            Scalar::Text(t) => t,
            Scalar::Integer(n) => n.to_string(),
            Scalar::Number(n) => n.to_string(),
            Scalar::Flag(b) => b.to_string(),
        }
    }
}

/// A file's value given to `rule` as the text a flag would carry.
pub fn checked<'de, D: Deserializer<'de>, T>(
    de: D,
    rule: fn(&str) -> Result<T, String>,
) -> Result<Option<T>, D::Error> {
    let text = match <Scalar as serde::Deserialize>::deserialize(de) {
        Ok(Scalar::Flag(_)) | Err(_) => {
            return Err(serde::de::Error::custom("expected a string or a number"));
        }
        Ok(given) => given.text(),
    };
    rule(&text).map(Some).map_err(serde::de::Error::custom)
}

/// `--propagation-timeout`, `--poll-interval`, `--timeout`, `--api-timeout`, `--exec-timeout`.
pub fn seconds<'de, D: Deserializer<'de>>(de: D) -> Result<Option<f64>, D::Error> {
    checked(de, crate::dates::seconds_arg)
}

/// `--ttl`.
pub fn ttl<'de, D: Deserializer<'de>>(de: D) -> Result<Option<u32>, D::Error> {
    checked(de, crate::record::ttl_arg)
}

/// `--check-concurrency`: 1 to 64 checks in flight.
pub fn concurrency_arg(text: &str) -> Result<u32, String> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=64).contains(n))
        .ok_or_else(|| format!("must be a whole number from 1 to 64, not {text}"))
}

/// `--check-concurrency` in a file.
pub fn concurrency<'de, D: Deserializer<'de>>(de: D) -> Result<Option<u32>, D::Error> {
    checked(de, concurrency_arg)
}

/// A whole number a file may give as a number or a string (`--order-id`, `--http-port`, ...).
pub fn whole<'de, D: Deserializer<'de>, T: std::str::FromStr>(
    de: D,
) -> Result<Option<T>, D::Error> {
    checked(de, |text| {
        text.trim()
            .parse::<T>()
            .map_err(|_| format!("must be a whole number, not {text}"))
    })
}

/// A repeatable option in a file: one value or a list of them, each a string, number or boolean
/// (`resolver = "192.0.2.53"` or `resolver = ["192.0.2.53", "192.0.2.54"]`).
pub fn one_or_many<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<String>, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Given {
        One(Scalar),
        Many(Vec<Scalar>),
    }
    match <Given as serde::Deserialize>::deserialize(de) {
        Ok(Given::One(s)) => Ok(vec![s.text()]),
        Ok(Given::Many(items)) => Ok(items.into_iter().map(Scalar::text).collect()),
        Err(_) => Err(serde::de::Error::custom(
            "expected a string, number or boolean, or a list of them",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct S {
        #[serde(default, deserialize_with = "seconds")]
        s: Option<f64>,
        #[serde(default, deserialize_with = "ttl")]
        t: Option<u32>,
        #[serde(default, deserialize_with = "whole")]
        w: Option<u16>,
    }

    #[test]
    fn a_files_value_meets_the_flags_rule_as_a_number_or_a_string() {
        let read = |text: &str| toml::from_str::<S>(text);
        let ok = read("s = 2\nt = \"120\"\nw = 8080\n").unwrap();
        assert_eq!((ok.s, ok.t, ok.w), (Some(2.0), Some(120), Some(8080)));
        assert_eq!(read("s = \"0.5\"").unwrap().s, Some(0.5));
        for (bad, says) in [
            ("s = -1", "positive number of seconds"),
            ("t = 0", "--ttl must be between"),
            ("w = 70000", "whole number"),
            ("s = true", "expected a string or a number"),
        ] {
            let err = read(bad).unwrap_err().to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
