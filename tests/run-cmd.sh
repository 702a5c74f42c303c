#!/usr/bin/env bash
# tests/run-cmd.sh - `run`: any command, its exit status, environment, home
# and tmpfs directories, --userns auto, networks, publishing.
# A part of the suite (tests/lib.sh): runs alone or from tests/run.sh.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
make_site
out=$(run_out -- sh -c 'echo out-line; exit 7'); rc=$?
check_eq "run: the app's exit status comes back" "$rc" 7
check_eq "run: the app's output is passed through unprefixed" "$out" out-line
# A manager that is slow to look (a busy machine) finds the app's start
# and its death pending together; the start must still be seen first.
out=$(timeout -s KILL 30 "${AS_USER[@]}" UVA_TEST_HOOK_STALL_MS=300 "$WORK/uva_container-hooks" run -- sh -c 'echo out-line; exit 7' 2>&1); rc=$?
check_eq "run: an app that exits before the manager looks: status 7, output only" "$rc.$out" 7.out-line
run_out -- sh -c 'kill -TERM $$' >/dev/null; rc=$?
check_eq "run: death by SIGTERM gives 143" "$rc" 143
out=$(run_out --hostname web -e FOO=bar -e PATH=/usr/bin:/bin -- sh -c 'echo "$FOO $HOSTNAME $(hostname) $PATH $(id -u)"')
check_eq "run: -e, --hostname, and the user's uid inside" "$out" "bar web web /usr/bin:/bin $TUID"
# What real software expects of a machine: HOME, USER and LOGNAME as the
# passwd entry it sees says, no PYTHONUNBUFFERED forced on it (only the
# recorder's spec sets it), and a writable, private, sized /run, /var/tmp
# and home directory.
TNAME=$(getent passwd "$TUID" | cut -d: -f1)
out=$(run_out --network none -- sh -c 'echo "$HOME $USER $LOGNAME ${PYTHONUNBUFFERED-unset}"; getent passwd "$(id -u)" | cut -d: -f6')
check_eq "run: HOME, USER, LOGNAME from the passwd entry seen inside; no PYTHONUNBUFFERED" "$out" "$THOME $TNAME $TNAME unset
$THOME"
out=$(run_out --network none -- sh -c 'for d in /run /var/tmp "$HOME"; do stat -c "%n %a %u" "$d"; echo x >"$d/uva-w" || exit 1; done; df -k /run /var/tmp "$HOME" | awk "NR > 1 {print \$2}" | tr "\n" " "')
check_eq "run: /run (0755), /var/tmp (1777) and HOME (0700) are the user's, writable, of 64, 256, 256 MiB" "$out" "/run 755 $TUID
/var/tmp 1777 $TUID
$THOME 700 $TUID
65536 262144 262144 "
check "run: what the app wrote there is not on the host" [ ! -e /var/tmp/uva-w -a ! -e "$THOME/uva-w" -a ! -e /run/uva-w ]
out=$(run_out --network none -- ls -A /run /var/tmp "$THOME")
check "run: nor in the next container" bash -c '! grep -q uva-w <<<"$1"' _ "$out"
# An app that daemonizes: what it left is killed with init, and said so.
out=$(run_out --network none -- sh -c 'sleep 100 & exit 0'); rc=$?
check "run: a process the app left behind is counted in one line (rc=$rc: $out)" bash -c \
  '[ "$1" = 0 ] && [ "$(grep -c . <<<"$2")" = 1 ] && grep -qE "^uva_container: run-[0-9a-f]{8}: 1 process \(.*\) outlived the app and was killed \(did it daemonize\?" <<<"$2"' _ "$rc" "$out"
out=$(run_out --network none -- sh -c 'sleep 100 & sleep 100 & exit 0')
check "run: two are counted as two" grep -qE "^uva_container: run-[0-9a-f]{8}: 2 processes \(.*\) outlived the app and were killed" <<<"$out"
# --userns auto: subordinate ids through newuidmap, as rootless podman
# maps them.  useradd gives a new user a range; root adds one where the
# test user has none, and an ordinary user without one skips.
if [ "$IS_ROOT" = 1 ]; then
  for f in subuid subgid; do
    if ! grep -q "^$TNAME:" /etc/$f; then
      s=$(awk -F: '$2 + $3 > m {m = $2 + $3} END {print (m < 100000 ? 100000 : m)}' /etc/$f)
      [ $f = subuid ] && retry_lock usermod --add-subuids "$s-$((s + 65535))" "$TNAME"
      [ $f = subgid ] && retry_lock usermod --add-subgids "$s-$((s + 65535))" "$TNAME"
    fi
  done
fi
SUBU=$(grep -m1 "^$TNAME:" /etc/subuid 2>/dev/null | cut -d: -f2,3 | tr : ' ')
SUBG=$(grep -m1 "^$TNAME:" /etc/subgid 2>/dev/null | cut -d: -f2,3 | tr : ' ')
if [ -x /usr/bin/newuidmap ] && [ -x /usr/bin/newgidmap ] && [ -n "$SUBU" ] && [ -n "$SUBG" ]; then
  out=$(run_out --network none --userns auto -- sh -c 'id -u; echo "$USER $HOME"; awk "{print \$1, \$2, \$3}" /proc/self/uid_map /proc/self/gid_map')
  check_eq "run --userns auto: root inside is the user, the range is mapped above it" "$out" "0
root /root
0 $TUID 1
1 $SUBU
0 $TGID 1
1 $SUBG"
  out=$(run_out --name subid --network none --userns auto -- sh -c 'touch /tmp/uva-owned && chown 1000:1000 /tmp/uva-owned && stat -c "%u %g" /tmp/uva-owned; setpriv --reuid 1000 --regid 1000 --clear-groups id -u; unshare -U true 2>/dev/null || echo no-nested-userns')
  check_eq "run --userns auto: chown and setuid to other ids work; a nested user namespace is still refused" "$out" "1000 1000
1000
no-nested-userns"
  check_eq "run --userns auto: on the host the file belongs to the subordinate id" \
    "$(stat -c %u "$WORK/state/uva_container/subid/tmp/uva-owned")" "$(($(cut -d' ' -f1 <<<"$SUBU") + 999))"
  # Owned by a subordinate id: only the user's own user namespace can
  # remove it, which --userns auto is.
  run_out --name subid --network none --userns auto -- rm -f /tmp/uva-owned >/dev/null
else
  for _ in 1 2 3; do skipped "--userns auto (needs uidmap's newuidmap and newgidmap, and a range for $TNAME in /etc/subuid and /etc/subgid)"; done
fi
if [ "$IS_ROOT" = 1 ]; then
  : >"$WORK/empty-subuid"
  expect_fail "run --userns auto without a range says what to ask root for" "/etc/subuid has no range for $TNAME" \
    unshare -m --propagation private bash -c "mount --bind '$WORK/empty-subuid' /etc/subuid && as_user '$UVA' run --userns auto -- true"
else
  skipped "--userns auto without a range (needs root to hide /etc/subuid in a mount namespace)"
fi
expect_fail "run --userns bogus is refused" 'userns "bogus" is not single or auto' as_user "$UVA" run --userns bogus -- true
out=$(run_out --network none -- sh -c 'ls /sys/class/net 2>/dev/null || cut -d: -f1 /proc/net/dev | tail -n +3 | tr -d " "')
check_eq "run --network none: only lo" "$out" lo
out=$(run_out -- sh -c 'cut -d: -f1 /proc/net/dev | tail -n +3 | tr -d " " | sort | tr "\n" " "')
check_eq "run: slirp network gives lo and tap0" "$out" "lo tap0 "
out=$(run_out --network none -- "$PY" -c "$probe" 10.0.2.2 80); rc=$?
check "run --network none: no route out" [ $rc != 0 ]
ROUT=$WORK/run.out
"${AS_USER[@]}" "$UVA" run -p 127.0.0.1:18081:8000 -w "$WORK/site" -- "$PY" -m http.server 8000 >"$ROUT" 2>&1 &
MGR=$!
wait_for 100 bash -c "curl -s -m 2 http://127.0.0.1:18081/page.txt | grep -q 'site file'"
check "run -p 18081:8000 -w DIR serves DIR" bash -c "curl -s -m 2 http://127.0.0.1:18081/page.txt | grep -q 'site file'"
kill -INT "$MGR"; wait "$MGR"; rc=$?; MGR=
# SIGINT reaches the app as SIGINT: http.server's KeyboardInterrupt
# handler exits 0 (it died of SIGTERM, 143, before).
check_eq "run: Ctrl-C reaches the app as SIGINT, its status comes back" "$rc" 0
check "run: no process left" wait_for 20 no_user_procs
expect_fail "run -p 0:0 is refused, naming the argument" "0:0" as_user "$UVA" run -p 0:0 -- true
expect_fail "run --workdir that does not exist" "is not an existing directory" as_user "$UVA" run -w /nonexistent-uva -- true
expect_fail "run without a command" "no COMMAND" as_user "$UVA" run
expect_fail "run --network bogus" "not slirp or none" as_user "$UVA" run --network bogus -- true
expect_fail "run -e without =" "not NAME=VALUE" as_user "$UVA" run -e JUSTNAME -- true
expect_fail "run of a command that does not exist" "not found in the container's PATH" as_user "$UVA" run -- no-such-command-uva

