/* ctl.c - the control channel's wire format and where its sockets live,
 * shared by the manager (ctlserver.c) and the commands that talk to it
 * (cli.c, cliexec.c).  See ctl.h. */
#include "ipc/ctl.h"

#include "base/util.h"
#include "ipc/ctltrust.h"
#include "ipc/msg.h"
#include "spec/hostdir.h"
#include "spec/spec.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>

gboolean uva_ctl_send(int sock, UvaCtlHead *head, const void *payload,
                      gsize payload_len, const int *fds, guint n_fds,
                      GError **error) {
  if (payload_len > UVA_CTL_PAYLOAD_MAX || n_fds > 3)
    return uva_fail(error, "control message too large (%zu bytes)",
                    (size_t)payload_len);
  head->len = (uint32_t)payload_len;
  struct iovec iov[2] = {{head, sizeof *head}, {(void *)payload, payload_len}};
  union {
    char buf[CMSG_SPACE(3 * sizeof(int))];
    struct cmsghdr align;
  } u;
  struct msghdr mh = {.msg_iov = iov, .msg_iovlen = payload_len ? 2 : 1};
  if (n_fds) {
    memset(&u, 0, sizeof u);
    mh.msg_control = u.buf;
    mh.msg_controllen = CMSG_SPACE(n_fds * sizeof(int));
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    if (!c) /* cannot be: msg_controllen holds one header */
      return uva_fail(error, "no room for the control message");
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(n_fds * sizeof(int));
    memcpy(CMSG_DATA(c), fds, n_fds * sizeof(int));
  }
  ssize_t n;
  /* Never blocks the manager: a peer that does not read loses its
   * answer (the manager drops it, ctlserver.c). */
  do
    n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return uva_fail_errno(error, errno, "sending on the control socket");
  return TRUE;
}

gboolean uva_ctl_recv(int sock, UvaCtlHead *head, char **payload, int fds[3],
                      gboolean *eof, GError **error) {
  g_autofree char *buf = g_malloc(sizeof *head + UVA_CTL_PAYLOAD_MAX + 1);
  struct iovec iov = {buf, sizeof *head + UVA_CTL_PAYLOAD_MAX};
  union {
    char buf[CMSG_SPACE(4 * sizeof(int))];
    struct cmsghdr align;
  } u;
  struct msghdr mh = {.msg_iov = &iov,
                      .msg_iovlen = 1,
                      .msg_control = u.buf,
                      .msg_controllen = sizeof u.buf};
  fds[0] = fds[1] = fds[2] = -1;
  *eof = FALSE;
  *payload = NULL;
  ssize_t n =
      uva_msg_recv_one(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT, fds, 3, eof);
  if (n < 0 && errno == EAGAIN)
    return FALSE; /* nothing yet: no error, no eof */
  if (n < 0)
    return uva_fail_errno(error, errno, "reading the control socket");
  if (n == 0)
    return FALSE; /* the end (uva_msg_recv_one) */
  memcpy(head, buf, MIN((gsize)n, sizeof *head));
  if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (gsize)n < sizeof *head ||
      (gsize)n != sizeof *head + head->len) {
    for (int i = 0; i < 3; i++)
      uva_close_fdp(&fds[i]), fds[i] = -1;
    return uva_fail(error, "a malformed control message (%zd bytes)", n);
  }
  head->name[UVA_CTL_NAME_MAX - 1] = '\0';
  buf[n] = '\0';
  *payload = g_memdup2(buf + sizeof *head, head->len + 1);
  return TRUE;
}

int uva_ctl_rundir(const char *state_dir, char **path, GError **error) {
  g_autofree char *own_from = NULL;
  g_autofree char *dir = uva_hostdir_control_dir(state_dir, &own_from, error);
  if (!dir)
    return -1;
  int fd = uva_hostdir_open_dir(dir, own_from, error);
  if (fd < 0) {
    g_prefix_error(error, "control directory: ");
    return -1;
  }
  if (path)
    *path = g_steal_pointer(&dir);
  return fd;
}

char *uva_ctl_sock_path(int dir_fd, const char *name) {
  return g_strdup_printf("/proc/self/fd/%d/%s.sock", dir_fd, name);
}

static int connect_at(int dir_fd, const char *name, int *err) {
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  g_autofree char *p = uva_ctl_sock_path(dir_fd, name);
  g_strlcpy(sun.sun_path, p, sizeof sun.sun_path);
  uva_autofd fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
    *err = errno;
    return -1;
  }
  return uva_steal_fd(&fd);
}

int uva_ctl_connect(const char *state_dir, const char *name, GError **error) {
  if (!uva_name_valid(name, error))
    return -1;
  uva_autofd dir = uva_ctl_rundir(state_dir, NULL, error);
  if (dir < 0)
    return -1;
  return uva_ctl_connect_dir(dir, name, error);
}

int uva_ctl_connect_dir(int dir, const char *name, GError **error) {
  int err = 0;
  uva_autofd fd = connect_at(dir, name, &err);
  if (fd >= 0) {
    /* Before anything is sent: a socket planted where NAME's would be
     * must not get our fds (ctltrust.c). */
    if (!uva_ctltrust_check(dir, name, fd, error))
      return -1;
    return uva_steal_fd(&fd);
  }
  if (err == ECONNREFUSED) {
    /* Nobody listens: its manager died without its clean-up (SIGKILL of
     * the manager and its helper).  Only a socket of ours is removed,
     * with its record. */
    g_autofree char *file = g_strdup_printf("%s.sock", name);
    struct stat st;
    if (fstatat(dir, file, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISSOCK(st.st_mode) && st.st_uid == geteuid()) {
      uva_ctltrust_forget_any(dir, st.st_ino);
      (void)unlinkat(dir, file, 0);
    }
  }
  if (err == ENOENT || err == ECONNREFUSED) {
    g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                "no container %s is running (uva_container ps lists them)",
                name);
    return -1;
  }
  uva_fail_errno(error, err, "connecting to the manager of %s", name);
  return -1;
}

GPtrArray *uva_ctl_list(const char *state_dir, GError **error) {
  uva_autofd dir = uva_ctl_rundir(state_dir, NULL, error);
  if (dir < 0)
    return NULL;
  int rd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = rd >= 0 ? fdopendir(rd) : NULL;
  if (!d) {
    uva_fail_errno(error, errno, "reading the control directory");
    uva_close_fdp(&rd);
    return NULL;
  }
  GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
  struct dirent *e;
  while ((e = readdir(d))) {
    /* ".NAME.PID" is a socket still being set up (ctlserver.c). */
    if (e->d_name[0] == '.' || !g_str_has_suffix(e->d_name, ".sock"))
      continue;
    char *name = g_strndup(e->d_name, strlen(e->d_name) - 5);
    if (uva_name_valid(name, NULL))
      g_ptr_array_add(names, name);
    else
      g_free(name);
  }
  closedir(d);
  g_ptr_array_sort(names, (GCompareFunc)g_strcmp0);
  return names;
}

gboolean uva_ctl_call(int sock, UvaCtlHead *req, const void *payload, gsize len,
                      const int *fds, guint n_fds, int timeout_ms,
                      char **answer, GError **error) {
  if (!uva_ctl_send(sock, req, payload, len, fds, n_fds, error))
    return FALSE;
  struct pollfd p = {sock, POLLIN, 0};
  int r;
  do
    r = poll(&p, 1, timeout_ms);
  while (r < 0 && errno == EINTR);
  if (r == 0)
    return uva_fail(error, "the manager did not answer in %d ms", timeout_ms);
  UvaCtlHead head = {0};
  int got[3];
  gboolean eof;
  g_autofree char *text = NULL;
  GError *local = NULL;
  if (!uva_ctl_recv(sock, &head, &text, got, &eof, &local)) {
    if (local) {
      g_propagate_error(error, local);
      return FALSE;
    }
    return uva_fail(error, "the manager closed the control socket");
  }
  for (int i = 0; i < 3; i++)
    uva_close_fdp(&got[i]);
  if (head.type == UVA_CTL_ERR) {
    g_set_error(error, UVA_ERROR, UVA_ERROR_FAILED, "%s", text);
    return FALSE;
  }
  if (head.type != UVA_CTL_OK)
    return uva_fail(error, "unexpected control answer %u", head.type);
  if (answer)
    *answer = g_steal_pointer(&text);
  return TRUE;
}

int uva_ctl_peer_pidfd(int sock) {
  /* The listener's creator (unix(7), SO_PEERCRED): the manager, alive as
   * long as the socket is, so the pid cannot have been reused yet. */
  struct ucred cr;
  socklen_t len = sizeof cr;
  if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 || cr.pid <= 0)
    return -1;
  return (int)syscall(SYS_pidfd_open, cr.pid, 0);
}

void uva_ctl_wait_exit(int pidfd, int timeout_ms) {
  if (pidfd < 0)
    return;
  /* A pidfd polls readable once its process has exited (pidfd_open(2)). */
  struct pollfd p = {pidfd, POLLIN, 0};
  int r;
  do
    r = poll(&p, 1, timeout_ms);
  while (r < 0 && errno == EINTR);
}

pid_t uva_ctl_port_holder(const char *state_dir, guint16 port, gboolean udp) {
  pid_t pid = 0;
  g_autoptr(GPtrArray) names = state_dir ? uva_ctl_list(state_dir, NULL) : NULL;
  /* A ps port field: "HOST:PORT->CPORT/proto". */
  g_autofree char *want = g_strdup_printf(":%u->", port);
  for (guint i = 0; names && i < names->len && !pid; i++) {
    uva_autofd fd = uva_ctl_connect(state_dir, names->pdata[i], NULL);
    UvaCtlHead req = {.type = UVA_CTL_PS};
    g_autofree char *text = NULL;
    if (fd < 0 || !uva_ctl_call(fd, &req, NULL, 0, NULL, 0, 2000, &text, NULL))
      continue;
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l && !pid; l++) {
      g_auto(GStrv) f = g_strsplit(*l, "\t", UVA_PS_FIELDS);
      if (g_strv_length(f) != UVA_PS_FIELDS)
        continue;
      g_auto(GStrv) ports = g_strsplit(f[UVA_PS_PORTS], ", ", -1);
      for (char **p = ports; *p && !pid; p++)
        if (strstr(*p, want) && g_str_has_suffix(*p, udp ? "/udp" : "/tcp"))
          pid = (pid_t)atoi(f[UVA_PS_PID]);
    }
  }
  return pid;
}
