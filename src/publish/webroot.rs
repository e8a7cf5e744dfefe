//! Web root publisher (to be written).
