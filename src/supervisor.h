/* supervisor.h - the manager's lifecycle: start every container of a spec,
 * show their output, report readiness, stop them on Ctrl-C, and never leave
 * anything behind. */
#pragma once

#include "spec.h"

#include <glib.h>

/* Runs spec to the end.  Returns the process exit status: 0 after a clean
 * stop by signal, 1 when a container could not start or when every app
 * ended by itself.  Start-up errors come back in *error (printed by main),
 * with everything already stopped. */
int uva_supervisor_run(UvaSpec *spec, GError **error);
