#!/usr/bin/env bash
# bench/quick.sh - `make bench-quick`: the bench's gate, under 90 s.
#
# Runs bench/run.sh small: host direct, uva (splice), uva (bypass) and
# pasta, interleaved (QRUNS runs of QDUR s, iperf3 both ways, wrk
# keep-alive and Connection: close; no fairness, no outbound), and one
# `up` of 64 containers per run.  Prints, per column, each row's median,
# its ratio to host direct of the same run (xhost) and to pasta of the
# same run (xpasta).  Then the gate, for each uva row and column:
#
#   fall behind pasta:    median xpasta < 1 - spread
#   fall behind baseline: median xhost  < baseline xhost * (1 - spread)
#   density 64:           median ms     > baseline ms * (1 + spread)
#
# where spread is the run's own noise for that cell: the larger of the
# relative ranges (max - min) / median over the runs of the uva ratio and
# of pasta's ratio, never below FLOOR (0.05).  So a noisy run widens its
# own tolerance (it can only fail on a fall larger than its noise), and a
# quiet run holds the numbers tight.  A fall is printed as one line
# "GATE-FALL row column ..." (tests/benchgate.sh compares two runs' lines);
# the exit status is 1 if any, 0 otherwise, 2 if the bench itself failed.
#
# Baselines: bench/baseline.txt, lines "row column xhost" (and "density64
# all_ms MS"); `bench/quick.sh --update-baseline` writes the medians of
# this run there (review the diff: it is what later runs are held to).
# A line "behind-pasta row column REASON" names a cell known to be behind
# pasta on a quiet machine (measured by `make bench`, docs/performance.md):
# its fall behind pasta is printed as "KNOWN-BEHIND ..." and does not fail,
# so the gate holds everything else now and the cell to its baseline
# still; the line goes when the gap is closed.  An open gap, said where
# everyone sees it, not a gate that fails every run until it is fixed.
#
# Knobs: QRUNS [2]  QDUR [1]  QFLOOR [0.05]  BASELINE [bench/baseline.txt]
# QRESULTS [unset]: a directory with results.txt and density.txt of an
# earlier run: the gate alone, no bench.  And every run.sh knob but
# CONFIGS, RUNS, DUR, TESTS, DENSITY, OUTBOUND, WORK.
set -u
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
QRUNS=${QRUNS:-2}
QDUR=${QDUR:-1}
QFLOOR=${QFLOOR:-0.05}
BASELINE=${BASELINE:-$REPO/bench/baseline.txt}
UPDATE=0
[ "${1:-}" = --update-baseline ] && UPDATE=1
W=$(mktemp -d /tmp/uva-bench-quick.XXXXXX) || exit 2
chmod 755 "$W"
trap 'rm -rf "$W"' EXIT
t0=$SECONDS
if [ -n "${QRESULTS:-}" ]; then
  # The gate alone, over results.txt and density.txt of an earlier run
  # (tests/speed.sh feeds it made-up ones).
  mkdir -p "$W/work" && cp "$QRESULTS/results.txt" "$QRESULTS/density.txt" "$W/work/" && : > "$W/log.txt"
  rc=$?
else
  CONFIGS="host uva_splice uva_bypass pasta" RUNS=$QRUNS DUR=$QDUR TESTS="fwd rev ka close" \
    DENSITY=64 DENSITY_RUNS=$QRUNS OUTBOUND="" WORK="$W/work" KEEP_WORK=1 \
    "$REPO/bench/run.sh" > "$W/tables.txt" 2> "$W/log.txt"
  rc=$?
fi
if [ $rc != 0 ] || [ ! -s "$W/work/results.txt" ]; then
  echo "bench-quick: bench/run.sh failed (exit $rc); its last lines:"
  tail -15 "$W/log.txt"
  exit 2
fi
grep -h FAIL "$W/log.txt" | sed 's/^/bench-quick: /'
inputs=("$W/work/density.txt" "$W/work/results.txt")
[ -f "$BASELINE" ] && inputs=("$BASELINE" "${inputs[@]}")
awk -v runs="$QRUNS" -v floor="$QFLOOR" -v update="$UPDATE" -v secs=$((SECONDS - t0)) \
  -v baseline="$([ -f "$BASELINE" ] && echo "$BASELINE")" -v newbase="$W/baseline.new" '
  function median(a, n,   i, j, t) {
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  # Ratios of row c over row ref per run, in out[]; their count.
  function ratios(c, m, ref, out,   r, k) {
    k = 0
    for (r = 1; r <= runs; r++)
      if ((r SUBSEP c SUBSEP m) in val && (r SUBSEP ref SUBSEP m) in val && val[r, ref, m] > 0 && val[r, c, m] != "nan")
        out[++k] = val[r, c, m] / val[r, ref, m]
    return k
  }
  function spread(a, n,   m) { if (n < 2) return 0; m = median(a, n); return m > 0 ? (a[n] - a[1]) / m : 0 }
  function f(x) { return x >= 100 ? sprintf("%.0f", x) : sprintf("%.2f", x) }
  FILENAME == baseline && $1 == "behind-pasta" { known[$2, $3] = 1; next }
  FILENAME == baseline { base[$1, $2] = $3; next }
  FILENAME ~ /density/ { if ($3 == "all_ms") { dn[$2]++; dv[$2, dn[$2]] = $4 }
                         if ($3 == "floor_ms") { fn[$2]++; fv[$2, fn[$2]] = $4 } next }
  $3 != "fail" { val[$1, $2, $3] = $4 }
  END {
    nm = split("fwd_gbps rev_gbps ka_rps ka_p99_ms close_rps", M, " ")
    split("host->ns Gbit/s|ns->host Gbit/s|keep-alive req/s|keep-alive p99 ms|conn-close req/s", H, "|")
    split("1 1 1 -1 1", UP, " ")   # -1: lower is better (p99)
    nc = split("host uva_splice uva_bypass pasta", C, " ")
    printf "\nbench-quick: %d run(s) x %d s, host / uva splice / uva bypass / pasta interleaved; cell = median xhost xpasta\n\n", runs, ENVIRON["QDUR"] ? ENVIRON["QDUR"] : 1
    printf "%-12s", "row"; for (j = 1; j <= nm; j++) printf " | %-27s", H[j]; printf "\n"
    for (i = 1; i <= nc; i++) {
      printf "%-12s", C[i]
      for (j = 1; j <= nm; j++) {
        m = M[j]; k = 0; delete v
        for (r = 1; r <= runs; r++) if ((r SUBSEP C[i] SUBSEP m) in val && val[r, C[i], m] != "nan") v[++k] = val[r, C[i], m]
        s = k ? f(median(v, k)) : "-"
        delete a; n = ratios(C[i], m, "host", a); if (C[i] != "host" && n) s = s sprintf(" x%.2f", median(a, n))
        delete b; n = ratios(C[i], m, "pasta", b); if (C[i] ~ /^uva/ && n) s = s sprintf(" xp%.2f", median(b, n))
        printf " | %-27s", s
      }
      printf "\n"
    }
    falls = 0
    for (i = 2; i <= 3; i++) for (j = 1; j <= nm; j++) {
      c = C[i]; m = M[j]
      delete a; na = ratios(c, m, "host", a); delete p; np = ratios("pasta", m, "host", p)
      if (!na) { printf "GATE-FALL %s %s no value\n", c, m; falls++; continue }
      sp = spread(a, na); if (np && spread(p, np) > sp) sp = spread(p, np); if (sp < floor) sp = floor
      mu = median(a, na)
      if (update) printf "%s %s %.3f\n", c, m, mu > newbase
      if (np) {
        delete b; nb = ratios(c, m, "pasta", b); xp = median(b, nb)
        if (((UP[j] > 0 && xp < 1 - sp) || (UP[j] < 0 && xp > 1 + sp)) && ((c SUBSEP m) in known))
          printf "KNOWN-BEHIND %s %s behind pasta: x%.2f of pasta, spread %.2f (bench/baseline.txt)\n", c, m, xp, sp
        else if ((UP[j] > 0 && xp < 1 - sp) || (UP[j] < 0 && xp > 1 + sp)) {
          printf "GATE-FALL %s %s behind pasta: x%.2f of pasta, spread %.2f\n", c, m, xp, sp; falls++ }
      }
      if (!update && ((c SUBSEP m) in base)) {
        bl = base[c, m]
        if ((UP[j] > 0 && mu < bl * (1 - sp)) || (UP[j] < 0 && mu > bl * (1 + sp))) {
          printf "GATE-FALL %s %s behind baseline: x%.2f of host, baseline x%.2f, spread %.2f\n", c, m, mu, bl, sp; falls++ }
      }
    }
    k = dn[64]; delete d; for (r = 1; r <= k; r++) d[r] = dv[64, r]
    if (!k) { print "GATE-FALL density64 all_ms no value"; falls++ }
    else {
      md = median(d, k); sp = spread(d, k); if (sp < floor) sp = floor
      printf "\ndensity 64 (one up, 64 tinyhttpd): all answer %.0f ms (%.0f-%.0f)", md, d[1], d[k]
      kf = fn[64]; delete e; for (r = 1; r <= kf; r++) e[r] = fv[64, r]
      if (kf) printf "; floor, no manager (bench/floor.c): %.0f ms", median(e, kf)
      printf "\n"
      if (update) printf "density64 all_ms %.0f\n", md > newbase
      else if (("density64" SUBSEP "all_ms") in base && md > base["density64", "all_ms"] * (1 + sp)) {
        printf "GATE-FALL density64 all_ms behind baseline: %.0f ms, baseline %.0f ms, spread %.2f\n", md, base["density64", "all_ms"], sp; falls++ }
    }
    printf "\nbench-quick: %s (%d fall(s)), %d s\n", falls ? "FELL BEHIND" : "ok", falls, secs
    exit falls ? 1 : 0
  }' "${inputs[@]}"
rc=$?
if [ $UPDATE = 1 ] && [ -s "$W/baseline.new" ]; then
  cp "$BASELINE" "$BASELINE.old" 2>/dev/null
  { echo "# bench/baseline.txt - bench/quick.sh holds uva to these (ratio to host direct, or ms);"
    echo "# written by bench/quick.sh --update-baseline on $(date -u +%F) ($(git -C "$REPO" rev-parse --short HEAD 2>/dev/null))"
    cat "$W/baseline.new"
    grep '^behind-pasta ' "$BASELINE.old" 2>/dev/null; } > "$BASELINE"
  rm -f "$BASELINE.old"
  echo "bench-quick: baseline written to $BASELINE (its behind-pasta lines kept)"
fi
exit $rc
