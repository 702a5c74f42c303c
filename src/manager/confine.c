/* confine.c - the manager confined once every container is started, in the
 * spirit of passt's isolation.c and slirp4netns --enable-sandbox.
 *
 * Theory of operation.  After start-up the manager only moves bytes
 * between the fds it holds (taps, published sockets, sync sockets, output
 * pipes), runs libslirp, prints lines, and stops and reaps its inits.  Code
 * that takes over the manager (say, through a bug in libslirp, which parses
 * every packet a container sends) should find nothing else to reach.  Two
 * layers, each of which an unprivileged process may put on itself:
 *
 *  - Landlock (landlock(7)), first, since the seccomp filter refuses the
 *    landlock syscalls: a ruleset that handles every filesystem right of
 *    the running ABI and grants one, reading /etc/resolv.conf, which
 *    libslirp's DNS forwarder (10.0.2.3) opens at the first query and
 *    again whenever stat(2) shows the file changed (libslirp's slirp.c,
 *    get_dns_addr_resolv_conf; strace shows openat("/etc/resolv.conf",
 *    O_RDONLY)).  Landlock checks every open, also one relative to a
 *    directory fd opened before (the flock(2) fd on each container's /tmp),
 *    so no fd the manager keeps is a way back into the filesystem.  From
 *    ABI 4 it handles TCP bind and grants no port: every published port is
 *    bound before.  TCP connect is not handled: libslirp connects out for
 *    the containers and the splice driver finishes connects that init
 *    passes back.  From ABI 6 the abstract unix socket scope: no connecting
 *    to the user's abstract sockets (an X server, a D-Bus bus).
 *
 *    Not the signal scope: it forbids signals to any process outside the
 *    manager's new domain, and the inits were cloned before it, so they are
 *    outside.  Measured on Linux 6.18: after restrict_self with
 *    LANDLOCK_SCOPE_SIGNAL, kill() and pidfd_send_signal() on a pidfd opened
 *    before both fail with EPERM for a child forked earlier (Landlock's
 *    hook is security_task_kill, which both calls reach).  The manager could
 *    then not stop its containers, so signals are seccomp's job.
 *
 *  - the seccomp allow-list (seccomp.c): no execve, no open for writing,
 *    Internet sockets only, no bind or listen, two ioctl requests, kill()
 *    only to itself and its inits, no ptrace or process_vm_*.
 *
 * Where Landlock is missing (before Linux 5.13, or disabled), passt's way
 * instead: a user and mount namespace of the manager's own whose root is
 * an empty tmpfs holding only /etc/resolv.conf (bound read-only), so no
 * path, and no ".." from a directory fd kept (its mount is detached),
 * reaches the user's files.  Signals still reach the inits: kill(2) checks
 * the uids, which the new namespace maps to themselves.  `check` says which
 * layers this machine has.
 *
 * What must be opened before confining: every file the manager will
 * write or read later (a per-container log file: open it, O_APPEND, at
 * start-up; reopening or rotating it later is refused) and every socket it
 * will listen or accept on (a control socket: bind and listen before;
 * accept() and recvmsg() stay allowed).  Fds received later with
 * SCM_RIGHTS work: Landlock decides a file's rights when it is opened, by
 * the opener's domain, and seccomp does not look at fds. */
#include "manager/confine.h"

#include "base/util.h"
#include "sandbox/seccomp.h"

#include <fcntl.h>
#include <linux/landlock.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

/* Debian 12's kernel headers stop at ABI 2; the values are the kernel's
 * uapi (include/uapi/linux/landlock.h). */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP (1ULL << 0)
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#endif

/* struct landlock_ruleset_attr as of ABI 6.  An older kernel takes the
 * larger struct as long as the fields it does not know are zero
 * (copy_struct_from_user), so one layout serves every ABI. */
struct uva_ruleset_attr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;
  uint64_t scoped;
};

#define RESOLV_CONF "/etc/resolv.conf"

#if defined(__SANITIZE_ADDRESS__)
#define UVA_SANITIZED 1
#else
#define UVA_SANITIZED 0
#endif

int uva_confine_landlock_abi(void) {
  long abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
                     LANDLOCK_CREATE_RULESET_VERSION);
  return abi < 0 ? 0 : (int)abi;
}

/* Every filesystem right ABI abi knows: handled and not granted is denied. */
static uint64_t fs_rights(int abi) {
  uint64_t r = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1 */
  if (abi >= 2)
    r |= LANDLOCK_ACCESS_FS_REFER;
  if (abi >= 3)
    r |= LANDLOCK_ACCESS_FS_TRUNCATE;
  if (abi >= 5)
    r |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
  return r;
}

char *uva_confine_describe_landlock(int abi) {
  if (abi <= 0)
    return g_strdup("not available: the manager runs in an empty root of "
                    "its own instead (a user and mount namespace holding "
                    "only /etc/resolv.conf)");
  return g_strdup_printf(
      "ABI %d: filesystem%s%s", abi,
      abi >= 4 ? ", TCP bind" : " (TCP bind rules need ABI 4)",
      abi >= 6 ? ", abstract unix socket scope"
               : " (abstract unix socket scope needs ABI 6)");
}

static gboolean landlock_restrict(int abi, GError **error) {
  struct uva_ruleset_attr attr = {.handled_access_fs = fs_rights(abi)};
  if (abi >= 4)
    attr.handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP;
  if (abi >= 6)
    attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET;
  uva_autofd ruleset =
      (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
  if (ruleset < 0)
    return uva_fail_errno(error, errno, "Landlock: creating a ruleset");
  /* The rule sits on the file's inode (O_PATH follows a symlink to it): a
   * resolv.conf rewritten in place stays readable; one replaced by
   * rename(2) is a new inode, whose reread Landlock refuses (EACCES), so a
   * new nameserver needs a restart of the manager.  Granting the whole
   * directory instead would grant all of /etc.  No resolv.conf: no rule;
   * libslirp finds none either way. */
  uva_autofd file = open(RESOLV_CONF, O_PATH | O_CLOEXEC);
  if (file >= 0) {
    struct landlock_path_beneath_attr rule = {
        .allowed_access = LANDLOCK_ACCESS_FS_READ_FILE, .parent_fd = file};
    if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH,
                &rule, 0) < 0)
      return uva_fail_errno(error, errno, "Landlock: a rule for %s",
                            RESOLV_CONF);
  }
  /* restrict_self needs no_new_privs (or CAP_SYS_ADMIN). */
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return uva_fail_errno(error, errno, "prctl(PR_SET_NO_NEW_PRIVS)");
  if (syscall(SYS_landlock_restrict_self, ruleset, 0) < 0)
    return uva_fail_errno(error, errno, "Landlock: restricting the manager");
  return TRUE;
}

static gboolean write_proc_self(const char *file, const char *text,
                                GError **error) {
  g_autofree char *path = g_strdup_printf("/proc/self/%s", file);
  int err = uva_write_text(path, text, FALSE);
  return err ? uva_fail_errno(error, err, "writing %s", path) : TRUE;
}

/* The fallback where Landlock is missing: the manager's own root, empty
 * but for /etc/resolv.conf.  Single-threaded here, as unshare(2) with
 * CLONE_NEWUSER requires. */
static gboolean empty_root(GError **error) {
  g_autofree char *uid_map = g_strdup_printf("%u %u 1\n", geteuid(), geteuid());
  g_autofree char *gid_map = g_strdup_printf("%u %u 1\n", getegid(), getegid());
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
    return uva_fail_errno(error, errno, "unshare(CLONE_NEWUSER|CLONE_NEWNS)");
  if (!write_proc_self("setgroups", "deny", error) ||
      !write_proc_self("uid_map", uid_map, error) ||
      !write_proc_self("gid_map", gid_map, error))
    return FALSE;
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
      mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
            "size=64k,mode=0755") < 0)
    return uva_fail_errno(error, errno, "mounting the manager's empty root");
  if (mkdir("/tmp/etc", 0755) < 0)
    return uva_fail_errno(error, errno, "mkdir in the manager's empty root");
  uva_autofd f = open("/tmp/etc/resolv.conf",
                      O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  /* libslirp's DNS forwarder rereads it; a host without one has none. */
  if (f >= 0 && mount("/etc/resolv.conf", "/tmp/etc/resolv.conf", NULL, MS_BIND,
                      NULL) == 0)
    (void)mount(NULL, "/tmp/etc/resolv.conf", NULL,
                MS_BIND | MS_REMOUNT | MS_RDONLY, NULL);
  /* pivot_root(".", ".") stacks the old root on the new one; detaching it
   * leaves only the tmpfs (pivot_root(2), NOTES). */
  if (chdir("/tmp") < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
      umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
    return uva_fail_errno(error, errno, "entering the manager's empty root");
  return TRUE;
}

gboolean uva_confine_manager(const pid_t *inits, guint n_inits,
                             const int *listen_fds, guint n_listen,
                             GError **error) {
  /* RLIMIT_NOFILE was raised before the first container (sandbox.h). */
  /* Sanitizer builds: LeakSanitizer's check at exit ptraces the process,
   * which the seccomp filter forbids, and reads /proc, which Landlock
   * forbids (measured: under a Landlock ruleset alone it stops with
   * "LeakSanitizer has encountered a fatal error"). */
  if (UVA_SANITIZED)
    return TRUE;
  GError *ll_error = NULL;
  int abi = uva_confine_landlock_abi();
#ifdef UVA_TEST_HOOKS
  /* Test builds only: a machine without Landlock. */
  if (g_getenv("UVA_TEST_HOOK_NO_LANDLOCK"))
    abi = 0;
#endif
  gboolean ll_ok =
      abi > 0 ? landlock_restrict(abi, &ll_error) : empty_root(&ll_error);
#ifdef UVA_TEST_HOOKS
  /* Test builds only: Landlock alone, to show what it stops by itself. */
  if (g_getenv("UVA_TEST_HOOK_NO_SECCOMP")) {
    if (!ll_ok)
      g_propagate_error(error, ll_error);
    return ll_ok;
  }
#endif
  if (uva_seccomp_manager_filter(inits, n_inits, listen_fds, n_listen) < 0) {
    int e = errno;
    g_clear_error(&ll_error);
    return uva_fail_errno(error, e, "installing the seccomp filter");
  }
  if (!ll_ok) {
    g_propagate_error(error, ll_error);
    return FALSE;
  }
  return TRUE;
}

#ifdef UVA_TEST_HOOKS
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>

static void probe_line(const char *what, long rc, int err) {
  fprintf(stderr, "uva_container: test hook: %s: %s\n", what,
          rc < 0 ? g_strerror(err) : "allowed");
}

#define PROBE(what, call)                                                      \
  do {                                                                         \
    errno = 0;                                                                 \
    long rc_ = (long)(call);                                                   \
    probe_line((what), rc_, errno);                                            \
  } while (0)

/* The same for a call that returns an fd, closed again when allowed. */
#define PROBE_FD(what, call)                                                   \
  do {                                                                         \
    errno = 0;                                                                 \
    int fd_ = (call);                                                          \
    probe_line((what), fd_, errno);                                            \
    if (fd_ >= 0)                                                              \
      close(fd_);                                                              \
  } while (0)

/* Each operation is tried for real: on a manager that is not confined it
 * succeeds, which is what the tests must see fail.  UVA_TEST_HOOK_READ
 * names a file of the user's to read, UVA_TEST_HOOK_VICTIM the pid of
 * another process of the user's (which a kill would end). */
void uva_confine_test_probe(void) {
  if (UVA_SANITIZED) {
    /* Not confined (see uva_confine_manager): the execve would succeed. */
    fprintf(stderr, "uva_container: test hook: a sanitizer build is not "
                    "confined\n");
    return;
  }
  char *argv[] = {(char *)"/bin/true", NULL};
  PROBE("execve", execve(argv[0], argv, argv + 1));
  PROBE_FD("open", open("/tmp/uva-test-hook-probe",
                        O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  const char *path = g_getenv("UVA_TEST_HOOK_READ");
  if (path) {
    g_autofree char *what = g_strdup_printf("open %s for reading", path);
    PROBE_FD(what, open(path, O_RDONLY | O_CLOEXEC));
  }
  /* Every directory fd the manager holds, whoever opened it: listed
   * first, so what an allowed openat returns is not probed again. */
  int dir_fds[1024];
  int dirs = 0;
  for (int fd = 0; fd < 1024; fd++) {
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
      dir_fds[dirs++] = fd;
  }
  for (int i = 0; i < dirs; i++) {
    int fd = dir_fds[i];
    PROBE_FD("openat(directory fd, \"..\")",
             openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    PROBE_FD("openat(directory fd, \".\")",
             openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  }
  fprintf(stderr, "uva_container: test hook: directory fds: %d\n", dirs);
  PROBE_FD("socket(AF_UNIX)", socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  PROBE_FD("socket(AF_NETLINK)",
           socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0 /* NETLINK_ROUTE */));
  /* Keystroke injection into the terminal, and the same request with high
   * bits set (CVE-2019-10063): the kernel runs both as TIOCSTI. */
  for (int fd = 0; fd <= 2; fd++) {
    char c = ' ';
    fprintf(stderr, "uva_container: test hook: fd %d is a terminal: %s\n", fd,
            isatty(fd) ? "yes" : "no");
    g_autofree char *w1 = g_strdup_printf("ioctl(%d, TIOCSTI)", fd);
    PROBE(w1, syscall(SYS_ioctl, fd, (unsigned long)TIOCSTI, &c));
    g_autofree char *w2 = g_strdup_printf("ioctl(%d, TIOCSTI | 1 << 32)", fd);
    PROBE(w2, syscall(SYS_ioctl, fd, (unsigned long)TIOCSTI | (1UL << 32), &c));
  }
  const char *victim_s = g_getenv("UVA_TEST_HOOK_VICTIM");
  pid_t victim = victim_s ? (pid_t)g_ascii_strtoll(victim_s, NULL, 10) : 0;
  if (victim > 1) {
    PROBE("kill(another process of the user)", kill(victim, SIGTERM));
    PROBE("ptrace(PTRACE_ATTACH)", ptrace(PTRACE_ATTACH, victim, 0, 0));
    char buf[8];
    struct iovec local = {buf, sizeof buf};
    struct iovec remote = {(void *)0x400000, sizeof buf};
    PROBE("process_vm_readv",
          process_vm_readv(victim, &local, 1, &remote, 1, 0));
  }
  /* An abstract unix socket of the user's (an X server, a D-Bus bus). */
  const char *abstract = g_getenv("UVA_TEST_HOOK_ABSTRACT");
  if (abstract) {
    uva_autofd u = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int socket_err = errno;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    gsize len = MIN(strlen(abstract), sizeof sun.sun_path - 1);
    memcpy(sun.sun_path + 1, abstract, len);
    socklen_t sun_len =
        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len);
    if (u < 0)
      probe_line("connect(abstract unix socket)", -1, socket_err);
    else
      PROBE("connect(abstract unix socket)",
            connect(u, (struct sockaddr *)&sun, sun_len));
  }
  /* A new listening port: bind, or listen() alone, which binds a port. */
  uva_autofd s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  PROBE("bind(new TCP socket)", bind(s, (struct sockaddr *)&a, sizeof a));
  uva_autofd s2 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  PROBE("listen(new TCP socket)", listen(s2, 1));
}
#endif
