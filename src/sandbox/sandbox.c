/* sandbox.c - clone() into user, mount, network, pid, uts and ipc namespaces.
 *
 * The parent writes "deny" to setgroups before gid_map (required for an
 * unprivileged gid_map since Linux 3.19, user_namespaces(7)) and maps only
 * its own uid and gid, which needs no newuidmap helper.  The child waits on
 * the sync socket until the maps are written, as bubblewrap does: before
 * that it has no uid inside and its mounts and tap would fail.  From then on
 * the child reports every failure back as a message, never on stderr. */
#include "sandbox/sandbox.h"

#include "base/util.h"
#include "ipc/msg.h"
#include "net/tap.h"
#include "sandbox/app.h"
#include "sandbox/init.h"
#include "sandbox/rootfs.h"
#include "sandbox/subid.h"

#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static int read_sysctl_int(const char *path) {
  g_autofree char *text = uva_read_small_file(path, NULL);
  return text ? atoi(text) : -1;
}

/* EPERM with every sysctl that could say no saying yes: what is left is
 * a seccomp filter (a container runtime's default profile refuses clone
 * and unshare with CLONE_NEWUSER: Docker's, podman's) or a security
 * module.  "Seccomp: 2" in /proc/self/status (proc(5)) tells that this
 * process runs under a filter, which a plain host shell does not. */
static char *seccomp_hint(void) {
  g_autofree char *status = uva_read_small_file("/proc/self/status", NULL);
  gboolean filtered = status && strstr(status, "\nSeccomp:\t2\n");
  return g_strdup_printf(
      "user namespaces are refused and no sysctl explains it: %s; run on "
      "the host, or allow CLONE_NEWUSER (clone, unshare) in that "
      "container's seccomp profile (e.g. docker run --security-opt "
      "seccomp=unconfined)",
      filtered ? "this process runs under a seccomp filter (Seccomp: 2 in "
                 "/proc/self/status), most likely the default profile of the "
                 "container it runs in"
               : "most likely the seccomp filter or security module of an "
                 "enclosing container");
}

char *uva_sandbox_userns_hint(int err) {
  int apparmor =
      read_sysctl_int("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
  if (apparmor == 1 && (err == EPERM || err == EACCES))
    return g_strdup(
        "AppArmor restricts unprivileged user namespaces "
        "(kernel.apparmor_restrict_unprivileged_userns=1, the Ubuntu 24.04 "
        "default): run 'sudo sysctl -w "
        "kernel.apparmor_restrict_unprivileged_userns=0', or run the "
        "installed uva_container (make install, or the package) with its "
        "profile loaded: 'sudo apparmor_parser -r "
        "/etc/apparmor.d/uva_container' (it allows 'userns')");
  switch (err) {
  case EPERM:
    if (read_sysctl_int("/proc/sys/kernel/unprivileged_userns_clone") == 0)
      return g_strdup("unprivileged user namespaces are disabled "
                      "(kernel.unprivileged_userns_clone=0): run 'sudo sysctl "
                      "-w kernel.unprivileged_userns_clone=1'");
    return seccomp_hint();
  case ENOSPC: {
    int max = read_sysctl_int("/proc/sys/user/max_user_namespaces");
    if (max == 0)
      return g_strdup(
          "user namespaces are disabled (user.max_user_namespaces"
          "=0): run 'sudo sysctl -w user.max_user_namespaces=15000'");
    return g_strdup_printf(
        "the limit of namespaces is reached "
        "(user.max_user_namespaces=%d, or a max_*_namespaces "
        "sysctl of another type)",
        max);
  }
  case EINVAL:
    return g_strdup("this kernel has no user namespace support "
                    "(CONFIG_USER_NS)");
  case EUSERS:
    return g_strdup("user namespaces are nested 32 deep already");
  default:
    return NULL;
  }
}

/* The caller's RLIMIT_NOFILE, for the containers (uva_sandbox_raise_nofile). */
static struct rlimit caller_nofile;
static gboolean nofile_raised;

void uva_sandbox_raise_nofile(void) {
  struct rlimit rl;
  if (nofile_raised || getrlimit(RLIMIT_NOFILE, &rl) < 0)
    return;
  caller_nofile = rl;
  nofile_raised = TRUE;
  rl.rlim_cur = rl.rlim_max;
  (void)setrlimit(RLIMIT_NOFILE, &rl);
}

static gboolean fail_userns(GError **error, int err, const char *what) {
  g_autofree char *hint = uva_sandbox_userns_hint(err);
  g_set_error(error, UVA_ERROR, UVA_ERROR_FAILED, "%s: %s%s%s", what,
              g_strerror(err), hint ? "; " : "", hint ? hint : "");
  return FALSE;
}

static gboolean write_maps(pid_t pid, GError **error) {
  g_autofree char *dir = g_strdup_printf("/proc/%d", (int)pid);
  g_autofree char *setgroups = g_build_filename(dir, "setgroups", NULL);
  g_autofree char *uid_map = g_build_filename(dir, "uid_map", NULL);
  g_autofree char *gid_map = g_build_filename(dir, "gid_map", NULL);
  g_autofree char *uid_text = uva_id_map_text(getuid());
  g_autofree char *gid_text = uva_id_map_text(getgid());
  const struct {
    const char *path, *text;
  } steps[] = {{setgroups, "deny"}, {uid_map, uid_text}, {gid_map, gid_text}};
  for (size_t i = 0; i < G_N_ELEMENTS(steps); i++) {
    int err = uva_write_text(steps[i].path, steps[i].text, FALSE);
    if (err) {
      g_autofree char *what = g_strdup_printf("writing %s", steps[i].path);
      return fail_userns(error, err, what);
    }
  }
  return TRUE;
}

/* Closes every fd but keep[] (sorted ascending): a container must not hold
 * the other containers' pipes or the manager's listening sockets.  Returns
 * 0 or the errno of a failed close_range(2) (ENOSYS before Linux 5.9, or
 * EINVAL); the caller must not go on with fds it meant to close. */
static int close_fds_except(const int *keep, size_t n) {
  unsigned from = 3;
  for (size_t i = 0; i < n; i++) {
    if ((unsigned)keep[i] > from &&
        syscall(SYS_close_range, from, (unsigned)keep[i] - 1, 0) < 0)
      return errno;
    if ((unsigned)keep[i] + 1 > from)
      from = (unsigned)keep[i] + 1;
  }
  if (syscall(SYS_close_range, from, ~0U, 0) < 0)
    return errno;
  return 0;
}

static int cmp_int(const void *a, const void *b) {
  return *(const int *)a - *(const int *)b;
}

G_GNUC_NORETURN static void child_fail(int sync_fd, GError *error) {
  uva_msg_send_error(sync_fd, 0, error->message);
  _exit(1);
}

G_GNUC_NORETURN static void child_main(const UvaContainerSpec *c,
                                       const GArray *binds, gboolean with_tap,
                                       int sync_fd, int out_fd, int err_fd) {
  g_autoptr(GError) error = NULL;
  /* The app gets the limit the user gave us, not ours: lowering the soft
   * limit needs no privilege (setrlimit(2)). */
  if (nofile_raised)
    (void)setrlimit(RLIMIT_NOFILE, &caller_nofile);
  /* The clone is fork-like and the manager single-threaded: malloc is
   * safe here. */
  size_t n_keep = 3 + binds->len;
  int *keep = g_new(int, n_keep);
  keep[0] = sync_fd;
  keep[1] = out_fd;
  keep[2] = err_fd;
  for (guint i = 0; i < binds->len; i++)
    keep[3 + i] = g_array_index(binds, UvaBind, i).fd;
  qsort(keep, n_keep, sizeof keep[0], cmp_int);
  int close_err = close_fds_except(keep, n_keep);
  g_free(keep);
  /* Init's own stdio is not the caller's where the app's output goes
   * through the manager (up, -d): `$(uva_container run -d ...)` waits
   * for every writer of its pipe, and a detached container must hold
   * nothing of the terminal it was started from. */
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    if (!c->keep_stdin)
      (void)dup2(null, 0);
    if (out_fd != 1)
      (void)dup2(null, 1);
    if (err_fd != 2)
      (void)dup2(null, 2);
    close(null);
  }
  /* Nothing outlives the manager: if it dies, the kernel kills us, and
   * everything in our pid namespace dies with its init. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
    _exit(1);

  UvaMsg msg;
  int fd;
  gboolean eof;
  if (!uva_msg_recv(sync_fd, &msg, &fd, &eof, NULL) || msg.type != UVA_MSG_GO)
    _exit(1); /* the manager died or failed before writing our maps */
  uva_close_fdp(&fd);
  /* Reported only now: an ERROR sent before GO could make the manager's
   * GO fail with EPIPE and be lost with it. */
  if (close_err != 0) {
    uva_fail_errno(&error, close_err,
                   "close_range (closing the manager's "
                   "fds before the container starts)");
    child_fail(sync_fd, error);
  }

  /* The other namespaces are made here, not by the manager's clone: a
   * network namespace costs about 0.35 ms of kernel time (setup_net
   * registers each protocol's sysctl tables), which in the clone was the
   * manager's, once per container and one after another; here it is this
   * container's own, in parallel with the manager starting the next one
   * (`up` of 256: the manager's start loop 201 -> 120 ms of CPU, perf).
   * Made in our user namespace, they are owned by it, as with clone. */
  if (unshare(CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC) < 0) {
    fail_userns(&error, errno,
                "creating the container's network, mount, UTS and IPC "
                "namespaces (unshare)");
    child_fail(sync_fd, error);
  }
  /* Our own session: Ctrl-C on the terminal reaches only the manager, which
   * then stops the containers in order. */
  (void)setsid();
  const char *hostname = uva_container_hostname(c);
  if (sethostname(hostname, strlen(hostname)) < 0) {
    uva_fail_errno(&error, errno, "sethostname %s", hostname);
    child_fail(sync_fd, error);
  }
  uva_autofd tap = -1;
  if (!uva_tap_setup(with_tap, UVA_DEFAULT_MTU, &tap, &error)) {
    g_prefix_error(&error, "network setup: ");
    child_fail(sync_fd, error);
  }
  if (tap >= 0) {
    UvaMsg m = {.type = UVA_MSG_TAP};
    if (!uva_msg_send(sync_fd, &m, tap, &error))
      child_fail(sync_fd, error);
  }
  uva_close_fdp(&tap);
  tap = -1;
  if (!uva_rootfs_setup(c, binds, &error)) {
    g_prefix_error(&error, "root filesystem: ");
    child_fail(sync_fd, error);
  }
  /* The manager's fds on host objects: mounted now, never the app's. */
  for (guint i = 0; i < binds->len; i++)
    close(g_array_index(binds, UvaBind, i).fd);
  uva_init_run(c, sync_fd, out_fd, err_fd);
}

gboolean uva_sandbox_start(const UvaContainerSpec *c, const GArray *binds,
                           gboolean with_tap, int out_fd, int err_fd,
                           UvaSandbox *out, GError **error) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return uva_fail_errno(error, errno, "socketpair");
  uva_autofd parent_end = sv[0];
  uva_autofd child_end = sv[1];

  /* Signals init forwards stay blocked across clone so none is lost before
   * init's signalfd exists; the manager's own mask is restored at once. */
  sigset_t block, old;
  uva_app_signal_set(&block);
  sigprocmask(SIG_BLOCK, &block, &old);
  /* The raw syscall, fork-like (no new stack): glibc's clone() wrapper wants
   * a function and a stack, and the manager is single-threaded here. */
  long pid = syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWPID | SIGCHLD, NULL,
                     NULL, NULL, NULL);
  int clone_err = errno;
  if (pid == 0)
    child_main(c, binds, with_tap, child_end, out_fd, err_fd);
  sigprocmask(SIG_SETMASK, &old, NULL);
  if (pid < 0)
    return fail_userns(error, clone_err, "creating user namespace (clone)");

  if (c->userns_auto
          ? !uva_subid_write_maps((pid_t)pid, c->subuid_start, c->subuid_count,
                                  c->subgid_start, c->subgid_count, error)
          : !write_maps((pid_t)pid, error)) {
    kill((pid_t)pid, SIGKILL);
    waitpid((pid_t)pid, NULL, 0);
    return FALSE;
  }
  UvaMsg go = {.type = UVA_MSG_GO};
  if (!uva_msg_send(parent_end, &go, -1, error)) {
    kill((pid_t)pid, SIGKILL);
    waitpid((pid_t)pid, NULL, 0);
    return FALSE;
  }
  out->pid = (pid_t)pid;
  out->sync_fd = uva_steal_fd(&parent_end);
  return TRUE;
}
