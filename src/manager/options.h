/* options.h - how main asks the manager to run a spec
 * (uva_supervisor_run, supervisor.h).  A header of its own because both
 * the API (supervisor.h) and the manager's state (state.h, whose
 * Supervisor keeps a pointer to them) need it, and state.h must not
 * include supervisor.h: container.c sees state.h, and container.c may not
 * reach up into supervisor.c (issue 25). */
#pragma once

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
