#!/bin/bash
# check.sh - `make check`: every test ptdm has, in three builds.
#   build/        gcc, -Werror: unit tests (cmocka), golden tests (lspci -F,
#                 the command line, serve/client) and the guest tests (a
#                 Linux guest under QEMU TCG uses a ptdm device)
#   build-asan/   gcc, ASAN+UBSAN: unit and golden tests again
#   build-clang/  clang, -Werror, libFuzzer: unit, golden, bounded fuzz runs
#   build-vm/     the VFIO backend against the real kernel driver in QEMU
#                 TCG guests, Debian 6.1 and 6.12 (tests/vm/README.md)
#   build-xen/    ptdm as a Xen ioreq server: Debian's Xen 4.17 in QEMU
#                 TCG, an HVM and a PVH guest (tests/xen/README.md)
# Prints one closing line "N passed, N failed" (meson tests summed over the
# builds; a build that fails counts as one failure) and exits non-zero on
# any failure.
set -u
cd "$(dirname "$0")/.."

passed=0
failed=0
summary=""

setup() { # dir, then env/meson args
	local dir=$1; shift
	if [ ! -f "$dir/build.ninja" ]; then
		env "$@" >"$dir.setup.log" 2>&1 || return 1
	fi
}

run_suite() { # label dir meson-setup-command...
	local label=$1 dir=$2; shift 2
	echo "=== $label ($dir)"
	if ! setup "$dir" "$@"; then
		cat "$dir.setup.log"; rm -rf "$dir"
		failed=$((failed + 1)); summary="$summary\n$label: setup FAILED"
		return
	fi
	if ! ninja -C "$dir" >"$dir.build.log" 2>&1; then
		tail -50 "$dir.build.log"
		failed=$((failed + 1)); summary="$summary\n$label: build FAILED"
		return
	fi
	local out
	out=$(meson test -C "$dir" --print-errorlogs --num-processes 2 2>&1)
	echo "$out" | grep -vE '^(Ok|Expected Fail|Fail|Unexpected Pass|Skipped|Timeout): ' | tail -n +1
	local ok fl to up
	ok=$(echo "$out" | awk '/^Ok:/ {print $NF}')
	fl=$(echo "$out" | awk '/^Fail:/ {print $NF}')
	to=$(echo "$out" | awk '/^Timeout:/ {print $NF}')
	up=$(echo "$out" | awk '/^Unexpected Pass:/ {print $NF}')
	ok=${ok:-0}; fl=$(( ${fl:-0} + ${to:-0} + ${up:-0} ))
	if [ "$ok" = 0 ] && [ "$fl" = 0 ]; then fl=1; fi  # ran nothing: a failure
	passed=$((passed + ok)); failed=$((failed + fl))
	summary="$summary\n$label: $ok passed, $fl failed"
}

run_suite "gcc" build meson setup build
run_suite "gcc asan+ubsan" build-asan meson setup build-asan \
	-Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug \
	-Dguest_tests=false
run_suite "clang + fuzz" build-clang CC=clang meson setup build-clang \
	-Dfuzz=true -Dguest_tests=false

run_suite "vm (real VFIO in QEMU guests)" build-vm meson setup build-vm \
	-Dvm_tests=true -Dtests=false -Dguest_tests=false
run_suite "xen (ioreq server on Xen 4.17 in QEMU)" build-xen meson setup \
	build-xen -Dxen_tests=true -Dtests=false -Dguest_tests=false

printf "%b\n" "$summary" | sed '/^$/d'
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
