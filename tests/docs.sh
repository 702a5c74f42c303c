#!/usr/bin/env bash
# tests/docs.sh - the defaults README.md, docs/*.md and the man page state
# are the binary's.  Each value is read from the binary (run --help, --help,
# --print-default-spec) and every sentence of the docs that states it is
# found with a precise pattern and compared: a changed default fails here
# until the docs follow.  A pattern that no longer matches fails too (the
# sentence was reworded: update the pattern with it), so no statement
# drops out of the comparison unnoticed.
# A part of the suite (tests/lib.sh): runs alone or from tests/run.sh, and
# needs no user or container (UVA_LIB_TAP_ONLY).
UVA_LIB_TAP_ONLY=1
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

flat() { tr '\n' ' ' | tr -s ' \t' ' '; }
# The front door and the docs it links (issue 25 moved README's sections
# to docs/*.md): each file one long line, by its path from the top.
declare -A DOC_T
for p in "$ROOT/README.md" "$ROOT"/docs/*.md; do
  DOC_T[${p#"$ROOT"/}]=$(flat <"$p")
done
# The man page as a reader sees it: formatted, one long line, no
# hyphenation, no bold or underline (grotty -cbou).
MAN_T=
if command -v groff >/dev/null; then
  MAN_T=$(groff -man -Tutf8 -rLL=5000n -rHY=0 -P-cbou "$ROOT/uva_container.1" 2>/dev/null | flat)
fi
RUN_HELP=$("$BIN" run --help 2>&1 | flat)
TOP_HELP=$("$BIN" --help 2>&1 | flat)
SPEC=$("$BIN" --print-default-spec 2>&1)

# The default of a run option, from its --help line "(default: V".
opt_default() {
  local re="--$1=[A-Z]+ [^()]*\\(default: ([0-9]+[a-z]?)"
  [[ $RUN_HELP =~ $re ]] && echo "${BASH_REMATCH[1]}"
}
# A size of the run --help description: "WHAT (MODE, N MiB" or "..., N MiB each".
help_mib() {
  local re="$1 ([0-9]+) MiB"
  [[ $RUN_HELP =~ $re ]] && echo "${BASH_REMATCH[1]}"
}

# stated DOC TEXT WANT REGEX: every match of REGEX (one capture group: the
# value) in TEXT says WANT, and there is at least one.
stated() {
  local doc=$1 text=$2 want=$3 re=$4 got=() m
  while [[ $text =~ $re ]]; do
    got+=("${BASH_REMATCH[1]}")
    m=${BASH_REMATCH[0]}
    text=${text#*"$m"}
  done
  if [ ${#got[@]} = 0 ]; then
    not_ok "$doc: no sentence matches /$re/ (reworded? update the pattern)"
  elif [ "$(printf '%s\n' "${got[@]}" | sort -u)" = "$want" ]; then
    ok "$doc: /$re/ says $want (${#got[@]}x)"
  else
    not_ok "$doc: /$re/ says $(printf '%s ' "${got[@]}")where the binary's default is $want"
  fi
}
# doc FILE WANT REGEX: the sentence lives in FILE (README.md, docs/x.md);
# a file that is gone matches nothing, and fails.
doc() {
  local f=$1
  shift
  stated "$f" "${DOC_T[$f]:-}" "$@"
}
man() {
  if [ -n "$MAN_T" ]; then stated uva_container.1 "$MAN_T" "$@"; else skipped "uva_container.1: /$2/ (no groff)"; fi
}

STOP=$(opt_default stop-timeout)
WAIT=$(opt_default wait-timeout)
PIDS=$(opt_default pids-limit)
SOCKS=$(opt_default sockets-limit)
SHM=$(opt_default shm-size)
HOME_MIB=$(help_mib "home directory \\(0700,")
RUN_MIB=$(help_mib "/run \\(0755,")
VTMP_MIB=$(help_mib "/var/tmp \\(1777,")
LOG_MIB=$(help_mib "log.1,")
for v in STOP WAIT PIDS SOCKS SHM HOME_MIB RUN_MIB VTMP_MIB LOG_MIB; do
  check "the binary states its $v default" [ -n "${!v}" ]
done
case $SHM in
  *m) SHM_MIB=${SHM%m} ;;
  *g) SHM_MIB=$((${SHM%g} * 1024)) ;;
  *) SHM_MIB="$SHM" ;;
esac

# The stop timeout: SIGKILL follows the stop signal after it.
doc README.md "$STOP" 'SIGKILL follows after ([0-9]+) s'
doc docs/usage.md "$STOP" 'stop-timeout` \(seconds, default ([0-9]+)'
doc docs/operations.md "$STOP" 'SIGKILL after the stop timeout \(([0-9]+) s'
doc docs/operations.md "$STOP" 'stop-timeout` \(([0-9]+) s by default\)'
man "$STOP" 'followed by SIGKILL after ([0-9]+) seconds'
man "$STOP" 'its stop timeout, ([0-9]+) s unless set'
man "$STOP" 'and SIGKILL \(default ([0-9]+)\)'
man "$STOP" 'before SIGKILL \(default ([0-9]+)\)'
man "$STOP" 'the default stop-timeout of ([0-9]+) s'

# -d's readiness wait.
doc docs/operations.md "$WAIT" '`--wait-timeout` \(default ([0-9]+) s\)'
man "$WAIT" '--wait-timeout seconds \(default ([0-9]+) with -d'
man "$WAIT" 'give up after SECONDS \(default ([0-9]+);'
stated "uva_container --help" "$TOP_HELP" "$WAIT" 'within --wait-timeout \(default ([0-9]+) s\)'

# The caps.
doc docs/usage.md "$PIDS" 'processes and threads \(default ([0-9]+)\)'
doc docs/usage.md "$PIDS" 'its init included: ([0-9]+) by default'
doc docs/hardening.md "$PIDS" '`--pids-limit` \(([0-9]+) by default\)'
doc docs/compatibility.md "$PIDS" '`--pids-limit` \(([0-9]+)\)'
man "$PIDS" 'the default is ([0-9]+), as in podman'
man "$PIDS" 'at most ([0-9]+) processes and threads \(--pids-limit\)'
man "$PIDS" 'As --pids-limit; printed by --print-default-spec only where it is not the default ([0-9]+)'
doc docs/usage.md "$SOCKS" 'outbound flows \(default ([0-9]+)\)'
doc docs/usage.md "$SOCKS" 'UDP source port: ([0-9]+) by default'
doc docs/how-it-works.md "$SOCKS" '\| ([0-9]+) \(`--sockets-limit`\)'
doc docs/hardening.md "$SOCKS" '`--sockets-limit` \(([0-9]+)\)'
man "$SOCKS" 'source port; the default is ([0-9]+)\.'
man "$SOCKS" 'As --sockets-limit; printed only where it is not the default ([0-9]+)'

# The sizes.
doc docs/usage.md "$SHM" 'the size of `/dev/shm` \(default `([0-9]+[kmg])`\)'
doc docs/usage.md "$SHM" 'as in Docker \(default `([0-9]+[kmg])`'
doc docs/hardening.md "$SHM_MIB" 'its tmpfs has a size, ([0-9]+) MiB unless `--shm-size`'
man "$SHM" 'the default is ([0-9]+[kmg]), as in Docker'
man "$SHM" 'As --shm-size; printed only where it is not the default ([0-9]+[kmg])'
man "$SHM_MIB" '/dev/shm holds at most ([0-9]+) MiB'
doc docs/how-it-works.md "$RUN_MIB" '`/run` \(0755, ([0-9]+) MiB\)'
doc docs/operations.md "$RUN_MIB" '`/run` \(([0-9]+) MiB, memory\)'
doc docs/how-it-works.md "$VTMP_MIB" '`/var/tmp` \(1777, ([0-9]+) MiB\)'
doc docs/operations.md "$VTMP_MIB" 'and `/var/tmp` \(([0-9]+) MiB\) are'
doc docs/how-it-works.md "$HOME_MIB" 'passwd entry names it \(0700, ([0-9]+) MiB\)'
man "$HOME_MIB" "tmpfs of the container's own \\(0700, ([0-9]+) MiB"
man "$RUN_MIB" '/run \(0755, ([0-9]+) MiB\)'
man "$VTMP_MIB" '/var/tmp \(1777, ([0-9]+) MiB\)'
doc docs/operations.md "$LOG_MIB" 'which take turns at ([0-9]+) MiB'
doc docs/operations.md "$((LOG_MIB * 2))" '\(at most ([0-9]+) MiB per container\)'
man "$LOG_MIB" 'which take turns at ([0-9]+) MiB each'
man "$((LOG_MIB * 2))" 'each: at most ([0-9]+) MiB, at least'
man "$LOG_MIB" 'at least the last ([0-9]+) MiB'

# The default pair's ports, from the default spec: "NAME HOST_PORT
# CONTAINER_PORT" lines, compared with every place that names them.
PAIRS=$(awk -F'[:=;]' '/^\[container /{n=$0; sub(/^\[container /, "", n); sub(/\]$/, "", n)}
  /^publish=/{print n, $3, $4}' <<<"$SPEC")
check "the default spec publishes two ports ($(tr '\n' ' ' <<<"$PAIRS"))" [ "$(grep -c . <<<"$PAIRS")" = 2 ]
while read -r name hport cport; do
  for f in README.md docs/operations.md; do
    doc "$f" "$hport" "$name ready at http://127\\.0\\.0\\.1:([0-9]+)/"
  done
  for f in README.md docs/ports.md; do
    doc "$f" "$hport" "127\\.0\\.0\\.1:([0-9]+) -> $name:$cport"
    doc "$f" "$cport" "127\\.0\\.0\\.1:$hport -> $name:([0-9]+)"
  done
  man "$hport" "$name ready at http://127\\.0\\.0\\.1:([0-9]+)/"
  man "$hport" "$name listens on port $cport inside container $name, published on the host as http://127\\.0\\.0\\.1:([0-9]+)/"
  man "$cport" "$name listens on port ([0-9]+) inside container $name"
  stated "uva_container --help" "$TOP_HELP" "$hport" "$name: http://127\\.0\\.0\\.1:([0-9]+)/ -> port $cport inside container $name"
  stated "uva_container --help" "$TOP_HELP" "$cport" "$name: http://127\\.0\\.0\\.1:$hport/ -> port ([0-9]+) inside container $name"
done <<<"$PAIRS"
