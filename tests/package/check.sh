#!/bin/bash
# check.sh SRCDIR VERSION - the Debian package, as a user gets it: built
# with dpkg-buildpackage -b -us -uc from a copy of the tree (the tracked
# and untracked-but-not-ignored files; the source tree is never written),
# checked with dpkg -c and lintian, extracted with dpkg -x into an empty
# root, and used from there: ptdm --version, man -l on the installed page
# (which must name every command and option `ptdm help` lists), the
# systemd unit through systemd-analyze verify, the bash completion, and
# the example config served by the installed ptdm and reached by a client.
# Exit 77 (skip) only when dpkg-buildpackage is not there.
set -u
src=$(cd "$1" && pwd)
version=$2
pass=0
fail=0

command -v dpkg-buildpackage >/dev/null || {
	echo "SKIP: dpkg-buildpackage not installed (scripts/deps.sh)"; exit 77; }

tmp=$(mktemp -d)
server=""
cleanup() {
	[ -n "$server" ] && kill "$server" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

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

status_of_tree() { # what git says about the source tree (or nothing)
	git -C "$src" status --porcelain --ignored 2>/dev/null | grep -v '^!! build' | sort
}

# the copy: what git knows plus new files it does not ignore
copy="$tmp/src/ptdm-$version"
mkdir -p "$copy"
before=$(status_of_tree)
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$src" && git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do
			[ -e "$f" ] && printf '%s\0' "$f"
		done | xargs -0 cp -a --parents -t "$copy")
else
	tar -C "$src" --exclude='./build*' --exclude='./obj-*' \
		--exclude='./debian/ptdm' --exclude='./debian/.debhelper' -cf - . |
		tar -C "$copy" -xf -
fi

echo "building the package"
if ! (cd "$copy" && DEB_BUILD_OPTIONS="nocheck parallel=2" \
	dpkg-buildpackage -b -us -uc) >"$tmp/build.log" 2>&1; then
	tail -40 "$tmp/build.log"
	echo "FAIL dpkg-buildpackage -b -us -uc"
	exit 1
fi
echo "PASS dpkg-buildpackage -b -us -uc"
pass=$((pass + 1))
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
deb="$tmp/src/ptdm_${version}_$arch.deb"
check "the .deb is named after meson's version $version" test -f "$deb"
check "debian/changelog says the same version" test \
	"$(cd "$src" && dpkg-parsechangelog -S Version | sed 's/-[^-]*$//')" = "$version"
check "source tree untouched" test "$before" = "$(status_of_tree)"

# what the package holds
dpkg -c "$deb" | awk '{print $6}' >"$tmp/contents"
for f in ./usr/bin/ptdm ./usr/share/man/man1/ptdm.1.gz \
	./usr/share/bash-completion/completions/ptdm \
	./lib/systemd/system/ptdm@.service ./etc/ptdm/example.conf \
	./usr/share/ptdm/virtio-net.ptdm ./usr/share/doc/ptdm/json.md.gz \
	./usr/share/doc/ptdm/copyright ./usr/libexec/ptdm/ptdm-xen-dm; do
	check "dpkg -c: $f" grep -qxF "$f" "$tmp/contents"
done
check "dpkg -c: nothing from the build tree" bash -c \
	"! grep -E 'obj-|/build/|\\.o\$|meson-' '$tmp/contents'"

# lintian: no error and no warning (it says so, and its exit code)
if command -v lintian >/dev/null; then
	lintian --fail-on error,warning "$deb" >"$tmp/lintian" 2>&1
	rc=$?
	grep -v 'running with root privileges' "$tmp/lintian"
	check "lintian: no errors or warnings" test "$rc" = 0
else
	echo "FAIL lintian not installed (scripts/deps.sh installs it)"
	fail=$((fail + 1))
fi

# a clean root with just the package
root="$tmp/root"
mkdir "$root"
check "dpkg -x" dpkg -x "$deb" "$root"
ptdm=$root/usr/bin/ptdm
for v in --version -V version; do
	check "installed ptdm $v" test "$("$ptdm" $v)" = "ptdm $version"
done

# the installed man page: renders, and names every command and option
export LC_ALL=C MANWIDTH=250
man -l "$root/usr/share/man/man1/ptdm.1.gz" >"$tmp/man.txt" 2>"$tmp/man.err"
check "man -l on the installed page" test -s "$tmp/man.txt"
check "man -l without warnings" bash -c "! grep -v 'libkmod' '$tmp/man.err' | grep -q ."
check "man: NAME" grep -q 'ptdm - a PCI passthrough device model' "$tmp/man.txt"
missing=""
for sub in $("$ptdm" help | sed -n 's/^  ptdm \([a-z-]*\).*/\1/p'); do
	grep -qE "^ +$sub( |\$)" "$tmp/man.txt" || missing="$missing $sub"
	for opt in $("$ptdm" "$sub" --help | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
		grep -qF -- "$opt" "$tmp/man.txt" || missing="$missing $sub:$opt"
	done
done
check "man names every command and option of ptdm help" test -z "$missing"
[ -n "$missing" ] && echo "  not in the man page:$missing"

# the systemd unit, pointed at the extracted binary
if command -v systemd-analyze >/dev/null; then
	mkdir "$tmp/units"
	sed "s|/usr/bin/ptdm|$ptdm|" "$root/lib/systemd/system/ptdm@.service" \
		>"$tmp/units/ptdm@.service"
	(cd "$tmp/units" && systemd-analyze verify --man=no \
		"$tmp/units/ptdm@example.service") >"$tmp/verify" 2>&1
	rc=$?
	cat "$tmp/verify"
	check "systemd-analyze verify ptdm@example.service" \
		test "$rc" = 0 -a ! -s "$tmp/verify"
else
	echo "SKIP systemd-analyze: not installed"
fi
check "unit serves /etc/ptdm/%i.conf" grep -qxF \
	"ExecStart=/usr/bin/ptdm serve --config /etc/ptdm/%i.conf" \
	"$root/lib/systemd/system/ptdm@.service"

# the bash completion, from the installed ptdm
check "completion: commands" bash -c "
	source '$root/usr/share/bash-completion/completions/ptdm'
	COMP_WORDS=('$ptdm' ins); COMP_CWORD=1; _ptdm
	[ \"\${COMPREPLY[*]}\" = inspect ]"
check "completion: a command's options" bash -c "
	source '$root/usr/share/bash-completion/completions/ptdm'
	COMP_WORDS=('$ptdm' inspect --du); COMP_CWORD=2; _ptdm
	[ \"\${COMPREPLY[*]}\" = --dump ]"

# the example config's image line, served by the installed ptdm
sed -e "s|^#/usr/share/ptdm/|$root/usr/share/ptdm/|" \
	-e "s|/run/ptdm/example.sock|$tmp/example.sock|" \
	"$root/etc/ptdm/example.conf" >"$tmp/example.conf"
check "example config has one live line" test \
	"$(grep -cv '^#' "$tmp/example.conf")" = 1
"$ptdm" serve --config "$tmp/example.conf" 2>"$tmp/serve.err" &
server=$!
for _ in $(seq 50); do
	[ -S "$tmp/example.sock" ] && break
	sleep 0.1
done
check "example config: a client reaches the device" bash -c \
	"'$ptdm' client '$tmp/example.sock' info | grep -q BAR0"
kill -TERM "$server"
wait "$server"
rc=$?
server=""
check "example config: SIGTERM ends serve cleanly" test "$rc" = 0

echo "package: $pass passed, $fail failed"
[ "$fail" = 0 ]
