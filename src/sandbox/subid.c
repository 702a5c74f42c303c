/* subid.c - `--userns auto`: a user namespace with a full range of ids, as
 * rootless podman makes one.
 *
 * An unprivileged process may write only one line mapping its own id
 * (user_namespaces(7), "Defining user and group ID mappings"); more needs
 * the setuid helpers newuidmap(1) and newgidmap(1), which allow exactly
 * the ranges root delegated to the user in /etc/subuid and /etc/subgid
 * (subuid(5)).  Inside, 0 is the user's own id and 1 .. N the range, so
 * the app runs as root of its namespace: chown(2) and setuid(2) to other
 * ids and servers that switch users work.  setgroups(2) stays allowed,
 * so initgroups(3) works too; it also lets the app drop the supplementary
 * groups it inherited, the reason an unprivileged map must deny it
 * (user_namespaces(7), "/proc/[pid]/setgroups"): root accepted that by
 * delegating the range, as for rootless podman. */
#include "sandbox/subid.h"

#include "base/util.h"

#include <string.h>
#include <sys/wait.h>

gboolean uva_subid_find(const char *text, const char *name, unsigned id,
                        guint32 *start, guint32 *count) {
  g_autofree char *id_text = g_strdup_printf("%u", id);
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  for (char **l = lines; *l; l++) {
    g_auto(GStrv) f = g_strsplit(*l, ":", -1);
    guint64 s = 0, n = 0;
    if (g_strv_length(f) != 3 ||
        !(g_str_equal(f[0], id_text) || (name && g_str_equal(f[0], name))) ||
        !g_ascii_string_to_unsigned(f[1], 10, 1, G_MAXUINT32, &s, NULL) ||
        !g_ascii_string_to_unsigned(f[2], 10, 1, G_MAXUINT32, &n, NULL) ||
        s + n - 1 > G_MAXUINT32)
      continue;
    *start = (guint32)s;
    *count = (guint32)n;
    return TRUE;
  }
  return FALSE;
}

gboolean uva_subid_lookup(const char *path, const char *name, unsigned id,
                          guint32 *start, guint32 *count, GError **error) {
  g_autoptr(GError) local = NULL;
  g_autofree char *text = NULL;
  /* Not uva_read_small_file(): a site's list may pass 4 KiB. */
  if (!g_file_get_contents(path, &text, NULL, &local) &&
      !g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    return uva_fail(error, "--userns auto: %s", local->message);
  if (text && uva_subid_find(text, name, id, start, count))
    return TRUE;
  return uva_fail(error,
                  "--userns auto: %s has no range for %s (uid %u); "
                  "ask root for one, e.g. 'sudo usermod --add-subuids "
                  "100000-165535 --add-subgids 100000-165535 %s'",
                  path, name ? name : "you", id, name ? name : "USER");
}

char *uva_subid_helper(const char *name, GError **error) {
  static const char *const dirs[] = {"/usr/bin", "/bin", "/usr/sbin"};
  for (size_t i = 0; i < G_N_ELEMENTS(dirs); i++) {
    g_autofree char *p = g_build_filename(dirs[i], name, NULL);
    if (access(p, X_OK) == 0)
      return g_steal_pointer(&p);
  }
  uva_fail(error,
           "--userns auto: %s not found in /usr/bin: install it "
           "('sudo apt-get install uidmap')",
           name);
  return NULL;
}

static gboolean run_helper(const char *name, pid_t pid, unsigned own,
                           guint32 start, guint32 count, GError **error) {
  g_autofree char *helper = uva_subid_helper(name, error);
  if (!helper)
    return FALSE;
  g_autofree char *p = g_strdup_printf("%d", (int)pid);
  g_autofree char *o = g_strdup_printf("%u", own);
  g_autofree char *s = g_strdup_printf("%u", start);
  g_autofree char *n = g_strdup_printf("%u", count);
  const char *argv[] = {helper, p, "0", o, "1", "1", s, n, NULL};
  g_autofree char *err_text = NULL;
  int status = 0;
  /* Synchronous, before the manager's loop runs: it waits for this pid
   * alone, and the SIGCHLD it leaves on the signalfd finds nothing. */
  if (!g_spawn_sync(NULL, (char **)argv, NULL,
                    G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_CLOEXEC_PIPES, NULL,
                    NULL, NULL, &err_text, &status, error)) {
    g_prefix_error(error, "--userns auto: ");
    return FALSE;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return uva_fail(
        error, "--userns auto: %s %s 0 %s 1 1 %s %s failed: %s", name, p, o, s,
        n, err_text && *err_text ? g_strstrip(err_text) : "no message");
  return TRUE;
}

gboolean uva_subid_write_maps(pid_t pid, guint32 uid_start, guint32 uid_count,
                              guint32 gid_start, guint32 gid_count,
                              GError **error) {
  return run_helper("newuidmap", pid, (unsigned)getuid(), uid_start, uid_count,
                    error) &&
         run_helper("newgidmap", pid, (unsigned)getgid(), gid_start, gid_count,
                    error);
}
