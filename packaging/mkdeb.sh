#!/usr/bin/env bash
# packaging/mkdeb.sh STAGE VERSION OUT_DIR - turn the `make install
# PREFIX=/usr DESTDIR=STAGE` tree into OUT_DIR/uva-container_VERSION_ARCH.deb
# with dpkg-deb (run by `make deb`).  No debian/ directory to keep in step
# with the Makefile: the tree is what `make install` makes, and Depends
# come from dpkg-shlibdeps on the binary, so they name the libslirp and
# GLib packages it links against.  Debian package names may not hold '_'
# (deb-control(5), Package): the package is uva-container, the command
# stays uva_container.
set -euo pipefail
stage=$1 version=$2 out=$3
pkg=uva-container
for tool in dpkg-deb dpkg-shlibdeps; do
  command -v "$tool" >/dev/null ||
    { echo "mkdeb: $tool not found: sudo apt-get install dpkg-dev" >&2; exit 1; }
done
arch=$(dpkg --print-architecture)
maintainer=${DEB_MAINTAINER:-uva_container maintainers <uva-container@localhost>}

# Debian policy: binaries stripped (their debug info would go to a -dbgsym
# package), man pages gzipped, a copyright file and a changelog in
# /usr/share/doc/PACKAGE.
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
  "$stage/usr/bin/uva_container"
gzip -9nf "$stage/usr/share/man/man1/uva_container.1"
doc=$stage/usr/share/doc/$pkg
install -d -m 0755 "$doc"
cat >"$doc/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: uva_container

Files: *
Copyright: the uva_container authors
License: see the uva_container source repository
COPYRIGHT
printf '%s (%s) unstable; urgency=medium\n\n  * Built with make deb.\n\n -- %s  %s\n' \
  "$pkg" "$version" "$maintainer" "$(date -R -u -d @"${SOURCE_DATE_EPOCH:-0}")" |
  gzip -9n >"$doc/changelog.gz"

# dpkg-shlibdeps wants a debian/control to read; an empty one will do.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debian"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$pkg" "$pkg" >"$work/debian/control"
# Its warning that the binary is not under debian/PACKAGE is moot here.
depends=$(cd "$work" && dpkg-shlibdeps -O -e "$stage/usr/bin/uva_container" \
  2> >(grep -v 'should already be installed in their package' >&2))
depends=${depends#shlibs:Depends=}
[ -n "$depends" ] || { echo "mkdeb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
install -d -m 0755 "$stage/DEBIAN"
cat >"$stage/DEBIAN/control" <<CONTROL
Package: $pkg
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $depends
Recommends: python3
Section: admin
Priority: optional
Description: rootless containers with libslirp networking
 uva_container runs programs as an ordinary user in their own user,
 network, mount, pid, uts and ipc namespaces, publishes their ports on
 the host's loopback (splice or libslirp forwarding), and gives each a
 working directory and /tmp of its own.  Without arguments it starts
 two copies of the bundled http_recorder.py on ports 18080 and 28080.
CONTROL
# Files in /etc are conffiles: an admin's edit survives an upgrade.  The
# AppArmor profile is loaded on install and unloaded on removal, as
# dh_apparmor's snippets do, where AppArmor runs.
(cd "$stage" && find etc -type f | sed 's|^|/|') >"$stage/DEBIAN/conffiles"
cat >"$stage/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ] && command -v apparmor_parser >/dev/null 2>&1 &&
  aa-enabled --quiet 2>/dev/null; then
  apparmor_parser -r -T -W /etc/apparmor.d/uva_container ||
    echo "uva-container: could not load /etc/apparmor.d/uva_container" >&2
fi
POSTINST
cat >"$stage/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ "$1" = remove ] && command -v apparmor_parser >/dev/null 2>&1 &&
  aa-enabled --quiet 2>/dev/null; then
  apparmor_parser -R /etc/apparmor.d/uva_container 2>/dev/null || true
fi
PRERM
chmod 0755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/prerm"
# Modes as Debian wants them whatever the umask: directories 0755.
find "$stage" -type d -exec chmod 0755 {} +
mkdir -p "$out"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$out/${pkg}_${version}_${arch}.deb" >/dev/null
echo "$out/${pkg}_${version}_${arch}.deb"
