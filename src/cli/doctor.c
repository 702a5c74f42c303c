/* doctor.c - `uva_container check`.  Each probe does the real operation
 * the manager will do (create a user namespace and map our id, unshare a
 * network namespace, open /dev/net/tun, bind the ports) in a throw-away
 * child, so OK means it works, not that a sysctl looks right. */
#include "cli/doctor.h"

#include "base/util.h"
#include "cli/preflight.h"
#include "manager/confine.h"
#include "net/bypass.h"
#include "sandbox/execfmt.h"
#include "sandbox/sandbox.h"
#include "sandbox/seccomp.h"
#include "spec/portholder.h"
#include "spec/spec.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libslirp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>

static int failures;

static void report(gboolean ok, const char *what, const char *detail) {
  printf("%s  %-28s %s\n", ok ? "OK  " : "FAIL", what, detail ? detail : "");
  if (!ok)
    failures++;
}

/* In a forked child: a user namespace with our id mapped, then a network
 * namespace inside it.  The child returns the failing errno as its exit
 * status and the step in the high byte. */
static void probe_userns(void) {
  pid_t pid = fork();
  if (pid == 0) {
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (unshare(CLONE_NEWUSER) < 0)
      _exit(errno);
    g_autofree char *um = uva_id_map_text(uid);
    g_autofree char *gm = uva_id_map_text(gid);
    int err = uva_write_text("/proc/self/setgroups", "deny", FALSE);
    if (!err)
      err = uva_write_text("/proc/self/uid_map", um, FALSE);
    if (!err)
      err = uva_write_text("/proc/self/gid_map", gm, FALSE);
    if (err)
      _exit(100 + MIN(err, 99));
    if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0)
      _exit(200);
    _exit(0);
  }
  int st = 0;
  if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st)) {
    report(FALSE, "user namespaces", "could not run the probe");
    return;
  }
  int code = WEXITSTATUS(st);
  if (code == 0) {
    report(TRUE, "user namespaces", "user + network namespaces, id maps");
    return;
  }
  int err = code >= 200 ? EPERM : code >= 100 ? code - 100 : code;
  g_autofree char *hint = uva_sandbox_userns_hint(err);
  g_autofree char *detail =
      g_strdup_printf("%s: %s%s%s",
                      code >= 200   ? "network namespace refused"
                      : code >= 100 ? "writing uid_map refused"
                                    : "clone(CLONE_NEWUSER) failed",
                      g_strerror(err), hint ? "; " : "", hint ? hint : "");
  report(FALSE, "user namespaces", detail);
}

/* What each kernel feature the code uses needs (grep the sources for the
 * call).  "needed": the default containers do not run without it. */
static const struct {
  int major, minor;
  const char *what;
  gboolean needed;
} kernel_features[] = {
    {4, 13, "TIOCGPTPEER (run -t)", FALSE},
    {5, 2, "open_tree/move_mount (volumes, /app, /tmp)", TRUE},
    {5, 6, "openat2 (host paths without symlinks)", TRUE},
    {5, 9, "close_range (a container gets no manager fd)", TRUE},
    {5, 11, "CLOSE_RANGE_CLOEXEC (the app gets no init fd)", TRUE},
    {5, 12, "mount_setattr (read-only binds)", TRUE},
    {5, 13, "Landlock (manager confinement)", FALSE},
    {5, 14,
     "RLIMIT_NPROC per user namespace (--pids-limit counts the "
     "container only)",
     FALSE},
    {5, 9, "SECCOMP_IOCTL_NOTIF_ADDFD (--port-driver bypass)", FALSE},
    {5, 14, "SECCOMP_ADDFD_FLAG_SEND, SO_NETNS_COOKIE (bypass)", FALSE},
    {5, 19, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (bypass)", FALSE},
    {6, 7, "Landlock ABI 4 (TCP bind and connect)", FALSE},
    {6, 12, "Landlock ABI 6 (abstract sockets, signals)", FALSE},
};

char *uva_doctor_kernel_report(const char *release, gboolean *ok) {
  int major = 0, minor = 0;
  if (sscanf(release, "%d.%d", &major, &minor) != 2) {
    *ok = TRUE; /* unknown: the other probes say what works */
    return g_strdup_printf("%s: version not understood", release);
  }
  int need_major = 0, need_minor = 0;
  g_autoptr(GString) missing_needed = g_string_new(NULL);
  g_autoptr(GString) missing = g_string_new(NULL);
  for (size_t i = 0; i < G_N_ELEMENTS(kernel_features); i++) {
    int fmaj = kernel_features[i].major, fmin = kernel_features[i].minor;
    if (kernel_features[i].needed &&
        (fmaj > need_major || (fmaj == need_major && fmin > need_minor))) {
      need_major = fmaj;
      need_minor = fmin;
    }
    if (major > fmaj || (major == fmaj && minor >= fmin))
      continue;
    GString *list = kernel_features[i].needed ? missing_needed : missing;
    g_string_append_printf(list, "%s%s %d.%d", list->len ? ", " : "",
                           kernel_features[i].what, fmaj, fmin);
  }
  *ok = missing_needed->len == 0;
  if (!*ok)
    return g_strdup_printf("%s: the default needs Linux %d.%d or later; "
                           "missing %s%s%s; upgrade the kernel",
                           release, need_major, need_minor, missing_needed->str,
                           missing->len ? "; also " : "", missing->str);
  if (missing->len)
    return g_strdup_printf("%s (the default needs %d.%d); without: %s", release,
                           need_major, need_minor, missing->str);
  return g_strdup_printf("%s (the default needs %d.%d); every feature used "
                         "is there",
                         release, need_major, need_minor);
}

static void probe_kernel(void) {
  struct utsname u;
  if (uname(&u) < 0) {
    report(TRUE, "kernel", "uname failed");
    return;
  }
  gboolean ok;
  g_autofree char *detail = uva_doctor_kernel_report(u.release, &ok);
  report(ok, "kernel", detail);
  /* Opt-in drivers: never a FAIL, but said either way. */
  g_autoptr(GError) error = NULL;
  report(TRUE, "bypass drivers (opt-in)",
         uva_bypass_kernel_ok(u.release, &error)
             ? "available: SECCOMP_IOCTL_NOTIF_ADDFD (5.9), "
               "SECCOMP_ADDFD_FLAG_SEND and SO_NETNS_COOKIE (5.14), "
               "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (5.19)"
             : error->message);
}

/* 32-bit x86 programs in a container: never needed by uva_container and
 * never a FAIL, but a container that executes one gets ENOEXEC where the
 * kernel has no IA32 emulation, so the line says which this kernel is. */
static void probe_32bit(void) {
#ifdef __x86_64__
  static const char *const can[] = {"cannot tell", "yes", "no"};
  UvaExecCan i386 = uva_execfmt_can_run_i386();
  UvaExecCan x32 = uva_execfmt_can_run_x32();
  g_autofree char *d = g_strdup_printf(
      "i386: %s%s; x32: %s%s", can[i386],
      i386 == UVA_EXEC_CAN_NO
          ? " (no IA32 emulation: CONFIG_IA32_EMULATION, ia32_emulation=)"
          : "",
      can[x32], x32 == UVA_EXEC_CAN_NO ? " (CONFIG_X86_X32_ABI off)" : "");
  report(TRUE, "32-bit programs", d);
#endif
}

/* The AppArmor label this process runs under ("uva_container
 * (unconfined)"), or NULL where AppArmor does not say (not enabled).  The
 * per-LSM file (Linux 5.8), not attr/current, which another LSM owns. */
static char *apparmor_label(void) {
  char *l = uva_read_small_file("/proc/self/attr/apparmor/current", NULL);
  return l ? g_strstrip(l) : NULL;
}

#define UVA_APPARMOR_PROFILES "/sys/kernel/security/apparmor/profiles"
#define UVA_APPARMOR_LOAD                                                      \
  "sudo apparmor_parser -r /etc/apparmor.d/uva_container (make install and "   \
  "the package install it)"

/* Ubuntu 23.10+ refuses user namespaces to unconfined programs
 * (kernel.apparmor_restrict_unprivileged_userns=1) unless a profile grants
 * `userns`: ours does (contrib/apparmor), for the installed binary's path.
 * One line for the restriction, one for the profile, each with the fix. */
static void probe_apparmor(void) {
  g_autofree char *v = uva_read_small_file(
      "/proc/sys/kernel/apparmor_restrict_unprivileged_userns", NULL);
  gboolean restricted = v && atoi(v) != 0;
  g_autofree char *label = apparmor_label();
  gboolean ours = label && (g_str_equal(label, "uva_container") ||
                            g_str_has_prefix(label, "uva_container "));
  if (!v)
    report(TRUE, "AppArmor userns restriction", "not present");
  else if (!restricted)
    report(TRUE, "AppArmor userns restriction",
           "off (kernel.apparmor_restrict_unprivileged_userns=0)");
  else if (ours)
    report(TRUE, "AppArmor userns restriction",
           "on; this binary runs under the uva_container profile, which "
           "allows user namespaces");
  else {
    g_autofree char *hint = uva_sandbox_userns_hint(EPERM);
    report(FALSE, "AppArmor userns restriction", hint);
  }

  const char *what = "AppArmor profile";
  g_autoptr(GError) error = NULL;
  g_autofree char *profiles =
      uva_read_small_file(UVA_APPARMOR_PROFILES, &error);
  if (!profiles && !label &&
      !g_file_test("/sys/kernel/security/apparmor", G_FILE_TEST_IS_DIR)) {
    report(TRUE, what, "AppArmor is not enabled: none needed");
    return;
  }
  if (!profiles) {
    g_autofree char *d = g_strdup_printf(
        "cannot tell whether uva_container is loaded (%s); this process runs "
        "as %s%s%s",
        error->message, label ? label : "an unknown label",
        restricted && !ours ? ": " : "",
        restricted && !ours ? UVA_APPARMOR_LOAD : "");
    report(ours || !restricted, what, d);
    return;
  }
  gboolean loaded = FALSE;
  g_auto(GStrv) lines = g_strsplit(profiles, "\n", -1);
  for (char **l = lines; *l && !loaded; l++)
    loaded = g_str_has_prefix(*l, "uva_container ");
  if (loaded && ours)
    report(TRUE, what, "uva_container loaded; this binary runs under it");
  else if (loaded) {
    g_autofree char *exe = g_file_read_link("/proc/self/exe", NULL);
    g_autofree char *d = g_strdup_printf(
        "uva_container loaded, but not for this binary (%s): it names the "
        "installed path; run that one%s",
        exe ? exe : "?",
        restricted ? "" : " (not needed while the restriction is off)");
    report(!restricted, what, d);
  } else {
    g_autofree char *d = g_strdup_printf(
        "uva_container not loaded%s: " UVA_APPARMOR_LOAD,
        restricted ? "" : " (not needed while the restriction is off)");
    report(!restricted, what, d);
  }
}

static void probe_ports(void) {
  const int ports[] = {18080, 28080};
  for (size_t i = 0; i < G_N_ELEMENTS(ports); i++) {
    g_autofree char *what = g_strdup_printf("port 127.0.0.1:%d", ports[i]);
    uva_autofd s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)ports[i])};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0)
      report(TRUE, what, "free");
    else {
      int err = errno;
      g_autofree char *holder =
          err == EADDRINUSE ? uva_portholder_describe((guint16)ports[i], FALSE)
                            : NULL;
      g_autofree char *d = g_strdup_printf(
          "%s%s%s (the default containers need it)", g_strerror(err),
          holder ? ": held by " : "", holder ? holder : "");
      report(FALSE, what, d);
    }
  }
}

/* Which layers will confine the manager once its containers are started
 * (confine.c).  Neither is a failure when missing: the manager runs
 * without it, and the line says what is lost.  The seccomp filter is
 * installed for real, in a throw-away child. */
static void probe_confinement(void) {
#if defined(__SANITIZE_ADDRESS__)
  report(TRUE, "manager confinement",
         "off in this sanitizer build (LeakSanitizer needs ptrace and /proc)");
  return;
#endif
  int abi = uva_confine_landlock_abi();
  g_autofree char *ll = uva_confine_describe_landlock(abi);
  report(TRUE, "manager Landlock", ll);
  pid_t pid = fork();
  if (pid == 0)
    _exit(uva_seccomp_manager_filter(NULL, 0, NULL, 0) < 0 ? MIN(errno, 255)
                                                           : 0);
  int st = 0;
  if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st)) {
    report(TRUE, "manager seccomp filter", "could not run the probe");
    return;
  }
  g_autofree char *detail =
      WEXITSTATUS(st) == 0
          ? g_strdup("allow-list; socket, ioctl and kill argument filters")
          : g_strdup_printf("refused (%s): the manager runs unfiltered",
                            g_strerror(WEXITSTATUS(st)));
  report(TRUE, "manager seccomp filter", detail);
}

int uva_doctor_run(const char *recorder_path, const char *not_found) {
  failures = 0;
  probe_kernel();
  probe_32bit();
  probe_userns();
  probe_apparmor();
  g_autoptr(GError) error = NULL;
  if (uva_preflight_tun(&error))
    report(TRUE, "/dev/net/tun", "readable and writable");
  else
    report(FALSE, "/dev/net/tun", error->message);
  g_clear_error(&error);
  g_autofree char *ver = g_strdup_printf("libslirp %s", slirp_version_string());
  report(TRUE, "libslirp", ver);
  g_autoptr(UvaSpec) spec =
      recorder_path ? uva_spec_default(recorder_path, "/nonexistent") : NULL;
  if (!spec)
    report(FALSE, "http_recorder.py + python3", not_found);
  else if (uva_preflight_command(spec->containers->pdata[0], &error))
    report(TRUE, "http_recorder.py + python3", recorder_path);
  else
    report(FALSE, "http_recorder.py + python3", error->message);
  probe_ports();
  probe_confinement();
  printf("%s\n", failures ? "Some checks failed: see the lines marked FAIL."
                          : "This machine can run uva_container.");
  return failures ? 1 : 0;
}
