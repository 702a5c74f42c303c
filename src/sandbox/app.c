/* app.c - how an app process starts inside a container, for init's app
 * (init.c) and for `exec`'s commands (execin.c) alike: its environment,
 * its signal mask, its confinement (no_new_privs, capabilities, seccomp)
 * and the execve(2) that looks its command up in UVA_APP_PATH.  A file of
 * its own so that init.c and execin.c both call it and neither calls the
 * other back (issue 25: they included each other). */
#include "sandbox/app.h"

#include "sandbox/execfmt.h"
#include "sandbox/seccomp.h"

#include <linux/capability.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static const int forwarded[] = {SIGTERM, SIGINT,  SIGHUP,  SIGQUIT,
                                SIGUSR1, SIGUSR2, SIGWINCH};

void uva_app_signal_set(sigset_t *set) {
  sigemptyset(set);
  for (size_t i = 0; i < G_N_ELEMENTS(forwarded); i++)
    sigaddset(set, forwarded[i]);
  sigaddset(set, SIGCHLD);
}

char **uva_app_env(const UvaContainerSpec *c) {
  GStrvBuilder *b = g_strv_builder_new();
  g_strv_builder_add(b, "PATH=" UVA_APP_PATH);
  /* HOME, USER and LOGNAME as login(1) sets them from the passwd entry
   * the container sees (the host's /etc/passwd, read-only): its home is
   * a private tmpfs (rootfs.c). */
  g_autofree char *home = g_strdup_printf("HOME=%s", uva_container_home(c));
  g_strv_builder_add(b, home);
  g_autofree char *user = c->user ? g_strdup_printf("USER=%s", c->user) : NULL;
  g_autofree char *logname =
      c->user ? g_strdup_printf("LOGNAME=%s", c->user) : NULL;
  if (user) {
    g_strv_builder_add(b, user);
    g_strv_builder_add(b, logname);
  }
  g_strv_builder_add(b, "LANG=C.UTF-8");
  g_strv_builder_add(b, "container=uva_container");
  g_autofree char *host =
      g_strdup_printf("HOSTNAME=%s", uva_container_hostname(c));
  g_strv_builder_add(b, host);
  char **env = g_strv_builder_end(b);
  g_strv_builder_unref(b);
  /* The user's entries win over ours (a later one replaces an earlier). */
  for (char **e = c->env; e && *e; e++) {
    g_autofree char *name = g_strndup(*e, strcspn(*e, "="));
    env = g_environ_setenv(env, name, strchr(*e, '=') + 1, TRUE);
  }
  return env;
}

/* Docker's default capabilities, for `--userns auto`, where the app is
 * root of a namespace that maps only the user's delegated ids: enough to
 * chown, switch users and bind low ports inside; each acts only on what
 * the namespace owns (user_namespaces(7), "Capabilities"). */
static const int auto_caps[] = {
    CAP_CHOWN,   CAP_DAC_OVERRIDE, CAP_FSETID,           CAP_FOWNER,
    CAP_MKNOD,   CAP_NET_RAW,      CAP_SETGID,           CAP_SETUID,
    CAP_SETFCAP, CAP_SETPCAP,      CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT,
    CAP_KILL,    CAP_AUDIT_WRITE};

/* The app's capabilities: none at all by default, else Docker's set
 * (--userns auto): bounding set, ambient, then the three sets
 * (capabilities(7)).  By default our uid inside is not 0, so execve would
 * clear them anyway; doing it here keeps that true for any mapping.  With
 * --userns auto the app is uid 0 inside, and execve gives root the
 * bounding set: that set is what it keeps. */
static int drop_capabilities(const UvaContainerSpec *c) {
  guint64 keep = 0;
  for (size_t i = 0; c->userns_auto && i < G_N_ELEMENTS(auto_caps); i++)
    keep |= 1ULL << auto_caps[i];
  for (int cap = 0; cap <= 63; cap++)
    if (!(keep & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
        errno != EINVAL)
      return -1;
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
    return -1;
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  for (int i = 0; i < 2; i++)
    data[i].effective = data[i].permitted = (guint32)(keep >> (32 * i));
  return (int)syscall(SYS_capset, &hdr, data);
}

int uva_app_exec(char **argv, char **env) {
  const char *cmd = argv[0];
  if (strchr(cmd, '/')) {
    execve(cmd, argv, env);
    return uva_execfmt_exec_error(cmd, errno);
  }
  int err = ENOENT;
  g_auto(GStrv) dirs = g_strsplit(UVA_APP_PATH, ":", -1);
  for (char **d = dirs; *d; d++) {
    g_autofree char *path = g_build_filename(*d, cmd, NULL);
    execve(path, argv, env);
    if (errno != ENOENT)
      err = uva_execfmt_exec_error(path, errno);
  }
  return err;
}

void uva_app_fail(int status_fd, int code) {
  (void)!write(status_fd, &code, sizeof code);
  _exit(127);
}

gboolean uva_app_uses_bypass(const UvaContainerSpec *c) {
  return c->port_driver == UVA_PORT_DRIVER_BYPASS || c->outbound_bypass;
}

/* Under bypass: the app's filter with a notification listener, which only
 * the manager may hold (bypass.c).  The app cannot send it itself: its
 * own sendmsg() would wait for a manager that does not have the fd yet
 * if it were notified, and letting one fd number through the filter
 * would let the app use that number later.  So it writes the fd's number
 * as -(fd + 1) on the status pipe (errnos are positive), init takes the
 * fd with pidfd_getfd(2) (init is the parent: ptrace access) and passes
 * it on, and the app waits on go_fd until then.  The listener is
 * close-on-exec: after exec the app holds none. */
static int install_filter(const UvaContainerSpec *c, int status_fd, int go_fd) {
  if (!uva_app_uses_bypass(c))
    return uva_seccomp_app_filter(!c->userns_auto);
  int listener = uva_seccomp_app_filter_bypass(!c->userns_auto);
  if (listener < 0)
    return -1;
  int word = -(listener + 1);
  char go;
  if (write(status_fd, &word, sizeof word) != sizeof word ||
      read(go_fd, &go, 1) != 1) {
    errno = EPIPE;
    return -1;
  }
  close(listener);
  return 0;
}

int uva_app_confine(const UvaContainerSpec *c, int status_fd, int go_fd) {
  /* Nothing but stdio survives exec: whatever else init holds is marked
   * close-on-exec (close_range(2), Linux 5.11). */
  (void)syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
  for (int sig = 1; sig < NSIG; sig++)
    (void)signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
    return -1;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || drop_capabilities(c) < 0)
    return -1;
  return status_fd >= 0 ? install_filter(c, status_fd, go_fd)
                        : uva_seccomp_app_filter(!c->userns_auto);
}
