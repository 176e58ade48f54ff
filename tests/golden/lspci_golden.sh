#!/bin/bash
# lspci_golden.sh PTDM DUMPS_DIR - the guest view of every dump, decoded by
# the real `lspci -F FILE -vvv`, must be valid PCI: lspci exits 0 and
# complains about nothing, only allowlisted capabilities appear, the guest
# powers on with decode off, and the BAR sizes a guest finds by sizing
# through ptdm equal the -vvv file's.  Bridges must be refused by name.
set -u
ptdm=$1
dir=$2
if ! command -v lspci >/dev/null; then
	echo "SKIP: lspci not installed"
	exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
allowed='^(Power Management|MSI:|MSI-X:|Express|Vendor Specific|Advanced Error Reporting|Device Serial Number|Null)'
pass=0
fail=0

# "N BYTES" per Region/ROM line with a size, before the first capability
vvv_sizes() {
	awk '/Capabilities:/ { exit }
	     /^[ \t]+(Region [0-5]:|Expansion ROM at)/ && /\[size=/ {
		idx = ($1 == "Expansion") ? 6 : substr($2, 1, 1)
		s = $0; sub(/.*\[size=/, "", s); sub(/\].*/, "", s)
		m = 1
		if (s ~ /K$/) m = 1024; else if (s ~ /M$/) m = 1048576
		else if (s ~ /G$/) m = 1073741824; else if (s ~ /T$/) m = 1099511627776
		sub(/[KMGT]$/, "", s)
		printf "%d %.0f\n", idx, s * m
	     }' "$1"
}

# "N BYTES" per BAR from inspect --json (guest_size: found by sizing)
json_sizes() {
	awk '/"index":/ { gsub(/[^0-9]/, "", $0); idx = $0 }
	     /"guest_size":/ { s = $0; sub(/.*"guest_size":/, "", s); sub(/,.*/, "", s)
			       if (s != "null") printf "%d %s\n", idx, s }' "$1"
}

for f in "$dir"/*.lspci-x3.txt "$dir"/*.lspci-x4.txt; do
	name=$(basename "$f")
	base=${f%.lspci-x?.txt}
	why=""
	hdr=$(awk '$1 == "00:" { print $16; exit }' "$f")
	if [ $((0x$hdr & 0x7f)) = 1 ]; then
		if "$ptdm" inspect "$f" >/dev/null 2>"$tmp/err"; then
			why="bridge was not refused"
		elif ! grep -q bridge "$tmp/err"; then
			why="refusal does not say bridge: $(cat "$tmp/err")"
		fi
	elif ! "$ptdm" inspect "$f" --dump guest >"$tmp/g" 2>"$tmp/err"; then
		why="inspect failed: $(cat "$tmp/err")"
	elif ! lspci -F "$tmp/g" -vvv >"$tmp/dec" 2>"$tmp/lerr"; then
		why="lspci -F failed: $(cat "$tmp/lerr")"
	elif grep -v 'Unable to load libkmod' "$tmp/lerr" | grep -q .; then
		why="lspci complained: $(cat "$tmp/lerr")"
	elif ! grep -q 'Control:.*I/O-.*Mem-' "$tmp/dec"; then
		why="guest does not power on with decode off"
	else
		bad=$(sed -n 's/^[ \t]*Capabilities: \[[0-9a-f]*\( v[0-9]*\)\?\] //p' \
			"$tmp/dec" | grep -Ev "$allowed" | head -1)
		[ -n "$bad" ] && why="capability not on the allowlist: $bad"
		if [ -z "$why" ] && [ -f "$base.lspci-vvv.txt" ] &&
		   grep -q '\[size=' "$base.lspci-vvv.txt"; then
			"$ptdm" inspect "$f" --json >"$tmp/j" 2>"$tmp/err" ||
				why="inspect --json failed: $(cat "$tmp/err")"
			vvv_sizes "$base.lspci-vvv.txt" | sort >"$tmp/want"
			json_sizes "$tmp/j" | sort >"$tmp/got"
			if [ -z "$why" ] && ! diff -q "$tmp/want" "$tmp/got" >/dev/null; then
				why="BAR sizes differ (want: $(tr '\n' ' ' <"$tmp/want")got: $(tr '\n' ' ' <"$tmp/got"))"
			fi
		fi
	fi
	if [ -z "$why" ]; then
		echo "PASS $name"
		pass=$((pass + 1))
	else
		echo "FAIL $name: $why"
		fail=$((fail + 1))
	fi
done
echo "golden: $pass passed, $fail failed"
[ "$fail" = 0 ] && [ "$pass" -gt 0 ]
