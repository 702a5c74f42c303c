/* container.h - one container's events, as the manager's loop sees them
 * (container.c): its init's messages, its end, stopping it, and the
 * control channel's requests.  Called by supervisor.c; container.c itself
 * reaches the supervisor only through sup->ops (state.h). */
#pragma once

#include "manager/state.h"

gboolean uva_container_on_sync(int fd, GIOCondition cond, gpointer data);
void uva_container_reaped(Container *c, int status);
void uva_container_fail(Container *c, GError *error);
/* Its stop signal, SIGKILL after timeout_s (-1: its stop-timeout). */
void uva_container_stop(Container *c, int sig, int timeout_s);
void uva_container_checks_reset(Container *c);
extern const UvaCtlOps uva_container_ctl_ops;
