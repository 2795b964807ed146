#!/usr/bin/env bash
# Creates (or reuses) a Debian sid tree with Asterisk 22 for the end-to-end tests and prints its
# path on stdout (progress goes to stderr).
#
# Why a separate tree: Debian bookworm has no Asterisk package, and sid's Asterisk needs sid's
# libc, so it runs chrooted in its own debootstrapped tree (see shared notes on Asterisk in
# tests). The tree is cached outside the repository so only the first run on a machine pays.
#
# Usage: scripts/asterisk-rootfs.sh          build if missing, print the path
#        scripts/asterisk-rootfs.sh --path   print the path it would use, build nothing
#
# Environment:
#   SIPWARDEN_ASTERISK_ROOT   the tree's path (default /var/cache/sipwarden/asterisk-rootfs-KEY)
#   SIPWARDEN_DEBIAN_MIRROR   Debian mirror (default http://deb.debian.org/debian)
set -euo pipefail

# Bump this whenever the recipe below changes: a new key means a new tree, so a stale tree built
# by an older recipe is never mistaken for a current one.
RECIPE_KEY="sid-asterisk22-v1"

ROOT="${SIPWARDEN_ASTERISK_ROOT:-/var/cache/sipwarden/asterisk-rootfs-${RECIPE_KEY}}"
MIRROR="${SIPWARDEN_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# Written last, inside the temporary tree, before the rename: its presence means "complete".
MARKER=".sipwarden-rootfs-complete"

log() { printf 'asterisk-rootfs: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

is_complete() {
    [[ -f "$ROOT/$MARKER" && -x "$ROOT/usr/sbin/asterisk" ]]
}

case "${1:-}" in
    --path) printf '%s\n' "$ROOT"; exit 0 ;;
    "") ;;
    *) die "unknown argument '$1' (usage: $0 [--path])" ;;
esac

if is_complete; then
    printf '%s\n' "$ROOT"
    exit 0
fi

[[ $(id -u) -eq 0 ]] || die "must run as root to build $ROOT (debootstrap and chroot need it)"
command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
command -v unshare >/dev/null || die "unshare (util-linux) is not installed"
command -v flock >/dev/null || die "flock (util-linux) is not installed"

parent=$(dirname "$ROOT")
mkdir -p "$parent"

# Several test processes (or engineers) may ask for the tree at once: one builds, the others wait
# for the lock and then find it complete.
exec 9>"$ROOT.lock"
log "waiting for the build lock $ROOT.lock"
flock -w 1800 9 || die "timed out after 30 min waiting for $ROOT.lock"
if is_complete; then
    printf '%s\n' "$ROOT"
    exit 0
fi
# Leftovers of builds that were killed (SIGKILL skips the cleanup trap). Only the lock holder
# builds, so any *.tmp.* directory seen here is dead. Nothing is mounted inside them (all mounts
# of a build live in private mount namespaces), and --one-file-system makes sure of it.
for stale in "$ROOT".tmp.*; do
    [[ -d "$stale" ]] || continue
    log "removing the leftover of an interrupted build: $stale"
    rm -rf --one-file-system "$stale" || die "could not remove $stale; remove it by hand"
done
# A directory without the marker at the final path can only come from a manual copy or a
# pre-marker recipe; never trust it.
[[ ! -e "$ROOT" ]] || die "$ROOT exists but is not a complete tree (no $MARKER); remove it and rerun"

# Build next to the final path (same filesystem, so the final `mv` is an atomic rename): an
# interrupted run leaves only a *.tmp.* directory, never a half tree at $ROOT.
tmp=$(mktemp -d "$ROOT.tmp.XXXXXX")
# mktemp makes it 0700; a system tree's root is 0755 (non-root users may read it, e.g. to check
# it is complete).
chmod 755 "$tmp"
cleanup() {
    # --one-file-system: should anything still be mounted inside (it should not: mounts happen in
    # a private mount namespace below), never descend into the host's /proc, /sys or /dev.
    rm -rf --one-file-system "$tmp" 2>/dev/null || log "could not fully remove $tmp; remove it by hand"
}
trap cleanup EXIT

start=$(date +%s)
log "debootstrap sid into $tmp (takes about a minute)"
# minbase: just enough for apt; Asterisk pulls what it needs. ca-certificates for https mirrors.
# debootstrap mounts /proc and /sys inside the target while it configures packages; in a private
# mount namespace those mounts die with it even if it is killed half-way.
unshare --mount --propagation private -- \
    debootstrap --variant=minbase --include=ca-certificates sid "$tmp" "$MIRROR" >&2 \
    || die "debootstrap sid from $MIRROR failed (see its output above)"

printf 'deb %s sid main\n' "$MIRROR" >"$tmp/etc/apt/sources.list"
# The mirror's sid Release file can be older than this machine's clock; without this apt refuses it.
printf 'Acquire::Check-Valid-Until "false";\n' >"$tmp/etc/apt/apt.conf.d/99sipwarden-no-valid-until"
# Keep the tree small: no recommends (sound packs and the like), no docs.
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    >"$tmp/etc/apt/apt.conf.d/99sipwarden-no-recommends"
cp -L /etc/resolv.conf "$tmp/etc/resolv.conf"
# Package scripts must not try to start Asterisk as a service inside the chroot: 101 = "action
# forbidden by policy" for invoke-rc.d.
printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
chmod 755 "$tmp/usr/sbin/policy-rc.d"

# Run apt inside the tree in a private mount namespace: /proc (which some maintainer scripts read)
# is mounted only there, so it disappears with the namespace even if this script is killed, and
# nothing is ever left mounted inside the tree.
in_tree() {
    unshare --mount --propagation private -- \
        sh -c 'mount -t proc proc "$1/proc" && shift && exec chroot "$@"' sh "$tmp" "$tmp" \
        env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

log "apt-get install asterisk asterisk-modules (takes about a minute)"
in_tree apt-get update >&2 || die "apt-get update inside the tree failed"
in_tree apt-get install -y asterisk asterisk-modules >&2 \
    || die "apt-get install asterisk asterisk-modules inside the tree failed"
# SIPVicious inside the tree is only a fallback for hosts without it; its failure is not fatal.
in_tree apt-get install -y sipvicious >&2 || log "note: sipvicious did not install from sid (optional)"
in_tree apt-get clean >&2 || true

version=$(in_tree asterisk -V 2>/dev/null || echo unknown)
log "installed: $version"
printf 'recipe=%s\nasterisk=%s\nbuilt=%s\n' "$RECIPE_KEY" "$version" "$(date -u +%FT%TZ)" \
    >"$tmp/$MARKER"

mv -T "$tmp" "$ROOT" || die "could not rename $tmp to $ROOT"
trap - EXIT
log "done in $(($(date +%s) - start)) s: $ROOT"
printf '%s\n' "$ROOT"
