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

# every subcommand answers --help with its options and exits 0
for sub in list inspect capture serve client bench assignable-add \
	assignable-remove version help; do
	check "$sub --help" bash -c \
		"'$ptdm' $sub --help >'$tmp/h' && grep -q '^usage: ptdm $sub' '$tmp/h'"
done
check "inspect --help lists its options" bash -c \
	"'$ptdm' inspect --help | grep -q -- '--sizes FILE'"
check "serve -h lists --config" bash -c "'$ptdm' serve -h | grep -q -- '--config FILE'"
check "help SUB = SUB --help" bash -c \
	"diff <('$ptdm' help capture) <('$ptdm' capture --help)"
check "help of an unknown command" expect 2 'unknown command "frob"' help frob
# the version is meson's project version
check "ptdm --version" bash -c "[ \"\$('$ptdm' --version)\" = 'ptdm $PTDM_VERSION' ]"
check "ptdm -V" bash -c "[ \"\$('$ptdm' -V)\" = 'ptdm $PTDM_VERSION' ]"
check "ptdm version" bash -c "[ \"\$('$ptdm' version)\" = 'ptdm $PTDM_VERSION' ]"

# a near-miss key names the one meant; a BDF typo is a bad address
check "unknown key suggests the nearest" expect 1 \
	"unknown key 'permisive': did you mean 'permissive'?" \
	inspect "$nvme,permisive=1"
check "bad address, not a missing file" expect 1 \
	'"0000:zz:00.0": not a PCI address' inspect 0000:zz:00.0
check "bad address never opens a file" bash -c \
	"! '$ptdm' inspect 0000:zz:00.0 2>&1 | grep -q 'No such file'"
check "bad address in capture too" expect 1 'not a PCI address' \
	capture 0000:0g:00.0 -o "$tmp/x.ptdm"

# --mpqemu-exec: {fd} becomes an open socket the VMM inherits, and ptdm
# exits with the VMM's status; placeholder mistakes are refused before
# anything starts (tests/unit/test_exec_fds.c has the BB:DD.* ones)
check "mpqemu-exec: {fd} is the VMM's socket" bash -c \
	"'$ptdm' serve '$nvme' --mpqemu-exec sh -c 'test -S /proc/self/fd/\$0 && exit 7' '{fd}' 2>/dev/null; [ \$? = 7 ]"
check "mpqemu-exec: no {fd}" expect 2 "no {fd} in the command" \
	serve "$nvme" --mpqemu-exec touch "$tmp/started"
check "mpqemu-exec: {fd.F} for one device" expect 2 \
	"{fd.1} in \"fd={fd.1}\": one device is served" \
	serve "$nvme" --mpqemu-exec touch "$tmp/started" "fd={fd.1}"
check "mpqemu-exec: a malformed placeholder" expect 2 '"{fd.x}"' \
	serve "$nvme" --mpqemu-exec touch "$tmp/started" "fd={fd}" "{fd.x}"
check "mpqemu-exec: a refused command never starts" test ! -e "$tmp/started"
check "mpqemu-exec: BB:DD.* of an empty slot" expect 1 \
	"00fe:1f:1f.*: no function of that slot is present" \
	serve "00fe:1f:1f.*" --mpqemu-exec touch "$tmp/started" "fd={fd.0}"

# JSON says its schema version (docs/json.md)
check "inspect --json schema" bash -c \
	"'$ptdm' inspect '$nvme' --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"schema\"]==\"ptdm-inspect/1\" and d[\"complete\"] and d[\"readable_bytes\"]==4096, d'"
if [ -d /sys/bus/pci/devices ]; then
	check "list --json schema" bash -c \
		"'$ptdm' list --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"schema\"]==\"ptdm-list/1\" and isinstance(d[\"devices\"], list), d'"
fi

# inspect of a live device by a user who is not root: the first 64 bytes,
# as lspci shows them, and what root would add (reading only, as nobody)
if [ -n "$live" ] && [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null &&
	"$ptdm" inspect "$live" >/dev/null 2>&1; then
	mkdir -m 755 "$tmp/nobody"
	cp "$ptdm" "$tmp/nobody/ptdm"
	chmod 755 "$tmp" "$tmp/nobody/ptdm"
	asnobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
	check "non-root inspect exits 0" bash -c \
		"cd / && $(declare -f asnobody); asnobody '$tmp/nobody/ptdm' inspect '$live' >'$tmp/nr' 2>'$tmp/nre'"
	check "non-root inspect says what root adds" bash -c \
		"grep -q 'As root, ptdm inspect adds' '$tmp/nr' && grep -q '64 bytes readable' '$tmp/nr' && ! grep -q 'Input/output' '$tmp/nr' '$tmp/nre'"
	check "non-root header = root's" bash -c \
		"grep -q \"^vendor  *\$(od -An -tx2 -N2 /sys/bus/pci/devices/$live/config | tr -d ' ')\" '$tmp/nr'"
	check "non-root --dump host = lspci -x as nobody" bash -c \
		"cd / && $(declare -f asnobody); diff <(asnobody '$tmp/nobody/ptdm' inspect '$live' --dump host | tail -n +2) <(asnobody lspci -s '$live' -x 2>/dev/null | tail -n +2)"
	check "non-root --json incomplete" bash -c \
		"cd / && $(declare -f asnobody); asnobody '$tmp/nobody/ptdm' inspect '$live' --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"schema\"]==\"ptdm-inspect/1\" and not d[\"complete\"] and d[\"readable_bytes\"]==64 and d[\"guest\"] is None and d[\"root_would_add\"], d'"
	check "non-root --dump guest refused clearly" bash -c \
		"cd / && $(declare -f asnobody); ! asnobody '$tmp/nobody/ptdm' inspect '$live' --dump guest >/dev/null 2>'$tmp/dg' && grep -q 'run as root' '$tmp/dg'"
	check "non-root capture refused clearly" bash -c \
		"cd / && $(declare -f asnobody); ! asnobody '$tmp/nobody/ptdm' capture '$live' -o - >/dev/null 2>'$tmp/ce' && grep -q 'run as root' '$tmp/ce'"
else
	echo "SKIP non-root inspect: needs root (to become nobody), setpriv and a readable device"
fi
echo "cli: $pass passed, $fail failed"
[ "$fail" = 0 ]
