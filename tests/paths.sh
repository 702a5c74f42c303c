#!/usr/bin/env bash
# tests/paths.sh - a container is hostile: what it can write (its workdir,
# /tmp, volumes) and what another local user prepared must never make the
# manager or init reach out of it.
# A part of the suite (tests/lib.sh): runs alone or from tests/run.sh.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
make_site


# 1. The app rewrites its own spec (README's `workdir = .`): appending,
# renaming, removing, hard-linking and replacing it all fail, in place and
# one directory down, and the next `up` reads what the user wrote.
APPD=$WORK/myapp
mkdir -p "$APPD/conf"
cat >"$APPD/attack.sh" <<'ATTACK'
s=$1 d=$(dirname "$1")
echo "volume = /:/host" >>"$s" 2>/dev/null && echo APPENDED
mv "$s" "$s.moved" 2>/dev/null && echo MOVED
rm -f "$s" 2>/dev/null; [ -e "$s" ] || echo REMOVED
ln "$s" /app/hard-link 2>/dev/null && echo LINKED
if [ "$d" != /app ]; then
  mv "$d" "$d.old" 2>/dev/null && mkdir "$d" && echo "[container evil]" >"$s" && echo REPLACED
fi
echo attack-done
ATTACK
printf '[container rw]\ncommand = sh /app/attack.sh /app/top.spec\nworkdir = .\n' >"$APPD/top.spec"
printf '[container rw]\ncommand = sh /app/attack.sh /app/conf/deep.spec\nworkdir = ..\n' >"$APPD/conf/deep.spec"
own "$APPD"
for f in top.spec conf/deep.spec; do
  sum=$(md5sum <"$APPD/$f")
  out=$(up_out "$APPD/$f")
  check "spec in a writable workdir ($f): the app ran its attack" grep -q "rw | attack-done" <<<"$out"
  check "spec in a writable workdir ($f): not appended, moved, removed, linked or replaced" \
    bash -c '! grep -qE "APPENDED|MOVED|REMOVED|LINKED|REPLACED" <<<"$1"' _ "$out"
  check "spec in a writable workdir ($f): unchanged on the host" [ "$(md5sum <"$APPD/$f")" = "$sum" ]
done
ln "$APPD/top.spec" "$APPD/second-name.spec"
expect_fail "a spec file with a second hard link is refused" "has 2 hard links" as_user "$UVA" up "$APPD/top.spec"
rm -f "$APPD/second-name.spec"
chmod 0666 "$APPD/top.spec"
expect_fail "a spec file others can write is refused" "writable by group or others" as_user "$UVA" up "$APPD/top.spec"
chmod 0644 "$APPD/top.spec"

# 2. `run` without -w does not share the current directory: run from the
# home directory, the app sees an empty /app and cannot touch ~/.bashrc.
out=$(cd "$THOME" && run_out -- sh -c 'ls -A /app | wc -l; echo pwned >>/app/.uva-probe-rc')
check_eq "run from \$HOME without -w: /app is empty" "$out" 0
check "run from \$HOME without -w: nothing written in \$HOME" [ ! -e "$THOME/.uva-probe-rc" ]
rm -f "$THOME/.uva-probe-rc"
out=$(run_out -- sh -c 'ls -A /app | wc -l; touch /app/left-behind')
check_eq "run without -w: a fresh /app at every start" "$out" 0
out=$(cd "$WORK/site" && run_out -w . -- cat page.txt)
check_eq "run -w . shares the current directory" "$out" "site file"

# 3. A dangling symlink planted at the seed file: nothing is created
# through it.
SEEDD=$WORK/seeddir
mkdir -p "$SEEDD"
ln -s "$WORK/pwned-by-seed" "$SEEDD/hello.txt"
printf '[container seed]\ncommand = true\nworkdir = %s\nseed-file = hello.txt\n' "$SEEDD" >"$WORK/seed.spec"
own "$SEEDD" "$WORK/seed.spec"
up_out "$WORK/seed.spec" >/dev/null
check "a symlink at the seed file is not followed" [ ! -e "$WORK/pwned-by-seed" ]
printf '[container seed]\ncommand = true\nseed-file = ../../x\n' >"$WORK/seed2.spec"
own "$WORK/seed2.spec"
expect_fail "seed-file with a path is refused" 'seed-file "../../x" is not a plain file name' \
  as_user "$UVA" up "$WORK/seed2.spec"
printf '[container seed]\ncommand = true\nlog = /etc/passwd\n' >"$WORK/seed3.spec"
own "$WORK/seed3.spec"
expect_fail "log with a path is refused" 'log "/etc/passwd" is not a plain file name' \
  as_user "$UVA" up "$WORK/seed3.spec"

# 4. A symlink on a volume's target path, planted in the workdir, pointing
# at the host root as init sees it while it builds the root (/oldroot).
TGTD=$WORK/tgtdir
mkdir -p "$TGTD" "$WORK/vsrc" "$WORK/escaped"
ln -s "/oldroot$WORK/escaped" "$TGTD/x"
own "$TGTD" "$WORK/vsrc" "$WORK/escaped"
expect_fail "a symlink on a volume target's path is refused" "/app/x is a symlink" \
  as_user "$UVA" run -w "$TGTD" -v "$WORK/vsrc:/app/x/y" -- true
check "nothing was created through it on the host" [ -z "$(ls -A "$WORK/escaped")" ]

# 5. One container plants a symlink where another's volume source is.
XA=$WORK/xa
mkdir -p "$XA"
ln -s "$THOME" "$XA/shared"
cat >"$WORK/cross.spec" <<SPEC_EOF
[container xa]
command = true
workdir = $XA

[container xb]
command = ls /data
volume = $XA/shared:/data
SPEC_EOF
own "$XA" "$WORK/cross.spec"
expect_fail "a symlink planted in another container's workdir is not followed for a volume" \
  "$XA/shared is a symlink and a container can write there" as_user "$UVA" up "$WORK/cross.spec"
rm "$XA/shared"
mkdir "$XA/shared" && touch "$XA/shared/shared-file"
own "$XA"
out=$(up_out "$WORK/cross.spec")
check "a real directory of one container's workdir can be another's volume" grep -q "xb | shared-file" <<<"$out"

# 6. State directories that are not the user's own.
LOOSE=$WORK/loose-state
mkdir -p "$LOOSE"
own "$LOOSE"
chmod 0777 "$LOOSE"
expect_fail "a world-writable XDG_STATE_HOME is refused" "$LOOSE is writable by group or others" \
  as_user env XDG_STATE_HOME="$LOOSE" "$UVA" run -- true
check "nothing was created in it" [ -z "$(ls -A "$LOOSE")" ]
if [ "$IS_ROOT" = 1 ]; then
  # Another user (nobody) prepared the state directory, with the victim's
  # home behind a symlinked www, as the issue's attacker did.
  EVIL=$WORK/evil-state
  mkdir -p "$EVIL/uva_container/run"
  ln -s "$THOME" "$EVIL/uva_container/run/www"
  chown -R nobody: "$EVIL"
  chmod 0777 "$EVIL" "$EVIL/uva_container" "$EVIL/uva_container/run"
  expect_fail "a state directory of another user is refused" "$EVIL belongs to uid $(id -u nobody)" \
    as_user env XDG_STATE_HOME="$EVIL" "$UVA" run -- true
  mkdir -p "$WORK/evil-tmp" && chown nobody: "$WORK/evil-tmp"
  expect_fail "--tmp of another user is refused" "$WORK/evil-tmp belongs to uid" \
    as_user "$UVA" run --tmp "$WORK/evil-tmp" -- true
  # sudo -E: root with the user's state directory leaves nothing of root's.
  out=$(cd "$WORK/site" && XDG_STATE_HOME="$WORK/state" timeout 30 "$UVA" run --name asroot -- true 2>&1); rc=$?
  check "root with another user's state directory is refused, naming sudo (rc=$rc)" \
    bash -c '[ "$1" != 0 ] && grep -q "running as root (sudo?)" <<<"$2"' _ "$rc" "$out"
  check "root left no root-owned file in the user's state" [ -z "$(find "$WORK/state" -uid 0)" ]
else
  skipped "a state directory of another user (needs root to arrange)"
  skipped "--tmp of another user (needs root to arrange)"
  skipped "root with another user's state directory (needs root)"
  skipped "root left no root-owned file (needs root)"
fi

# 7. Volumes where the host's read-only system directories are: over an
# existing root-owned file or directory, nothing is created and the bind
# works; a missing mount point there cannot be made, and one line says
# where and why (EROFS), with what to do instead.
VOLD=$WORK/voldir
mkdir -p "$VOLD/d"
echo "my conf" >"$VOLD/x.conf"
echo "in dir" >"$VOLD/d/f"
own "$VOLD"
ETCF=
for f in /etc/issue /etc/debian_version /etc/shells; do
  [ -f "$f" ] && [ ! -L "$f" ] && [ "$(stat -c %u "$f")" = 0 ] && { ETCF=$f; break; }
done
out=$(run_out --network none -v "$VOLD/x.conf:$ETCF:ro" -v "$VOLD/d:/usr/share/doc" -- sh -c "cat $ETCF /usr/share/doc/f")
check_eq "-v FILE over root-owned $ETCF and DIR over /usr/share/doc" "$out" "my conf
in dir"
expect_fail "-v FILE:/etc/NEW: the mount point cannot be made in read-only /etc (EROFS), said in one line" \
  "mount point /etc/uva-new.conf: /etc/uva-new.conf does not exist and cannot be made: /etc is read-only in the container (Read-only file system)" \
  as_user "$UVA" run --network none -v "$VOLD/x.conf:/etc/uva-new.conf" -- true
expect_fail "-v DIR:/usr/share/NEW/SUB: names the first missing component and its read-only parent" \
  "/usr/share/uva-new does not exist and cannot be made: /usr/share is read-only" \
  as_user "$UVA" run --network none -v "$VOLD/d:/usr/share/uva-new/sub" -- true
out=$(run_out --network none -v "$VOLD/d:/run/uva/d" -v "$VOLD/x.conf:$THOME/.config/x.conf" -- sh -c 'cat /run/uva/d/f "$HOME/.config/x.conf"')
check_eq "-v below /run and the home directory: mount points made on their tmpfs" "$out" "in dir
my conf"

# 8. No writable area may hold, or lie in, the state root, the control
# directory or the log files (issue 22): an app with -w over the state
# directory bound run/NAME.sock before NAME's manager did, and a later
# `exec NAME` handed it the caller's stdin, stdout and stderr
# (tests/control.sh plants one).  Without XDG_RUNTIME_DIR the control
# directory is STATE/run.
STATE=$WORK/state/uva_container
NOXDG=(env -u XDG_RUNTIME_DIR "$UVA")
expect_fail "run -w over the state directory is refused (the app would see /app/run)" \
  "container plant: workdir $STATE holds the control directory $STATE/run" \
  as_user "${NOXDG[@]}" run --name plant -w "$STATE" -- python3 -c 'import socket; socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET).bind("/app/run/victim.sock")'
check "... and nothing was planted" [ ! -e "$STATE/run/victim.sock" ]
expect_fail "-w over a directory above the state directory is refused" \
  "workdir $WORK/state holds the control directory" \
  as_user "${NOXDG[@]}" run -w "$WORK/state" -- true
expect_fail "--tmp inside the control directory is refused" \
  "tmp $STATE/run/x lies inside the control directory $STATE/run" \
  as_user "${NOXDG[@]}" run --tmp "$STATE/run/x" -- true
run_out --name a --network none -- true >/dev/null # a real STATE/a with its logs
expect_fail "a read-write volume of a container's state directory (its logs) is refused" \
  "volume source $STATE/a is a container's state directory, which holds its logs" \
  as_user "${NOXDG[@]}" run -v "$STATE/a:/data" -- true
expect_fail "a read-write volume of a log file is refused" \
  "volume source $STATE/a/log.0 is a container's log file" \
  as_user "${NOXDG[@]}" run -v "$STATE/a/log.0:/data" -- true
XRT=$WORK/xdg-runtime
mkdir -p "$XRT" && chmod 0700 "$XRT" && own "$XRT"
expect_fail "with XDG_RUNTIME_DIR: -w over the runtime directory (holding the control directory) is refused" \
  "workdir $XRT holds the control directory $XRT/uva_container" \
  as_user env XDG_RUNTIME_DIR="$XRT" "$UVA" run -w "$XRT" -- true
out=$(run_out --network none -v "$STATE/a/www:/data" -- sh -c 'echo ok >/data/f && cat /data/f')
check_eq "a container's www below the state directory is still a fine volume" "$out" ok

# 9. Volumes over the files uva generates, as docker users write them: the
# user's file (or directory over /etc) wins over the generated /etc/hosts,
# /etc/hostname and /etc/resolv.conf.
ETCV=$WORK/etcvol
mkdir -p "$ETCV/etc"
echo "10.9.9.9 my-hosts" >"$ETCV/hosts"
echo "my-name" >"$ETCV/hostname"
echo "nameserver 10.9.9.53" >"$ETCV/resolv.conf"
echo "10.8.8.8 dir-hosts" >"$ETCV/etc/hosts"
own "$ETCV"
for f in hosts hostname resolv.conf; do
  out=$(run_out --network none -v "$ETCV/$f:/etc/$f:ro" -- cat "/etc/$f")
  check_eq "-v FILE:/etc/$f:ro: the user's file, not the generated one" "$out" "$(cat "$ETCV/$f")"
done
out=$(run_out -v "$ETCV/resolv.conf:/etc/resolv.conf" -- cat /etc/resolv.conf)
check_eq "-v FILE:/etc/resolv.conf (read-write, with a network): the user's" "$out" "nameserver 10.9.9.53"
out=$(run_out --network none -v "$ETCV/etc:/etc:ro" -- cat /etc/hosts)
check_eq "-v DIR:/etc:ro: the directory's hosts, not the generated one" "$out" "10.8.8.8 dir-hosts"
out=$(run_out --network none --hostname gen -- cat /etc/hostname)
check_eq "without a volume there: the generated /etc/hostname" "$out" "gen"

# 10. Mount targets through root's symlinks in the read-only host view, as
# bubblewrap and crun resolve them beneath the new root: /etc/localtime
# (absolute, -> /usr/share/zoneinfo/...) and /etc/os-release (relative,
# -> ../usr/lib/os-release).  A symlink a container can write is refused.
echo "my zone" >"$ETCV/localtime"
echo "ID=mine" >"$ETCV/os-release"
own "$ETCV"
if [ -L /etc/localtime ] && [ -e /etc/localtime ]; then
  out=$(run_out --network none -v /etc/localtime:/etc/localtime:ro -- md5sum /etc/localtime)
  check_eq "-v /etc/localtime:/etc/localtime:ro (the compose idiom) works" "${out%% *}" "$(md5sum </etc/localtime | cut -d' ' -f1)"
  out=$(run_out --network none -v "$ETCV/localtime:/etc/localtime:ro" -- cat /etc/localtime)
  check_eq "-v FILE:/etc/localtime:ro: the file shows at /etc/localtime" "$out" "my zone"
else
  skipped "/etc/localtime is not a symlink here"
  skipped "/etc/localtime is not a symlink here"
fi
if [ -L /etc/os-release ] && [ -e /etc/os-release ]; then
  out=$(run_out --network none -v "$ETCV/os-release:/etc/os-release:ro" -- cat /etc/os-release)
  check_eq "-v FILE:/etc/os-release:ro through its relative symlink" "$out" "ID=mine"
else
  skipped "/etc/os-release is not a symlink here"
fi
# In /tmp (a writable area), a symlink the app could have planted: refused.
TMPV=$WORK/tmpv
mkdir -p "$TMPV"
ln -s /etc "$TMPV/etc-link"
own "$TMPV"
expect_fail "a symlink in a writable /tmp on a volume target's path is refused" \
  "/tmp/etc-link is a symlink that a container can write" \
  as_user "$UVA" run --network none --tmp "$TMPV" -v "$ETCV/hosts:/tmp/etc-link/hosts:ro" -- true
if [ "$IS_ROOT" = 1 ]; then
  # In the host's /usr, a symlink of root's is followed and one of the
  # user's is not (a /usr/local of the user's own): a tmpfs over
  # /usr/local/games in a mount namespace of the case's own.
  # shellcheck disable=SC2016
  OWNCASE='mount -t tmpfs -o mode=0755 uva-own /usr/local/games && mkdir /usr/local/games/real &&
    echo orig >/usr/local/games/real/f && ln -s real /usr/local/games/root-link &&
    ln -s real /usr/local/games/user-link && chown -h "$0" /usr/local/games/user-link && exec "$@"'
  out=$(timeout -s KILL 30 unshare -m --propagation private sh -c "$OWNCASE" "$TUID" \
    "${AS_USER[@]}" "$UVA" run --network none -v "$ETCV/hosts:/usr/local/games/root-link/f:ro" -- cat /usr/local/games/real/f 2>&1)
  check_eq "a root-owned symlink in the host's /usr is followed" "$out" "10.9.9.9 my-hosts"
  out=$(timeout -s KILL 30 unshare -m --propagation private sh -c "$OWNCASE" "$TUID" \
    "${AS_USER[@]}" "$UVA" run --network none -v "$ETCV/hosts:/usr/local/games/user-link/f:ro" -- cat /usr/local/games/real/f 2>&1)
  check "a symlink of the user's in the host's /usr is refused ($out)" \
    grep -q "/usr/local/games/user-link is a symlink that a container can write, or not host root's" <<<"$out"
else
  skipped "root's and the user's symlinks in /usr (needs root to arrange)"
  skipped "root's and the user's symlinks in /usr (needs root to arrange)"
fi
