/* util.h - the error convention, fd ownership helpers and small file helpers
 * shared by every other file. */
#pragma once

#include <errno.h>
#include <glib-unix.h>
#include <glib.h>
#include <stdbool.h>
#include <unistd.h>

#define UVA_ERROR (uva_error_quark())
GQuark uva_error_quark(void);

typedef enum {
  UVA_ERROR_FAILED,  /* generic: message says it all */
  UVA_ERROR_INVALID, /* bad input from the user (CLI or spec) */
} UvaErrorCode;

/* Sets *error to "<formatted>: <strerror(saved_errno)>".  Callers capture
 * errno right at the failing call and pass it here, so nothing in between can
 * clobber it.  Always returns FALSE so it can end a failing branch. */
gboolean uva_fail_errno(GError **error, int saved_errno, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);
gboolean uva_fail(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Debian 12 ships GLib 2.74, which has no g_autofd: a close-on-scope-exit
 * int.  Ownership leaves the variable with uva_steal_fd(). */
static inline void uva_close_fdp(int *fd) {
  if (*fd >= 0) {
    int saved = errno;
    /* close() is never retried on EINTR: on Linux the fd is gone anyway. */
    (void)close(*fd);
    errno = saved;
  }
}
#define uva_autofd __attribute__((cleanup(uva_close_fdp))) int
static inline int uva_steal_fd(int *fd) {
  int r = *fd;
  *fd = -1;
  return r;
}

/* Writes all of text to path (O_WRONLY, no O_CREAT unless create);
 * returns 0 or the errno of the failing call, for callers that classify it
 * (a refused uid_map write means something else than a missing file). */
int uva_write_text(const char *path, const char *text, gboolean create);
/* The same with a GError naming the path. */
gboolean uva_write_file(const char *path, const char *text, gboolean create,
                        GError **error);
/* Reads a small text file whole; NULL and *error on failure. */
char *uva_read_small_file(const char *path, GError **error);
/* write() all of buf, retrying on EINTR and short writes. */
gboolean uva_write_all(int fd, const void *buf, size_t len, GError **error);
/* A non-blocking file description of its own for the terminal, pipe or
 * FIFO open on fd, so that O_NONBLOCK never reaches the shell that shares
 * fd; -1 (use fd as it is) for a regular file, which does not block and
 * whose offset (and O_APPEND) belong to the shell's description, or for
 * what cannot be reopened (a socket). */
int uva_reopen_nonblock(int fd, int flags);
/* Sets or clears O_NONBLOCK. */
gboolean uva_set_nonblock(int fd, gboolean on, GError **error);
/* g_unix_fd_add() for fds on the per-packet or per-connection path (the
 * forwarders' epoll sets, the taps, the sync sockets): the same watch, but
 * one GLib does not block while it dispatches. */
guint uva_fd_watch_hot(int fd, GIOCondition cond, int priority,
                       GUnixFDSourceFunc func, gpointer data);

/* Blocks SIGINT, SIGTERM and SIGHUP, the signals the supervisor stops on,
 * from main's first lines: one that comes before the supervisor's signalfd
 * exists then waits there instead of killing the manager half-way. */
void uva_hold_stop_signals(void);
