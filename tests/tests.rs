//! Integration tests, built as one binary (ripgrep style): each module below is one area.

// Test fixtures: the BIND pair on loopback (and, later, the CertCentral simulator).
mod support;

// The rfc2136 publisher and the DNS propagation check against real BIND servers.
mod rfc2136;
