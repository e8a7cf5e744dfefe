//! Wire types of the CertCentral Services API v2, as far as DCV needs them.
//!
//! Every struct tolerates unknown fields and marks as optional whatever DigiCert's pages leave
//! unconfirmed, so a response shape that differs slightly still parses. Ids DigiCert's pages show as
//! strings in one answer and numbers in another are read either way (`number_or_string`).

use serde::{Deserialize, Serialize};

/// `{"errors":[{"code","message"}]}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ErrorBody {
    pub errors: Vec<ApiErrorItem>,
}

#[derive(Debug, Deserialize)]
pub struct ApiErrorItem {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
}

/// `PUT .../dcv-random-value`, `PUT .../dcv-method`.
#[derive(Debug, Deserialize)]
pub struct RandomValue {
    pub dcv_random_value: Option<String>,
}

/// One entry of `dns_name_validations`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct DnsNameValidation {
    /// A string in DigiCert's "Order validation status" example (`"domain_id": "1234"`).
    #[serde(
        default,
        deserialize_with = "number_or_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub domain_id: Option<u64>,
    #[serde(default, alias = "dns_name")]
    pub name_scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_scope: Option<String>,
    #[serde(default)]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default)]
    pub dns_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_expiration_date: Option<String>,
}

impl DnsNameValidation {
    pub fn is_approved(&self) -> bool {
        matches!(
            self.status.as_str(),
            "approved" | "valid" | "complete" | "completed" | "active"
        )
    }
}

/// `GET /order/certificate/{id}/validation`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct OrderValidation {
    /// A string in DigiCert's example (`"order_id": "112211"`).
    #[serde(deserialize_with = "number_or_string")]
    pub order_id: Option<u64>,
    pub order_status: Option<String>,
    pub order_dcv_method: Option<String>,
    pub dns_name_validations: Vec<DnsNameValidation>,
}

/// `PUT .../check-dcv` (200).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct CheckDcv {
    pub order_status: Option<String>,
    pub certificate_id: Option<u64>,
    pub dcv_status: Option<String>,
    pub dns_name_validations: Vec<DnsNameValidation>,
}

/// `GET /domain?filters[search]=NAME`, and `GET /domain` (paginated).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DomainList {
    pub domains: Vec<DomainSummary>,
    pub page: Option<Page>,
}

/// Where a paginated answer stands.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Page {
    pub total: u64,
    pub limit: u64,
    pub offset: u64,
}

/// When each validation type's reuse period ends: a date (`2026-12-02`) or, with
/// `include_dcv_expiration_time=true`, a date-time in UTC. A missing type has no completed validation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct DcvExpiration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ov: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ev: Option<String>,
}

impl DcvExpiration {
    /// The expiry of validation type `vtype` (`ov` or `ev`).
    pub fn of(&self, vtype: &str) -> Option<&str> {
        match vtype {
            "ov" => self.ov.as_deref(),
            "ev" => self.ev.as_deref(),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct DomainSummary {
    pub id: u64,
    #[serde(default)]
    pub name: String,
    pub is_active: Option<bool>,
    pub dcv_method: Option<String>,
    #[serde(default)]
    pub validations: Vec<DomainValidation>,
    pub dcv_expiration: Option<DcvExpiration>,
}

/// `GET /domain/{id}?include_dcv=true&include_validation=true`.
#[derive(Debug, Default, Deserialize)]
pub struct DomainInfo {
    pub id: u64,
    #[serde(default)]
    pub name: String,
    pub dcv_method: Option<String>,
    #[serde(default)]
    pub validations: Vec<DomainValidation>,
    pub dcv_token: Option<DcvToken>,
}

/// A DCV token as the domain endpoints return it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct DcvToken {
    pub token: Option<String>,
    pub status: Option<String>,
    pub expiration_date: Option<String>,
    pub verification_value: Option<String>,
    pub http_token_url: Option<String>,
}

/// `POST /domain/{id}/validation` (201).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SubmitValidation {
    pub dcv_token: Option<DcvToken>,
}

/// `PUT /domain/{id}/dcv/validate-token` (200).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ValidateToken {
    pub status: Option<String>,
}

/// One entry of `GET /domain/{id}/validation`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct DomainValidation {
    #[serde(rename = "type")]
    pub vtype: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dcv_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validated_until: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct DomainValidations {
    pub validations: Vec<DomainValidation>,
}

/// An id written as a JSON number or as a string of digits (DigiCert's pages show both); `null`
/// is no id. Anything else is an error, so a garbled answer is not read as "no id".
fn number_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Number(u64),
        Text(String),
    }
    match Option::<Id>::deserialize(d)? {
        None => Ok(None),
        Some(Id::Number(n)) => Ok(Some(n)),
        Some(Id::Text(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("an id must be digits, not {s:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerates_unknown_fields_and_missing_optionals() {
        let v: OrderValidation = serde_json::from_str(
            r#"{"order_id":1,"future":true,"dns_name_validations":[{"name_scope":"example.com","status":"pending","dns_names":["example.com","*.example.com"],"x":1}]}"#,
        )
        .unwrap();
        assert_eq!(v.dns_name_validations[0].dns_names.len(), 2);
        assert!(v.order_dcv_method.is_none());
        let t: ValidateToken = serde_json::from_str(r#"{"status":"active"}"#).unwrap();
        assert_eq!(t.status.as_deref(), Some("active"));
    }

    #[test]
    fn ids_are_read_as_numbers_or_digit_strings_and_nothing_else() {
        let ids = |json: &str| {
            serde_json::from_str::<OrderValidation>(json).map(|v| {
                let domain = v.dns_name_validations.first().and_then(|d| d.domain_id);
                (v.order_id, domain)
            })
        };
        let strings = r#"{"order_id":"112211","dns_name_validations":[{"domain_id":"1234"}]}"#;
        assert_eq!(ids(strings).unwrap(), (Some(112211), Some(1234)));
        let numbers = r#"{"order_id":112211,"dns_name_validations":[{"domain_id":1234}]}"#;
        assert_eq!(ids(numbers).unwrap(), (Some(112211), Some(1234)));
        assert_eq!(ids(r#"{"order_id":null}"#).unwrap(), (None, None));
        assert!(ids(r#"{"order_id":"12ab"}"#).is_err());
        assert!(ids(r#"{"order_id":-1}"#).is_err());
    }
}
