# Thin wrapper around meson/ninja.  Every target first makes sure the Debian
# packages are there (scripts/deps.sh is a no-op when they are).
.PHONY: all deps check demo bench clean

all: deps build/build.ninja
	ninja -C build

deps:
	@sh scripts/deps.sh

build/build.ninja:
	meson setup build

check: deps
	@bash scripts/check.sh

demo: all
	@bash scripts/demo.sh

bench: all
	./build/ptdm bench cfg

clean:
	rm -rf build build-asan build-clang build*.log
