/* preflight.c - find the command the container will run, on the host side
 * of its mounts: the container's /usr, /bin, /lib and /etc are the host's
 * (read-only), /app is the workdir, and extra binds map their targets. */
#include "cli/preflight.h"

#include "base/util.h"
#include "net/tap.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

gboolean uva_preflight_tun(GError **error) {
  if (access("/dev/net/tun", R_OK | W_OK) == 0)
    return TRUE;
  return uva_tap_fail_open(error, errno, "use");
}

static char *search_path(const char *name) {
  g_auto(GStrv) dirs = g_strsplit(UVA_APP_PATH, ":", -1);
  for (char **d = dirs; *d; d++) {
    g_autofree char *p = g_build_filename(*d, name, NULL);
    if (access(p, X_OK) == 0)
      return g_steal_pointer(&p);
  }
  return NULL;
}

char *uva_preflight_host_path(const UvaContainerSpec *c, const char *argv0) {
  if (!strchr(argv0, '/'))
    return search_path(argv0);
  for (guint i = 0; i < c->mounts->len; i++) {
    const UvaMount *m = &g_array_index(c->mounts, UvaMount, i);
    if (g_str_equal(m->target, argv0))
      return g_strdup(m->source);
  }
  if (argv0[0] != '/')
    return g_build_filename(c->workdir, argv0, NULL);
  if (g_str_has_prefix(argv0, UVA_APP_DIR "/"))
    return g_build_filename(c->workdir, argv0 + strlen(UVA_APP_DIR), NULL);
  return g_strdup(argv0);
}

/* Checks the #! line of an executable script at host path. */
static gboolean check_interpreter(const char *shown, const char *path,
                                  GError **error) {
  /* The path may lie in a workdir the app wrote: a FIFO swapped in after
   * the S_ISREG check must not block us (O_NONBLOCK). */
  uva_autofd fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0)
    return uva_fail_errno(error, errno, "cannot read %s", path);
  char head[256];
  ssize_t n = read(fd, head, sizeof head - 1);
  if (n < 2 || head[0] != '#' || head[1] != '!')
    return TRUE; /* a binary, or a script for the default shell */
  head[n] = '\0';
  char *nl = strchr(head, '\n');
  if (nl)
    *nl = '\0';
  g_auto(GStrv) words = g_strsplit_set(g_strstrip(head + 2), " \t", 3);
  if (!words[0])
    return TRUE;
  const char *interp = words[0];
  if (g_str_has_suffix(interp, "/env") && words[1]) {
    g_autofree char *found = search_path(words[1]);
    if (!found)
      return uva_fail(error,
                      "%s not found: %s starts with '#!%s %s', and no %s is "
                      "in the container's PATH (%s); install it (for "
                      "python3: 'sudo apt-get install python3')",
                      words[1], shown, interp, words[1], words[1],
                      UVA_APP_PATH);
    return TRUE;
  }
  if (access(interp, X_OK) < 0)
    return uva_fail_errno(error, errno,
                          "the interpreter %s named on the #! line of %s",
                          interp, shown);
  return TRUE;
}

gboolean uva_preflight_command(const UvaContainerSpec *c, GError **error) {
  const char *argv0 = c->argv[0];
  g_autofree char *host = uva_preflight_host_path(c, argv0);
  if (!host)
    return uva_fail(error,
                    "%s: command %s not found in the container's PATH "
                    "(%s)",
                    c->name, argv0, UVA_APP_PATH);
  g_autofree char *base = g_path_get_basename(host);
  struct stat st;
  if (stat(host, &st) < 0)
    return uva_fail_errno(error, errno, "%s: %s not found at %s", c->name, base,
                          host);
  if (!S_ISREG(st.st_mode))
    return uva_fail(error, "%s: %s is not a regular file", c->name, host);
  if (access(host, X_OK) < 0) {
    int err = errno;
    return uva_fail(error, "%s: %s is not executable: %s; run 'chmod +x %s'",
                    c->name, host, g_strerror(err), host);
  }
  if (!check_interpreter(host, host, error)) {
    g_prefix_error(error, "%s: ", c->name);
    return FALSE;
  }
  return TRUE;
}
