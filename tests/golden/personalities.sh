#!/bin/bash
# personalities.sh PTDM DUMPS_DIR - every client personality (QEMU,
# cloud-hypervisor, libvfio-user, SPDK: `ptdm client --as NAME SOCK check`)
# against `ptdm serve DUMP --vfio-user SOCK` for every dump that can be
# served.  A reply one real client would reject or warn about fails.
# Dumps ptdm refuses to serve (bridges, no BAR sizes) must be refused with
# a reason; the server must survive every personality and exit cleanly.
set -u
ptdm=$1
dir=$2
tmp=$(mktemp -d)
srv=""
cleanup() {
	[ -n "$srv" ] && kill "$srv" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
pass=0
fail=0
refused=0
wait_sock() { for _ in $(seq 50); do [ -S "$1" ] && return 0; sleep 0.1; done; return 1; }

for f in "$dir"/*.lspci-x3.txt "$dir"/*.lspci-x4.txt; do
	name=$(basename "$f")
	sock="$tmp/s.sock"
	rm -f "$sock"
	"$ptdm" serve "$f" --vfio-user "$sock" 2>"$tmp/serve.log" &
	srv=$!
	if ! wait_sock "$sock"; then
		wait "$srv" 2>/dev/null
		srv=""
		if grep -qE 'bridge|BAR sizes unknown' "$tmp/serve.log"; then
			echo "SKIP $name: not servable: $(head -1 "$tmp/serve.log")"
			refused=$((refused + 1))
		else
			echo "FAIL $name: serve did not start: $(cat "$tmp/serve.log")"
			fail=$((fail + 1))
		fi
		continue
	fi
	for who in qemu cloud-hypervisor libvfio-user spdk; do
		if timeout 120 "$ptdm" client --as "$who" "$sock" check \
			>"$tmp/out" 2>&1; then
			echo "PASS $name $who: $(tail -1 "$tmp/out")"
			pass=$((pass + 1))
		else
			echo "FAIL $name $who:"
			sed 's/^/    /' "$tmp/out"
			fail=$((fail + 1))
		fi
	done
	kill -TERM "$srv"
	if ! wait "$srv"; then
		echo "FAIL $name: server did not exit cleanly: $(tail -3 "$tmp/serve.log")"
		fail=$((fail + 1))
	fi
	srv=""
done
# mmap=trap: no region is mmap'able, so QEMU posts its BAR writes
# (NO_REPLY, WRITE_MULTI); every client still brings the device up.
nvme=$dir/samsung-a826-pm174x-nvme.lspci-x4.txt
rm -f "$tmp/t.sock"
"$ptdm" serve "$nvme,mmap=trap" --vfio-user "$tmp/t.sock" 2>"$tmp/serve.log" &
srv=$!
if wait_sock "$tmp/t.sock"; then
	for who in qemu cloud-hypervisor libvfio-user spdk; do
		if timeout 120 "$ptdm" client --as "$who" "$tmp/t.sock" check \
			>"$tmp/out" 2>&1; then
			echo "PASS mmap=trap $who: $(tail -1 "$tmp/out")"
			pass=$((pass + 1))
		else
			echo "FAIL mmap=trap $who:"
			sed 's/^/    /' "$tmp/out"
			fail=$((fail + 1))
		fi
	done
else
	echo "FAIL mmap=trap: serve did not start: $(cat "$tmp/serve.log")"
	fail=$((fail + 1))
fi
kill -TERM "$srv" 2>/dev/null
wait "$srv" 2>/dev/null
srv=""

# The Alder Lake IGD with an OpRegion recorded in its image (a synthetic
# one: 8 KiB, version 2.1, no extended VBT): QEMU finds region 9 by its
# type capability, reads the signature and places ASLS; the others bring
# the device up with 10 regions.  libvfio-user's sample client takes only
# its own sample server's region count, so it is not asked here.
gen_opregion() {
	local sig=(49 6e 74 65 6c 47 72 61 70 68 69 63 73 4d 65 6d)
	local off i o b line
	for ((off = 0; off < 8192; off += 16)); do
		line=$(printf 'opregion %04x:' $off)
		for ((i = 0; i < 16; i++)); do
			o=$((off + i))
			b=00
			((o < 16)) && b=${sig[$o]}
			((o == 0x10)) && b=08
			((o == 0x16)) && b=01
			((o == 0x17)) && b=02
			line+=" $b"
		done
		echo "$line"
	done
}
igd=$dir/intel-46a6-alderlake-p-igd.lspci-x4.txt
if "$ptdm" capture "$igd" -o "$tmp/igd-base.img" 2>"$tmp/cap.log"; then
	{ head -1 "$tmp/igd-base.img"; gen_opregion; tail -n +2 "$tmp/igd-base.img"; } \
		>"$tmp/igd.img"
	rm -f "$tmp/o.sock"
	"$ptdm" serve "$tmp/igd.img" --vfio-user "$tmp/o.sock" 2>"$tmp/serve.log" &
	srv=$!
	if wait_sock "$tmp/o.sock"; then
		for who in qemu cloud-hypervisor spdk; do
			if timeout 120 "$ptdm" client --as "$who" "$tmp/o.sock" check \
				>"$tmp/out" 2>&1 &&
				{ [ "$who" != qemu ] || grep -q 'IGD OpRegion region found' "$tmp/out"; }; then
				echo "PASS IGD OpRegion $who: $(head -1 "$tmp/out")"
				pass=$((pass + 1))
			else
				echo "FAIL IGD OpRegion $who:"
				sed 's/^/    /' "$tmp/out"
				fail=$((fail + 1))
			fi
		done
	else
		echo "FAIL IGD OpRegion: serve did not start: $(cat "$tmp/serve.log")"
		fail=$((fail + 1))
	fi
	kill -TERM "$srv" 2>/dev/null
	wait "$srv" 2>/dev/null
	srv=""
else
	echo "FAIL IGD OpRegion: capture: $(cat "$tmp/cap.log")"
	fail=$((fail + 1))
fi

# Negative control: a server that refuses everything (error EINVAL) must
# make every personality fail with a message, never pass or hang.
if command -v python3 >/dev/null; then
	cat >"$tmp/refuse.py" <<'PY'
import os, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(4)
while True:
    c, _ = s.accept()
    try:
        while True:
            h = c.recv(16, socket.MSG_WAITALL)
            if len(h) < 16: break
            mid, cmd, size, flags, err = struct.unpack("<HHIII", h)
            left = size - 16
            while left > 0:
                left -= len(c.recv(min(left, 65536)))
            c.sendall(struct.pack("<HHIII", mid, cmd, 16, 0x21, 22))
    except OSError:
        pass
    c.close()
PY
	python3 "$tmp/refuse.py" "$tmp/refuse.sock" &
	srv=$!
	wait_sock "$tmp/refuse.sock"
	for who in qemu cloud-hypervisor libvfio-user spdk; do
		timeout 60 "$ptdm" client --as "$who" "$tmp/refuse.sock" \
			>"$tmp/out" 2>&1
		rc=$?
		if [ "$rc" = 1 ] && grep -q 'FAIL:' "$tmp/out"; then
			echo "PASS refusing server: $who fails: $(grep 'FAIL:' "$tmp/out" | head -1)"
			pass=$((pass + 1))
			continue
		fi
		echo "FAIL refusing server: $who did not fail clearly (exit $rc):"
		sed 's/^/    /' "$tmp/out"
		fail=$((fail + 1))
	done
	kill "$srv" 2>/dev/null
	wait "$srv" 2>/dev/null
	srv=""
	# The bug users met: CAPS with cap_offset 0 in the reply to QEMU's
	# first GET_REGION_INFO (argsz 32).  QEMU's personality must stop
	# there with QEMU's own message.
	cat >"$tmp/caps.py" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1)
c, _ = s.accept()
js = b'{"capabilities":{"max_msg_fds":8,"max_data_xfer_size":1048576}}\0'
while True:
    h = c.recv(16, socket.MSG_WAITALL)
    if len(h) < 16: break
    mid, cmd, size, flags, err = struct.unpack("<HHIII", h)
    p = c.recv(size - 16, socket.MSG_WAITALL) if size > 16 else b""
    if flags & 0x10: continue
    if cmd == 1: body = struct.pack("<HH", 0, 0) + js
    elif cmd == 4: body = struct.pack("<IIII", 16, 3, 9, 5)
    elif cmd == 5:
        argsz, _, index = struct.unpack("<III", p[:12])
        # 0x8 = CAPS, 0x4 = MMAP: as the old server said to argsz 32
        body = struct.pack("<IIIIQQ", 80, 0x7 | 0x8, index, 0, 0x4000, 0)
    else: body = b""
    c.sendall(struct.pack("<HHIII", mid, cmd, 16 + len(body), 1, 0) + body)
PY
	python3 "$tmp/caps.py" "$tmp/caps.sock" &
	srv=$!
	wait_sock "$tmp/caps.sock"
	timeout 60 "$ptdm" client --as qemu "$tmp/caps.sock" >"$tmp/out" 2>&1
	if [ $? = 1 ] && grep -q 'failed to get region 0 info: Invalid argument' "$tmp/out"; then
		echo "PASS CAPS below 32 in a short reply: QEMU stops as it did for users"
		pass=$((pass + 1))
	else
		echo "FAIL CAPS below 32 in a short reply not caught:"
		sed 's/^/    /' "$tmp/out"
		fail=$((fail + 1))
	fi
	kill "$srv" 2>/dev/null
	wait "$srv" 2>/dev/null
	srv=""
fi
echo "personalities: $pass passed, $fail failed, $refused dumps not servable"
[ "$fail" = 0 ] && [ "$pass" -gt 0 ]
