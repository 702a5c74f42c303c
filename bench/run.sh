#!/usr/bin/env bash
# bench/run.sh - `make bench`: uva_container's port forwarding against its
# peers, and how uva_container scales with the number of containers.
#
# Part 1, forwarding.  For each configuration below, an iperf3 server and an
# nginx run inside a fresh network namespace (for "host direct": on the host),
# reached from the host over 127.0.0.1 through that configuration's forwarder:
#
#   host         servers bound on 127.0.0.1, no namespace: the physical limit
#   uva_splice   uva_container run --port-driver splice
#   uva_slirp    uva_container run --port-driver slirp
#   uva_bypass   uva_container run --port-driver bypass (the servers' bind()
#                gets the host socket: no forwarder in the data path)
#   slirp4netns  unshare -Urn + slirp4netns --configure --mtu=65520, hostfwd via its API
#   rlk_builtin  rootlesskit --net=slirp4netns --mtu=65520 --port-driver=builtin
#   pasta        pasta --config-net -t 127.0.0.1/HPORT:GPORT (spliced loopback)
#
# Measured per configuration and run: iperf3 host->ns and ns->host (-R)
# Gbit/s, wrk keep-alive req/s with its p99 and error count, wrk with
# "Connection: close" (a new TCP connection per request), fairness (B's p99
# for one small request at a time, wrk -c1, idle and while an iperf3 bulk
# transfer runs on the other port, as a ratio), start-up time
# (launch to the first successful curl GET) and the forwarder's RSS, idle and
# peak under load (the whole tree we started, minus the servers' tree).
# Runs are interleaved (run 1: every config, run 2: every config, ...) so
# that drift in the machine hits every row alike; each cell is the median
# over runs with min-max, and xR is the median over runs of value/host-direct
# of the same run.
#
# Part 2, density.  For N in DENSITY (1 16 64 256): ONE `uva_container up`
# with N containers, each running bench/tinyhttpd on 8080, published on
# 127.0.0.1:(DENSITY_BASE_PORT+i).  Reports launch -> all N answer a curl,
# the manager's RSS (the uva_container process alone) and RSS per container,
# and checks that the per-container cost stays flat as N grows.  Each run
# also measures the floor (bench/floor.c): the same N apps in namespaces of
# their own, with lo and a tap and no manager, so uva's own share is the
# difference of two numbers taken on the same machine minutes apart.
#
# Part 3, outbound.  The container downloads from (and uploads to) an iperf3
# server on OUT_ADDR, a non-loopback address of a network namespace the
# bench makes for this part (a veth pair with a default route, so pasta
# finds an interface), through each configuration's outbound path:
#
#   host             iperf3 -c OUT_ADDR in that namespace, no container
#   uva_slirp_out    uva_container run (outbound through libslirp)
#   uva_bypass_out   uva_container run --outbound bypass (a host socket)
#   slirp4netns_out  unshare -Urn + slirp4netns --configure --mtu=65520
#   pasta_out        pasta --config-net, its own guest address
#
# Run as root (it installs packages, creates the user, chmods /dev/net/tun);
# every server, forwarder and client runs as the unprivileged $BENCH_USER.
# Traffic goes only to 127.0.0.1 and namespaces made here.  Only processes
# started here are killed: by PID, with their descendants found by PPID walk.
#
# Knobs (environment, defaults in brackets):
#   RUNS [3]  DUR [5] seconds per iperf3/wrk test   BENCH_USER [uvabench]
#   CONFIGS ["host uva_splice uva_bypass uva_slirp slirp4netns rlk_builtin pasta"]  "" = skip part 1
#   UVA_BIN [REPO/uva_container]
#   UVA_PORT_DRIVER_FLAG [1]  0 = don't pass --port-driver (binaries without it:
#                             both uva rows then use the default, slirp)
#   IPERF_HPORT [15201] HTTP_HPORT [18090]  host ports on 127.0.0.1
#   IPERF_GPORT [5201]  HTTP_GPORT [8080]   ports inside the namespace
#   WRK_T [2] WRK_C [32]
#   TESTS ["fwd rev ka close fair"]  which tests of part 1 run (bench/quick.sh: no fair)
#   DENSITY ["1 16 64 256"]  "" = skip part 2    DENSITY_RUNS [RUNS]
#   DENSITY_BASE_PORT [20000]  DENSITY_TIMEOUT [120] s per N
#   DENSITY_READY_HTTP [0]  1 = ready-http=true in the spec
#   DENSITY_PORT_DRIVER [splice]  port-driver key in the spec ("" = uva's default)
#   DENSITY_KEYS [""]  extra "key=value" lines for every container group,
#                      separated by ';' (e.g. "port-driver=splice")
#   OUTBOUND ["host uva_slirp_out uva_bypass_out slirp4netns_out pasta_out"]  "" = skip part 3
#   OUT_ADDR [192.0.2.1]  the server's address in the bench's own namespace
#   WORK [/tmp/uva-bench.PID]  KEEP_WORK [0]  NO_INSTALL [0]
#   TUN_FINAL_MODE [unset]  mode for /dev/net/tun on exit instead of the one found
set -u

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${RUNS:-3}
DUR=${DUR:-5}
BENCH_USER=${BENCH_USER:-uvabench}
CONFIGS=${CONFIGS-"host uva_splice uva_bypass uva_slirp slirp4netns rlk_builtin pasta"}   # "" = skip part 1
UVA_BIN=${UVA_BIN:-$REPO/uva_container}
UVA_PORT_DRIVER_FLAG=${UVA_PORT_DRIVER_FLAG:-1}
IPERF_HPORT=${IPERF_HPORT:-15201}; HTTP_HPORT=${HTTP_HPORT:-18090}
IPERF_GPORT=${IPERF_GPORT:-5201};  HTTP_GPORT=${HTTP_GPORT:-8080}
WRK_T=${WRK_T:-2}; WRK_C=${WRK_C:-32}
TESTS=${TESTS:-"fwd rev ka close fair"}
DENSITY=${DENSITY-"1 16 64 256"}
OUTBOUND=${OUTBOUND-"host uva_slirp_out uva_bypass_out slirp4netns_out pasta_out"}
OUT_ADDR=${OUT_ADDR:-192.0.2.1}
DENSITY_RUNS=${DENSITY_RUNS:-$RUNS}
DENSITY_BASE_PORT=${DENSITY_BASE_PORT:-20000}
DENSITY_TIMEOUT=${DENSITY_TIMEOUT:-120}
DENSITY_READY_HTTP=${DENSITY_READY_HTTP:-0}
DENSITY_PORT_DRIVER=${DENSITY_PORT_DRIVER-splice}
DENSITY_KEYS=${DENSITY_KEYS:-}
WORK=${WORK:-/tmp/uva-bench.$$}
KEEP_WORK=${KEEP_WORK:-0}
NO_INSTALL=${NO_INSTALL:-0}
LO=127.0.0.1

log() { echo "[bench] $*" >&2; }
die() { log "FATAL: $*"; exit 1; }
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

[ "$(id -u)" = 0 ] || die "run as root (make bench does): it installs packages, creates $BENCH_USER and chmods /dev/net/tun"

declare -A LABEL=(
    [host]="host direct"
    [uva_splice]="uva (splice)"
    [uva_slirp]="uva (slirp)"
    [uva_bypass]="uva (bypass)"
    [slirp4netns]="slirp4netns MTU 65520"
    [rlk_builtin]="rootlesskit builtin"
    [pasta]="pasta (splice)"
)
for c in $CONFIGS; do [ -n "${LABEL[$c]:-}" ] || die "unknown config '$c' in CONFIGS"; done

# ================================================================ setup

install_missing() {
    # command -> Debian package.  socat talks to slirp4netns' API socket;
    # rootlesskit needs newuidmap from uidmap; cc builds tinyhttpd.
    local -A need=( [slirp4netns]=slirp4netns [pasta]=passt [rootlesskit]=rootlesskit
        [iperf3]=iperf3 [wrk]=wrk [nginx]=nginx-light [curl]=curl [ps]=procps
        [setpriv]=util-linux [socat]=socat [newuidmap]=uidmap [ss]=iproute2 [ip]=iproute2
        [cc]=gcc )
    local b pkgs=""
    for b in "${!need[@]}"; do command -v "$b" >/dev/null 2>&1 || pkgs+=" ${need[$b]}"; done
    [ -e /usr/include/stdio.h ] || pkgs+=" libc6-dev"
    [ -z "$pkgs" ] && return 0
    [ "$NO_INSTALL" = 1 ] && die "missing packages:$pkgs (NO_INSTALL=1)"
    log "installing:$pkgs"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update >/dev/null || die "apt-get update failed"
    # Debian starts nginx/iperf3 services on install unless policy-rc.d says
    # no; they would sit on port 80/5201 of the host, not on ours, so harmless.
    # shellcheck disable=SC2086 # $pkgs is a list of package names
    apt-get install -y --no-install-recommends $pkgs >/dev/null || die "apt-get install$pkgs failed"
}

ensure_user() {
    id "$BENCH_USER" >/dev/null 2>&1 || { log "creating user $BENCH_USER"; useradd -m -s /bin/bash "$BENCH_USER" || die "useradd failed"; }
    # rootlesskit maps a range of subordinate ids with newuidmap/newgidmap
    grep -q "^$BENCH_USER:" /etc/subuid 2>/dev/null || usermod --add-subuids 300000-365535 "$BENCH_USER"
    grep -q "^$BENCH_USER:" /etc/subgid 2>/dev/null || usermod --add-subgids 300000-365535 "$BENCH_USER"
}

# The unprivileged user needs to open /dev/net/tun (uva, slirp4netns,
# rootlesskit, pasta all do).  Debian ships it 0666; a CI runner may not.
TUN_MODE_ORIG=""
tun_open() {
    [ -c /dev/net/tun ] || die "/dev/net/tun missing (modprobe tun)"
    TUN_MODE_ORIG=$(stat -c %a /dev/net/tun)
    [ "$TUN_MODE_ORIG" = 666 ] || { log "chmod 666 /dev/net/tun (was $TUN_MODE_ORIG; restored on exit)"; chmod 666 /dev/net/tun; }
}
tun_restore() {
    local m=${TUN_FINAL_MODE:-$TUN_MODE_ORIG}
    [ -n "$m" ] && [ "$(stat -c %a /dev/net/tun)" != "$m" ] && chmod "$m" /dev/net/tun
    TUN_MODE_ORIG=""
}

# Run a command as the unprivileged user with a small clean environment.
# setpriv and env both exec, so for a background launch $! is the PID of the
# command itself, which is what the bookkeeping below relies on.
AS_USER=()
set_as_user() {
    AS_USER=(setpriv --reuid="$BENCH_USER" --regid="$BENCH_USER" --init-groups --
        env -i HOME="$(getent passwd "$BENCH_USER" | cut -d: -f6)" USER="$BENCH_USER" LOGNAME="$BENCH_USER"
        PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin XDG_STATE_HOME="$WORK/state")
}
as_user() { "${AS_USER[@]}" "$@"; }

# ================================================================ process bookkeeping

STARTED=()     # PIDs we launched for the current configuration (children of this shell)
INT_FIRST=()   # of those, the ones stopped with SIGINT first (uva_container: stops its containers)
SAMPLER_PID=""
STOP_TICKS=600 # how long uva_container may take to stop after SIGINT, in 50 ms ticks

children_of() { ps -o pid= --ppid "$1" 2>/dev/null; }
tree_of() { local p=$1 c; echo "$p"; for c in $(children_of "$p"); do tree_of "$c"; done; }
alive() { local s; s=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [ "$s" != Z ]; }
wait_dead() {  # wait_dead TICKS(50 ms) PID... -> 0 once all are gone
    local i p any
    for ((i = 0; i < $1; i++)); do
        any=0; for p in "${@:2}"; do alive "$p" && { any=1; break; }; done
        [ $any = 0 ] && return 0; sleep 0.05
    done
    return 1
}

stop_started() {
    # Snapshot the whole tree first: once a parent is gone, its orphans can no
    # longer be found by PPID walk.
    local pids="" p
    for p in "${STARTED[@]}"; do pids+=" $(tree_of "$p" | tr '\n' ' ')"; done
    if [ ${#INT_FIRST[@]} -gt 0 ]; then
        local t_int; t_int=$(now_ms)
        kill -INT "${INT_FIRST[@]}" 2>/dev/null
        wait_dead "$STOP_TICKS" "${INT_FIRST[@]}" || log "uva_container did not exit within $((STOP_TICKS / 20)) s of SIGINT"
        # uva_container exits only once every init is reaped, so this is
        # the time its containers took to stop (the walk below, over every
        # pid of the tree, is this script's own cost).
        STOP_MANAGER_MS=$(($(now_ms) - t_int))
    fi
    if [ -n "${pids// /}" ]; then
        for p in $pids; do alive "$p" && kill -TERM "$p" 2>/dev/null; done
        # shellcheck disable=SC2086 # $pids: one pid per word
        wait_dead 60 $pids || for p in $pids; do alive "$p" && kill -KILL "$p" 2>/dev/null; done
    fi
    for p in "${STARTED[@]}"; do wait "$p" 2>/dev/null; done
    STARTED=(); INT_FIRST=()
}

stop_sampler() { [ -n "$SAMPLER_PID" ] && { kill "$SAMPLER_PID" 2>/dev/null; wait "$SAMPLER_PID" 2>/dev/null; }; SAMPLER_PID=""; }

OUT_SRV=""
cleanup() {
    stop_sampler
    stop_started
    [ -n "$OUT_SRV" ] && { kill "$OUT_SRV" 2>/dev/null; wait "$OUT_SRV" 2>/dev/null; }
    out_ns_down
    tun_restore
    if [ "$KEEP_WORK" = 1 ]; then log "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# Forwarder = everything we started minus the servers' tree (rooted at the
# process named servers.sh): slirp4netns; rootlesskit parent + child +
# slirp4netns; pasta; uva_container + its container init.
forwarder_pids() {
    local all="" p srv=""
    for p in "${STARTED[@]}"; do all+=" $(tree_of "$p" | tr '\n' ' ')"; done
    for p in $all; do [ "$(cat "/proc/$p/comm" 2>/dev/null)" = servers.sh ] && srv+=" $(tree_of "$p" | tr '\n' ' ')"; done
    for p in $all; do case " $srv " in *" $p "*) ;; *) echo "$p";; esac; done | sort -un
}
rss_kib() { local s=0 p r; for p in "$@"; do r=$(awk '/^VmRSS/{print $2}' "/proc/$p/status" 2>/dev/null); s=$((s + ${r:-0})); done; echo $s; }
pss_kib() { local s=0 p r; for p in "$@"; do r=$(awk '/^Pss:/{print $2}' "/proc/$p/smaps_rollup" 2>/dev/null); s=$((s + ${r:-0})); done; echo $s; }
start_sampler() {  # peak forwarder RSS while under load -> file $1
    # The forwarders are found once, before the load; the loop then reads
    # VmRSS with bash builtins only.  A sampler that walks the process tree
    # (a dozen forks) every 0.25 s costs this 2-core machine enough CPU to
    # move the results: wrk keep-alive through uva went from 48.3k to
    # 40.7k req/s and its p99 from 1.37 to 2.72 ms with the old one.
    local fpids; fpids=$(forwarder_pids | tr '\n' ' ')
    # Ctrl-C is for the main shell, whose cleanup stops the sampler with TERM.
    ( peak=0; trap 'echo $peak > "$1"; exit 0' TERM; trap '' INT
      while :; do
          r=0
          for p in $fpids; do
              while read -r k v _; do [ "$k" = VmRSS: ] && r=$((r + v)); done < "/proc/$p/status" 2>/dev/null
          done
          [ "$r" -gt "$peak" ] && peak=$r && echo $peak > "$1"
          sleep 0.5
      done ) &
    SAMPLER_PID=$!
}

port_busy() { ss -Hltn "sport = :$1" | grep -q .; }

# ================================================================ work dir

prepare_work() {
    mkdir -p "$WORK/bin" "$WORK/state"
    # The unprivileged user must be able to run the binary: use a copy, not
    # the checkout (which may sit under /root).
    if [[ " $CONFIGS " == *" uva_"* || -n "${DENSITY// /}" || " $OUTBOUND " == *" uva_"* ]]; then
        [ -x "$UVA_BIN" ] || die "UVA_BIN=$UVA_BIN is not executable: run 'make' first"
        cp "$UVA_BIN" "$WORK/bin/uva_container"
    fi
    if [ -n "${DENSITY// /}" ]; then
        # Static if libc.a is there: the binary then needs nothing from the
        # container's read-only /usr and /lib, and its RSS is a few pages.
        cc -O2 -static -o "$WORK/bin/tinyhttpd" "$REPO/bench/tinyhttpd.c" 2>/dev/null \
            || cc -O2 -o "$WORK/bin/tinyhttpd" "$REPO/bench/tinyhttpd.c" || die "cannot compile bench/tinyhttpd.c"
        cc -O2 -o "$WORK/bin/floor" "$REPO/bench/floor.c" || die "cannot compile bench/floor.c"
    fi
    head -c 600 /dev/zero | tr '\0' 'x' > "$WORK/index.html"   # a small static page (600 B)
    # servers.sh DIR ADDR IPERF_PORT HTTP_PORT: the servers of one configuration,
    # as seen from inside (uva: DIR=/app).  Same nginx config for every row.
    cat > "$WORK/servers.sh" <<'EOF'
#!/bin/bash
D=$1 A=$2 IP=$3 HP=$4
ip link set lo up 2>/dev/null   # unshare -Urn: lo starts down (elsewhere: harmless EPERM)
mkdir -p "$D/nginx/tmp"
cat > "$D/nginx.conf" <<NGX
# userns of one uid: "nobody" is unmapped, so no user switch at all
user $(id -un) $(id -gn);
worker_processes 1;
master_process off;
daemon off;
pid $D/nginx/nginx.pid;
error_log $D/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 10000000;
  client_body_temp_path $D/nginx/tmp; proxy_temp_path $D/nginx/tmp;
  fastcgi_temp_path $D/nginx/tmp; uwsgi_temp_path $D/nginx/tmp; scgi_temp_path $D/nginx/tmp;
  server { listen $A:$HP backlog=4096; root $D/www; }
}
NGX
iperf3 -s -B "$A" -p "$IP" > "$D/iperf3.log" 2>&1 & P1=$!
nginx -p "$D/nginx/" -e "$D/nginx/error.log" -c "$D/nginx.conf" > "$D/nginx.out" 2>&1 & P2=$!
trap 'kill $P1 $P2 2>/dev/null; wait; exit 0' TERM INT HUP
wait
EOF
    chmod 755 "$WORK/servers.sh"
    chown -R "$BENCH_USER:" "$WORK"
}

# One directory per run and configuration, holding the servers' files; it
# is uva's workdir (/app), and a copy of servers.sh + www lives inside so the
# container sees them.
new_instance_dir() {
    mkdir -p "$1/www" "$1/tmp"
    cp "$WORK/servers.sh" "$1/"; cp "$WORK/index.html" "$1/www/"
    chown -R "$BENCH_USER:" "$1"
}

# ================================================================ configurations
# start_<cfg> DIR: launch in the background (PIDs into STARTED), forwarding
# 127.0.0.1:IPERF_HPORT and :HTTP_HPORT to the servers; on failure write the
# reason to DIR/fail and return non-zero.

start_host() {
    "${AS_USER[@]}" "$1/servers.sh" "$1" $LO "$IPERF_HPORT" "$HTTP_HPORT" > "$1/out" 2>&1 &
    STARTED+=($!)
}

start_uva() {  # DIR DRIVER
    local d=$1 drv=()
    [ "$UVA_PORT_DRIVER_FLAG" = 1 ] && drv=(--port-driver "$2")
    "${AS_USER[@]}" "$WORK/bin/uva_container" run "${drv[@]}" --name "uva-$2" \
        -p $LO:"$IPERF_HPORT":"$IPERF_GPORT" -p $LO:"$HTTP_HPORT":"$HTTP_GPORT" -w "$d" --tmp "$d/tmp" \
        -- /app/servers.sh /app 0.0.0.0 "$IPERF_GPORT" "$HTTP_GPORT" > "$d/out" 2>&1 &
    STARTED+=($!); INT_FIRST+=($!)
}
start_uva_splice() { start_uva "$1" splice; }
start_uva_slirp()  { start_uva "$1" slirp; }
start_uva_bypass() { start_uva "$1" bypass; }

wait_exec_servers() {  # PID: wait until it has exec'd servers.sh, i.e. its namespace exists
    local i
    for i in $(seq 400); do [ "$(cat "/proc/$1/comm" 2>/dev/null)" = servers.sh ] && return 0; alive "$1" || return 1; sleep 0.005; done
    return 1
}

start_slirp4netns() {
    local d=$1 ns sl r hp gp i fw
    # unshare without --fork execs servers.sh, so $! is the namespace's first process
    "${AS_USER[@]}" unshare -Urn "$d/servers.sh" "$d" 0.0.0.0 "$IPERF_GPORT" "$HTTP_GPORT" > "$d/out" 2>&1 &
    ns=$!; STARTED+=("$ns")
    wait_exec_servers $ns || { echo "unshare -Urn did not start: $(cat "$d/out")" > "$d/fail"; return 1; }
    "${AS_USER[@]}" slirp4netns --configure --mtu=65520 --disable-host-loopback \
        --api-socket "$d/api.sock" $ns tap0 > "$d/slirp.log" 2>&1 &
    sl=$!; STARTED+=("$sl")
    # slirp4netns has no command-line port forwarding: ask its API socket,
    # retrying until the socket exists.
    for fw in "$IPERF_HPORT:$IPERF_GPORT" "$HTTP_HPORT:$HTTP_GPORT"; do
        hp=${fw%:*}; gp=${fw#*:}
        for i in $(seq 400); do
            r=$(echo "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\",\"host_addr\":\"$LO\",\"host_port\":$hp,\"guest_port\":$gp}}" \
                | as_user socat -t 2 - "UNIX-CONNECT:$d/api.sock" 2>&1)
            [[ "$r" == *'"return"'* ]] && break
            alive $sl || { echo "slirp4netns exited: $(tail -3 "$d/slirp.log")" > "$d/fail"; return 1; }
            sleep 0.005
        done
        [[ "$r" == *'"return"'* ]] || { echo "add_hostfwd $hp failed: $r" > "$d/fail"; return 1; }
    done
}

start_rlk_builtin() {
    local d=$1
    "${AS_USER[@]}" rootlesskit --state-dir="$d/rk" --net=slirp4netns --mtu=65520 --disable-host-loopback \
        --port-driver=builtin -p $LO:"$IPERF_HPORT":"$IPERF_GPORT"/tcp -p $LO:"$HTTP_HPORT":"$HTTP_GPORT"/tcp \
        -- "$d/servers.sh" "$d" 0.0.0.0 "$IPERF_GPORT" "$HTTP_GPORT" > "$d/out" 2>&1 &
    STARTED+=($!)
}

start_pasta() {
    local d=$1
    # -f: stay in the foreground, so $! is pasta; no other forwarding (-u/-T/-U none)
    "${AS_USER[@]}" pasta -f -q --config-net -t $LO/"$IPERF_HPORT":"$IPERF_GPORT" -t $LO/"$HTTP_HPORT":"$HTTP_GPORT" \
        -u none -T none -U none -- "$d/servers.sh" "$d" 0.0.0.0 "$IPERF_GPORT" "$HTTP_GPORT" > "$d/out" 2>&1 &
    STARTED+=($!)
}

# ================================================================ measurements

RES=""   # results: "run cfg metric value" lines
rec() { echo "$1 $2 $3 $4" >> "$RES"; }

iperf_gbps() {  # PORT [-R] -> receiver Gbit/s, or nan
    as_user timeout $((DUR + 20)) iperf3 -c "$LO" -p "$1" -t "$DUR" -f g --connect-timeout 3000 ${2:+"$2"} > "$CUR/iperf${2:-}.txt" 2>&1
    awk '/receiver/ { for (i = 2; i <= NF; i++) if ($i == "Gbits/sec") v = $(i - 1) }
         END { print (v == "" ? "nan" : v) }' "$CUR/iperf${2:-}.txt"
}

wrk_run() {  # TAG [wrk args] -> "req/s p99_ms errors"
    local tag=$1; shift
    as_user timeout $((DUR + 20)) wrk -t"$WRK_T" -c"$WRK_C" -d"${DUR}s" --latency "$@" "http://$LO:$HTTP_HPORT/" > "$CUR/wrk-$tag.txt" 2>&1
    awk 'function ms(s) { if (s ~ /us$/) return s * 1e-3; if (s ~ /ms$/) return s + 0; if (s ~ /s$/) return s * 1e3; return "nan" }
         /Requests\/sec:/ { rps = $2 }
         $1 == "99%" { p99 = sprintf("%.3f", ms($2)) }
         /Socket errors:/ { gsub(",", ""); err += $4 + $6 + $8 + $10 }
         /Non-2xx or 3xx responses:/ { err += $5 }
         END { print (rps == "" ? "nan" : rps), (p99 == "" ? "nan" : p99), err + 0 }' "$CUR/wrk-$tag.txt"
}

want() { [[ " $TESTS " == *" $1 "* ]]; }

wait_http() {  # URL TRIES: poll every 5 ms, as the user, in one process (no exec cost per try)
    as_user bash -c 'for ((i = 0; i < $2; i++)); do curl -sf -o /dev/null --max-time 1 "$1" && exit 0; sleep 0.005; done; exit 1' _ "$1" "$2"
}

measure() {  # RUN CFG
    local run=$1 cfg=$2 t0 t1 rc port rps p99 err i
    CUR="$WORK/r$run-$cfg"; new_instance_dir "$CUR"
    for port in $IPERF_HPORT $HTTP_HPORT; do
        if port_busy "$port"; then
            log "run $run $cfg: FAIL host port $port is in use: $(ss -Hltnp "sport = :$port" | head -1)"
            rec "$run" "$cfg" fail "port_${port}_busy"; return
        fi
    done
    t0=$(now_ms)
    start_"$cfg" "$CUR"; rc=$?
    if [ $rc != 0 ]; then
        log "run $run $cfg: FAIL $(cat "$CUR/fail" 2>/dev/null)"
        rec "$run" "$cfg" fail "$(head -c 120 "$CUR/fail" 2>/dev/null | tr ' \n' '__')"; stop_started; return
    fi
    if ! wait_http "http://$LO:$HTTP_HPORT/" 3000; then   # ~20 s
        log "run $run $cfg: FAIL no HTTP answer on $LO:$HTTP_HPORT within 20 s; last lines of its output:"
        tail -5 "$CUR/out" | sed 's/^/    /' >&2
        rec "$run" "$cfg" fail no_http; stop_started; return
    fi
    t1=$(now_ms)
    rec "$run" "$cfg" startup_ms $((t1 - t0))
    # iperf3 may come up after nginx: wait for its port too (through the forwarder)
    for i in $(seq 400); do as_user timeout 2 bash -c "exec 3<>/dev/tcp/$LO/$IPERF_HPORT" 2>/dev/null && break; sleep 0.01; done
    sleep 0.5
    if [ "$cfg" != host ]; then
        mapfile -t fpids < <(forwarder_pids)
        rec "$run" "$cfg" rss_idle_kib "$(rss_kib "${fpids[@]}")"
        log "run $run $cfg: forwarder = $(for p in $(forwarder_pids); do printf '%s(%s) ' "$p" "$(cat /proc/"$p"/comm 2>/dev/null)"; done)"
        start_sampler "$CUR/rss_peak"
    fi
    if want fwd; then rec "$run" "$cfg" fwd_gbps "$(iperf_gbps "$IPERF_HPORT")"; sleep 0.3; fi
    if want rev; then rec "$run" "$cfg" rev_gbps "$(iperf_gbps "$IPERF_HPORT" -R)"; sleep 0.3; fi
    if want ka; then
        read -r rps p99 err < <(wrk_run ka)
        rec "$run" "$cfg" ka_rps "$rps"; rec "$run" "$cfg" ka_p99_ms "$p99"; rec "$run" "$cfg" ka_err "$err"
        sleep 0.3
    fi
    if want close; then
        read -r rps p99 err < <(wrk_run close -H "Connection: close")
        rec "$run" "$cfg" close_rps "$rps"; rec "$run" "$cfg" close_err "$err"
        sleep 0.3
    fi
    # Fairness (issue 12): B = one small request at a time (wrk -c1) on the
    # HTTP port, idle and while A, an iperf3 bulk transfer, runs on the
    # other port through the same forwarder; the ratio of B's p99s.
    if want fair; then
        local p99_idle p99_bulk bulk
        read -r rps p99_idle err < <(WRK_T=1 WRK_C=1 wrk_run b_idle)
        as_user timeout $((DUR + 20)) iperf3 -c $LO -p "$IPERF_HPORT" -t $((DUR + 2)) > "$CUR/iperf-fair.txt" 2>&1 &
        bulk=$!
        sleep 1
        read -r rps p99_bulk err < <(WRK_T=1 WRK_C=1 wrk_run b_bulk)
        wait "$bulk"
        rec "$run" "$cfg" fair_p99_idle_ms "$p99_idle"
        rec "$run" "$cfg" fair_ratio "$(awk -v a="$p99_bulk" -v b="$p99_idle" 'BEGIN { print (a == "nan" || b == "nan" || b == 0) ? "nan" : a / b }')"
    fi
    if [ "$cfg" != host ]; then
        stop_sampler
        rec "$run" "$cfg" rss_load_kib "$(cat "$CUR/rss_peak" 2>/dev/null || echo nan)"
    fi
    log "run $run $cfg: $(awk -v r="$run" -v c="$cfg" '$1 == r && $2 == c { printf "%s=%s ", $3, $4 }' "$RES")"
    stop_started
    sleep 0.5
}

# ================================================================ density

# One `uva_container up` with N containers of tinyhttpd.  Records launch ->
# every port answers, launch -> uva's "press Ctrl-C to stop", the manager's
# RSS, the containers' own RSS (inits + apps) and the time to stop.
density_run() {  # RUN N
    local run=$1 n=$2 d="$WORK/density/r$1-n$2" i t0 t_all="" t_ready="" pid pending=() args now ok line out_fd
    local lo_port=$((DENSITY_BASE_PORT + 1)) hi_port=$((DENSITY_BASE_PORT + n))
    mkdir -p "$d"
    {
        echo "# $n containers of tinyhttpd (bench/run.sh)"
        for ((i = 1; i <= n; i++)); do
            mkdir -p "$d/c$i"
            ln "$WORK/bin/tinyhttpd" "$d/c$i/tinyhttpd"   # a hard link: N workdirs, one file
            echo "[container c$i]"
            echo "command=/app/tinyhttpd"
            echo "workdir=$d/c$i"
            echo "publish=$LO:$((DENSITY_BASE_PORT + i)):8080"
            [ "$DENSITY_READY_HTTP" = 1 ] && echo "ready-http=true"
            [ -n "$DENSITY_PORT_DRIVER" ] && [ "$UVA_PORT_DRIVER_FLAG" = 1 ] && echo "port-driver=$DENSITY_PORT_DRIVER"
            [ -n "$DENSITY_KEYS" ] && tr ';' '\n' <<< "$DENSITY_KEYS"
            echo
        done
    } > "$d/spec.ini"
    chown -R "$BENCH_USER:" "$d"
    if ss -Hltn "( sport >= :$lo_port and sport <= :$hi_port )" | grep -q .; then
        log "density N=$n run $run: FAIL a port in $lo_port-$hi_port is in use"; drec "$run" "$n" fail ports_busy; return
    fi
    # uva's output goes through a reader that stamps each line on arrival,
    # so the time of its ready line is exact whatever the polling below costs.
    # The reader is opened here, in this shell, so that it is our child and
    # not uva's (it would count as a container process otherwise).
    exec {out_fd}> >(stamp_lines > "$d/out")
    STARTED+=($!)
    t0=$(now_ms)
    "${AS_USER[@]}" "$WORK/bin/uva_container" up "$d/spec.ini" >&$out_fd 2>&1 &
    pid=$!; STARTED+=("$pid"); INT_FIRST+=("$pid")
    exec {out_fd}>&-   # uva holds the only write end now: the reader ends when uva does
    for ((i = 1; i <= n; i++)); do pending+=($((DENSITY_BASE_PORT + i))); done
    # Poll every port still silent with one parallel curl per round, until
    # all answered and uva said it is ready, or the timeout.
    while :; do
        now=$(now_ms)
        if [ -z "$t_ready" ] && line=$(grep -m1 "press Ctrl-C to stop" "$d/out"); then t_ready=$(( ${line%% *} / 1000 )); fi
        if [ ${#pending[@]} -gt 0 ]; then
            args=(); for i in "${pending[@]}"; do args+=(-o /dev/null "http://$LO:$i/"); done
            ok=$(as_user curl -s --no-progress-meter --parallel --parallel-max 64 --max-time 2 \
                     -w '%{http_code} %{url_effective}\n' "${args[@]}" 2>/dev/null \
                 | awk '$1 == 200 { sub(/.*:/, "", $2); sub(/\/$/, "", $2); print $2 }')
            [ -n "$ok" ] && mapfile -t pending < <(printf '%s\n' "${pending[@]}" | grep -vxF -f <(echo "$ok"))
            [ ${#pending[@]} -eq 0 ] && t_all=$(now_ms)
        fi
        [ -n "$t_all" ] && [ -n "$t_ready" ] && break
        alive $pid || { log "density N=$n run $run: FAIL uva_container exited: $(tail -3 "$d/out" | tr '\n' ' ')"; break; }
        [ $((now - t0)) -gt $((DENSITY_TIMEOUT * 1000)) ] && { log "density N=$n run $run: FAIL timeout, ${#pending[@]} silent"; break; }
        sleep 0.01
    done
    if [ -z "$t_all" ] || [ -z "$t_ready" ]; then
        drec "$run" "$n" fail "$([ -z "$t_all" ] && echo "${#pending[@]}_ports_silent" || echo no_ready_line)"
        tail -5 "$d/out" | sed 's/^/    /' >&2
        stop_started; return
    fi
    drec "$run" "$n" all_ms $((t_all - t0))
    drec "$run" "$n" ready_ms $((t_ready - t0))
    sleep 1   # let the manager settle: RSS when idle
    local tree; mapfile -t tree < <(tree_of "$pid" | tail -n +2)
    drec "$run" "$n" mgr_kib "$(rss_kib $pid)"
    drec "$run" "$n" ctr_kib "$(rss_kib "${tree[@]}")"
    drec "$run" "$n" ctr_pss_kib "$(pss_kib "${tree[@]}")"   # RSS counts pages shared with the manager once per process
    drec "$run" "$n" procs "${#tree[@]}"
    STOP_TICKS=$((600 + 4 * n))   # 30 s + 0.2 s per container
    stop_started
    STOP_TICKS=600
    drec "$run" "$n" stop_ms "$STOP_MANAGER_MS"
    rm -rf "$d"
    sleep 0.5
    # The floor (bench/floor.c): the same N tinyhttpd in namespaces of
    # their own with lo and a tap, no manager; in the same run, right after.
    local floor
    if floor=$(as_user timeout "$DENSITY_TIMEOUT" "$WORK/bin/floor" "$n" "$WORK/bin/tinyhttpd" 2>"$d.floor-err"); then
        drec "$run" "$n" floor_ms "$floor"
    else
        log "density N=$n run $run: floor FAILED: $(tail -2 "$d.floor-err" | tr '\n' ' ')"
    fi
    rm -f "$d.floor-err"
    log "density N=$n run $run: $(awk -v r="$run" -v n="$n" '$1 == r && $2 == n { printf "%s=%s ", $3, $4 }' "$DRES")"
    sleep 0.5
}
stamp_lines() { local l; while IFS= read -r l; do printf '%s %s\n' "${EPOCHREALTIME/./}" "$l"; done; }
DRES=""
drec() { echo "$1 $2 $3 $4" >> "$DRES"; }

# ================================================================ outbound

# The namespace of part 3, held by a sleeping process; every command of the
# part runs in it through nsenter.  Its only traffic stays inside it.
OUT_NS=""
out_ns_up() {
    unshare --net sleep 100000 & OUT_NS=$!
    sleep 0.2
    nsenter -t "$OUT_NS" -n sh -c "ip link set lo up &&
        ip link add uvob0 type veth peer name uvob1 &&
        ip addr add $OUT_ADDR/24 dev uvob0 && ip link set uvob0 up && ip link set uvob1 up &&
        ip route add default via ${OUT_ADDR%.*}.254 dev uvob0" || return 1
}
out_ns_down() { [ -n "$OUT_NS" ] && { kill "$OUT_NS" 2>/dev/null; wait "$OUT_NS" 2>/dev/null; }; OUT_NS=""; }
in_out_ns() { nsenter -t "$OUT_NS" -n -- "$@"; }

# The client of one configuration: iperf3 -c OUT_ADDR [-R], its output in
# the file named by $3.  Each prints iperf3's own text.
out_client() {  # CFG [-R] OUTFILE
    local cfg=$1 r=${2:-} f=$3 d="$WORK/out-$1"
    mkdir -p "$d"; chown "$BENCH_USER:" "$d"
    local cmd=(iperf3 -c "$OUT_ADDR" -p 5301 -t "$DUR" -f g --connect-timeout 3000)
    [ -n "$r" ] && cmd+=("$r")
    case $cfg in
        host) in_out_ns "${AS_USER[@]}" timeout $((DUR + 20)) "${cmd[@]}" ;;
        uva_slirp_out) in_out_ns "${AS_USER[@]}" timeout $((DUR + 30)) "$WORK/bin/uva_container" run -w "$d" -- "${cmd[@]}" ;;
        uva_bypass_out) in_out_ns "${AS_USER[@]}" timeout $((DUR + 30)) "$WORK/bin/uva_container" run --outbound bypass -w "$d" -- "${cmd[@]}" ;;
        slirp4netns_out)
            # unshare execs sh, so $! is the namespace's first process; the
            # client waits for tap0's address.
            # nsenter and setpriv exec (no function: a subshell would be $!).
            nsenter -t "$OUT_NS" -n -- "${AS_USER[@]}" unshare -Urn sh -c "i=0; until ip -4 addr show tap0 2>/dev/null | grep -q inet; do i=\$((i + 1)); [ \$i -gt 500 ] && exit 1; sleep 0.02; done; exec timeout $((DUR + 20)) ${cmd[*]}" > "$f" 2>&1 &
            local ns=$!
            sleep 0.2
            nsenter -t "$OUT_NS" -n -- "${AS_USER[@]}" timeout $((DUR + 30)) slirp4netns --configure --mtu=65520 "$ns" tap0 > "$d/slirp.log" 2>&1 &
            local sl=$!
            wait "$ns"; kill "$sl" 2>/dev/null; wait "$sl" 2>/dev/null
            return ;;
        pasta_out) in_out_ns "${AS_USER[@]}" timeout $((DUR + 30)) pasta -f -q --config-net -a 10.9.0.2 -n 24 -g 10.9.0.1 \
                -t none -u none -T none -U none -- "${cmd[@]}" ;;
    esac > "$f" 2>&1
}

out_measure() {  # RUN CFG
    local run=$1 cfg=$2 f v
    for dir in fwd rev; do
        f="$WORK/out-r$run-$cfg-$dir.txt"
        out_client "$cfg" "$([ $dir = rev ] && echo -R)" "$f"
        v=$(awk '/receiver/ { for (i = 2; i <= NF; i++) if ($i == "Gbits/sec") v = $(i - 1) } END { print (v == "" ? "nan" : v) }' "$f")
        orec "$run" "$cfg" "$dir" "$v"
        [ "$v" = nan ] && { log "outbound run $run $cfg $dir: FAIL"; tail -3 "$f" | sed 's/^/    /' >&2; }
        sleep 0.3
    done
    log "outbound run $run $cfg: up=$(awk -v r="$run" -v c="$cfg" '$1 == r && $2 == c && $3 == "fwd" {print $4}' "$ORES") down=$(awk -v r="$run" -v c="$cfg" '$1 == r && $2 == c && $3 == "rev" {print $4}' "$ORES")"
}
ORES=""
orec() { echo "$1 $2 $3 $4" >> "$ORES"; }

report_outbound() {
    awk -v cfgs="$OUTBOUND" -v runs="$RUNS" -v addr="$OUT_ADDR" '
    function median(a, n,   i, j, t) {
        for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function cell(c, d,   r, n, k, v, rs) {
        n = 0; k = 0
        for (r = 1; r <= runs; r++) {
            if (!((r SUBSEP c SUBSEP d) in val) || val[r, c, d] == "nan") continue
            v[++n] = val[r, c, d]
            if (((r SUBSEP "host" SUBSEP d) in val) && val[r, "host", d] != "nan" && val[r, "host", d] > 0) rs[++k] = val[r, c, d] / val[r, "host", d]
        }
        if (!n) return "-"
        s = sprintf("%.2f", median(v, n)); lo = v[1]; hi = v[n]
        s = s sprintf(" (%.2f-%.2f)", lo, hi)
        if (c != "host" && k) s = s sprintf(" x%.2f", median(rs, k))
        return s
    }
    { val[$1, $2, $3] = $4 }
    END {
        printf "\noutbound: iperf3 from the container to a server on %s (a non-loopback address of the bench'"'"'s own namespace), %d run(s)\n\n", addr, runs
        printf "%-22s | %-26s | %-26s\n", "config", "upload Gbit/s (ns->server)", "download Gbit/s (server->ns)"
        print "-----------------------+----------------------------+-----------------------------"
        n = split(cfgs, C, " ")
        for (i = 1; i <= n; i++) printf "%-22s | %-26s | %-26s\n", C[i], cell(C[i], "fwd"), cell(C[i], "rev")
    }' "$ORES"
}

# ================================================================ report

# One table: rows = configs, cells = "median (min-max) xR".
report() {
    local labels="" c
    for c in $CONFIGS; do labels+="$c=${LABEL[$c]}|"; done
    awk -v configs="$CONFIGS" -v labels="$labels" -v runs="$RUNS" -v dur="$DUR" -v wt="$WRK_T" -v wc="$WRK_C" '
    function fmt(x) { if (x == "nan") return "-"; x += 0; return (isint || x >= 100) ? sprintf("%.0f", x) : (x >= 10 ? sprintf("%.1f", x) : sprintf("%.2f", x)) }
    function median(a, n,   i, j, t) {   # sorts a[1..n] in place
        for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function cell(c, m, ratio, scale,   r, n, v, k, rs, med, s) {   # sets the global isint for fmt
        isint = (m ~ /_err$|_ms$/ && m !~ /p99/)
        n = 0; k = 0
        for (r = 1; r <= runs; r++) {
            if (!((r SUBSEP c SUBSEP m) in val) || val[r, c, m] == "nan") continue
            v[++n] = val[r, c, m] / scale
            if (ratio && ((r SUBSEP "host" SUBSEP m) in val) && val[r, "host", m] != "nan" && val[r, "host", m] != 0)
                rs[++k] = val[r, c, m] / val[r, "host", m]
        }
        if (n == 0) return "-"
        med = median(v, n)
        s = fmt(med) " (" fmt(v[1]) "-" fmt(v[n]) ")"
        isint = 0
        if (ratio && c != "host" && k > 0) s = s " x" sprintf("%.2f", median(rs, k))
        return s
    }
    $3 == "fail" { fails[$2] = fails[$2] " run" $1 ":" $4; next }
    { val[$1, $2, $3] = $4 }
    END {
        nl = split(labels, lp, "|"); for (i = 1; i < nl; i++) { split(lp[i], kv, "="); lab[kv[1]] = kv[2] }
        nm = split("fwd_gbps rev_gbps ka_rps ka_p99_ms ka_err close_rps close_err fair_p99_idle_ms fair_ratio startup_ms rss_idle_kib rss_load_kib", M, " ")
        split("host->ns Gbit/s|ns->host Gbit/s|keep-alive req/s|p99 ms|errors|conn-close req/s|close errors|B idle p99 ms|B p99 beside bulk, x idle|start-up ms|RSS idle MiB|RSS load MiB", H, "|")
        split("1 1 1 1 0 1 0 0 0 1 0 0", R, " ")
        split("1 1 1 1 1 1 1 1 1 1 1024 1024", S, " ")
        nc = split(configs, C, " ")
        w0 = length("config")
        for (i = 1; i <= nc; i++) { if (length(lab[C[i]]) > w0) w0 = length(lab[C[i]]) }
        for (j = 1; j <= nm; j++) {
            w[j] = length(H[j])
            for (i = 1; i <= nc; i++) { T[i, j] = cell(C[i], M[j], R[j], S[j]); if (length(T[i, j]) > w[j]) w[j] = length(T[i, j]) }
        }
        printf "\nuva_container port forwarding vs peers: %d run(s) x %d s, wrk -t%d -c%d, iperf3 1 stream, all over 127.0.0.1\n", runs, dur, wt, wc
        printf "cell = median (min-max) over runs; xR = median over runs of value / host direct of the same run\n\n"
        line = sprintf("%-" w0 "s", "config"); for (j = 1; j <= nm; j++) line = line sprintf(" | %-" w[j] "s", H[j]); print line
        gsub(/./, "-", line); print line
        for (i = 1; i <= nc; i++) {
            line = sprintf("%-" w0 "s", lab[C[i]])
            for (j = 1; j <= nm; j++) line = line sprintf(" | %-" w[j] "s", T[i, j])
            print line
        }
        print "\nRSS = the forwarding processes: the tree started for the row minus the servers (uva: manager + container init;"
        print "rootlesskit: parent + child + slirp4netns; slirp4netns; pasta). RSS load = peak sampled every 0.25 s during the tests."
        print "B = wrk -t1 -c1 on the HTTP port; \"beside bulk\" = its p99 while iperf3 runs on the other port, over its idle p99."
        for (i = 1; i <= nc; i++) if (C[i] in fails) print "FAILED " lab[C[i]] ":" fails[C[i]]
    }' "$RES"
}

# Density table: one row per N.  "Flat" = the growth per added container
# (of the manager's RSS, and of the containers' own PSS) varies by at most
# 1.5x (or 64 KiB) from one step of N to the next.
report_density() {
    awk -v ns="$DENSITY" -v runs="$DENSITY_RUNS" -v keys="$DENSITY_KEYS" -v rh="$DENSITY_READY_HTTP" \
        -v drv="$([ "$UVA_PORT_DRIVER_FLAG" = 1 ] && echo "${DENSITY_PORT_DRIVER:-default}" || echo default)" '
    function fmt(x) { x += 0; return (x == int(x) || x >= 100) ? sprintf("%.0f", x) : (x >= 10 ? sprintf("%.1f", x) : sprintf("%.2f", x)) }
    function median(a, n,   i, j, t) {
        for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function vals(n, m, v,   r, k) { k = 0; for (r = 1; r <= runs; r++) if ((r SUBSEP n SUBSEP m) in val) v[++k] = val[r, n, m]; return k }
    function med(n, m,   v, k) { k = vals(n, m, v); return k ? median(v, k) : "" }
    function rng(n, m,   v, k, mm) { k = vals(n, m, v); if (!k) return "-"; mm = median(v, k); return fmt(mm) " (" fmt(v[1]) "-" fmt(v[k]) ")" }
    function flat(name, a, k,   j, lo, hi) {
        if (k < 2) return
        lo = hi = a[1]; for (j = 2; j <= k; j++) { if (a[j] < lo) lo = a[j]; if (a[j] > hi) hi = a[j] }
        printf "%-42s %s .. %s KiB -> %s\n", name ":", fmt(lo), fmt(hi),
            ((lo > 0 && hi / lo <= 1.5) || hi - lo <= 64) ? "flat" : "NOT flat (varies more than 1.5x)"
    }
    $3 == "fail" { fails[$2] = fails[$2] " run" $1 ":" $4; next }
    { val[$1, $2, $3] = $4 }
    END {
        printf "\ndensity: ONE uva_container up with N tinyhttpd containers, one published port each; %d run(s); cell = median (min-max)\n", runs
        printf "spec: port-driver=%s ready-http=%s%s\n\n", drv, rh == 1 ? "true" : "false", keys == "" ? "" : " " keys
        f = "%5s | %-20s | %-20s | %-20s | %-20s | %-15s | %-11s | %-13s | %-15s | %-15s | %s\n"
        printf f, "N", "all answer ms", "uva ready line ms", "floor ms", "stop ms", "manager RSS MiB", "mgr KiB/ctr", "mgr KiB/added", "ctr RSS KiB/ctr", "ctr PSS KiB/ctr", "procs"
        print "------+----------------------+----------------------+----------------------+----------------------+-----------------+-------------+---------------+-----------------+-----------------+------"
        k = split(ns, N, " "); pn = ""; na = 0; np = 0
        for (i = 1; i <= k; i++) {
            n = N[i]; m = med(n, "mgr_kib")
            if (m == "") { printf "%5s | FAILED:%s\n", n, fails[n]; continue }
            added = "-"; p = med(n, "ctr_pss_kib")
            if (pn != "" && n > pn) {
                added = (m - pm) / (n - pn); grow[++na] = added; added = fmt(added)
                pss[++np] = (p - pp) / (n - pn)
            }
            printf f, n, rng(n, "all_ms"), rng(n, "ready_ms"), rng(n, "floor_ms"), rng(n, "stop_ms"), fmt(m / 1024), fmt(m / n), added,
                fmt(med(n, "ctr_kib") / n), fmt(p / n), med(n, "procs")
            if (n in fails) printf "      failed:%s\n", fails[n]
            pn = n; pm = m; pp = p
        }
        print "\nfloor = bench/floor.c in the same run: the same N tinyhttpd, each in user, net, mount, UTS, IPC and pid namespaces of"
        print "its own with lo up and a tap, no manager, to the last one listening: what the kernel and the app cost alone."
        print "manager = the uva_container process alone; mgr KiB/added = its RSS growth per container added since the previous N;"
        print "ctr = each container'"'"'s own processes (its init + tinyhttpd); RSS counts pages shared with the manager in every"
        print "process, PSS splits them; procs = processes under the manager (2 per container expected).\n"
        flat("manager growth per added container", grow, na)
        flat("container PSS growth per added container", pss, np)
    }' "$DRES"
}

# ================================================================ main

T_START=$(now_ms)
install_missing
ensure_user
set_as_user
tun_open
mkdir -p "$WORK" || die "cannot create $WORK"
prepare_work
RES="$WORK/results.txt"; : > "$RES"
DRES="$WORK/density.txt"; : > "$DRES"
log "work dir $WORK; configs: $CONFIGS; runs=$RUNS dur=${DUR}s; uva: $UVA_BIN (--port-driver: $([ "$UVA_PORT_DRIVER_FLAG" = 1 ] && echo yes || echo 'no, UVA_PORT_DRIVER_FLAG=0'))"
for run in $(seq "$RUNS"); do
    for cfg in $CONFIGS; do measure "$run" "$cfg"; done
done
if [ -n "${DENSITY// /}" ]; then
    for run in $(seq "$DENSITY_RUNS"); do
        for n in $DENSITY; do density_run "$run" "$n"; done
    done
fi
if [ -n "${OUTBOUND// /}" ]; then
    ORES="$WORK/outbound.txt"; : > "$ORES"
    if out_ns_up; then
        # nsenter and setpriv exec, so $! is iperf3 itself; through the
        # function in_out_ns it was a subshell, and killing that left the
        # server running, orphaned, after the bench.
        nsenter -t "$OUT_NS" -n -- "${AS_USER[@]}" iperf3 -s -B "$OUT_ADDR" -p 5301 > "$WORK/out-server.log" 2>&1 &
        OUT_SRV=$!
        sleep 0.3
        for run in $(seq "$RUNS"); do
            for cfg in $OUTBOUND; do out_measure "$run" "$cfg"; done
        done
        kill "$OUT_SRV" 2>/dev/null; wait "$OUT_SRV" 2>/dev/null; OUT_SRV=""
    else
        log "outbound: FAIL could not set up the namespace"
    fi
    out_ns_down
fi
[ -n "${CONFIGS// /}" ] && report
[ -n "${DENSITY// /}" ] && report_density
[ -n "${OUTBOUND// /}" ] && report_outbound
echo
echo "total bench time: $(( ($(now_ms) - T_START) / 1000 )) s"
