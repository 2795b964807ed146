//! The `sipwarden` program for the end-to-end tests: the very same entry point as
//! `backend`'s `sipwarden` binary (`backend::cli::run`), built by `cargo test` itself.
//!
//! Why a second name for the same program: integration tests may only ask cargo to build the
//! binaries of their own package. Building `backend`'s binary from the tests instead needed a
//! nested `cargo build` with different feature unification, which compiled the whole
//! dependency graph a second time (several minutes of a cold `make test`).

fn main() -> std::process::ExitCode {
    backend::cli::run()
}
