#!/bin/bash
# quirks.sh PTDM DUMPS_DIR - device quirks, romfile= and rombar=0 as a
# person meets them: `ptdm inspect` lists the quirks of the GPU, IGD and HDA
# dumps (text and JSON, schema ptdm-inspect/1), quirks=off turns them off,
# the guest view dumped through lspci -F shows the IGD's host addresses
# gone, a romfile for another device is refused naming both IDs, rombar=0
# leaves no ROM in the guest's config.
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

gpu=$dir/nvidia-24a0-ga104-rtx3070ti-laptop-gpu.lspci-x4.txt
hda=$dir/nvidia-228b-ga104-hda-audio.lspci-x4.txt
igd=$dir/intel-46a6-alderlake-p-igd.lspci-x4.txt

json() { # spec, python expression over d that must hold
	"$ptdm" inspect "$1" --json >"$tmp/j" 2>"$tmp/e" || {
		echo "  inspect $1: $(cat "$tmp/e")"
		return 1
	}
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == "ptdm-inspect/1", d["schema"]
q = {x["name"]: x for x in d["quirks"]}
ok = eval("(" + sys.argv[2] + ")")
if not ok:
    print("  ", json.dumps(d["quirks"]))
sys.exit(0 if ok else 1)' "$tmp/j" "$2"
}

check "GPU: nvidia-config-mirrors active, BAR0 0x88000 and BAR5" \
	json "$gpu" 'q["nvidia-config-mirrors"]["active"] and
		{(r["bar"], r["offset"]) for r in q["nvidia-config-mirrors"]["ranges"]}
		>= {(0, 0x88000), (0, 0x1800), (5, 0)}'
check "GPU, quirks=off: listed, off, no ranges" \
	json "$gpu,quirks=off" 'not q["nvidia-config-mirrors"]["active"] and
		q["nvidia-config-mirrors"]["reason"] == "quirks=off" and
		q["nvidia-config-mirrors"]["ranges"] == []'
check "HDA: no quirk" json "$hda" 'd["quirks"] == []'
check "IGD: ASLS, BDSM, GGC and the BDSM mirror" \
	json "$igd" '{r["offset"] for r in q["intel-igd"]["ranges"]} ==
		{0x50, 0xc0, 0xc4, 0xfc, 0x1080c0}'
check "text: a quirks line" \
	bash -c '"$0" inspect "$1" | grep -qx "quirks: nvidia-config-mirrors"' \
	"$ptdm" "$gpu"

# the IGD's guest view: no host OpRegion or stolen memory address
guest_bytes() { # spec, offset, bytes: hex as lspci prints them
	"$ptdm" inspect "$1" --dump guest >"$tmp/g" &&
		awk -v o="$(printf '%02x:' $(($2 & ~15)))" -v i=$(($2 & 15)) \
			-v n="$3" '$1 == o { s = ""; for (k = 0; k < n; k++)
				s = s $(i + 2 + k); print s }' "$tmp/g"
}
check "IGD guest: ASLS 0 (host 18 00 94 65)" \
	test "$(guest_bytes "$igd" 0xfc 4)" = 00000000
check "IGD guest: BDSM 0 (host 01 00 80 70)" \
	test "$(guest_bytes "$igd" 0xc0 4)" = 00000000
check "IGD, quirks=off: the host's ASLS shows" \
	test "$(guest_bytes "$igd,quirks=off" 0xfc 4)" = 18009465
check "IGD guest view decodes (lspci -F)" \
	bash -c '"$0" inspect "$1" --dump guest >"$2/igd.x" &&
		lspci -F "$2/igd.x" -vvv >/dev/null' "$ptdm" "$igd" "$tmp"

# ROMs
python3 - "$tmp" <<'PY'
import struct, sys
def rom(vendor, device, size=0x1000):
    r = bytearray(size)
    r[0:2] = b"\x55\xaa"
    struct.pack_into("<H", r, 0x18, 0x40)
    r[0x40:0x44] = b"PCIR"
    struct.pack_into("<HH", r, 0x44, vendor, device)
    struct.pack_into("<H", r, 0x4a, 0x18)
    struct.pack_into("<H", r, 0x50, size // 512)
    r[0x55] = 0x80
    return r
open(sys.argv[1] + "/gpu.rom", "wb").write(rom(0x10de, 0x24a0))
open(sys.argv[1] + "/other.rom", "wb").write(rom(0x10de, 0x2204))
PY
check "romfile for the device: accepted, ROM BAR the device's" \
	bash -c '"$0" inspect "$1,romfile=$2/gpu.rom" | grep -q "^  ROM .*512K$"' \
	"$ptdm" "$gpu" "$tmp"
check "romfile for another device: refused, both IDs named" \
	bash -c '! "$0" inspect "$1,romfile=$2/other.rom" 2>"$2/e" &&
		grep -q "10de:2204, the device is 10de:24a0" "$2/e"' \
	"$ptdm" "$gpu" "$tmp"
check "rombar=0: ROM register 0 in the guest's view" \
	test "$(guest_bytes "$gpu,rombar=0" 0x30 4)" = 00000000
check "romfile with rombar=0: refused" \
	bash -c '! "$0" inspect "$1,romfile=$2/gpu.rom,rombar=0" 2>"$2/e" &&
		grep -q exclude "$2/e"' "$ptdm" "$gpu" "$tmp"

echo "quirks: $pass passed, $fail failed"
[ "$fail" = 0 ]
