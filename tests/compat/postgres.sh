# shellcheck shell=bash
# tests/compat/postgres.sh - PostgreSQL 15: initdb, the postmaster in the
# foreground, psql and pgbench over TCP and over the unix socket in the
# data's directory: parallel workers (dynamic shared memory in /dev/shm),
# temp files, an extension, COPY TO PROGRAM (a fork and exec of /bin/sh),
# LISTEN/NOTIFY, fast shutdown.  Sourced by tests/compat/lib.sh.
#
# compat_postgres MODE PORT PGBENCH_SECONDS: writes $CWORK/MODE.postgres.tsv.
compat_postgres() {
  local mode=$1 port=$2 secs=$3 d f out v
  d=$(compat_dir "$mode" postgres)
  f=$CWORK/$mode.postgres.tsv
  : >"$f"
  [ "$(id -u)" = 0 ] && chown -R "$TUID:$TGID" "$d"
  out=$(compat_exec "$mode" "$d" sh -c 'exec "$1/initdb" -D "$PWD/data" -A trust -E UTF8 --locale=C.UTF-8' _ "$COMPAT_PG_BIN")
  printf '%s\n' "$out" >"$d/initdb.out"
  compat_check "$f" "initdb: succeeds" grep -q "^Success" <<<"$out"
  # What initdb chose from what it found (it tries shared memory and
  # connection counts until the kernel agrees).
  for v in "max_connections" "shared_buffers" "dynamic shared memory implementation" "time zone"; do
    compat_value "$f" "initdb: selecting $v" "$(sed -n "s/^selecting \(default \)\?$v \.\.\. //p" <<<"$out")"
  done
  if [ ! -f "$d/data/PG_VERSION" ]; then
    compat_row "$f" "postgres: accepts connections" fail "initdb failed: $(tail -n 1 <<<"$out")"
    return
  fi
  compat_start "$mode" "$d" "$port" "$d/server.log" sh -c \
    'exec "$1/postgres" -D "$PWD/data" -p "$2" -k "$PWD" -c listen_addresses=127.0.0.1' _ "$COMPAT_PG_BIN" "$port"
  local psql=(psql -X -Atq -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$COMPAT_PORT" -U "$COMPAT_NAME" -d postgres)
  if ! wait_for 300 bash -c '[ "$("$@" -c "select 1" 2>/dev/null)" = 1 ]' _ "${psql[@]}"; then
    compat_row "$f" "postgres: accepts connections" fail "$(tail -n 1 "$d/server.log")"
    compat_stop KILL
    return
  fi
  compat_row "$f" "postgres: accepts connections" pass
  compat_check "$f" "pg_isready" pg_isready -q -h 127.0.0.1 -p "$COMPAT_PORT" -U "$COMPAT_NAME" -d postgres
  # The unix socket is a file in the data's directory: reachable from the
  # host through the shared directory (it is named after the server's own
  # port, the one inside).
  compat_check "$f" "psql over the unix socket" bash -c \
    '[ "$(psql -X -Atq -h "$1" -p "$2" -U "$3" -d postgres -c "select 42")" = 42 ]' _ "$d" "$port" "$COMPAT_NAME"
  compat_check "$f" "CREATE TABLE of 200000 rows and count(*)" bash -c \
    '[ "$("$@" -c "create table t as select i, md5(i::text) m from generate_series(1, 200000) i" -c "select count(*) from t")" = 200000 ]' _ "${psql[@]}"
  compat_check "$f" "COPY TO STDOUT of every row" bash -c \
    '[ "$("$@" -c "copy t to stdout" | wc -l)" = 200000 ]' _ "${psql[@]}"
  compat_check "$f" "ROLLBACK undoes an insert" bash -c \
    '[ "$("$@" -c "begin" -c "insert into t values (0, null)" -c "rollback" -c "select count(*) from t")" = 200000 ]' _ "${psql[@]}"
  compat_check "$f" "parallel query: 2 workers launched (dynamic shared memory)" bash -c \
    '"$@" -c "set parallel_setup_cost = 0" -c "set parallel_tuple_cost = 0" -c "set min_parallel_table_scan_size = 0" \
      -c "set max_parallel_workers_per_gather = 2" -c "explain (analyze, costs off) select count(*) from t" | grep -q "Workers Launched: 2"' _ "${psql[@]}"
  compat_check "$f" "sort spilling to temp files (work_mem 64kB)" bash -c \
    '[ "$("$@" -c "set work_mem = '\''64kB'\''" -c "select count(distinct m) from (select m from t order by m) s")" = 200000 ]' _ "${psql[@]}"
  compat_check "$f" "CREATE EXTENSION pgcrypto: digest()" bash -c \
    '[ "$("$@" -c "create extension pgcrypto" -c "select encode(digest('\''abc'\'', '\''sha256'\''), '\''hex'\'')")" = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad ]' _ "${psql[@]}"
  compat_check "$f" "COPY TO PROGRAM (the server forks /bin/sh)" bash -c \
    '"$@" -c "copy (select 1) to program '\''cat >/dev/null'\''" >/dev/null' _ "${psql[@]}"
  compat_check "$f" "LISTEN/NOTIFY" bash -c \
    '"$@" -c "listen c" -c "notify c, '\''hi'\''" -c "select 1" 2>&1 | grep -q "notification \"c\" with payload \"hi\""' _ "${psql[@]}"
  compat_check "$f" "CHECKPOINT and pg_reload_conf()" bash -c \
    '[ "$("$@" -c "checkpoint" -c "select pg_reload_conf()")" = t ]' _ "${psql[@]}"
  compat_value "$f" "background processes (pg_stat_activity)" \
    "$("${psql[@]}" -c "select string_agg(backend_type, ',' order by backend_type) from pg_stat_activity where backend_type <> 'client backend'")"
  compat_check "$f" "pgbench -i -s 2" pgbench -q -i -s 2 -h 127.0.0.1 -p "$COMPAT_PORT" -U "$COMPAT_NAME" postgres
  out=$(pgbench -c 4 -j 2 -T "$secs" -h 127.0.0.1 -p "$COMPAT_PORT" -U "$COMPAT_NAME" postgres 2>&1)
  compat_check "$f" "pgbench: 4 clients for $secs s, no failed transaction" bash -c \
    'grep -q "^tps = " <<<"$1" && grep -q "number of failed transactions: 0 " <<<"$1" || { tail -n 2 <<<"$1"; false; }' _ "$out"
  # Ctrl-C: SIGINT is PostgreSQL's fast shutdown (postgres(1)).
  compat_stop INT
  compat_value "$f" "SIGINT (fast shutdown): exit status" "$COMPAT_RC"
  compat_check "$f" "SIGINT: the log says the database system is shut down" \
    grep -q "database system is shut down" "$d/server.log"
  # Not "the database system is starting up": that is our own polling,
  # early or late by chance.
  compat_log_rows "$f" postgres "$d/server.log" '(WARNING|ERROR|FATAL|PANIC):' \
    's/^[0-9-]+ [0-9:.]+ [A-Z]+ \[[0-9]+\] //; /the database system is starting up/d'
}
