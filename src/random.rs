//! Unpredictable numbers, from the operating system's CSPRNG (`getrandom`): DNS message ids (a
//! spoofed UDP answer must guess the id before it can make a record look served) and the names of
//! probe files and records. Backoff jitter, which needs no secrecy, stays with `fastrand`.

/// A random `u16`, e.g. a DNS message id.
pub fn u16() -> u16 {
    let [a, b, ..] = u64().to_le_bytes();
    u16::from_le_bytes([a, b])
}

/// A random `u64`. The OS's generator does not fail once the system has booted; should it, the
/// process cannot go on safely, so it stops.
pub fn u64() -> u64 {
    getrandom::u64().expect("the operating system's random number generator failed")
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_differ_from_call_to_call() {
        let ids: std::collections::HashSet<u64> = (0..64).map(|_| super::u64()).collect();
        assert_eq!(ids.len(), 64);
        let ids: std::collections::HashSet<u16> = (0..8).map(|_| super::u16()).collect();
        assert!(ids.len() > 1);
    }
}
