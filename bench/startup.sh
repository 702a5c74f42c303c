#!/usr/bin/env bash
# bench/startup.sh - launch-to-ready time of the default (both recorders
# answering HTTP), N runs (default 10), as the invoking user; prints the
# sorted times in ms and the median.  Uses 18080/28080 on 127.0.0.1 only.
# A measurement, not a test, and not yet the peer comparison of `make bench`.
set -u
cd "$(dirname "$0")/.." || exit 1
runs=${1:-10}
state=$(mktemp -d)
times=()
for ((i = 0; i < runs; i++)); do
  out=$(mktemp)
  t0=$(date +%s%N)
  XDG_STATE_HOME=$state ./uva_container >"$out" 2>&1 &
  pid=$!
  for ((j = 0; j < 3000; j++)); do
    grep -q "press Ctrl-C to stop" "$out" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.005
  done
  t1=$(date +%s%N)
  grep -q "press Ctrl-C to stop" "$out" || { echo "run $i never got ready:"; cat "$out"; kill -KILL "$pid" 2>/dev/null; exit 1; }
  times+=($(((t1 - t0) / 1000000)))
  kill -INT "$pid"
  wait "$pid"
  rm -f "$out"
done
rm -rf "$state"
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
echo "start-up to both ready, ms: $(tr '\n' ' ' <<<"$sorted")"
echo "median: $(sed -n "$(((runs + 1) / 2))p" <<<"$sorted") ms"
