#!/bin/bash
# serve.sh PTDM DUMPS_DIR - `ptdm serve` and `ptdm client` end to end over
# a real UNIX socket: enumeration as firmware does it (decoded by lspci -F),
# interrupts, DMA maps, device state kept across clients, several devices
# from a config file, refusal of images without sizes, clean SIGTERM.
set -u
ptdm=$1
dir=$2
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
pass=0
fail=0
check() {
	local name=$1
	shift
	if "$@"; then
		echo "PASS $name"; pass=$((pass + 1))
	else
		echo "FAIL $name"; fail=$((fail + 1))
	fi
}
wait_sock() { for _ in $(seq 50); do [ -S "$1" ] && return 0; sleep 0.1; done; return 1; }

nvme=$dir/samsung-a826-pm174x-nvme.lspci-x4.txt
gpu=$dir/nvidia-24a0-ga104-rtx3070ti-laptop-gpu.lspci-x4.txt
"$ptdm" serve "$nvme" --vfio-user "$tmp/nvme.sock" 2>"$tmp/serve.log" &
srv=$!
pids+=("$srv")
check "server listens" wait_sock "$tmp/nvme.sock"
check "client info" bash -c "'$ptdm' client '$tmp/nvme.sock' info | grep -q 'region 0 BAR0   size 0x8000 read write mmap caps'"
"$ptdm" client "$tmp/nvme.sock" lspci >"$tmp/g.txt"
check "enumerated config decodes" bash -c "lspci -F '$tmp/g.txt' -vvv >'$tmp/dec' 2>/dev/null"
check "decode and bus master on" grep -q 'Control: I/O- Mem+ BusMaster+' "$tmp/dec"
check "BAR placed" grep -q 'Region 0: Memory at 8000000000 (64-bit' "$tmp/dec"
check "MSI-X enabled" grep -q 'MSI-X: Enable+ Count=129' "$tmp/dec"
check "SR-IOV not visible" bash -c "! grep -q 'SR-IOV' '$tmp/dec'"
check "MSI-X vector fires its eventfd" "$ptdm" client "$tmp/nvme.sock" irq 2 128
check "bad vector refused" bash -c "! '$ptdm' client '$tmp/nvme.sock' irq 2 129 2>/dev/null"
check "DMA map with a memfd" "$ptdm" client "$tmp/nvme.sock" dma 0x100000 0x10000
check "misaligned DMA refused" bash -c "! '$ptdm' client '$tmp/nvme.sock' dma 0x100001 0x1000 2>/dev/null"
"$ptdm" client "$tmp/nvme.sock" write 7 0x3c 1 0x0b
check "state kept across clients" bash -c "[ \"\$('$ptdm' client '$tmp/nvme.sock' read 7 0x3c 1)\" = 0xb ]"
kill -TERM "$srv"
wait "$srv"
check "SIGTERM: clean exit" test $? = 0
check "socket removed" test ! -e "$tmp/nvme.sock"

check "BAR policy logged" grep -q 'mmap=fd: the VMM maps BAR memory' "$tmp/serve.log"

# mmap=trap: no fd and no mmap flag, BARs still work by trapped access
"$ptdm" serve "$nvme,mmap=trap" --vfio-user "$tmp/t.sock" 2>"$tmp/trap.log" &
srv=$!
pids+=("$srv")
check "mmap=trap: server listens" wait_sock "$tmp/t.sock"
check "mmap=trap: logged" grep -q 'mmap=trap: no BAR fd is handed' "$tmp/trap.log"
check "mmap=trap: no mmap flag" bash -c "'$ptdm' client '$tmp/t.sock' info | grep 'region 0 BAR0' | grep -qv mmap"
check "mmap=trap: BAR read trapped" "$ptdm" client "$tmp/t.sock" read 0 0 4
kill -TERM "$srv"
wait "$srv"

mellanox=$dir/mellanox-1007-connectx3-pro-nic.lspci-x4.txt
check "image without sizes refused" bash -c \
	"'$ptdm' serve '$mellanox' --vfio-user '$tmp/m.sock' 2>&1 | grep -q 'BAR sizes unknown'"

printf '# two devices\n%s --vfio-user %s\n%s --vfio-user %s\n' \
	"$nvme" "$tmp/a.sock" "$gpu" "$tmp/b.sock" >"$tmp/cfg"
"$ptdm" serve --config "$tmp/cfg" 2>/dev/null &
srv=$!
pids+=("$srv")
wait_sock "$tmp/a.sock"; wait_sock "$tmp/b.sock"
check "config: first device" bash -c "'$ptdm' client '$tmp/a.sock' read 7 0 4 | grep -q 0xa826144d"
check "config: second device" bash -c "'$ptdm' client '$tmp/b.sock' read 7 0 4 | grep -q 0x24a010de"
check "GPU 8G BAR placed" bash -c "'$ptdm' client '$tmp/b.sock' lspci | lspci -F /dev/stdin -vv 2>/dev/null | grep -q 'Region 1: Memory at 8000000000 (64-bit, prefetchable)'"
kill -TERM "$srv"
wait "$srv"
check "config: clean exit" test $? = 0
# ptdm client SRC migrate DST: two servers of the same model; the guest's
# config and BAR memory move, another model is refused and left alone
printf '%s --vfio-user %s\n%s --vfio-user %s\n%s --vfio-user %s\n' \
	"$nvme" "$tmp/src.sock" "$nvme" "$tmp/dst.sock" "$gpu" "$tmp/gpu.sock" \
	>"$tmp/mig.cfg"
"$ptdm" serve --config "$tmp/mig.cfg" 2>"$tmp/mig.log" &
srv=$!
pids+=("$srv")
wait_sock "$tmp/src.sock"; wait_sock "$tmp/dst.sock"; wait_sock "$tmp/gpu.sock"
"$ptdm" client "$tmp/src.sock" write 7 0x3c 1 0x0b
"$ptdm" client "$tmp/src.sock" write 7 0x10 4 0xfe000000
"$ptdm" client "$tmp/src.sock" write 7 0x4 2 0x6
"$ptdm" client "$tmp/src.sock" write 0 0x100 4 0x5eed
"$ptdm" client "$tmp/gpu.sock" write 7 0x3c 1 0x05
check "migrate: nvme to nvme, with pre-copy" bash -c "'$ptdm' client '$tmp/src.sock' migrate '$tmp/dst.sock' | grep -Eq '^migrated .* bytes \([1-9][0-9]* pre-copy\), downtime'"
check "migrate: config moved" bash -c "[ \"\$('$ptdm' client '$tmp/dst.sock' read 7 0x3c 1)\" = 0xb ]"
check "migrate: BAR memory moved" bash -c "[ \"\$('$ptdm' client '$tmp/dst.sock' read 0 0x100 4)\" = 0x5eed ]"
"$ptdm" client "$tmp/dst.sock" write 7 0x3c 1 0x0c
check "migrate: back, without pre-copy" bash -c "'$ptdm' client '$tmp/dst.sock' migrate '$tmp/src.sock' --no-pre-copy | grep -q '(0 pre-copy: not used)'"
check "migrate: config moved back" bash -c "[ \"\$('$ptdm' client '$tmp/src.sock' read 7 0x3c 1)\" = 0xc ]"
check "migrate: another device refused" bash -c "! '$ptdm' client '$tmp/src.sock' migrate '$tmp/gpu.sock' 2>'$tmp/mig.err'"
check "migrate: refusal says why" grep -Eq 'destination.*(No such device|refused)' "$tmp/mig.err"
check "migrate: the other device unchanged" bash -c "[ \"\$('$ptdm' client '$tmp/gpu.sock' read 7 0x3c 1)\" = 0x5 ]"
kill -TERM "$srv"
wait "$srv"
check "migrate: clean exit" test $? = 0

printf 'nonsense here\n' >"$tmp/bad.cfg"
check "bad config names file:line" bash -c \
	"'$ptdm' serve --config '$tmp/bad.cfg' 2>&1 | grep -q 'bad.cfg:1:'"
echo "serve: $pass passed, $fail failed"
[ "$fail" = 0 ]
