/* listening.h - does something listen on a TCP port of this network
 * namespace (init's readiness answer, listening.c). */
#pragma once

#include <glib.h>

/* TRUE when a connection to 127.0.0.1:port from inside this namespace
 * would reach a listener.  Never connects. */
gboolean uva_listening_tcp(guint16 port);
