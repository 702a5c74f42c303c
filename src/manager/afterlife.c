/* afterlife.c - a helper forked before the manager confines itself, holding
 * only the read end of a pipe whose write end dies with the manager: at EOF
 * the manager is gone, and the helper removes what it left.  A helper, not
 * an atexit handler: the confined manager may not unlink files (confine.c),
 * and a manager killed with SIGKILL runs no handler.
 *
 * A manager that ends by itself closes the pipe and waits for the helper
 * (uva_afterlife_finish) before it returns: the helper is reaped by its
 * own parent, so no process of the user outlives `uva_container`, and a
 * script that removes the state right after it returns does not race the
 * clean-up.  Left to the kernel, the helper would be reparented to pid 1
 * (or a subreaper), which may reap it late or never (a CI runner whose
 * pid 1 is a shell, a container without an init). */
#include "manager/afterlife.h"

#include "base/util.h"
#include "ipc/ctltrust.h"
#include "spec/hostdir.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* A name is removed only if it is still the socket the manager created: a
 * new manager of the same name may have replaced it meanwhile.  The
 * record (ctltrust.c; one for all the names, which are links to one
 * socket) goes first, so that no client meets the record of a socket
 * that is gone and a new one of the same inode. */
static void remove_sockets(int dir_fd, char **files, ino_t *inos, guint n,
                           pid_t manager) {
  for (guint i = 0; i < n; i++)
    uva_ctltrust_forget(dir_fd, inos[i], manager);
  for (guint i = 0; i < n; i++) {
    struct stat st;
    if (fstatat(dir_fd, files[i], &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISSOCK(st.st_mode) && st.st_ino == inos[i])
      (void)unlinkat(dir_fd, files[i], 0);
  }
}

/* The helper, as the manager sees it: its pid, a pidfd on it (opened
 * before the confinement; pidfd_open(2), Linux 5.3) and the write end of
 * the pipe, whose close is the helper's signal to begin. */
static pid_t helper_pid = -1;
static int helper_pidfd = -1;
static int helper_pipe = -1;

/* At most this long for the helper once told: it tries each --rm removal
 * 20 times 100 ms apart (below), so more means something is stuck. */
#define FINISH_WAIT_MS 30000

void uva_afterlife_start(const UvaCtlServer *ctl, const char *state_dir,
                         char **rm_names, gboolean keep_stderr) {
  if (!ctl && !(rm_names && rm_names[0]))
    return;
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0)
    return;
  pid_t manager = getpid();
  pid_t pid = fork();
  if (pid != 0) { /* the manager keeps the write end to its death */
    close(p[0]);
    if (pid < 0) {
      close(p[1]);
      return;
    }
    helper_pid = pid;
    helper_pipe = p[1];
    helper_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    return;
  }
  /* The helper: deaf to the terminal's Ctrl-C (meant for the manager),
   * holding nothing else (close_range(2)), until EOF. */
  guint n = ctl ? uva_ctlserver_n_sockets(ctl) : 0;
  int dir_fd = ctl ? uva_ctlserver_dir_fd(ctl) : -1;
  char **files = g_new0(char *, n + 1);
  ino_t *inos = g_new0(ino_t, n + 1);
  for (guint i = 0; i < n; i++)
    files[i] = g_strdup(uva_ctlserver_socket(ctl, i, &inos[i]));
  close(p[1]);
  /* Every other fd closed, the published ports and the control sockets
   * above all: a listener left open here would queue clients after the
   * manager's death instead of refusing them. */
  int keep[2] = {MIN(dir_fd, p[0]), MAX(dir_fd, p[0])};
  unsigned from = 3;
  for (int i = 0; i < 2; i++) {
    if (keep[i] < 3)
      continue;
    if ((unsigned)keep[i] > from)
      (void)syscall(SYS_close_range, from, (unsigned)keep[i] - 1, 0);
    from = (unsigned)keep[i] + 1;
  }
  (void)syscall(SYS_close_range, from, ~0U, 0);
  /* Nor the caller's stdout: `$(uva_container up -d FILE)` waits for
   * every writer of its pipe to close. */
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
    if (!keep_stderr)
      dup2(null, 2);
    if (null > 2)
      close(null);
  }
  int quiet[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  for (size_t i = 0; i < G_N_ELEMENTS(quiet); i++)
    signal(quiet[i], SIG_IGN);
  char c;
  while (read(p[0], &c, 1) < 0 && errno == EINTR)
    ;
  if (dir_fd >= 0)
    remove_sockets(dir_fd, files, inos, n, manager);
  /* The container's last processes die with its init, which the kernel
   * kills when the manager goes (PR_SET_PDEATHSIG): a file they write
   * meanwhile makes one attempt fail, so a few are made. */
  int status = 0;
  for (char **name = rm_names; name && *name; name++) {
    g_autoptr(GError) error = NULL;
    gboolean done = FALSE;
    for (int i = 0; i < 20 && !done; i++) {
      g_clear_error(&error);
      done = uva_hostdir_remove_state(state_dir, *name, &error);
      if (!done)
        g_usleep(100 * 1000);
    }
    if (!done) {
      fprintf(stderr, "uva_container: --rm: %s\n", error->message);
      status = 1;
    }
  }
  _exit(status);
}

void uva_afterlife_finish(void) {
  if (helper_pid < 0)
    return;
  uva_close_fdp(&helper_pipe);
  helper_pipe = -1;
  /* Bounded: a helper that hangs (a state directory on a dead NFS server)
   * must not hold the manager forever; it is then left to pid 1. */
  int r = 1;
  if (helper_pidfd >= 0) {
    struct pollfd p = {helper_pidfd, POLLIN, 0};
    do
      r = poll(&p, 1, FINISH_WAIT_MS);
    while (r < 0 && errno == EINTR);
  }
  /* The manager's SIGCHLD handler reaps any child (waitpid(-1)): ECHILD
   * here means it did so already. */
  if (r > 0)
    while (waitpid(helper_pid, NULL, helper_pidfd >= 0 ? WNOHANG : 0) < 0 &&
           errno == EINTR)
      ;
  uva_close_fdp(&helper_pidfd);
  helper_pidfd = -1;
  helper_pid = -1;
}
