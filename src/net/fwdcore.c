/* fwdcore.c - what the splice port driver's three files share (fwd.c:
 * listeners and the epoll loop; fwdtcp.c: connections; fwdudp.c: UDP
 * flows): the epoll registrations, ids, resets, and the rate-limited cap
 * lines.  See fwd.c for the design and fwdcore.h for the types. */
#include "net/fwdcore.h"

#include "base/util.h"

#include <fcntl.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define WARN_S 5

/* Limits ---------------------------------------------------------------- */

/* One line per container and cap per WARN_S: a flood must not turn into
 * a flood of lines. */
void uva_fwdcore_warn_cap(UvaFwd *f, Cap cap, const char *fmt, ...) {
  gint64 now = g_get_monotonic_time();
  if (f->warned[cap] != 0 && now - f->warned[cap] < WARN_S * G_USEC_PER_SEC)
    return;
  f->warned[cap] = now;
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *what = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_printerr("uva_container: %s: %s\n", f->name, what);
}

void uva_fwdcore_warn_fds(UvaFwd *f, int err, const char *what) {
  if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM)
    uva_fwdcore_warn_cap(f, CAP_FDS,
                         "%s: %s; dropping that connection or flow only", what,
                         g_strerror(err));
}

/* Helpers -------------------------------------------------------------- */

gboolean uva_fwdcore_ep_ctl(UvaFwd *f, int op, int fd, guint32 events,
                            Tag *tag) {
  struct epoll_event ev = {.events = events, .data.ptr = tag};
  return epoll_ctl(f->epfd, op, fd, &ev) == 0;
}

gboolean uva_fwdcore_ep_add(UvaFwd *f, int fd, guint32 events, Tag *tag) {
  return uva_fwdcore_ep_ctl(f, EPOLL_CTL_ADD, fd, events, tag);
}

/* close() removes an fd from an epoll set only when it drops the file's
 * last reference (epoll(7), Q6).  A socket from init is also init's until
 * init's close() after sendmsg, which can come later than ours on a short
 * connection; without this its next event would name a freed Conn. */
void uva_fwdcore_ep_del(UvaFwd *f, int fd) {
  if (fd >= 0)
    (void)epoll_ctl(f->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* close() with SO_LINGER {1, 0} sends RST instead of FIN (socket(7)). */
void uva_fwdcore_close_reset(int *fd) {
  if (*fd < 0)
    return;
  struct linger lg = {1, 0};
  (void)setsockopt(*fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  uva_close_fdp(fd);
  *fd = -1;
}

guint32 uva_fwdcore_next_id(UvaFwd *f) {
  if (++f->next_id == 0)
    f->next_id = 1;
  return f->next_id;
}

/* The same registration again (EPOLL_CTL_MOD): for an edge-triggered fd
 * the kernel re-checks readiness and queues an event if it is ready, at
 * the tail of the ready list, so what is left is served after the others
 * (epoll(7), ep_modify). */
gboolean uva_fwdcore_rearm(UvaFwd *f, int fd, guint32 events, Tag *tag) {
  return uva_fwdcore_ep_ctl(f, EPOLL_CTL_MOD, fd, events, tag);
}
