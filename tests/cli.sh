#!/usr/bin/env bash
# tests/cli.sh - the command line outside a container: --help, --version,
# the man page, make install and uninstall, bash completion, usage errors.
# A part of the suite (tests/lib.sh): runs alone or from tests/run.sh.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
check "--help exits 0 and explains the default" \
  bash -c "'$WORK/uva_container' --help | grep -q 18080"
check "--version names libslirp" bash -c "'$WORK/uva_container' --version | grep -q 'libslirp'"
check "the man page renders without a groff warning" \
  bash -c "command -v groff >/dev/null && [ -z \"\$(groff -ww -man -z '$ROOT/uva_container.1' 2>&1)\" ]"
DEST=$WORK/dest
make -s -C "$ROOT" install DESTDIR="$DEST" PREFIX=/usr/local >/dev/null 2>&1
check "make install DESTDIR= puts binary, recorder, man page and completion in place" \
  bash -c "cd '$DEST/usr/local' && [ -x bin/uva_container -a -x share/uva_container/http_recorder.py -a -f share/man/man1/uva_container.1 -a -f share/bash-completion/completions/uva_container ]"
make -s -C "$ROOT" uninstall DESTDIR="$DEST" PREFIX=/usr/local >/dev/null 2>&1
check "make uninstall removes them" bash -c "[ -z \"\$(find '$DEST' -type f)\" ]"
check "bash completion offers the port drivers" bash -c "source '$ROOT/completions/uva_container.bash'; COMP_WORDS=(uva_container run --port-driver ''); COMP_CWORD=3; _uva_container; [ \"\${COMPREPLY[*]}\" = 'splice slirp bypass' ]"
check "bash completion knows --pids-limit (offering unlimited) and --shm-size" bash -c "source '$ROOT/completions/uva_container.bash'; COMP_WORDS=(uva_container run --pids-limit ''); COMP_CWORD=3; _uva_container; [ \"\${COMPREPLY[*]}\" = unlimited ] || exit 1; COMP_WORDS=(uva_container run --shm); COMP_CWORD=2; _uva_container; [ \"\${COMPREPLY[*]}\" = --shm-size ]"
check "bash completion offers the --userns modes" bash -c "source '$ROOT/completions/uva_container.bash'; COMP_WORDS=(uva_container run --userns ''); COMP_CWORD=3; _uva_container; [ \"\${COMPREPLY[*]}\" = 'single auto' ]"
as_user "$WORK/uva_container" bogus >/dev/null 2>&1
check "an unexpected argument exits 2" [ $? = 2 ]

