/* msg.c - one message at a time over the sync socket.  SOCK_SEQPACKET keeps
 * message boundaries, so a message is read whole or not at all; received fds
 * are checked (level, type, MSG_CTRUNC) before they are trusted, and a
 * lost fd costs one request, never the socket. */
#include "ipc/msg.h"

#include "base/util.h"

#include <string.h>
#include <sys/socket.h>

G_DEFINE_QUARK(uva - msg - recv - error - quark, uva_msg_recv_error)

guint uva_msg_take_fds(struct msghdr *mh, int *fds, guint max) {
  guint got = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
        c->cmsg_len < CMSG_LEN(0))
      continue;
    gsize count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (gsize i = 0; i < count; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (got < max)
        fds[got++] = fd;
      else
        uva_close_fdp(&fd);
    }
  }
  return got;
}

gboolean uva_msg_send(int sock, const UvaMsg *msg, int fd, GError **error) {
  struct iovec iov = {(void *)msg, sizeof *msg};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
  if (fd >= 0) {
    memset(&u, 0, sizeof u);
    mh.msg_control = u.buf;
    mh.msg_controllen = sizeof u.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  ssize_t n;
  do
    n = sendmsg(sock, &mh, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return uva_fail_errno(error, errno, "sendmsg on the sync socket");
  return TRUE;
}

void uva_msg_send_error(int sock, int err, const char *text) {
  UvaMsg m = {.type = UVA_MSG_ERROR, .err = err};
  g_strlcpy(m.text, text, sizeof m.text);
  (void)uva_msg_send(sock, &m, -1, NULL);
}

gboolean uva_msg_recv_fd(int sock, UvaMsg *msg, int *fd, gboolean *fd_lost,
                         gboolean *eof, GError **error) {
  /* msg is the output buffer recvmsg(2) fills; cppcheck 2.10 takes its
   * address in the iovec for a read of it. */
  /* cppcheck-suppress ctuuninitvar */
  struct iovec iov = {msg, sizeof *msg};
  /* Room for a few fds, so that a peer that sends more than one gets them
   * all closed here instead of half-received. */
  union {
    char buf[CMSG_SPACE(4 * sizeof(int))];
    struct cmsghdr align;
  } u;
  struct msghdr mh = {.msg_iov = &iov,
                      .msg_iovlen = 1,
                      .msg_control = u.buf,
                      .msg_controllen = sizeof u.buf};
  *fd = -1;
  *eof = FALSE;
  if (fd_lost)
    *fd_lost = FALSE;
  ssize_t n = uva_msg_recv_one(sock, &mh, MSG_CMSG_CLOEXEC, fd, 1, eof);
  if (n < 0 && (errno == EAGAIN || errno == ENOMEM || errno == ENOBUFS)) {
    /* Short of memory (or a spurious wakeup): nothing says the socket is
     * broken, so the caller keeps it. */
    g_set_error(error, UVA_MSG_RECV_ERROR, UVA_MSG_RECV_AGAIN,
                "recvmsg on the sync socket: %s", g_strerror(errno));
    return FALSE;
  }
  if (n < 0)
    return uva_fail_errno(error, errno, "recvmsg on the sync socket");
  if (n == 0)
    return FALSE; /* the end (uva_msg_recv_one) */
  if ((mh.msg_flags & MSG_TRUNC) || n != sizeof *msg) {
    uva_close_fdp(fd);
    *fd = -1;
    return uva_fail(error, "the sync socket carried a malformed message");
  }
  /* MSG_CTRUNC with a whole message: the kernel could not install the fd
   * (the receiver is at RLIMIT_NOFILE: scm_detach_fds() stops at the first
   * failing install and sets MSG_CTRUNC, unix(7)) or it did not fit.  The
   * message itself is sound; only its fd is gone, which the caller treats
   * as a failure of that one request. */
  if (mh.msg_flags & MSG_CTRUNC) {
    uva_close_fdp(fd);
    *fd = -1;
    if (fd_lost)
      *fd_lost = TRUE;
  }
  msg->text[sizeof msg->text - 1] = '\0';
  return TRUE;
}

ssize_t uva_msg_recv_one(int sock, struct msghdr *mh, int flags, int *fds,
                         guint n_fds, gboolean *eof) {
  ssize_t n;
  do
    n = recvmsg(sock, mh, flags);
  while (n < 0 && errno == EINTR);
  /* ECONNRESET is the peer's exit with messages of ours still unread in
   * its queue: af_unix sets it on the survivor of a SOCK_SEQPACKET pair
   * instead of the plain EOF (unix_release_sock()).  An init that dies
   * while a dial is on its way (a stop signal at start-up, with the
   * readiness probe connecting), or a manager stopping its last container
   * with a request unread, is just gone, as with EOF.  Reporting it as an
   * error made the manager print "recvmsg on the sync socket: Connection
   * reset by peer" and fail a start that was only being stopped. */
  if (n < 0 && errno == ECONNRESET) {
    *eof = TRUE;
    return 0;
  }
  if (n < 0)
    return -1;
  /* Every fd the kernel installed is ours now: the first n_fds are the
   * caller's, any other is closed, or it would leak one fd per message.
   * Also with an empty datagram, which SOCK_SEQPACKET delivers as n == 0
   * with its fds (found by tests/fuzz/fuzz_ctl.c: 4 fds leaked per such
   * datagram). */
  uva_msg_take_fds(mh, fds, n_fds);
  if (n == 0) {
    for (guint i = 0; i < n_fds; i++)
      uva_close_fdp(&fds[i]), fds[i] = -1;
    *eof = TRUE;
  }
  return n;
}

gboolean uva_msg_recv(int sock, UvaMsg *msg, int *fd, gboolean *eof,
                      GError **error) {
  return uva_msg_recv_fd(sock, msg, fd, NULL, eof, error);
}
