# syntax=docker/dockerfile:1
# sipwarden, the appliance image.
#
#   docker build -t sipwarden .        the release server and the hydrated console, built here
#   docker compose up                  the appliance beside Asterisk 22 (docker-compose.yml)
#
# Stages: `build` compiles everything from source (what a user with Docker runs). `prebuilt`
# takes a server binary and console that were already built on the host (`make image`: CI
# must not compile the workspace a second time inside a container). `ARTIFACTS` picks one;
# the runtime stage at the end is the same whichever it is. Podman (buildah 1.28) skips a stage
# it only reaches through this argument's default: spell it out there,
# `podman build --build-arg ARTIFACTS=build .` (`make image-from-source`).
ARG ARTIFACTS=build

# ---- build: compile from source ---------------------------------------------------------------
# The same `make artifacts` that builds the image's contents on the host for CI (`make image`),
# so the two recipes cannot drift apart.
FROM rust:1.95-bookworm AS build
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpcap-dev nodejs npm \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add wasm32-unknown-unknown
WORKDIR /src
COPY . .
# Build caches (BuildKit and Podman keep them between builds, never in the image): the cargo
# registry, the target directory (a rebuild after a change compiles only what changed) and the
# browser bundle's tools that `make` installs (wasm-bindgen of exactly the lockfile's version,
# npm's binaryen; reinstalled only when their pinned versions change). The artifacts are
# copied out of the target cache.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    --mount=type=cache,target=/var/cache/sipwarden \
    make artifacts CARGO_BUILD_FLAGS=--locked \
 && mkdir -p /out/bin \
 && cp target/docker/sipwarden /out/bin/sipwarden \
 && cp target/docker/artifacts.id /out/id \
 && cp -r target/site /out/site

# ---- prebuilt: what `make artifacts` built on the host (`make image`) -----------------------------
FROM scratch AS prebuilt
COPY target/docker/sipwarden /out/bin/sipwarden
COPY target/docker/artifacts.id /out/id
COPY target/site /out/site

# ---- the artifacts the runtime takes: `build` or `prebuilt` -------------------------------------
# hadolint ignore=DL3006
FROM ${ARTIFACTS} AS artifacts

# ---- runtime --------------------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
# nftables and conntrack: the firewall and the bans; libpcap: the guard's live SIP capture;
# ca-certificates: outgoing TLS; libcap2-bin: only for the setcap below.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends nftables conntrack libpcap0.8 ca-certificates libcap2-bin \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/debconf/*-old /usr/share/doc/* /usr/share/man/* \
 && groupadd --system --gid 10001 sipwarden \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home --shell /usr/sbin/nologin sipwarden \
 && mkdir -p /data /etc/asterisk /usr/share/sipwarden \
 && chown sipwarden:sipwarden /data /etc/asterisk \
 && chmod 0750 /data /etc/asterisk
# The process runs as the unprivileged user `sipwarden`. Its binary carries NET_ADMIN (nft,
# conntrack), NET_RAW (live capture) and SYS_NICE (the ban path's priority) as *permitted*
# file capabilities: they take effect only
# when the container is given them (`cap_add`), and sipwarden itself raises them and hands them
# to `nft`/`conntrack`. Without them the container still starts and says what is missing.
# Copied and capped in one step (a bind mount, not COPY): a setcap after a COPY would store
# the binary in a second layer.
# The artifacts' hash (`make artifacts` writes it) is copied first: Podman/buildah reuse a
# cached RUN whatever its bind mount holds, so without a layer that changes with the
# artifacts a rebuild would keep the old binary. It stays in the image as its build id.
COPY --from=artifacts /out/id /usr/share/sipwarden/artifacts.id
RUN --mount=type=bind,from=artifacts,source=/out,target=/tmp/artifacts \
    echo "artifacts $(cat /usr/share/sipwarden/artifacts.id)" \
 && cp -r /tmp/artifacts/site /usr/share/sipwarden/site \
 && install -m 0755 /tmp/artifacts/bin/sipwarden /usr/local/bin/sipwarden \
 && setcap cap_net_admin,cap_net_raw,cap_sys_nice+p /usr/local/bin/sipwarden \
 && dpkg --purge libcap2-bin \
 && sipwarden --version

ENV SIPWARDEN_DATA_DIR=/data \
    SIPWARDEN_LISTEN=0.0.0.0:8443 \
    SIPWARDEN_SITE_DIR=/usr/share/sipwarden/site \
    SIPWARDEN_ASTERISK_CONFIG_DIR=/etc/asterisk \
    SIPWARDEN_ASTERISK_BOOTSTRAP=true
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
# HTTPS: beyond loopback sipwarden serves only HTTPS, with a self-signed certificate made
# at first start in /data/tls unless SIPWARDEN_TLS_CERT_FILE/_KEY_FILE name one.
EXPOSE 8443
# `healthcheck` asks the running server's /healthz (the database included) on SIPWARDEN_LISTEN,
# over HTTPS when the server serves it.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["sipwarden", "healthcheck"]
# sipwarden handles SIGTERM itself (finishes requests in flight, then exits 0).
STOPSIGNAL SIGTERM
ENTRYPOINT ["sipwarden"]
CMD ["serve"]
