#!/usr/bin/env bash
# tests/kube/mkimage.sh OUT.tar - a root filesystem tarball for `podman
# import`, made from this host's own files: python3, the part of its
# standard library a web server needs, /usr/bin/env (http_recorder.py's
# #! line) and the shared libraries they load, found with ldd.  No
# registry is asked for anything: the image is what the host already runs
# (as uva_container's containers see the host's /usr).  About 15 MiB.
set -euo pipefail
out=$1
py=$(readlink -f /usr/bin/python3)
stdlib=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
list=$(mktemp)
trap 'rm -f "$list"' EXIT
{
  # The merged-/usr symlinks (/bin -> usr/bin ...), as they are here.
  for l in bin sbin lib lib64; do [ -L "/$l" ] && echo "$l"; done
  echo usr/bin/python3
  realpath --relative-to=/ "$py"
  echo usr/bin/env
  # Each library by the name the loader asks for and by what it links to.
  for f in "$py" /usr/bin/env "$stdlib"/lib-dynload/*.so; do
    ldd "$f" 2>/dev/null | grep -o '/[^ ]*' || true
  done | sort -u | while read -r lib; do
    dir=$(realpath "$(dirname "$lib")")
    echo "${dir#/}/$(basename "$lib")"
    realpath --relative-to=/ "$lib"
  done
  (cd / && find "${stdlib#/}" \( -name test -o -name tests -o -name idlelib \
    -o -name tkinter -o -name turtledemo -o -name lib2to3 -o -name ensurepip \
    -o -name __pycache__ -o -name 'config-*' -o -name site-packages \
    -o -name dist-packages \) -prune -o \( -type f -o -type l \) -print)
} | sort -u >"$list"
# /etc and the mount points the runtime fills in; the passwd entries
# runAsUser can name without an error from tools that look themselves up.
extra=$(mktemp -d)
trap 'rm -f "$list"; rm -rf "$extra"' EXIT
mkdir -p "$extra/etc" "$extra/tmp" "$extra/app" "$extra/proc" "$extra/dev" "$extra/sys"
chmod 1777 "$extra/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' >"$extra/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$extra/etc/group"
tar -C / --no-recursion -cf "$out" --owner=0 --group=0 --numeric-owner -T "$list"
tar -C "$extra" -rf "$out" --owner=0 --group=0 --numeric-owner etc tmp app proc dev sys
