# shellcheck shell=bash
# tests/compat/redis.sh - redis-server in the foreground, driven by
# redis-cli and redis-benchmark: commands, Lua, transactions, pub/sub, the
# forks of BGSAVE and BGREWRITEAOF, SHUTDOWN.  Sourced by
# tests/compat/lib.sh.
#
# compat_redis MODE PORT REQUESTS: writes $CWORK/MODE.redis.tsv;
# REQUESTS per redis-benchmark test.
compat_redis() {
  local mode=$1 port=$2 nreq=$3 d f out t
  d=$(compat_dir "$mode" redis)
  f=$CWORK/$mode.redis.tsv
  : >"$f"
  cat >"$d/redis.conf" <<REDIS
port $port
bind 127.0.0.1
daemonize no
dir ./
logfile redis.log
dbfilename dump.rdb
appendonly yes
appendfilename appendonly.aof
save ""
REDIS
  [ "$(id -u)" = 0 ] && chown -R "$TUID:$TGID" "$d"
  compat_start "$mode" "$d" "$port" "$d/out" redis-server ./redis.conf
  local cli=(redis-cli -h 127.0.0.1 -p "$COMPAT_PORT")
  if ! wait_for 300 bash -c '[ "$("$@" ping 2>/dev/null)" = PONG ]' _ "${cli[@]}"; then
    compat_row "$f" "redis: answers PING" fail "$(tail -n 1 "$d/redis.log" "$d/out" 2>/dev/null | tr '\n' ' ')"
    compat_stop KILL
    return
  fi
  compat_row "$f" "redis: answers PING" pass
  compat_check "$f" "SET and GET" bash -c '"$@" set k v >/dev/null && [ "$("$@" get k)" = v ]' _ "${cli[@]}"
  compat_check "$f" "1000 pipelined INCRs" bash -c \
    'for i in $(seq 1000); do echo "INCR n"; done | "$@" >/dev/null && [ "$("$@" get n)" = 1000 ]' _ "${cli[@]}"
  compat_check "$f" "LPUSH and LRANGE" bash -c \
    '"$@" rpush l a b c >/dev/null && [ "$("$@" lrange l 0 -1 | tr "\n" " ")" = "a b c " ]' _ "${cli[@]}"
  "${cli[@]}" set gone 1 px 200 >/dev/null
  compat_check "$f" "a key set with PX 200 expires" wait_for 50 bash -c '[ "$("$@" exists gone)" = 0 ]' _ "${cli[@]}"
  compat_check "$f" "EVAL of a Lua script" bash -c \
    '[ "$("$@" eval "return redis.call(\"incrby\", KEYS[1], ARGV[1])" 1 e 5)" = 5 ]' _ "${cli[@]}"
  compat_check "$f" "MULTI/EXEC" bash -c \
    '[ "$(printf "MULTI\nINCR t\nINCR t\nEXEC\n" | "$@" | tail -n 2 | tr "\n" " ")" = "1 2 " ]' _ "${cli[@]}"
  "${cli[@]}" subscribe ch >"$d/sub.out" 2>&1 &
  local sub=$!
  # Subscribed once the server counts it; the message is in the
  # subscriber's output once redis-cli has written it: both polled.
  wait_for 100 bash -c '[ "$("$@" pubsub numsub ch | tail -n 1)" = 1 ]' _ "${cli[@]}"
  compat_check "$f" "PUBLISH reaches a subscriber" bash -c \
    '[ "$("${@:2}" publish ch hello-sub)" = 1 ]' _ "$d/sub.out" "${cli[@]}"
  compat_check "$f" "the subscriber prints the message" wait_for 100 grep -q hello-sub "$d/sub.out"
  kill "$sub" 2>/dev/null
  wait "$sub" 2>/dev/null
  # BGSAVE and BGREWRITEAOF fork a child that writes and exits: the
  # container's pid namespace, its init reaping, and /app's files.
  "${cli[@]}" bgsave >/dev/null
  compat_check "$f" "BGSAVE: the forked child writes dump.rdb" wait_for 300 bash -c \
    '"${@:2}" info persistence | tr -d "\r" | grep -qx "rdb_last_bgsave_status:ok" &&
     "${@:2}" info persistence | tr -d "\r" | grep -qx "rdb_bgsave_in_progress:0" && [ -s "$1/dump.rdb" ]' _ "$d" "${cli[@]}"
  wait_for 100 bash -c '"$@" info persistence | tr -d "\r" | grep -qx "aof_rewrite_in_progress:0"' _ "${cli[@]}"
  out=$("${cli[@]}" bgrewriteaof)
  compat_check "$f" "BGREWRITEAOF: the forked child rewrites the AOF" wait_for 300 bash -c \
    'grep -q "started" <<<"$2" && "${@:3}" info persistence | tr -d "\r" | grep -qx "aof_rewrite_in_progress:0" &&
     "${@:3}" info persistence | tr -d "\r" | grep -qx "aof_last_bgrewrite_status:ok"' _ "$d" "$out" "${cli[@]}"
  compat_check "$f" "CONFIG SET maxmemory" bash -c \
    '"$@" config set maxmemory 64mb >/dev/null && [ "$("$@" config get maxmemory | tail -n 1)" = 67108864 ]' _ "${cli[@]}"
  compat_value "$f" "INFO: multiplexing_api" "$("${cli[@]}" info server | tr -d '\r' | sed -n 's/^multiplexing_api://p')"
  compat_value "$f" "INFO: clients connected (this one)" "$("${cli[@]}" info clients | tr -d '\r' | sed -n 's/^connected_clients://p')"
  out=$(redis-benchmark -h 127.0.0.1 -p "$COMPAT_PORT" -q -n "$nreq" -c 20 -t set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,lrange_100,mset 2>&1 | tr '\r' '\n')
  for t in SET GET INCR LPUSH RPUSH LPOP RPOP SADD HSET SPOP ZADD LRANGE_100 "MSET (10 keys)"; do
    compat_check "$f" "redis-benchmark $t: $nreq requests, 20 clients" \
      grep -q "^${t}[: ].* requests per second" <<<"$out"
  done
  compat_check "$f" "redis-benchmark: no error" bash -c '! grep -qi error <<<"$1"' _ "$out"
  # SHUTDOWN SAVE: the server saves and exits by itself with status 0.
  "${cli[@]}" shutdown save >/dev/null 2>&1
  compat_stop 0
  compat_value "$f" "SHUTDOWN SAVE: exit status" "$COMPAT_RC"
  compat_check "$f" "SHUTDOWN SAVE: the log says it is ready to exit" grep -q "ready to exit, bye bye" "$d/redis.log"
  compat_log_rows "$f" redis "$d/redis.log" '# |Failed|rror' \
    's/^[0-9]+:[A-Z] [0-9]+ [A-Za-z]+ [0-9]+ [0-9:.]+ [*#-] //'
}
