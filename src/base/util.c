/* util.c - the error convention (errno captured once, text added once) and the
 * few file helpers every other file needs. */
#include "base/util.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

G_DEFINE_QUARK(uva - error - quark, uva_error)

gboolean uva_fail_errno(GError **error, int saved_errno, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *what = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_set_error(error, UVA_ERROR, UVA_ERROR_FAILED, "%s: %s", what,
              g_strerror(saved_errno));
  return FALSE;
}

gboolean uva_fail(GError **error, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *what = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_set_error_literal(error, UVA_ERROR, UVA_ERROR_FAILED, what);
  return FALSE;
}

gboolean uva_write_all(int fd, const void *buf, size_t len, GError **error) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return uva_fail_errno(error, errno, "write");
    }
    p += n;
    len -= (size_t)n;
  }
  return TRUE;
}

int uva_write_text(const char *path, const char *text, gboolean create) {
  int flags = O_WRONLY | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0);
  uva_autofd fd = open(path, flags, 0644);
  if (fd < 0)
    return errno;
  for (size_t len = strlen(text); len > 0;) {
    ssize_t n = write(fd, text, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return errno;
    text += n;
    len -= (size_t)n;
  }
  return 0;
}

gboolean uva_write_file(const char *path, const char *text, gboolean create,
                        GError **error) {
  int err = uva_write_text(path, text, create);
  return err ? uva_fail_errno(error, err, "writing %s", path) : TRUE;
}

char *uva_read_small_file(const char *path, GError **error) {
  uva_autofd fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    uva_fail_errno(error, errno, "open %s", path);
    return NULL;
  }
  char buf[4096];
  ssize_t n;
  do
    n = read(fd, buf, sizeof buf - 1);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    uva_fail_errno(error, errno, "read %s", path);
    return NULL;
  }
  return g_strndup(buf, (gsize)n);
}

gboolean uva_set_nonblock(int fd, gboolean on, GError **error) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0)
    return uva_fail_errno(error, errno, "fcntl F_GETFL");
  fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
  if (fcntl(fd, F_SETFL, fl) < 0)
    return uva_fail_errno(error, errno, "fcntl F_SETFL");
  return TRUE;
}

guint uva_fd_watch_hot(int fd, GIOCondition cond, int priority,
                       GUnixFDSourceFunc func, gpointer data) {
  /* GLib 2.74 "blocks" a source while dispatching it unless it may
   * recurse: its fds leave the poll set and come back, and each change
   * signals the context's wakeup eventfd (g_main_context_remove_poll_unlocked
   * and _add_poll_unlocked in gmain.c).  That is two write()s, a read() and
   * often one more poll() per event.  None of uva_container's callbacks runs
   * a nested main loop, so recursion cannot happen and allowing it only
   * removes those syscalls. */
  GSource *src = g_unix_fd_source_new(fd, cond);
  g_source_set_callback(src, (GSourceFunc)(void (*)(void))func, data, NULL);
  g_source_set_can_recurse(src, TRUE);
  g_source_set_priority(src, priority);
  guint id = g_source_attach(src, NULL);
  g_source_unref(src);
  return id;
}

int uva_reopen_nonblock(int fd, int flags) {
  struct stat st;
  if (fstat(fd, &st) < 0 || S_ISREG(st.st_mode))
    return -1;
  /* Opening /proc/self/fd/N of a tty, pipe or FIFO makes a new open file
   * description of the same object (proc(5), /proc/pid/fd). */
  g_autofree char *path = g_strdup_printf("/proc/self/fd/%d", fd);
  return open(path, flags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
}

void uva_hold_stop_signals(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigprocmask(SIG_BLOCK, &set, NULL);
}
