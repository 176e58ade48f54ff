#!/bin/sh
# deps.sh - install the Debian 12 packages ptdm's build and tests need.
# Idempotent and quiet when everything is there: the Makefile runs it before
# every target.  Needs root (or sudo) only when something is missing.
set -eu

PKGS="gcc clang meson ninja-build pkg-config libjson-c-dev libcmocka-dev
libpci-dev pciutils libclang-rt-14-dev libxen-dev
qemu-system-x86 seabios busybox-static kmod xz-utils libc6-dev python3
scdoc debhelper dpkg-dev lintian man-db"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "deps: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null 2>&1 || {
		echo "deps: need root to install:$missing" >&2; exit 1; }
	SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq </dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing </dev/null >/dev/null
