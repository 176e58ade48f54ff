#!/bin/bash
# cli.sh PTDM DUMPS_DIR - the command line as a person uses it: bad input
# gets a message naming the culprit and a non-zero exit; capture of a live
# device (read-only) gives an image whose guest view equals the live one.
set -u
ptdm=$1
dir=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

check() { # name, then a command that must succeed
	local name=$1
	shift
	if "$@"; then
		echo "PASS $name"
		pass=$((pass + 1))
	else
		echo "FAIL $name"
		fail=$((fail + 1))
	fi
}

# expect RC WORD ARGS...: exit code RC and WORD in stderr
expect() {
	local rc=$1 word=$2
	shift 2
	"$ptdm" "$@" >"$tmp/out" 2>"$tmp/err"
	local got=$?
	[ "$got" = "$rc" ] && grep -qF -- "$word" "$tmp/err" && return 0
	echo "  ptdm $*: exit $got, stderr: $(cat "$tmp/err")"
	return 1
}

nvme=$dir/samsung-a826-pm174x-nvme.lspci-x4.txt
check "bad BDF names the token" expect 1 '"01:00"' inspect 01:00
check "bad key names the token" expect 1 '"frob=1"' inspect 01:00.0,frob=1
check "unknown device" expect 1 "no PCI device 0000:7f:00.0" inspect 7f:00.0
check "bridge refused" expect 1 "bridge" \
	inspect "$dir/pericom-e111-pcie-to-pci-bridge.lspci-x4.txt"
check "missing file" expect 1 "/nonexistent/x.txt" inspect /nonexistent/x.txt
sed '5s/^30: ../30: zz/' "$nvme" >"$tmp/bad.txt"
check "bad hex names file:line" expect 1 "bad.txt:5:" inspect "$tmp/bad.txt"
check "missing sizes file" expect 1 "/nonexistent/v.txt" \
	inspect "$nvme" --sizes /nonexistent/v.txt
check "usage error" expect 2 "usage" inspect
check "unknown command" expect 2 "unknown command" frobnicate
check "bad dump kind" expect 2 "usage" inspect "$nvme" --dump both

check "json has sizes in bytes" bash -c \
	"'$ptdm' inspect '$nvme' --json | grep -q '\"size\":32768'"
check "permissive flag accepted" bash -c \
	"'$ptdm' inspect '$nvme,permissive=1' --permissive >/dev/null"
check "capture an image" "$ptdm" capture "$nvme" -o "$tmp/nvme.ptdm"
check "captured image inspects the same" bash -c \
	"diff <('$ptdm' inspect '$nvme' --dump guest | tail -n +2) \
	      <('$ptdm' inspect '$tmp/nvme.ptdm' --dump guest | tail -n +2)"

# a live device of this machine, read-only
live=$(ls /sys/bus/pci/devices 2>/dev/null | head -1)
if [ -n "$live" ] && "$ptdm" inspect "$live" >/dev/null 2>&1; then
	before=$(od -An -tx1 "/sys/bus/pci/devices/$live/config" | md5sum)
	check "capture live $live" "$ptdm" capture "$live" -o "$tmp/live.ptdm"
	check "live and captured guest views agree" bash -c \
		"diff <('$ptdm' inspect '$live' --dump guest) \
		      <('$ptdm' inspect '$tmp/live.ptdm' --dump guest)"
	after=$(od -An -tx1 "/sys/bus/pci/devices/$live/config" | md5sum)
	check "live device untouched" test "$before" = "$after"
	check "list shows it" bash -c "'$ptdm' list | grep -q '$live'"
else
	echo "SKIP live device checks: no readable PCI device"
fi
echo "cli: $pass passed, $fail failed"
[ "$fail" = 0 ]
