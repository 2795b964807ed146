# Not shipped, and never used where a registry is reachable.
#
# The Dockerfile's `build` stage starts `FROM rust:1.95-bookworm`. This machine has no registry,
# so `make image-from-source` builds this stand-in under that name: the bookworm base image
# (made with debootstrap, see the Makefile), the compilers the official image has, and this
# machine's own Rust toolchain and CA certificates (the network here re-signs TLS; the official
# image needs neither). Paths and variables are the official image's: RUSTUP_HOME, CARGO_HOME,
# cargo on PATH.
#
#   podman build -v <toolchain>:/host/toolchain:ro -v <rustup>:/host/rustup:ro \
#     -v /usr/local/share/ca-certificates:/host/ca:ro -t docker.io/library/rust:1.95-bookworm \
#     -f docker/ci/rust-stand-in.Dockerfile docker/ci
FROM debian:bookworm-slim
ENV RUSTUP_HOME=/usr/local/rustup \
    CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl git gcc g++ libc6-dev make pkg-config xz-utils \
 && rm -rf /var/lib/apt/lists/* \
 && cp /host/ca/*.crt /usr/local/share/ca-certificates/ \
 && update-ca-certificates \
 && mkdir -p "$RUSTUP_HOME/toolchains" "$CARGO_HOME/bin" \
 && cp -a /host/toolchain "$RUSTUP_HOME/toolchains/1.95.0-x86_64-unknown-linux-gnu" \
 && rm -rf "$RUSTUP_HOME/toolchains/1.95.0-x86_64-unknown-linux-gnu/share/doc" \
 && install -m 0755 /host/rustup "$CARGO_HOME/bin/rustup" \
 && for tool in cargo rustc rustdoc; do ln -s rustup "$CARGO_HOME/bin/$tool"; done \
 && printf 'version = "12"\ndefault_toolchain = "1.95.0-x86_64-unknown-linux-gnu"\nprofile = "minimal"\n' \
      > "$RUSTUP_HOME/settings.toml" \
 && cargo --version
