# shellcheck shell=bash
# tests/compat/compose.sh - the volume and environment idioms of compose
# files, as a user coming from docker writes them.  Sourced by
# tests/compat/lib.sh.
#
# compat_compose MODE: writes $CWORK/MODE.compose.tsv, one "value:" row per
# idiom.  The host column is what docker's documentation says the app
# sees, read on the host from the same sources: a bind mount shows its
# source ("Bind mounts": the pre-existing files "are obscured by the
# mount", docs.docker.com/engine/storage/bind-mounts), a user's file over
# /etc/hosts, /etc/hostname or /etc/resolv.conf wins over docker's own
# (moby/moby#2267, fixed by #5129), -h/--hostname is "written to
# /etc/hostname", -e sets the variable, :ro makes writes fail with EROFS.
# The container column is what uva_container gives the app.  Each idiom is
# one short `run --rm --network none`: a few seconds for all.
#
# Rows (ID: the idiom, then what is read):
#  1 -v /etc/localtime:/etc/localtime:ro   the zone name and the zone file
#  2 -v /etc/timezone:/etc/timezone:ro     its text
#  3 -e TZ=Asia/Tokyo                      the local time of the epoch
#  4 -v ./hosts:/etc/hosts:ro              getent hosts of a name in it
#  5 -v ./resolv.conf:/etc/resolv.conf:ro  its text
#  6 hostname: web (-h web)                hostname and /etc/hostname
#  7 a config file over an existing one    its text (nginx.conf)
#  8 a read-only directory over one        its listing, and a write
#  9 a socket directory (-v ./run:/run/app) the app listens there, the
#                                           host connects
# 10 a host socket (docker.sock's idiom)   the app connects, the host
#                                           answers
# 11 a data directory (-v ./data:/data)    the app writes, the host reads
#                                           owner and size
# 12 a named volume (-v data:/data)        docker makes a volume; uva has
#                                           none (known.tsv)

# compose_value MODE FILE DIR ID HOST_CMD [RUN_ARG...] -- CMD: one row;
# HOST_CMD runs on the host in DIR, CMD in a container whose /app is DIR.
# Output: whitespace squeezed, on one line.
compose_value() {
  local mode=$1 f=$2 d=$3 id=$4 host_cmd=$5 out
  shift 5
  local args=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do args+=("$1"); shift; done
  shift
  if [ "$mode" = host ]; then
    out=$(cd "$d" && timeout -s KILL 30 "${AS_USER[@]}" "${COMPAT_ENV[@]}" sh -c "$host_cmd" 2>&1)
  else
    # From DIR too: a relative HOST_PATH (./hosts, appdata) names the
    # same file on both sides.
    out=$(cd "$d" && timeout -s KILL 30 "${AS_USER[@]}" "$UVA" run --rm --network none -w "$d" \
      "${args[@]}" -- sh -c "$1" 2>&1)
  fi
  compat_value "$f" "compose: $id" "$(tr '\n\t' '  ' <<<"$out" | tr -s ' ' | sed 's/ $//')"
}

# A unix-socket server as the user: answers "pong" to one client.
COMPOSE_SERVER='import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen()
c, _ = s.accept()
c.sendall(b"pong")
c.close()'
COMPOSE_CLIENT='import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
print(s.recv(16).decode())'

compat_compose() {
  local mode=$1 d f conf html pid out
  d=$(compat_dir "$mode" compose)
  f=$CWORK/$mode.compose.tsv
  : >"$f"
  printf '127.0.0.1 localhost\n10.1.2.3 my-db\n' >"$d/hosts"
  printf 'nameserver 10.1.2.53\noptions ndots:1\n' >"$d/resolv.conf"
  printf 'worker_processes 1; # mine\n' >"$d/my.conf"
  mkdir -p "$d/html" "$d/run" "$d/data" "$d/hostsock"
  echo '<h1>mine</h1>' >"$d/html/index.html"
  [ "$(id -u)" = 0 ] && chown -R "$TUID:$TGID" "$d"

  compose_value "$mode" "$f" "$d" "-v /etc/localtime:/etc/localtime:ro: zone, zone file" \
    'date -d @0 +%Z; md5sum </etc/localtime | cut -c1-12' \
    -v /etc/localtime:/etc/localtime:ro -- 'date -d @0 +%Z; md5sum </etc/localtime | cut -c1-12'
  if [ -f /etc/timezone ]; then
    compose_value "$mode" "$f" "$d" "-v /etc/timezone:/etc/timezone:ro: its text" \
      'cat /etc/timezone' -v /etc/timezone:/etc/timezone:ro -- 'cat /etc/timezone'
  fi
  compose_value "$mode" "$f" "$d" "-e TZ=Asia/Tokyo: local time of the epoch" \
    'TZ=Asia/Tokyo date -d @0 +%H:%M:%Z' -e TZ=Asia/Tokyo -- 'date -d @0 +%H:%M:%Z'
  compose_value "$mode" "$f" "$d" "-v ./hosts:/etc/hosts:ro: getent hosts my-db" \
    'grep -w my-db hosts' -v ./hosts:/etc/hosts:ro -- 'getent hosts my-db'
  compose_value "$mode" "$f" "$d" "-v ./resolv.conf:/etc/resolv.conf:ro: its text" \
    'cat resolv.conf' -v ./resolv.conf:/etc/resolv.conf:ro -- 'cat /etc/resolv.conf'
  compose_value "$mode" "$f" "$d" "hostname: web: hostname, /etc/hostname" \
    'echo web; echo web' --hostname web -- 'hostname; cat /etc/hostname'
  conf=/etc/nginx/nginx.conf
  [ -f "$conf" ] || conf=/etc/issue
  compose_value "$mode" "$f" "$d" "a config file over an existing one ($conf): its text" \
    'cat my.conf' -v "$d/my.conf:$conf:ro" -- "cat $conf"
  html=/usr/share/nginx/html
  [ -d "$html" ] || html=/usr/share/doc
  compose_value "$mode" "$f" "$d" "a read-only directory over an existing one ($html): listing, a write" \
    'ls html; echo "touch: Read-only file system"' \
    -v "$d/html:$html:ro" -- "ls $html; touch $html/x 2>&1 | sed 's/^touch: .*: /touch: /'"

  # 9: the app listens in a socket directory, the host connects.
  rm -f "$d/run/app.sock"
  if [ "$mode" = host ]; then
    "${AS_USER[@]}" python3 -c "$COMPOSE_SERVER" "$d/run/app.sock" >/dev/null 2>&1 &
  else
    "${AS_USER[@]}" "$UVA" run --rm --network none -v "$d/run:/run/app" -- \
      python3 -c "$COMPOSE_SERVER" /run/app/app.sock >/dev/null 2>&1 &
  fi
  pid=$!
  out=$(wait_for 100 test -S "$d/run/app.sock" &&
    timeout -s KILL 15 "${AS_USER[@]}" python3 -c "$COMPOSE_CLIENT" "$d/run/app.sock" 2>&1)
  wait_for 100 compat_gone "$pid" || kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  compat_value "$f" "compose: a socket directory (-v ./run:/run/app): the host connects to the app" "${out:-no socket}"

  # 10: the host listens (docker.sock's idiom), the app connects.
  rm -f "$d/hostsock/host.sock"
  "${AS_USER[@]}" python3 -c "$COMPOSE_SERVER" "$d/hostsock/host.sock" >/dev/null 2>&1 &
  pid=$!
  wait_for 100 test -S "$d/hostsock/host.sock"
  compose_value "$mode" "$f" "$d" "a host socket (-v ./host.sock:/var/run/host.sock): the app connects" \
    "python3 -c '$COMPOSE_CLIENT' hostsock/host.sock" \
    -v "$d/hostsock/host.sock:/var/run/host.sock" -- "python3 -c '$COMPOSE_CLIENT' /var/run/host.sock"
  wait_for 100 compat_gone "$pid" || kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null

  # 11: the app writes in a data directory, the host reads it.
  rm -f "$d/data/f"
  compose_value "$mode" "$f" "$d" "a data directory (-v ./data:/data): the app writes" \
    'echo hello >data/f' -v "$d/data:/data" -- 'echo hello >/data/f'
  compat_value "$f" "compose: a data directory (-v ./data:/data): owner and size on the host" \
    "$(stat -c '%U %s' "$d/data/f" 2>&1 | sed "s/^$COMPAT_NAME /USER /")"

  # 12: a named volume: docker creates it (empty, writable) on first use.
  compose_value "$mode" "$f" "$d" "a named volume (-v appdata:/data): the app writes" \
    'mkdir -p appdata && echo hello >appdata/f && cat appdata/f' \
    -v appdata:/data -- 'echo hello >/data/f && cat /data/f'
}
