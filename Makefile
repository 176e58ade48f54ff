# Thin wrapper around meson/ninja.  Every target first makes sure the Debian
# packages it needs are there, and only those (scripts/deps.sh, a no-op when
# they are): building needs a compiler and a few -dev packages; the demo
# adds QEMU; the tests add clang, QEMU, SeaBIOS and friends.
.PHONY: all deps deps-build deps-demo deps-test check check-vm check-xen \
	demo bench clean

all: deps-build build/build.ninja
	ninja -C build

deps:
	@sh scripts/deps.sh all
deps-build:
	@sh scripts/deps.sh build
deps-demo:
	@sh scripts/deps.sh demo
deps-test:
	@sh scripts/deps.sh test

build/build.ninja:
	meson setup build

check: deps-test
	@bash scripts/check.sh

# The VM tests alone (tests/vm/README.md): the real Linux VFIO driver in
# QEMU TCG guests, Debian 6.1 and 6.12 kernels, in build-vm/.
check-vm: deps-test
	@[ -f build-vm/build.ninja ] || meson setup build-vm -Dvm_tests=true -Dtests=false
	ninja -C build-vm
	meson test -C build-vm --suite vm --print-errorlogs --num-processes 2

# The Xen test alone (tests/xen/README.md): ptdm as an ioreq server on
# Debian's Xen 4.17 under QEMU TCG, an HVM and a PVH guest, in build-xen/.
check-xen: deps-test
	@[ -f build-xen/build.ninja ] || meson setup build-xen -Dxen_tests=true -Dtests=false -Dguest_tests=false
	ninja -C build-xen
	meson test -C build-xen --suite xen --print-errorlogs

# deps-demo first: the packages of all and demo in one apt run
demo: deps-demo
	@$(MAKE) --no-print-directory all
	@bash scripts/demo.sh

bench: all
	./build/ptdm bench cfg

clean:
	rm -rf build build-asan build-clang build-vm build-xen build*.log
