# shellcheck shell=bash
# tests/compat/nginx.sh - nginx (Debian's nginx-light) with its master and
# two workers, driven by curl and wrk.  Sourced by tests/compat/lib.sh.
#
# compat_nginx MODE PORT WRK_SECONDS: writes $CWORK/MODE.nginx.tsv.
compat_nginx() {
  local mode=$1 port=$2 secs=$3 d f u out
  d=$(compat_dir "$mode" nginx)
  f=$CWORK/$mode.nginx.tsv
  : >"$f"
  mkdir -p "$d/www/auto" "$d/tmp"
  head -c 100000 /dev/urandom | base64 >"$d/www/index.html"
  head -c 33554432 /dev/urandom >"$d/www/big.bin"
  echo "listed" >"$d/www/auto/listed.txt"
  # Every path relative to the prefix (-p "$PWD/"): the same file serves
  # the host's directory and the container's /app.
  cat >"$d/nginx.conf" <<NGX
worker_processes 2;
daemon off;
master_process on;
pid nginx.pid;
error_log error.log notice;
events { worker_connections 1024; }
http {
  include /etc/nginx/mime.types;
  access_log access.log;
  client_body_temp_path tmp/body; proxy_temp_path tmp/proxy;
  fastcgi_temp_path tmp/fastcgi; uwsgi_temp_path tmp/uwsgi; scgi_temp_path tmp/scgi;
  sendfile on; tcp_nopush on; keepalive_requests 1000000;
  gzip on; gzip_types text/plain; gzip_min_length 100;
  server {
    listen 127.0.0.1:$port backlog=1024;
    root www;
    location /auto/ { autoindex on; }
    location = /echo { client_max_body_size 8m; return 200 "\$request_method \$http_x_probe\n"; }
  }
}
NGX
  [ "$(id -u)" = 0 ] && chown -R "$TUID:$TGID" "$d"
  out=$(compat_exec "$mode" "$d" sh -c 'exec nginx -t -p "$PWD/" -e error.log -c nginx.conf')
  compat_check "$f" "nginx -t: the configuration is valid" grep -q "test is successful" <<<"$out"
  compat_start "$mode" "$d" "$port" "$d/out" sh -c 'exec nginx -p "$PWD/" -e error.log -c nginx.conf'
  u=http://127.0.0.1:$COMPAT_PORT
  if ! wait_for 300 curl -sf -o /dev/null "$u/"; then
    compat_row "$f" "nginx: answers on its port" fail "$(tail -n 1 "$d/error.log" "$d/out" 2>/dev/null | tr '\n' ' ')"
    compat_stop KILL
    return
  fi
  compat_row "$f" "nginx: answers on its port" pass
  compat_check "$f" "nginx: master and 2 workers" wait_for 50 bash -c \
    '[ "$(grep -c "start worker process" "$1")" -ge 2 ]' _ "$d/error.log"
  compat_check "$f" "GET /: 200 and the file's bytes" bash -c \
    'curl -sf "$1/" | cmp -s - "$2"' _ "$u" "$d/www/index.html"
  compat_check "$f" "HEAD /: 200 and the file's Content-Length" bash -c \
    'curl -sfI "$1/" | tr -d "\r" | grep -qix "content-length: $(stat -c %s "$2")"' _ "$u" "$d/www/index.html"
  compat_check "$f" "GET /missing: 404" bash -c \
    '[ "$(curl -s -o /dev/null -w "%{http_code}" "$1/missing")" = 404 ]' _ "$u"
  compat_check "$f" "Range: bytes=100-199: 206 and those 100 bytes" bash -c \
    '[ "$(curl -s -r 100-199 -w " %{http_code}" "$1/" | tail -c 4)" = " 206" ] &&
     curl -s -r 100-199 "$1/" | cmp -s - <(tail -c +101 "$2" | head -c 100)' _ "$u" "$d/www/index.html"
  compat_check "$f" "32 MiB file through sendfile: identical" bash -c \
    'curl -sf "$1/big.bin" | cmp -s - "$2"' _ "$u" "$d/www/big.bin"
  compat_check "$f" "gzip: Content-Encoding gzip, inflates to the file" bash -c \
    'curl -sf -H "Accept-Encoding: gzip" -D "$3" "$1/" | gzip -dc | cmp -s - "$2" &&
     tr -d "\r" <"$3" | grep -qix "content-encoding: gzip"' _ "$u" "$d/www/index.html" "$d/gzip.hdr"
  compat_check "$f" "autoindex lists the directory" bash -c \
    'curl -sf "$1/auto/" | grep -q "listed.txt"' _ "$u"
  compat_check "$f" "POST of 4 MiB: read and answered" bash -c \
    '[ "$(head -c 4194304 /dev/zero | curl -sf -H "X-Probe: p" --data-binary @- "$1/echo")" = "POST p" ]' _ "$u"
  compat_check "$f" "keep-alive: the second request reuses the connection" bash -c \
    'curl -sv -o /dev/null -o /dev/null "$1/" "$1/auto/" 2>&1 | grep -q "Re-using existing connection"' _ "$u"
  out=$(ulimit -n 4096; wrk -t2 -c64 -d"${secs}s" "$u/auto/listed.txt" 2>&1)
  compat_check "$f" "wrk: 64 connections for ${secs} s, no socket error or non-2xx" bash -c \
    'grep -q "requests in" <<<"$1" && ! grep -qE "Socket errors|Non-2xx" <<<"$1" || { tail -n 3 <<<"$1"; false; }' _ "$out"
  compat_check "$f" "access log has every request" wait_for 50 grep -q "GET /auto/ " "$d/access.log"
  # Graceful stop: SIGQUIT (nginx(8)) lets the workers finish and exit 0;
  # the manager hands SIGQUIT on to its app.
  compat_stop QUIT
  compat_value "$f" "SIGQUIT: exit status" "$COMPAT_RC"
  compat_check "$f" "SIGQUIT: the workers exited gracefully" grep -q "gracefully shutting down" "$d/error.log"
  compat_log_rows "$f" nginx "$d/error.log" '\[(warn|error|crit|alert|emerg)\]' \
    's/^[0-9/]+ [0-9:]+ //'
}
