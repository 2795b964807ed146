# syntax=docker/dockerfile:1
# sipwarden, the appliance image.
#
#   docker build -t sipwarden .        the release server and the hydrated console, built here
#   docker compose up                  the appliance beside Asterisk 22 (docker-compose.yml)
#
# Stages: `build` compiles everything from source (what a user with Docker runs). `prebuilt`
# takes a server binary and console that were already built on the host (`make image`: CI
# must not compile the workspace a second time inside a container). `ARTIFACTS` picks one;
# the runtime stage at the end is the same whichever it is.
ARG ARTIFACTS=build

# ---- build: compile from source ---------------------------------------------------------------
FROM rust:1.95-bookworm AS build
# The browser bundle needs wasm32, wasm-bindgen of exactly the lockfile's version, and npm's
# binaryen 132 (Debian's binaryen 108 produces bundles that do not hydrate).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpcap-dev nodejs npm \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add wasm32-unknown-unknown
WORKDIR /src
COPY Cargo.lock ./
RUN version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3 }' Cargo.lock)" \
 && cargo install wasm-bindgen-cli --version "$version" --root /opt/tools \
 && npm install --silent --prefix /opt/tools/npm binaryen@132
ENV PATH=/opt/tools/bin:/opt/tools/npm/node_modules/.bin:$PATH
COPY . .
RUN cargo build --locked -p frontend --lib --target wasm32-unknown-unknown --profile wasm-release \
 && mkdir -p /out/site/pkg \
 && wasm-bindgen --target web --no-typescript --out-dir /out/site/pkg --out-name sipwarden \
      target/wasm32-unknown-unknown/wasm-release/frontend.wasm \
 && wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
      /out/site/pkg/sipwarden_bg.wasm -o /out/site/pkg/sipwarden.wasm \
 && rm /out/site/pkg/sipwarden_bg.wasm \
 && cp -r assets/. /out/site/ \
 && cargo build --locked --release -p backend --bin sipwarden \
 && mkdir -p /out/bin \
 && strip -o /out/bin/sipwarden target/release/sipwarden

# ---- prebuilt: what `make image` built on the host (the same steps as above) --------------------
FROM scratch AS prebuilt
COPY target/docker/sipwarden /out/bin/sipwarden
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
# conntrack) and NET_RAW (live capture) as *permitted* file capabilities: they take effect only
# when the container is given them (`cap_add`), and sipwarden itself raises them and hands them
# to `nft`/`conntrack`. Without them the container still starts and says what is missing.
# Copied and capped in one step (a bind mount, not COPY): a setcap after a COPY would store
# the binary in a second layer.
# ARTIFACTS_ID (a hash of the artifacts; `make image` passes it) is part of this step's cache
# key: Podman/buildah reuse a cached RUN whatever its bind mount holds, and would keep an old
# binary. BuildKit needs no help (unset, it changes nothing).
ARG ARTIFACTS_ID=
RUN --mount=type=bind,from=artifacts,source=/out,target=/tmp/artifacts \
    echo "artifacts ${ARTIFACTS_ID:-built here}" \
 && cp -r /tmp/artifacts/site /usr/share/sipwarden/site \
 && install -m 0755 /tmp/artifacts/bin/sipwarden /usr/local/bin/sipwarden \
 && setcap cap_net_admin,cap_net_raw+p /usr/local/bin/sipwarden \
 && dpkg --purge libcap2-bin \
 && sipwarden --version

ENV SIPWARDEN_DATA_DIR=/data \
    SIPWARDEN_LISTEN=0.0.0.0:8080 \
    SIPWARDEN_SITE_DIR=/usr/share/sipwarden/site \
    SIPWARDEN_ASTERISK_CONFIG_DIR=/etc/asterisk \
    SIPWARDEN_ASTERISK_BOOTSTRAP=true
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
# `healthcheck` asks the running server's /healthz (the database included) on SIPWARDEN_LISTEN.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["sipwarden", "healthcheck"]
# sipwarden handles SIGTERM itself (finishes requests in flight, then exits 0).
STOPSIGNAL SIGTERM
ENTRYPOINT ["sipwarden"]
CMD ["serve"]
