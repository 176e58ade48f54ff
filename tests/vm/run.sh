#!/bin/bash
# run.sh - boot a QEMU TCG guest (q35, emulated VT-d) with a Debian 12
# kernel and run ptdm's VFIO guest test in it against the real Linux VFIO
# driver.  See tests/vm/README.md.
#
#   tests/vm/run.sh --kernel 6.1|6.12 --guest PATH/vfio_guest_test
#   tests/vm/run.sh --kernel 6.1|6.12 --guest PATH/mig_guest_test \
#                   --machine mig --kmod tests/vm/edu_mig
#
# --machine mig: three edus only (00:02.0, 00:06.0, 00:07.0) for the
# migration test; --kmod DIR: a module built by kmod.sh against the
# booted kernel's headers, put in /lib/modules (the guest loads it).
#
# PATH/vfio_guest_test must be static (meson builds it with -Dvm_tests=true).
# Exits 0 only if QEMU left through isa-debug-exit with guest status 0 and
# the serial log says "RESULT: N passed, 0 failed"; a timeout
# (PTDM_VM_TIMEOUT, default 300 s) is a failure.  Kernels are cached under
# ${PTDM_VM_CACHE:-/var/cache/ptdm-vm} (tests/vm/kernel.sh).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
series=""
guest=""
machine=default
kmod=""
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) series=${2:-}; shift 2 ;;
	--guest) guest=${2:-}; shift 2 ;;
	--machine) machine=${2:-}; shift 2 ;;
	--kmod) kmod=${2:-}; shift 2 ;;
	*) echo "usage: run.sh --kernel 6.1|6.12 --guest PATH" >&2; exit 2 ;;
	esac
done
[ -n "$series" ] && [ -n "$guest" ] ||
	{ echo "usage: run.sh --kernel 6.1|6.12 --guest PATH" >&2; exit 2; }
[ -x "$guest" ] || { echo "run.sh: $guest: no such program" >&2; exit 1; }
if readelf -l "$guest" 2>/dev/null | grep -q INTERP; then
	echo "run.sh: $guest is dynamically linked; the guest has no libc" >&2
	exit 1
fi
for tool in qemu-system-x86_64 busybox gzip timeout; do
	command -v "$tool" >/dev/null ||
		{ echo "run.sh: $tool is missing: run scripts/deps.sh" >&2; exit 1; }
done

tmo=${PTDM_VM_TIMEOUT:-300}
tag="vm[$series]"
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

t0=$(now)
mods=$("$here/kernel.sh" "$series" vfio vfio_iommu_type1 vfio-pci nvme) ||
	{ echo "$tag: FAIL: no kernel" >&2; exit 1; }
t1=$(now)

work=$(mktemp -d "${TMPDIR:-/tmp}/ptdm-vm.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,tmp,lib/modules}
cp "$(command -v busybox)" "$root/bin/busybox"
cp "$mods"/*.ko "$mods/load-order" "$root/lib/modules/"
cp "$guest" "$root/bin/vfio_guest_test"
if [ -n "$kmod" ]; then
	ko=$("$here/kmod.sh" "$series" "$kmod") ||
		{ echo "$tag: FAIL: module $kmod does not build" >&2; exit 1; }
	cp "$ko" "$root/lib/modules/"
fi
cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
for m in $(cat /lib/modules/load-order); do
	insmod /lib/modules/$m.ko || echo "init: insmod $m failed"
done
echo "init: kernel $(uname -r), modules loaded"
if grep -q ptdm.debug /proc/cmdline; then
	for g in /sys/kernel/iommu_groups/*; do
		echo "init: IOMMU group ${g##*/}:" $(ls $g/devices)
	done
	for d in /sys/bus/pci/devices/*; do
		echo "init: ${d##*/} reset methods: $(cat $d/reset_method 2>/dev/null)"
	done
fi
/bin/vfio_guest_test
rc=$?
if grep -q ptdm.debug /proc/cmdline; then
	dmesg | tail -30
fi
echo "GUEST-RC=$rc"
# isa-debug-exit at 0xf4: QEMU exits with (rc << 1) | 1
printf "\\$(printf %o $rc)" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
poweroff -f
EOF
chmod +x "$root/init"
(cd "$root" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) \
	>"$work/initrd.gz" || { echo "$tag: FAIL: initramfs" >&2; exit 1; }
t2=$(now)

# edu on the root bus; e1000e alone (Linux gives it an ACS quirk, so it
# would not share a group anyway); a root port with one multifunction slot
# behind it, edu + nvme: one IOMMU group, no function reset for edu (the
# bus is shared), so the hot-reset path.  The NIC's netdev is a hub port
# leading nowhere: no network.
case $machine in
default)
	devices=(-device edu,addr=02.0
		-netdev hubport,id=n0,hubid=0
		-device e1000e,netdev=n0,addr=03.0
		-device pcie-root-port,id=rp1,chassis=1,addr=05.0,x-speed=2_5,x-width=1
		-device edu,bus=rp1,addr=00.0,multifunction=on
		-device nvme,serial=ptdm0,bus=rp1,addr=00.1,multifunction=on) ;;
mig)
	# plain vfio-pci edu, then the migration source and destination
	devices=(-device edu,addr=02.0 -device edu,addr=06.0
		-device edu,addr=07.0) ;;
*) echo "$tag: unknown machine $machine" >&2; exit 2 ;;
esac
timeout -k 10 "$tmo" qemu-system-x86_64 -accel tcg -machine q35 -cpu max \
	-smp 1 -m 512M -nographic -no-reboot -nodefaults -display none \
	-serial stdio \
	-device intel-iommu,intremap=on,aw-bits=48 \
	"${devices[@]}" \
	-device isa-debug-exit,iobase=0xf4,iosize=4 \
	-kernel "$mods/vmlinuz" -initrd "$work/initrd.gz" \
	-append "console=ttyS0 intel_iommu=on panic=-1 quiet loglevel=4${PTDM_VM_DEBUG:+ ptdm.debug}" \
	</dev/null >"$work/serial.raw" 2>"$work/qemu.err"
qrc=$?
t3=$(now)

tr -d '\r' <"$work/serial.raw" >"$work/serial.log"
cat "$work/serial.log"
sed 's/^/qemu: /' "$work/qemu.err"
echo "$tag: kernel $(cat "$mods/kver"), times: kernel cache $(secs "$t0" "$t1") s," \
	"initramfs $(secs "$t1" "$t2") s, boot + test $(secs "$t2" "$t3") s," \
	"total $(secs "$t0" "$t3") s"
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	echo "$tag: FAIL: timeout after $tmo s"
	exit 1
fi
if [ "$qrc" != 1 ]; then
	echo "$tag: FAIL: QEMU exit status $qrc (want 1: guest status 0)"
	exit 1
fi
if ! grep -Eq '^RESULT: [0-9]+ passed, 0 failed' "$work/serial.log"; then
	echo "$tag: FAIL: no clean RESULT line"
	exit 1
fi
echo "$tag: $(grep -E '^RESULT:' "$work/serial.log")"
exit 0
