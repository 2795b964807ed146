//! The `sipwarden` binary: everything is in the library; this only runs the CLI.

fn main() -> std::process::ExitCode {
    backend::cli::run()
}
