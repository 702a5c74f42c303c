/* ready.h - when a container is ready, without ever saying so too early:
 * its published TCP ports (or --ready-tcp PORT) listen inside, asked of
 * its init, and then, with --ready-http, an HTTP request through the
 * published port gets a status line. */
#pragma once

#include "spec/spec.h"

#include <glib.h>

typedef struct UvaReady UvaReady;

typedef struct {
  /* Asks init whether port listens inside; the answer comes back through
   * uva_ready_answer().  FALSE: the question could not be sent. */
  gboolean (*ask)(guint16 port, gpointer data);
  /* port listens inside now (the manager listens on its host ports). */
  void (*listening)(guint16 port, gpointer data);
  /* Every check passed; called once. */
  void (*ready)(gpointer data);
} UvaReadyOps;

/* Starts checking c (its app just started); ready at once when nothing
 * is to be checked, from inside this call. */
UvaReady *uva_ready_new(const UvaContainerSpec *c, const UvaReadyOps *ops,
                        gpointer data);
void uva_ready_answer(UvaReady *r, guint16 port, gboolean listening);
/* What it still waits for, as "port 8080 to listen inside". */
char *uva_ready_awaiting(const UvaReady *r);
void uva_ready_free(UvaReady *r);
