//! The process environment behind a trait, read in one place, so tests can pass their own.

/// Reads the process environment once, so tests can pass their own.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

/// A made-up environment for tests.
#[cfg(test)]
pub struct FakeEnv(pub std::collections::HashMap<&'static str, &'static str>);

#[cfg(test)]
impl FakeEnv {
    pub fn of(pairs: &[(&'static str, &'static str)]) -> FakeEnv {
        FakeEnv(pairs.iter().copied().collect())
    }
}

#[cfg(test)]
impl Env for FakeEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).map(|s| s.to_string())
    }
}

/// The real environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}
