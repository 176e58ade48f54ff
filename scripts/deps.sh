#!/bin/sh
# deps.sh [build|demo|test|all] - install the Debian 12 packages one use of
# ptdm needs, and nothing more:
#   build  what `meson setup build && ninja -C build` needs with the default
#          options: compiler, meson, json-c, libpci; cmocka and lspci
#          because the default build compiles the unit tests and finds
#          lspci for the golden ones; libxen-dev for the Xen front end,
#          scdoc for ptdm(1) and libseccomp-dev for the serve sandbox's
#          syscall filter (the build works without any of them, -Dxen=auto,
#          -Dman=auto, -Dseccomp=auto, and then has no Xen, no man page or
#          no syscall filter)                                       - `make`
#   demo   build + QEMU and busybox for the demo guest           - `make demo`
#   test   build + clang/libFuzzer, QEMU, SeaBIOS, busybox, kmod, xz and
#          python3 for the guest, VM and Xen tests, Debian's qemu-xen (the
#          device model ptdm-xen-dm starts, run in the Xen test's dom0), make,
#          gcc-12 and the libraries of the unpacked kbuild tools and pahole
#          for the VM test's kernel module (tests/vm/kmod.sh), and the
#          Debian packaging tools for the package test - `make check`
#   all    everything (the default)
# Idempotent and quiet when everything is there: the Makefile runs it before
# every target.  Needs root (or sudo) only when something is missing.
set -eu

BUILD="gcc libc6-dev meson ninja-build pkg-config libjson-c-dev libpci-dev
libcmocka-dev pciutils libxen-dev scdoc libseccomp-dev"
DEMO="qemu-system-x86 busybox-static"
TEST="clang libclang-rt-14-dev qemu-system-x86 seabios busybox-static kmod
xz-utils python3 make gcc-12 libelf1 libssl3 zlib1g libdw1 libbpf1
debhelper dpkg-dev lintian man-db qemu-system-xen"

case "${1:-all}" in
build) PKGS=$BUILD ;;
demo) PKGS="$BUILD $DEMO" ;;
test) PKGS="$BUILD $TEST" ;;
all) PKGS="$BUILD $DEMO $TEST" ;;
*)
	echo "usage: scripts/deps.sh [build|demo|test|all]" >&2
	exit 2
	;;
esac

missing=""
for p in $PKGS; do
	case " $missing " in *" $p "*) continue ;; esac
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
