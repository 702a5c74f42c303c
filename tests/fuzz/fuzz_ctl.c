/* fuzz_ctl.c - libFuzzer target: the manager's side of the control channel
 * (ctlserver.c over ctl.c's uva_ctl_recv), as a client of our own uid
 * reaches it: one real server on a socket in a temporary state directory,
 * stub operations, and per input one connection that sends datagrams of
 * any length (truncated, exact, past UVA_CTL_PAYLOAD_MAX) with any number
 * of fds (none, the three the protocol allows, more; in one or two
 * control messages) of every kind (file, pipe, socket, memfd, eventfd,
 * epoll, O_PATH directory, the server's own listening socket).  After
 * each input every fd the server was handed must be closed again: a leak
 * aborts.
 *
 * Input: byte 0 the fd count (mod 8), byte 1 which kinds (2 bits each,
 * cycling), byte 2 flags (1: pad the datagram past the payload limit, 2:
 * split the fds into two control messages, 4: close without reading the
 * answer), byte 3 how many times the datagram is sent (mod 4, +1); the
 * rest is the datagram. */
#include "base/util.h"
#include "ipc/ctl.h"
#include "manager/ctlserver.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

static UvaCtlServer *server;
static char *sock_path;
static int baseline = -1;

static GPtrArray *op_ps(gpointer data) {
  (void)data;
  GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(a, g_strdup("f\tready\t-\t0\t1\t-\t-"));
  return a;
}
static gboolean op_stop(gpointer data, const char *name, int t, GError **e) {
  (void)data, (void)t;
  if (g_str_equal(name, "nope"))
    return uva_fail(e, "no container %s", name);
  return TRUE;
}
static gboolean op_running(gpointer data, const char *name) {
  (void)data, (void)name;
  return FALSE;
}
/* Owns fd, as the real one does (it hands it to init). */
static gboolean op_exec(gpointer data, const char *name, int fd, GError **e) {
  (void)data;
  close(fd);
  if (!g_str_equal(name, "f"))
    return uva_fail(e, "no container %s", name);
  return TRUE;
}
static const UvaCtlOps ops = {op_ps, op_stop, op_running, op_exec};

static int count_fds(void) {
  int n = 0;
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  while (d && (e = readdir(d)))
    n += e->d_name[0] != '.';
  if (d)
    closedir(d);
  return n - 1; /* the DIR's own */
}

static void pump(void) {
  for (int i = 0; i < 64 && g_main_context_iteration(NULL, FALSE); i++)
    ;
}

static char *tmp_dir;

/* What setup made, removed at exit: the socket, its record (ctltrust.c),
 * STATE/run, STATE and the temporary directory. */
static void cleanup(void) {
  if (!server)
    return;
  ino_t ino;
  int dir = uva_ctlserver_dir_fd(server);
  const char *file = uva_ctlserver_socket(server, 0, &ino);
  char *record = g_strdup_printf(".f.%ju.id", (uintmax_t)ino);
  (void)unlinkat(dir, record, 0);
  (void)unlinkat(dir, file, 0);
  g_free(record);
  uva_ctlserver_free(server);
  server = NULL;
  char *run = g_build_filename(tmp_dir, "state", "run", NULL);
  char *state = g_build_filename(tmp_dir, "state", NULL);
  (void)rmdir(run);
  (void)rmdir(state);
  (void)rmdir(tmp_dir);
  g_free(run);
  g_free(state);
  g_free(tmp_dir);
  g_free(sock_path);
}

static void setup(void) {
  tmp_dir = g_dir_make_tmp("uva-fuzz-ctl-XXXXXX", NULL);
  g_assert(tmp_dir);
  g_autofree char *state = g_build_filename(tmp_dir, "state", NULL);
  /* STATE/run: the fallback without a runtime directory (hostdir.c). */
  g_unsetenv("XDG_RUNTIME_DIR");
  const char *const names[] = {"f", NULL};
  GError *error = NULL;
  server = uva_ctlserver_new(state, names, &ops, NULL, &error);
  if (!server)
    g_error("control server: %s", error->message);
  atexit(cleanup);
  sock_path = g_build_filename(state, "run", "f.sock", NULL);
  g_assert(strlen(sock_path) < sizeof(((struct sockaddr_un *)0)->sun_path));
  pump();
  baseline = count_fds();
}

/* A new fd of kind k (the caller closes it). */
static int make_fd(int k, int listener_dup) {
  int p[2], fd = -1;
  switch (k % 8) {
  case 0:
    return open("/dev/null", O_RDWR | O_CLOEXEC);
  case 1:
    if (pipe2(p, O_CLOEXEC) < 0)
      return -1;
    close(p[1]);
    return p[0];
  case 2:
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p) < 0)
      return -1;
    close(p[1]);
    return p[0];
  case 3:
    return memfd_create("fuzz", MFD_CLOEXEC);
  case 4:
    return eventfd(0, EFD_CLOEXEC);
  case 5:
    return epoll_create1(EPOLL_CLOEXEC);
  case 6:
    return open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  default:
    fd = listener_dup;
    return fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
  }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  if (!server)
    setup();
  if (size < 4)
    return 0;
  guint n_fds = data[0] % 8, kinds = data[1], flags = data[2],
        repeat = data[3] % 4 + 1;
  data += 4;
  size -= 4;
  gsize len = size;
  if (flags & 1)
    len = sizeof(UvaCtlHead) + UVA_CTL_PAYLOAD_MAX + 1 + size;
  unsigned char *buf = g_malloc0(len ? len : 1);
  memcpy(buf, data, size);

  int c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  g_strlcpy(sun.sun_path, sock_path, sizeof sun.sun_path);
  g_assert(c >= 0);
  if (connect(c, (struct sockaddr *)&sun, sizeof sun) < 0)
    g_error("connect %s: %s", sock_path, g_strerror(errno));
  pump(); /* accepted */
  /* A listening socket to pass: the server's own kind of fd. */
  int lsn = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  for (guint r = 0; r < repeat; r++) {
    int fds[8];
    for (guint i = 0; i < n_fds; i++)
      fds[i] =
          make_fd((int)((kinds >> (2 * (i % 4))) & 3) + (int)(i % 2) * 4, lsn);
    union {
      char b[CMSG_SPACE(8 * sizeof(int)) + CMSG_SPACE(8 * sizeof(int))];
      struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    struct iovec iov = {buf, len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    guint valid = 0;
    for (guint i = 0; i < n_fds; i++)
      if (fds[i] >= 0)
        fds[valid++] = fds[i];
    if (valid) {
      guint first = (flags & 2) && valid > 1 ? valid / 2 : valid;
      mh.msg_control = u.b;
      mh.msg_controllen =
          CMSG_SPACE(first * sizeof(int)) +
          (first < valid ? CMSG_SPACE((valid - first) * sizeof(int)) : 0);
      struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
      cm->cmsg_level = SOL_SOCKET;
      cm->cmsg_type = SCM_RIGHTS;
      cm->cmsg_len = CMSG_LEN(first * sizeof(int));
      memcpy(CMSG_DATA(cm), fds, first * sizeof(int));
      if (first < valid) {
        cm = CMSG_NXTHDR(&mh, cm);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN((valid - first) * sizeof(int));
        memcpy(CMSG_DATA(cm), fds + first, (valid - first) * sizeof(int));
      }
    }
    /* EMSGSIZE past the socket's buffer: the kernel's own refusal. */
    (void)sendmsg(c, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    for (guint i = 0; i < valid; i++)
      close(fds[i]);
    pump();
    if (!(flags & 4)) {
      /* Whatever the server answered, and its fds (it sends none). */
      char ans[256];
      struct pollfd p = {c, POLLIN, 0};
      while (poll(&p, 1, 0) == 1 && (p.revents & POLLIN) &&
             recv(c, ans, sizeof ans, MSG_DONTWAIT) > 0)
        ;
    }
  }
  close(lsn);
  close(c);
  /* The server drops the client at its EOF; then every fd it was handed
   * must be gone. */
  int now = -1;
  for (int i = 0; i < 50 && (now = count_fds()) != baseline; i++) {
    struct pollfd none;
    (void)poll(&none, 0, 1);
    pump();
  }
  if (now != baseline) {
    /* abort(): libFuzzer keeps the input (g_error's trap it does not). */
    fprintf(stderr, "fd leak: %d open, %d before the input\n", now, baseline);
    abort();
  }
  g_free(buf);
  return 0;
}
