#!/usr/bin/env bash
# tests/streams.sh - bytes in and out exactly: `run` passes the app's
# output through unchanged and at once, -i gives it stdin, -t a terminal,
# signals arrive as sent; `up` shows each line prefixed, escaped, and a
# partial line without waiting for its end.
# A part of the suite (tests/lib.sh): runs alone or from tests/run.sh.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
make_site

PTYD=$ROOT/tests/pty_drive.py
mkdir -p "$WORK/streams"
head -c 1000000 /dev/urandom >"$WORK/streams/random.bin"
own "$WORK/streams"
want=$(sha256sum <"$WORK/streams/random.bin")
got=$(run_out --network none -w "$WORK/streams" -- cat random.bin | sha256sum)
check_eq "run: 1,000,000 random bytes come back exactly" "$got" "$want"
got=$(timeout -s KILL 30 "${AS_USER[@]}" "$UVA" run --network none -- printf 'a\0b' | od -An -c | tr -s ' ')
check_eq "run: a NUL byte and no added newline" "$got" " a \\0 b"
got=$(timeout -s KILL 30 "${AS_USER[@]}" "$UVA" run --network none -- "$PY" -c 'import sys; sys.stdout.write("x" * (1 << 20))' | wc -c)
check_eq "run: a 1 MiB line is one line of 1 MiB" "$got" 1048576
got=$(echo "hi from stdin" | timeout -s KILL 30 "${AS_USER[@]}" "$UVA" run -i --network none -- cat)
check_eq "run -i: piped input reaches the app" "$got" "hi from stdin"
got=$(echo "not for the app" | timeout -s KILL 30 "${AS_USER[@]}" "$UVA" run --network none -- cat)
check_eq "run without -i: stdin is /dev/null" "$got" ""
got=$(timeout -s KILL 30 "${AS_USER[@]}" "$UVA" run --network none -- yes | head -1)
check_eq "run -- yes | head -1 ends" "$got" y

# A prompt without a newline is seen while the app still waits.
POUT=$WORK/streams/prompt.out
"${AS_USER[@]}" "$UVA" run --network none -- sh -c 'printf "Password: "; sleep 20' >"$POUT" 2>/dev/null &
MGR=$!
check "run: a prompt without newline shows before the app exits" wait_for 100 grep -q "Password: " "$POUT"
kill -INT "$MGR"; wait "$MGR"; MGR=

# Signals: SIGINT stays SIGINT; the app's status comes back.
SOUT=$WORK/streams/sig.out
"${AS_USER[@]}" "$UVA" run --network none -- sh -c 'trap "echo got-INT; exit 5" INT; echo ready; while :; do sleep 0.1; done' >"$SOUT" 2>&1 &
MGR=$!
wait_for 100 grep -q ready "$SOUT"
kill -INT "$MGR"; wait "$MGR"; rc=$?; MGR=
check_eq "run: SIGINT reaches the app as SIGINT, its status comes back" "$rc.$(grep -c got-INT "$SOUT")" 5.1

# Ptys: every container has its own devpts; -t gives the app a terminal.
out=$(run_out --network none -- "$PY" -c 'import os; m, s = os.openpty(); os.write(s, b"ping\n"); print(os.ttyname(s), os.read(m, 16))')
check "openpty works inside without -t" grep -q "^/dev/pts/0 b'ping" <<<"$out"
out=$(as_user "$PY" "$PTYD" -- "$UVA" run -it --network none -- sh -c 'tty; stty size; echo done')
check "run -it: the app's stdin is a pty of its own" grep -qx "/dev/pts/0" <<<"$out"
check "run -it: the caller's window size (33 101)" grep -qx "33 101" <<<"$out"
check "run -it: the caller's terminal mode is restored" grep -qx "MODE-RESTORED" <<<"$out"
check "run -it: the app's status (0)" grep -qx "STATUS=0" <<<"$out"
out=$(as_user "$PY" "$PTYD" --send-after ready '\x03' -- "$UVA" run -it --network none -- sh -c 'trap "echo caught-INT; exit 4" INT; echo ready; while :; do sleep 0.1; done')
check "run -it: Ctrl-C reaches the app through its terminal" grep -q "caught-INT" <<<"$out"
check "run -it: ... and its status comes back (4), mode restored" \
  bash -c 'grep -qx STATUS=4 <<<"$1" && grep -qx MODE-RESTORED <<<"$1"' _ "$out"

out=$(as_user "$PY" "$PTYD" --resize-after ready -- "$UVA" run -it --network none -- sh -c 'trap "stty size; exit 0" WINCH; echo ready; while :; do sleep 0.1; done')
check "run -it: a resize of the caller's terminal reaches the app (SIGWINCH, 40 120)" grep -qx "40 120" <<<"$out"

# --network none: /etc/hosts does not name an address nobody has.
out=$(run_out --network none -- cat /etc/hosts)
check "run --network none: /etc/hosts without 10.0.2.100" bash -c '! grep -q 10.0.2.100 <<<"$1" && grep -q "127.0.1.1" <<<"$1"' _ "$out"

# Prefixed mode (up): escape sequences shown escaped, NUL kept, a partial
# line shown without waiting for its end.
cat >"$WORK/streams/esc.spec" <<SPEC_EOF
[container esc]
command = printf 'evil\\033[2Jline\\000end\\nPassword: '
SPEC_EOF
own "$WORK/streams/esc.spec"
out=$(up_out "$WORK/streams/esc.spec")
check "up: escape sequences and NUL are shown escaped" grep -qF 'esc | evil^[[2Jline^@end' <<<"$out"
check "up: a final line without newline is shown" grep -qF 'esc | Password: ' <<<"$out"
cat >"$WORK/streams/prompt.spec" <<SPEC_EOF
[container p]
command = sh -c 'printf "Password: "; sleep 30'
SPEC_EOF
own "$WORK/streams/prompt.spec"
"${AS_USER[@]}" "$UVA" up "$WORK/streams/prompt.spec" >"$POUT" 2>&1 &
MGR=$!
check "up: a partial line shows while the app still runs" wait_for 100 grep -qF 'p | Password: ' "$POUT"
kill -INT "$MGR"; wait "$MGR"; MGR=

# Output that nobody reads never stops the forwarding of another
# container, and a reader that goes away ends the manager.
cat >"$WORK/streams/chatty.spec" <<SPEC_EOF
[container chatty]
command = yes chatter

[container web]
command = $PY -m http.server 8000
workdir = $WORK/site
publish = 127.0.0.1:19061:8000
ready-http = true
SPEC_EOF
own "$WORK/streams/chatty.spec"
FIFO=$WORK/streams/fifo
mkfifo "$FIFO" && chmod 0666 "$FIFO"
# A reader that opens the FIFO and never reads it: the point of the case.
# shellcheck disable=SC2217
sleep 120 <"$FIFO" &
READER=$!
"${AS_USER[@]}" "$UVA" up "$WORK/streams/chatty.spec" >"$FIFO" 2>/dev/null &
MGR=$!
check "up: with its output stuck in a FIFO nobody reads, another container still answers" \
  wait_for 150 bash -c "curl -s -m 2 http://127.0.0.1:19061/page.txt | grep -q 'site file'"
kill -INT "$MGR"
# The reader still holds the FIFO: the manager must not wait for it.
check "up: ... and Ctrl-C still ends the manager while the FIFO is stuck" \
  wait_for 150 bash -c "! kill -0 $MGR 2>/dev/null"
kill -KILL "$MGR" 2>/dev/null; wait "$MGR"; MGR=
kill "$READER" 2>/dev/null; wait "$READER" 2>/dev/null
check "up: ... nothing left" wait_for 50 no_user_procs
"${AS_USER[@]}" "$UVA" up "$WORK/streams/chatty.spec" 2>/dev/null | head -3 >/dev/null &
PIPE=$!
check "up FILE | head -3: the manager ends when its reader does" \
  wait_for 150 bash -c "! kill -0 $PIPE 2>/dev/null"
kill -KILL "$PIPE" 2>/dev/null; wait "$PIPE" 2>/dev/null
check "up FILE | head -3: nothing left" wait_for 50 no_user_procs

# run -t into a file opened for appending: what was there stays (the
# shell's description, offset and O_APPEND are used, not a reopened one).
echo first-line >"$WORK/streams/append.txt"; own "$WORK/streams"
timeout -s KILL 30 "${AS_USER[@]}" "$UVA" run -t --network none -- echo second >>"$WORK/streams/append.txt" 2>/dev/null
check_eq "run -t >> FILE appends" "$(tr -d '\r' <"$WORK/streams/append.txt" | tr '\n' ' ')" "first-line second "
