# Thin wrapper around meson/ninja.  Every target first makes sure the Debian
# packages are there (scripts/deps.sh is a no-op when they are).
.PHONY: all deps check check-vm check-xen demo bench clean

all: deps build/build.ninja
	ninja -C build

deps:
	@sh scripts/deps.sh

build/build.ninja:
	meson setup build

check: deps
	@bash scripts/check.sh

# The VM tests alone (tests/vm/README.md): the real Linux VFIO driver in
# QEMU TCG guests, Debian 6.1 and 6.12 kernels, in build-vm/.
check-vm: deps
	@[ -f build-vm/build.ninja ] || meson setup build-vm -Dvm_tests=true -Dtests=false
	ninja -C build-vm
	meson test -C build-vm --suite vm --print-errorlogs --num-processes 2

# The Xen test alone (tests/xen/README.md): ptdm as an ioreq server on
# Debian's Xen 4.17 under QEMU TCG, an HVM and a PVH guest, in build-xen/.
check-xen: deps
	@[ -f build-xen/build.ninja ] || meson setup build-xen -Dxen_tests=true -Dtests=false -Dguest_tests=false
	ninja -C build-xen
	meson test -C build-xen --suite xen --print-errorlogs

demo: all
	@bash scripts/demo.sh

bench: all
	./build/ptdm bench cfg

clean:
	rm -rf build build-asan build-clang build-vm build-xen build*.log
