/* supervisor.h - the manager's lifecycle: start every container of a spec,
 * show their output, report readiness, stop them on Ctrl-C or `stop`, and
 * never leave anything behind. */
#pragma once

#include "spec/spec.h"

#include <glib.h>

typedef struct {
  /* `run`: exit with the app's own status, 128+n for signal n, and the
   * manager's own lines on stderr so that stdout is the app's alone. */
  gboolean app_status;
  /* `up --exit-code-from NAME` */
  const char *exit_code_from;
  /* -d: the pipe to the caller waiting in main (one byte once every
   * container is ready, then the manager lets go of the caller's stdio),
   * or -1 */
  int detach_fd;
  /* -d: seconds to wait for readiness before stopping everything (0:
   * forever) */
  guint wait_timeout;
} UvaSupervisorOptions;

/* Runs spec to the end.  Returns the process exit status: 0 after a clean
 * stop by signal or `down`, 1 when a container could not start or was not
 * ready in time; when every app ended by itself, 0 if all exited 0, else
 * the first failing app's status (or that of the container exit_code_from
 * names); with app_status the app's own.  Start-up errors come back in
 * *error (printed by main), with everything already stopped. */
int uva_supervisor_run(UvaSpec *spec, const UvaSupervisorOptions *opt,
                       GError **error);
