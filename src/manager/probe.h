/* probe.h - the readiness probe: a container is ready once an HTTP HEAD of a
 * path (NULL: /) to its first published TCP port gets a status line back. */
#pragma once

#include "spec/spec.h"

#include <glib.h>

typedef struct UvaProbe UvaProbe;

/* Starts probing p (host side) at once, every PROBE_INTERVAL_MS after a
 * failure, saying every few seconds on stderr what container name awaits;
 * ready(data) once, then the probe stops.  The owner frees it (also to
 * stop it). */
UvaProbe *uva_probe_new(const char *name, const UvaPublish *p, const char *path,
                        void (*ready)(gpointer), gpointer data);
void uva_probe_free(UvaProbe *pr);
