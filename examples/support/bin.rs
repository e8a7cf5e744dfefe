//! Where the benchmarks find the dcv-hook binary they measure.

use std::path::{Path, PathBuf};

/// The release dcv-hook next to this example (target/release/examples/bench_x ->
/// target/release/dcv-hook).
pub fn find_dcv_hook() -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    let path = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("dcv-hook"))
        .expect("the example runs from target/<profile>/examples");
    assert!(
        path.is_file(),
        "no {}: build it first with `cargo build --release`",
        path.display()
    );
    path
}
