/* supervisor.h - the manager's lifecycle: start every container of a spec,
 * show their output, report readiness, stop them on Ctrl-C, and never leave
 * anything behind. */
#pragma once

#include "spec.h"

#include <glib.h>

/* Runs spec to the end.  Returns the process exit status: 0 after a clean
 * stop by signal, 1 when a container could not start; when every app ended
 * by itself, 0 if all exited 0, else the first failing app's status (or
 * that of the container exit_code_from names).  With app_status (`run`), it is
 * instead the app's own status, 128+n for signal n, and the manager's own lines
 * go to stderr so stdout is the app's alone.  Start-up errors come back in
 * *error (printed by main), with everything already stopped. */
int uva_supervisor_run(UvaSpec *spec, gboolean app_status,
                       const char *exit_code_from, GError **error);
