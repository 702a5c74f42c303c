/* preflight.h - checks made before anything starts, so that a missing
 * program, interpreter or /dev/net/tun is one clear line, not a container
 * that dies half-way. */
#pragma once

#include "spec/spec.h"

#include <glib.h>

/* /dev/net/tun exists and is readable and writable by us. */
gboolean uva_preflight_tun(GError **error);
/* c->argv[0] resolves, as the container will see it, to an executable file,
 * and the interpreter on its #! line (through /usr/bin/env too) exists. */
gboolean uva_preflight_command(const UvaContainerSpec *c, GError **error);
/* Where argv0 lives on the host, as the container will see it; NULL when it
 * is not found (PATH search). */
char *uva_preflight_host_path(const UvaContainerSpec *c, const char *argv0);
