/* supervisor.h - the manager's lifecycle: start every container of a spec,
 * show their output, report readiness, stop them on Ctrl-C or `stop`, and
 * never leave anything behind. */
#pragma once

#include "manager/options.h"
#include "spec/spec.h"

#include <glib.h>

/* Runs spec to the end.  Returns the process exit status: 0 after a clean
 * stop by signal or `down`, 1 when a container could not start or was not
 * ready in time; when every app ended by itself, 0 if all exited 0, else
 * the first failing app's status (or that of the container exit_code_from
 * names); with app_status the app's own.  Start-up errors come back in
 * *error (printed by main), with everything already stopped. */
int uva_supervisor_run(UvaSpec *spec, const UvaSupervisorOptions *opt,
                       GError **error);
