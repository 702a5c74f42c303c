/* execin.c - `uva_container exec`, inside the container: init forks a
 * helper for each request and goes back to its loop at once, so that a
 * slow or silent client never stalls the container's init.  The helper
 * reads the request from the client's own socket (the manager only passed
 * it on, after checking the client's uid), starts the command with the
 * app's confinement (uva_app_confine: no_new_privs, the app's
 * capabilities and seccomp filter) in the app's namespaces, passes on the
 * client's signals and sends back the command's status.  The command uses
 * the client's own stdin, stdout and stderr, received with SCM_RIGHTS, or
 * a new pty from the container's devpts with exec -t. */
#include "sandbox/execin.h"

#include "base/util.h"
#include "ipc/ctl.h"
#include "sandbox/app.h"
#include "sandbox/execfmt.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>

#define REQUEST_WAIT_MS 10000

typedef struct {
  guint32 flags;
  unsigned short rows, cols;
  char *cwd;
  char **argv;
  char **env;
  int fds[3];
} Request;

/* payload: "ARGC\0CWD\0ARG...\0ENV...\0" (ctl.h). */
static gboolean parse(Request *r, const UvaCtlHead *h, const char *payload) {
  const char *p = payload, *end = payload + h->len;
  GPtrArray *parts = g_ptr_array_new_with_free_func(g_free);
  while (p < end) {
    size_t n = strnlen(p, (size_t)(end - p));
    if (p + n == end)
      break; /* the last one must end with a NUL */
    g_ptr_array_add(parts, g_strndup(p, n));
    p += n + 1;
  }
  guint argc = parts->len ? (guint)strtoul(parts->pdata[0], NULL, 10) : 0;
  if (argc == 0 || parts->len < 2 + argc) {
    g_ptr_array_unref(parts);
    return FALSE;
  }
  r->cwd = g_strdup(parts->pdata[1]);
  r->argv = g_new0(char *, argc + 1);
  for (guint i = 0; i < argc; i++)
    r->argv[i] = g_strdup(parts->pdata[2 + i]);
  r->env = g_new0(char *, parts->len - 2 - argc + 1);
  for (guint i = 2 + argc, k = 0; i < parts->len; i++)
    r->env[k++] = g_strdup(parts->pdata[i]);
  g_ptr_array_unref(parts);
  r->flags = h->flags;
  r->rows = (unsigned short)((guint32)h->value >> 16);
  r->cols = (unsigned short)((guint32)h->value & 0xffff);
  return TRUE;
}

static void say(int sock, UvaCtlType type, int value, const char *text) {
  UvaCtlHead h = {.type = type, .value = value};
  (void)uva_ctl_send(sock, &h, text, text ? strlen(text) : 0, NULL, 0, NULL);
}

static int open_pty(const Request *r, int *slave) {
  uva_autofd master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  int unlock = 0;
  if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) < 0)
    return -1;
  *slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (*slave < 0)
    return -1;
  struct winsize ws = {.ws_row = r->rows, .ws_col = r->cols};
  if (ws.ws_row && ws.ws_col)
    (void)ioctl(*slave, TIOCSWINSZ, &ws);
  return uva_steal_fd(&master);
}

/* The command: its own session (no controlling terminal but its pty, so
 * TIOCSTI cannot reach the caller's terminal), the caller's fds, the
 * app's confinement.  A failure before exec goes to status_fd. */
G_GNUC_NORETURN static void command(const UvaContainerSpec *c, Request *r,
                                    int slave, int status_fd) {
  /* Declared before the first goto (clang refuses a jump over a cleanup
   * variable's initialisation). */
  g_auto(GStrv) env = NULL;
  (void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (setsid() < 0)
    goto fail;
  if (slave >= 0) {
    if (ioctl(slave, TIOCSCTTY, 0) < 0)
      goto fail;
    for (int i = 0; i < 3; i++)
      if (dup2(slave, i) < 0)
        goto fail;
  } else {
    int in = (r->flags & UVA_CTL_EXEC_STDIN)
                 ? r->fds[0]
                 : open("/dev/null", O_RDONLY | O_CLOEXEC);
    int out = (r->flags & UVA_CTL_EXEC_STDIN) ? r->fds[1] : r->fds[0];
    int errfd = (r->flags & UVA_CTL_EXEC_STDIN) ? r->fds[2] : r->fds[1];
    if (in < 0 || out < 0 || errfd < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
        dup2(errfd, 2) < 0)
      goto fail;
  }
  const char *cwd = r->cwd[0] ? r->cwd : UVA_APP_DIR;
  if (chdir(cwd) < 0)
    goto fail;
  env = uva_app_env(c);
  for (char **e = r->env; *e; e++) {
    const char *eq = strchr(*e, '=');
    if (!eq)
      continue;
    g_autofree char *name = g_strndup(*e, (gsize)(eq - *e));
    env = g_environ_setenv(env, name, eq + 1, TRUE);
  }
  if (uva_app_confine(c, -1, -1) < 0)
    goto fail;
  uva_app_fail(status_fd, uva_app_exec(r->argv, env));
fail:
  uva_app_fail(status_fd, errno);
}

static int exit_code(int st) {
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

G_GNUC_NORETURN static void helper(const UvaContainerSpec *c, int sock) {
  /* Only the client's socket: not the sync socket, not the app's pty. */
  if (sock != 3) {
    if (dup3(sock, 3, O_CLOEXEC) < 0)
      _exit(1);
    sock = 3;
  }
  (void)syscall(SYS_close_range, 4, ~0U, 0);
  (void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_UNBLOCK, &all, NULL);
  struct pollfd p = {sock, POLLIN, 0};
  if (poll(&p, 1, REQUEST_WAIT_MS) <= 0)
    _exit(1);
  UvaCtlHead h;
  g_autofree char *payload = NULL;
  Request r = {0};
  gboolean eof;
  if (!uva_ctl_recv(sock, &h, &payload, r.fds, &eof, NULL) ||
      h.type != UVA_CTL_EXEC_REQ || !parse(&r, &h, payload)) {
    say(sock, UVA_CTL_ERR, 0, "a malformed exec request");
    _exit(1);
  }
  int slave = -1;
  if (r.flags & UVA_CTL_EXEC_TTY) {
    uva_autofd master = open_pty(&r, &slave);
    UvaCtlHead ph = {.type = UVA_CTL_EXEC_PTY};
    if (master < 0 ||
        !uva_ctl_send(sock, &ph, NULL, 0, (int[]){master}, 1, NULL)) {
      g_autofree char *m =
          g_strdup_printf("opening a pseudo-terminal: %s", g_strerror(errno));
      say(sock, UVA_CTL_ERR, 0, m);
      _exit(1);
    }
  }
  int status_pipe[2];
  if (pipe2(status_pipe, O_CLOEXEC) < 0)
    _exit(1);
  pid_t pid = fork();
  if (pid < 0) {
    g_autofree char *m = g_strdup_printf("fork: %s", g_strerror(errno));
    say(sock, UVA_CTL_ERR, 0, m);
    _exit(1);
  }
  if (pid == 0) {
    close(status_pipe[0]);
    command(c, &r, slave, status_pipe[1]);
  }
  /* Only the command holds the pty's slave now: its master sees EIO once
   * the command and its children are gone. */
  uva_close_fdp(&slave);
  for (int i = 0; i < 3; i++)
    uva_close_fdp(&r.fds[i]);
  close(status_pipe[1]);
  int err = 0;
  ssize_t n;
  do
    n = read(status_pipe[0], &err, sizeof err);
  while (n < 0 && errno == EINTR);
  close(status_pipe[0]);
  if (n == sizeof err) {
    (void)waitpid(pid, NULL, 0);
    g_autofree char *m = g_strdup_printf("cannot execute %s: %s", r.argv[0],
                                         uva_execfmt_strerror(err));
    /* 126 and 127, as a shell (and docker exec) tell them apart. */
    say(sock, UVA_CTL_EXEC_EXIT, err == ENOENT ? 127 : 126, m);
    _exit(0);
  }
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  for (;;) {
    struct pollfd fds[2] = {{sock, POLLIN, 0}, {pidfd, POLLIN, 0}};
    /* Without a pidfd (before 5.3): polled every 100 ms. */
    int r2 = poll(fds, pidfd >= 0 ? 2 : 1, pidfd >= 0 ? -1 : 100);
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      say(sock, UVA_CTL_EXEC_EXIT, exit_code(st), NULL);
      _exit(0);
    }
    if (r2 <= 0 || !(fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
      continue;
    UvaCtlHead m;
    g_autofree char *text = NULL;
    int got[3];
    if (!uva_ctl_recv(sock, &m, &text, got, &eof, NULL)) {
      if (!eof && !(fds[0].revents & (POLLHUP | POLLERR)))
        continue;
      /* The client is gone (killed, say): nothing of its is left. */
      kill(pid, SIGKILL);
      (void)waitpid(pid, NULL, 0);
      _exit(0);
    }
    for (int i = 0; i < 3; i++)
      uva_close_fdp(&got[i]);
    if (m.type == UVA_CTL_EXEC_SIGNAL && m.value > 0 && m.value < NSIG)
      kill(pid, m.value);
  }
}

void uva_execin_start(const UvaContainerSpec *c, int sync_fd, int sock) {
  (void)sync_fd;
  pid_t pid = fork();
  if (pid == 0)
    helper(c, sock);
  /* Init reaps the helper with its other orphans (init.c). */
  close(sock);
}
