/* logfile.h - what `uva_container logs` shows: each container's output,
 * raw, in two files STATE/NAME/log.0 and log.1 that take turns, so that at
 * most 2 x UVA_LOG_HALF bytes are kept and at least the last UVA_LOG_HALF. */
#pragma once

#include <glib.h>
#include <sys/types.h>

#define UVA_LOG_HALF (4u * 1024 * 1024)

typedef struct UvaLogfile UvaLogfile;

/* Creates (or empties) both files below dir_fd (the container's state
 * directory, O_PATH), refusing a symlink or a file not ours. */
UvaLogfile *uva_logfile_open(int dir_fd, const char *dir, GError **error);
/* Appends; never fails the caller (a full disk loses log lines only). */
void uva_logfile_write(UvaLogfile *l, const void *buf, gsize len);
/* Moves exactly len bytes out of the pipe pipe_fd into the log (splice(2),
 * no copy through user space); bytes the log cannot take are read and
 * dropped.  FALSE if the pipe held fewer. */
gboolean uva_logfile_splice(UvaLogfile *l, int pipe_fd, gsize len);
void uva_logfile_free(UvaLogfile *l);

/* The reader: prints state_dir/NAME's log to fd 1, only the last tail
 * lines if tail >= 0; with follow, then goes on printing what comes until
 * still_running(data) says FALSE. */
gboolean uva_logfile_show(const char *state_dir, const char *name, int tail,
                          gboolean follow, gboolean (*still_running)(gpointer),
                          gpointer data, GError **error);
