/* cli.h - ps, stop, down, logs and exec: the commands that talk to
 * running managers (ctl.h).  Each returns the process exit status. */
#pragma once

#include <glib.h>

int uva_cli_ps(const char *state_dir, gboolean json, GError **error);
/* timeout_s: SIGKILL after it; -1: each container's stop-timeout. */
int uva_cli_stop(const char *state_dir, char **names, int timeout_s,
                 GError **error);
int uva_cli_down(const char *state_dir, const char *file, int timeout_s,
                 GError **error);
/* tail < 0: everything. */
int uva_cli_logs(const char *state_dir, const char *name, int tail,
                 gboolean follow, GError **error);
/* exec [-i] [-t] [-e K=V] [-w DIR] NAME -- COMMAND...: argv from "exec". */
int uva_cli_exec(const char *state_dir, int argc, char **argv, GError **error);
