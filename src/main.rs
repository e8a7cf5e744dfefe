//! The dcv-hook binary: everything happens in `dcv_hook::app`; this only hands over the arguments and
//! returns the exit code.

fn main() -> std::process::ExitCode {
    dcv_hook::signals::install();
    std::process::ExitCode::from(dcv_hook::app::main_with_args(std::env::args_os()))
}
