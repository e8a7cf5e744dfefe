//! CertCentral's DCV endpoints as typed calls (see shared/certcentral-api.md).
//!
//! `client.rs` is the transport (key, timeouts, retries); `failure.rs` turns error answers into
//! errors; `types.rs` the wire types.
//! This file maps each endpoint the order and domain flows need to one method. Nothing else in
//! dcv-hook talks to DigiCert.

mod client;
mod failure;
pub mod ratelimit;
pub mod types;

pub use client::{Client, RetryPolicy};
use types::*;

use crate::error::{Error, Result};
use serde_json::json;

/// A domain's DCV token and, for http-token-dynamic, the URL of the file DigiCert chose (as DigiCert
/// sent it: untrusted until `dcv::at_token_url` accepts it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainToken {
    pub token: String,
    pub http_token_url: Option<String>,
}

/// The DCV part of the CertCentral API.
pub struct CertCentral {
    client: Client,
}

impl CertCentral {
    pub fn new(client: Client) -> CertCentral {
        CertCentral { client }
    }

    /// Bounds every later call, retries included, by `deadline` (see [`Client::set_deadline`]).
    pub fn set_deadline(&self, deadline: Option<std::time::Instant>) {
        self.client.set_deadline(deadline);
    }

    /// `GET /order/certificate/{id}/validation`.
    pub fn order_validation(&self, order_id: u64) -> Result<OrderValidation> {
        self.client
            .get(&format!("/order/certificate/{order_id}/validation"))
    }

    /// `PUT /order/certificate/{id}/dcv-random-value`: the order's current (or renewed) random value.
    pub fn order_random_value(&self, order_id: u64) -> Result<String> {
        let path = format!("/order/certificate/{order_id}/dcv-random-value");
        let value: Option<RandomValue> = self.client.put(&path, None)?;
        random_value(value, &path)
    }

    /// `PUT /order/certificate/{id}/dcv-method`: switches the order's method; returns the random value.
    pub fn set_order_method(&self, order_id: u64, method: &str) -> Result<String> {
        let path = format!("/order/certificate/{order_id}/dcv-method");
        let value: Option<RandomValue> = self
            .client
            .put(&path, Some(&json!({ "dcv_method": method })))?;
        match random_value(value, &path) {
            Ok(v) => Ok(v),
            // Some accounts answer the method change without a value: ask for it explicitly.
            Err(_) => self.order_random_value(order_id),
        }
    }

    /// `PUT /order/certificate/{id}/check-dcv`; with `names`, only those are checked
    /// (`dns_names_validations`), so names deliberately left out cannot fail the check.
    pub fn check_dcv(&self, order_id: u64, names: &[String]) -> Result<CheckDcv> {
        let path = format!("/order/certificate/{order_id}/check-dcv");
        let body = (!names.is_empty()).then(|| {
            json!({
                "dns_names_validations": names
                    .iter()
                    .map(|n| json!({"dns_name": n}))
                    .collect::<Vec<_>>()
            })
        });
        Ok(self.client.put(&path, body.as_ref())?.unwrap_or_default())
    }

    /// The domain whose name is `name` or, failing that, its closest parent (`GET /domain?filters[search]=`).
    pub fn find_domain(&self, name: &str) -> Result<DomainSummary> {
        // The name, then each parent but the top-level domain.
        let candidates = crate::record::name_and_parents(name.trim_start_matches("*."))
            .enumerate()
            .filter(|(i, c)| *i == 0 || c.contains('.'));
        for (_, candidate) in candidates {
            let list: DomainList = self
                .client
                .get(&format!("/domain?filters[search]={candidate}"))?;
            if let Some(found) = list
                .domains
                .into_iter()
                .find(|d| d.name.eq_ignore_ascii_case(candidate))
            {
                return Ok(found);
            }
        }
        Err(Error::data(format!(
            "no CertCentral domain matches {name} or a parent of it; add the domain in CertCentral or pass --domain-id"
        )))
    }

    /// Every domain of the account (`GET /domain`, 1000 a page), with each validation type's
    /// expiry as a date-time.
    pub fn list_domains(&self) -> Result<Vec<DomainSummary>> {
        const LIMIT: u64 = 1000;
        let mut all: Vec<DomainSummary> = Vec::new();
        loop {
            let offset = all.len() as u64;
            let list: DomainList = self.client.get(&format!(
                "/domain?limit={LIMIT}&offset={offset}&include_dcv_expiration_time=true"
            ))?;
            let got = list.domains.len() as u64;
            all.extend(list.domains);
            let total = list.page.map_or(0, |p| p.total);
            // Done when the page says so, or a short (or empty) page shows the end.
            if got == 0
                || got < LIMIT.min(list.page.map_or(LIMIT, |p| p.limit.max(1)))
                || all.len() as u64 >= total
            {
                return Ok(all);
            }
        }
    }

    /// `GET /domain/{id}?include_dcv=true&include_validation=true`.
    pub fn domain(&self, domain_id: u64) -> Result<DomainInfo> {
        self.client.get(&format!(
            "/domain/{domain_id}?include_dcv=true&include_validation=true"
        ))
    }

    /// `POST /domain/{id}/validation`: submits the domain for validation; the token when one came back.
    pub fn submit_domain_validation(
        &self,
        domain_id: u64,
        types: &[String],
        method: &str,
    ) -> Result<Option<DcvToken>> {
        let validations: Vec<_> = types.iter().map(|t| json!({ "type": t })).collect();
        let body = json!({ "validations": validations, "dcv_method": method });
        let answer: Option<SubmitValidation> = self
            .client
            .post(&format!("/domain/{domain_id}/validation"), Some(&body))?;
        Ok(answer
            .and_then(|a| a.dcv_token)
            .filter(|t| t.token.as_deref().is_some_and(|s| !s.is_empty())))
    }

    /// Submits the domain for validation and returns its DCV token, with the file DigiCert chose
    /// when it said (`http_token_url`): the token the submission answered with, or (on 204 or no
    /// token) a new one from `POST /domain/{id}/dcv/token`.
    pub fn submit_for_domain_token(
        &self,
        domain_id: u64,
        types: &[String],
        method: &str,
    ) -> Result<DomainToken> {
        match self
            .submit_domain_validation(domain_id, types, method)?
            .and_then(usable)
        {
            Some(token) => Ok(token),
            None => self.new_domain_token(domain_id),
        }
    }

    /// `POST /domain/{id}/dcv/token`: a new token, replacing the previous one.
    pub fn new_domain_token(&self, domain_id: u64) -> Result<DomainToken> {
        let path = format!("/domain/{domain_id}/dcv/token");
        let answer: Option<DcvToken> = self.client.post(&path, None)?;
        answer.and_then(usable).ok_or_else(|| {
            Error::unavailable(format!(
                "certcentral: POST {path} returned no token; try again later"
            ))
        })
    }

    /// `PUT /domain/{id}/dcv/validate-token`.
    pub fn validate_domain_token(&self, domain_id: u64) -> Result<ValidateToken> {
        let path = format!("/domain/{domain_id}/dcv/validate-token");
        Ok(self.client.put(&path, None)?.unwrap_or_default())
    }

    /// `GET /domain/{id}/validation`.
    pub fn domain_validations(&self, domain_id: u64) -> Result<DomainValidations> {
        self.client.get(&format!("/domain/{domain_id}/validation"))
    }
}

/// `token` when it holds one (an empty token is none).
fn usable(token: DcvToken) -> Option<DomainToken> {
    Some(DomainToken {
        token: token.token.filter(|t| !t.is_empty())?,
        http_token_url: token.http_token_url,
    })
}

fn random_value(value: Option<RandomValue>, path: &str) -> Result<String> {
    value
        .and_then(|v| v.dcv_random_value)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            Error::unavailable(format!(
                "certcentral: PUT {path} returned no dcv_random_value (is the order's method email?); pass --method"
            ))
        })
}
