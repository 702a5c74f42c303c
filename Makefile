# uva_container - rootless containers with libslirp networking.
# `make` builds ./uva_container; `make check` runs the tests (see README).

CC      ?= cc
PKGS    := slirp glib-2.0
VERSION := 0.1.0
CFLAGS  ?= -O2 -g
# Not overridable: `make CFLAGS=...` adds to these instead of losing them.
WARN    := -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -DUVA_VERSION=\"$(VERSION)\"

# One line, naming the Debian packages, when a library is missing.
PKG_OK := $(shell pkg-config --exists $(PKGS) 2>/dev/null && echo yes)
ifneq ($(PKG_OK),yes)
$(error libslirp or GLib not found by pkg-config: install them with 'sudo apt-get install build-essential pkg-config libslirp-dev libglib2.0-dev')
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))

SRCS := $(wildcard src/*.c)
LIB_SRCS := $(filter-out src/main.c,$(SRCS))
BUILD ?= build
OBJS := $(SRCS:src/%.c=$(BUILD)/%.o)
LIB_OBJS := $(LIB_SRCS:src/%.c=$(BUILD)/%.o)

all: uva_container

uva_container: $(OBJS)
	$(CC) $(WARN) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/%.o: src/%.c $(wildcard src/*.h) | $(BUILD)
	$(CC) $(WARN) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(BUILD):
	mkdir -p $@

$(BUILD)/unit: tests/unit.c $(LIB_OBJS)
	$(CC) $(WARN) $(CFLAGS) $(PKG_CFLAGS) -Isrc $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The whole suite (unit + integration, as a non-root user); ends with
# "N passed, N failed" and fails on any failure.
check: uva_container $(BUILD)/unit
	tests/run.sh

# The same suite against a build with AddressSanitizer and UBSan.
check-asan:
	$(MAKE) BUILD=build-asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" uva_container-asan build-asan/unit
	UVA_BIN=$(CURDIR)/uva_container-asan UVA_UNIT=$(CURDIR)/build-asan/unit tests/run.sh

uva_container-asan: $(OBJS)
	$(CC) $(WARN) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# End to end: headless Chromium and tmux against a real run, as a non-root
# user (needs what tests/e2e/install-deps.sh installs).
e2e: uva_container
	tests/e2e/run.sh

# Everything CI runs (after ci/prepare-runner.sh), with one total line.
check-all: uva_container $(BUILD)/unit
	tests/all.sh

clean:
	rm -rf build build-asan uva_container uva_container-asan

.PHONY: all check check-asan e2e check-all clean
