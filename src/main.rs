//! The dcv-hook binary: everything happens in `dcv_hook::app`; this only sets up the process (signal
//! handlers, the subreaper of what exec programs leave), hands over the arguments and returns the
//! exit code.

fn main() -> std::process::ExitCode {
    dcv_hook::signals::install();
    // What an exec program leaves behind comes back to us to be stopped (see publish/exec).
    dcv_hook::process::adopt_orphans();
    std::process::ExitCode::from(dcv_hook::app::main_with_args(std::env::args_os()))
}
