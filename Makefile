# uva_container - rootless containers with libslirp networking.
# `make` builds ./uva_container; `make check` runs the tests (see README).

CC      ?= cc
PKGS    := slirp glib-2.0
VERSION := 0.1.0
CFLAGS  ?= -O2 -g

# Install locations (`make install PREFIX=/usr DESTDIR=/tmp/pkg`).
PREFIX      ?= /usr/local
DESTDIR     ?=
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
# http_recorder.py for an installed binary, which finds none next to itself.
DATADIR     ?= $(PREFIX)/share/uva_container
# The systemd user unit (contrib/uva_container.service.in).
USERUNITDIR ?= $(PREFIX)/lib/systemd/user
# AppArmor reads only /etc/apparmor.d: that is where the profile of a
# binary in /usr or /usr/local goes; another PREFIX keeps it in
# PREFIX/etc/apparmor.d, to be copied there by hand.
SYSCONFDIR  ?= $(if $(filter /usr /usr/local,$(PREFIX)),/etc,$(PREFIX)/etc)
APPARMORDIR ?= $(SYSCONFDIR)/apparmor.d

# Not overridable: `make CFLAGS=...` adds to these instead of losing them.
WARN    := -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -DUVA_VERSION=\"$(VERSION)\" \
           -DUVA_DATADIR=\"$(DATADIR)\"

# One line, naming the Debian packages, when a library is missing.
PKG_OK := $(shell pkg-config --exists $(PKGS) 2>/dev/null && echo yes)
ifneq ($(PKG_OK),yes)
$(error libslirp or GLib not found by pkg-config: install them with 'sudo apt-get install build-essential pkg-config libslirp-dev libglib2.0-dev')
endif
# Full RELRO (ld(1) -z relro -z now): every symbol of ours bound at
# start-up and the GOT read-only after it, one write target fewer for an
# exploit in the process that parses every container's packets (Debian's
# "bindnow" hardening).  Not a speed change: the lazy binding that perf
# shows in each container's first calls (_dl_fixup, do_lookup_x, about 40
# of 4,000 samples of `up` of 256) is mostly libc's and libslirp's own,
# which this flag does not touch (measured: no change).
LINK := -Wl,-z,relro,-z,now
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))

SRCS := $(wildcard src/*/*.c)
HDRS := $(wildcard src/*/*.h)
LIB_SRCS := $(filter-out src/cli/main.c,$(SRCS))
BUILD ?= build
OBJS := $(SRCS:src/%.c=$(BUILD)/%.o)
LIB_OBJS := $(LIB_SRCS:src/%.c=$(BUILD)/%.o)

all: uva_container

uva_container: $(OBJS)
	$(CC) $(WARN) $(CFLAGS) $(LINK) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/%.o: src/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(PKG_CFLAGS) -Isrc -c -o $@ $<

$(BUILD):
	mkdir -p $@

# The objects that compile DATADIR or VERSION in are rebuilt when either
# changes: `make && make install PREFIX=~/.local` must not install a binary
# that still names /usr/local/share.  The stamp holds the values and is
# rewritten only when they differ, so an unchanged build stays up to date.
CONFIG_USERS := $(patsubst src/%.c,$(BUILD)/%.o,$(shell grep -l 'UVA_DATADIR\|UVA_VERSION' src/*/*.c))
$(CONFIG_USERS) $(CONFIG_USERS:%.o=%-hooks.o): $(BUILD)/config.stamp
$(BUILD)/config.stamp: FORCE | $(BUILD)
	@printf '%s\n' 'DATADIR=$(DATADIR)' 'VERSION=$(VERSION)' >$@.new; \
	if cmp -s $@.new $@; then rm -f $@.new; else mv $@.new $@; fi
FORCE:

# The same program with test-only hooks (UVA_TEST_HOOKS): the tests use it
# to prove the manager's confinement forbids what it should, from inside.
HOOKED := manager/supervisor manager/confine
HOOK_OBJS := $(filter-out $(HOOKED:%=$(BUILD)/%.o),$(OBJS)) $(HOOKED:%=$(BUILD)/%-hooks.o)
$(BUILD)/%-hooks.o: src/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(WARN) -DUVA_TEST_HOOKS $(CFLAGS) $(PKG_CFLAGS) -Isrc -c -o $@ $<
$(BUILD)/uva_container-hooks: $(HOOK_OBJS)
	$(CC) $(WARN) $(CFLAGS) $(LINK) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/unit: tests/unit.c $(LIB_OBJS)
	$(CC) $(WARN) $(CFLAGS) $(PKG_CFLAGS) -Isrc $(LINK) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The whole suite (tests/run.sh runs every part: unit, then integration as
# a non-root user); ends with "N passed, N failed" and fails on any failure.
# One part alone: bash tests/ports.sh, or UVA_PARTS="ports streams" make check.
check: uva_container $(BUILD)/unit $(BUILD)/uva_container-hooks
	tests/run.sh

# The same suite against a build with AddressSanitizer and UBSan.
check-asan:
	$(MAKE) BUILD=build-asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" uva_container-asan build-asan/unit
	$(MAKE) build/uva_container-hooks
	UVA_BIN=$(CURDIR)/uva_container-asan UVA_UNIT=$(CURDIR)/build-asan/unit UVA_HOOKS_BIN=$(CURDIR)/build/uva_container-hooks tests/run.sh

uva_container-asan: $(OBJS)
	$(CC) $(WARN) $(CFLAGS) $(LINK) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# End to end: headless Chromium and tmux against a real run, as a non-root
# user (needs what tests/e2e/install-deps.sh installs).
e2e: uva_container
	tests/e2e/run.sh

# The static gates (tests/gates.sh): clang-format, cppcheck, a gcc
# -fanalyzer build, shellcheck, the man page; each a TAP case.
lint:
	tests/gates.sh

# Everything CI runs (after ci/prepare-runner.sh), with one total line.
check-all: uva_container $(BUILD)/unit $(BUILD)/uva_container-hooks
	tests/all.sh

# Real software (CPython's regression tests, nginx, redis, PostgreSQL) on
# the host and in a container, and the per-test difference
# (tests/compat/run.sh; docs/compatibility.md).
compat: uva_container
	tests/compat/run.sh

# Peer comparison of start-up and throughput (bench/run.sh).
bench: uva_container
	bench/run.sh

# The bench's gate (bench/quick.sh, < 90 s): uva against pasta and
# bench/baseline.txt, within the run's own spread.
bench-quick: uva_container
	bench/quick.sh

# libFuzzer targets (clang): every parser of user input and the tap frame
# path.  `make fuzz` runs each for FUZZ_SECONDS (CI: 60) on top of the
# committed seeds and regression inputs (tests/fuzz/).
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 20
FUZZ_TARGETS := publish specfile words frames ctl
FUZZ_FLAGS   := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_OBJS    := $(LIB_SRCS:src/%.c=build-fuzz/%.o)
build-fuzz/%.o: src/%.c $(HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(WARN) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) -Isrc -c -o $@ $<
build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJS)
	$(FUZZ_CC) $(WARN) $(FUZZ_FLAGS) -fsanitize=fuzzer -Isrc $(PKG_CFLAGS) -o $@ $^ $(PKG_LIBS)
.SECONDARY: $(FUZZ_OBJS)
fuzz: $(FUZZ_TARGETS:%=build-fuzz/fuzz_%)
	tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf build build-asan build-fuzz build-deb build-analyzer uva_container uva_container-asan \
	  uva-container_*.deb

# The binary `install` copies: `make deb` installs one of its own build.
INSTALL_BIN ?= uva_container
$(BUILD)/uva_container: $(OBJS)
	$(CC) $(WARN) $(CFLAGS) $(LINK) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

install: $(INSTALL_BIN)
	install -D -m 0755 $(INSTALL_BIN) $(DESTDIR)$(BINDIR)/uva_container
	install -D -m 0755 http_recorder.py $(DESTDIR)$(DATADIR)/http_recorder.py
	install -D -m 0644 uva_container.1 $(DESTDIR)$(MANDIR)/man1/uva_container.1
	install -D -m 0644 completions/uva_container.bash $(DESTDIR)$(BASHCOMPDIR)/uva_container
	install -d $(DESTDIR)$(USERUNITDIR) $(DESTDIR)$(APPARMORDIR)
	sed 's|@BINDIR@|$(BINDIR)|g' contrib/uva_container.service.in \
	  >$(DESTDIR)$(USERUNITDIR)/uva_container.service
	sed 's|@BINDIR@|$(BINDIR)|g' contrib/apparmor/uva_container.in \
	  >$(DESTDIR)$(APPARMORDIR)/uva_container
	chmod 0644 $(DESTDIR)$(USERUNITDIR)/uva_container.service $(DESTDIR)$(APPARMORDIR)/uva_container
	@# Loaded at once where AppArmor runs and we may (root, no DESTDIR).
	@if [ -z "$(DESTDIR)" ] && [ -w /sys/kernel/security/apparmor/.replace ] && \
	  command -v apparmor_parser >/dev/null; then \
	  apparmor_parser -r $(APPARMORDIR)/uva_container; fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/uva_container
	rm -f $(DESTDIR)$(DATADIR)/http_recorder.py
	rm -f $(DESTDIR)$(MANDIR)/man1/uva_container.1
	rm -f $(DESTDIR)$(BASHCOMPDIR)/uva_container
	rm -f $(DESTDIR)$(USERUNITDIR)/uva_container.service
	rm -f $(DESTDIR)$(APPARMORDIR)/uva_container
	rmdir $(DESTDIR)$(DATADIR) 2>/dev/null || true

# A Debian package of `make install PREFIX=/usr`, built in build-deb (its
# own objects: /usr/share/uva_container compiled in, the checkout's
# ./uva_container untouched) by packaging/mkdeb.sh with dpkg-deb.
# DEB_OUT: where the .deb goes (default: here).
DEB_OUT ?= $(CURDIR)
deb:
	rm -rf build-deb/root
	$(MAKE) BUILD=build-deb PREFIX=/usr DESTDIR=$(CURDIR)/build-deb/root \
	  INSTALL_BIN=build-deb/uva_container install
	packaging/mkdeb.sh $(CURDIR)/build-deb/root $(VERSION) $(DEB_OUT)

# The man page must format without a single groff warning.
check-man:
	@out=$$(groff -ww -man -z uva_container.1 2>&1) && [ -z "$$out" ] || \
	{ printf '%s\n' "$$out"; echo "check-man: uva_container.1 has groff warnings" >&2; exit 1; }

.PHONY: FORCE deb all check check-asan e2e check-all compat bench bench-quick fuzz clean install uninstall check-man lint
