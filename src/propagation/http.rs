//! HTTP propagation check (to be written).
