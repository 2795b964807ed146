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
# The API fuzzer `make test` runs against the real server (tests/tests/api_schemathesis.rs).
SCHEMATHESIS_VERSION := 4.32.5
FUZZ_SECONDS ?= 60
APT_PACKAGES := chromium chromium-driver nftables conntrack iproute2 iputils-ping libpcap-dev debootstrap sipvicious sqlite3 curl python3-venv

SITE := target/site
WASM_PROFILE := wasm-release
PROFILE ?= release

.PHONY: help run test deps apt-deps rust-deps py-deps site build-server lint unit-tests fmt fuzz

help:
	@echo "make run    build everything and start sipwarden on http://127.0.0.1:8080 (data in ./data)"
	@echo "make test   run every test: format, lints, unit, integration, browser, kernel, Asterisk"
	@echo "make fuzz   run each fuzz target for FUZZ_SECONDS (default 60)"

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

## ---- build ------------------------------------------------------------------------------

# The hydration bundle: plain cargo + wasm-bindgen (+ wasm-opt), no cargo-leptos needed.
site: rust-deps
	cargo build -p frontend --lib --target wasm32-unknown-unknown --profile $(WASM_PROFILE)
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
	$(MAKE) --no-print-directory unit-tests

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --exclude frontend --all-targets -- -D warnings
	cargo clippy -p frontend -p app --target wasm32-unknown-unknown --features app/hydrate -- -D warnings

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
