/* init.h - pid 1 of a container: starts the app as pid 2, reaps every child,
 * forwards signals, exits with the app's status. */
#pragma once

#include "spec/spec.h"

/* Forks and execs c->argv as pid 2 with stdout/stderr on out_fd/err_fd, then
 * supervises it.  Reports READY or ERROR to the manager on sync_fd.  Never
 * returns: exits with the app's status, 128+n if it died of signal n. */
G_GNUC_NORETURN void uva_init_run(const UvaContainerSpec *c, int sync_fd,
                                  int out_fd, int err_fd);
