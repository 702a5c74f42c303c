/* cli.c - the commands that talk to running managers over the control
 * channel (ctl.h): ps, stop, down and logs.  They run as the user, in the
 * user's shell, and may block; none of them is ever part of a manager. */
#include "cli/cli.h"

#include "base/util.h"
#include "ipc/ctl.h"
#include "manager/logfile.h"
#include "spec/specfile.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define PS_WAIT_MS 3000
#define DOWN_EXIT_WAIT_MS 30000

static void json_string(GString *out, const char *s) {
  g_string_append_c(out, '"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      g_string_append_printf(out, "\\%c", *p);
    else if (*p < 0x20)
      g_string_append_printf(out, "\\u%04x", *p);
    else
      g_string_append_c(out, (char)*p);
  }
  g_string_append_c(out, '"');
}

/* Every container of every manager, once each: a manager with two
 * containers answers on both sockets. */
static GPtrArray *collect(const char *state_dir, GError **error) {
  g_autoptr(GPtrArray) names = uva_ctl_list(state_dir, error);
  if (!names)
    return NULL;
  GPtrArray *rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
  g_autoptr(GHashTable) seen =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < names->len; i++) {
    if (g_hash_table_contains(seen, names->pdata[i]))
      continue;
    g_autoptr(GError) local = NULL;
    uva_autofd fd = uva_ctl_connect(state_dir, names->pdata[i], &local);
    /* Gone meanwhile, or a dead manager's (now removed): nothing to say;
     * a socket that is not its manager's (ctltrust.c): one line. */
    if (fd < 0 && local->code != UVA_ERROR_INVALID)
      g_printerr("uva_container: ps: %s\n", local->message);
    if (fd < 0)
      continue;
    UvaCtlHead req = {.type = UVA_CTL_PS};
    g_autofree char *text = NULL;
    if (!uva_ctl_call(fd, &req, NULL, 0, NULL, 0, PS_WAIT_MS, &text, NULL))
      continue;
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
      char **f = g_strsplit(*l, "\t", UVA_PS_FIELDS);
      if (g_strv_length(f) != UVA_PS_FIELDS ||
          g_hash_table_contains(seen, f[UVA_PS_NAME])) {
        g_strfreev(f);
        continue;
      }
      g_hash_table_add(seen, g_strdup(f[UVA_PS_NAME]));
      g_ptr_array_add(rows, f);
    }
  }
  return rows;
}

static char *uptime(const char *started) {
  gint64 s =
      g_get_real_time() / G_USEC_PER_SEC - g_ascii_strtoll(started, NULL, 10);
  if (s < 60)
    return g_strdup_printf("%" G_GINT64_FORMAT "s", s);
  if (s < 3600)
    return g_strdup_printf("%" G_GINT64_FORMAT "m", s / 60);
  if (s < 86400)
    return g_strdup_printf("%" G_GINT64_FORMAT "h", s / 3600);
  return g_strdup_printf("%" G_GINT64_FORMAT "d", s / 86400);
}

int uva_cli_ps(const char *state_dir, gboolean json, GError **error) {
  g_autoptr(GPtrArray) rows = collect(state_dir, error);
  if (!rows)
    return 1;
  g_autoptr(GString) out = g_string_new(NULL);
  if (json) {
    g_string_append_c(out, '[');
    for (guint i = 0; i < rows->len; i++) {
      char **f = rows->pdata[i];
      g_string_append(out, i ? ",\n {" : "\n {");
      g_string_append(out, "\"name\": ");
      json_string(out, f[UVA_PS_NAME]);
      g_string_append(out, ", \"state\": ");
      json_string(out, f[UVA_PS_STATE]);
      g_string_append(out, ", \"ports\": [");
      g_auto(GStrv) ports = g_strsplit(f[UVA_PS_PORTS], ", ", -1);
      for (char **p = ports; *p && !g_str_equal(*p, "-"); p++) {
        if (p != ports)
          g_string_append(out, ", ");
        json_string(out, *p);
      }
      gint64 started = g_ascii_strtoll(f[UVA_PS_STARTED], NULL, 10);
      g_string_append_printf(
          out,
          "], \"started_at\": %" G_GINT64_FORMAT
          ", \"uptime_s\": %" G_GINT64_FORMAT ", \"manager_pid\": %s, "
          "\"spec\": ",
          started, g_get_real_time() / G_USEC_PER_SEC - started, f[UVA_PS_PID]);
      if (g_str_equal(f[UVA_PS_SPEC], "-"))
        g_string_append(out, "null");
      else
        json_string(out, f[UVA_PS_SPEC]);
      g_string_append_printf(
          out, ", \"exit_status\": %s}",
          g_str_equal(f[UVA_PS_STATUS], "-") ? "null" : f[UVA_PS_STATUS]);
    }
    g_string_append(out, rows->len ? "\n]\n" : "]\n");
  } else {
    g_string_append_printf(out, "%-16s %-9s %-34s %-7s %-8s %s\n", "NAME",
                           "STATE", "PORTS", "UPTIME", "MANAGER", "SPEC");
    for (guint i = 0; i < rows->len; i++) {
      char **f = rows->pdata[i];
      g_autofree char *up = uptime(f[UVA_PS_STARTED]);
      g_autofree char *state =
          g_str_equal(f[UVA_PS_STATUS], "-")
              ? g_strdup(f[UVA_PS_STATE])
              : g_strdup_printf("%s(%s)", f[UVA_PS_STATE], f[UVA_PS_STATUS]);
      g_string_append_printf(out, "%-16s %-9s %-34s %-7s %-8s %s\n",
                             f[UVA_PS_NAME], state, f[UVA_PS_PORTS], up,
                             f[UVA_PS_PID], f[UVA_PS_SPEC]);
    }
  }
  return uva_write_all(1, out->str, out->len, error) ? 0 : 1;
}

/* Waits until the manager closes the socket (it has exited), at most
 * timeout_ms. */
static void wait_eof(int fd, int timeout_ms) {
  gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
  for (;;) {
    int left = (int)((end - g_get_monotonic_time()) / 1000);
    struct pollfd p = {fd, POLLIN, 0};
    if (left <= 0 || poll(&p, 1, left) <= 0)
      return;
    char buf[256];
    if (recv(fd, buf, sizeof buf, MSG_DONTWAIT) == 0 ||
        (p.revents & (POLLHUP | POLLERR)))
      return;
  }
}

static gboolean stop_one(const char *state_dir, const char *name, int timeout_s,
                         GError **error) {
  uva_autofd fd = uva_ctl_connect(state_dir, name, error);
  if (fd < 0)
    return FALSE;
  uva_autofd manager = uva_ctl_peer_pidfd(fd);
  UvaCtlHead req = {.type = UVA_CTL_STOP, .value = timeout_s};
  g_strlcpy(req.name, name, sizeof req.name);
  GError *local = NULL;
  g_autofree char *text = NULL;
  if (!uva_ctl_call(fd, &req, NULL, 0, NULL, 0, -1, &text, &local)) {
    /* The manager exited while we waited: its last container is gone. */
    if (strstr(local->message, "closed the control socket")) {
      g_error_free(local);
      uva_ctl_wait_exit(manager, DOWN_EXIT_WAIT_MS);
      return TRUE;
    }
    g_propagate_prefixed_error(error, local, "stop %s: ", name);
    return FALSE;
  }
  /* Its last container: back only once the manager and its clean-up are
   * done, so that nothing of it outlives `stop`. */
  if (text && g_str_equal(text, UVA_CTL_EXITING))
    uva_ctl_wait_exit(manager, DOWN_EXIT_WAIT_MS);
  return TRUE;
}

int uva_cli_stop(const char *state_dir, char **names, int timeout_s,
                 GError **error) {
  int status = 0;
  for (char **n = names; *n; n++) {
    g_autoptr(GError) local = NULL;
    if (stop_one(state_dir, *n, timeout_s, &local)) {
      printf("%s\n", *n);
      fflush(stdout);
    } else {
      fprintf(stderr, "uva_container: %s\n", local->message);
      status = 1;
    }
  }
  (void)error;
  return status;
}

/* The socket files go once the manager has exited (afterlife.c). */
static void wait_sockets_gone(const char *state_dir, GPtrArray *names) {
  uva_autofd dir = uva_ctl_rundir(state_dir, NULL, NULL);
  for (int i = 0; dir >= 0 && i < 50; i++) {
    gboolean any = FALSE;
    for (guint k = 0; k < names->len; k++) {
      g_autofree char *file =
          g_strdup_printf("%s.sock", (char *)names->pdata[k]);
      struct stat st;
      any |= fstatat(dir, file, &st, AT_SYMLINK_NOFOLLOW) == 0;
    }
    if (!any)
      return;
    g_usleep(100 * 1000);
  }
}

int uva_cli_down(const char *state_dir, const char *file, int timeout_s,
                 GError **error) {
  g_autoptr(UvaSpec) spec = uva_specfile_load(file, state_dir, error);
  if (!spec)
    return 2;
  g_autoptr(GPtrArray) names = g_ptr_array_new();
  for (guint i = 0; i < spec->containers->len; i++)
    g_ptr_array_add(names,
                    ((UvaContainerSpec *)spec->containers->pdata[i])->name);
  gboolean any = FALSE, refused = FALSE;
  /* One request per manager: the first container that answers stops its
   * manager's every container; then the next that still answers. */
  for (guint i = 0; i < names->len; i++) {
    g_autoptr(GError) why = NULL;
    uva_autofd fd = uva_ctl_connect(state_dir, names->pdata[i], &why);
    /* Not running: nothing to do; a socket that is not its manager's
     * (ctltrust.c): said, and the status says so. */
    if (fd < 0 && why->code != UVA_ERROR_INVALID) {
      fprintf(stderr, "uva_container: down: %s\n", why->message);
      refused = TRUE;
    }
    if (fd < 0)
      continue;
    any = TRUE;
    uva_autofd manager = uva_ctl_peer_pidfd(fd);
    UvaCtlHead req = {.type = UVA_CTL_STOP, .value = timeout_s};
    GError *local = NULL;
    if (!uva_ctl_call(fd, &req, NULL, 0, NULL, 0, -1, NULL, &local) &&
        !strstr(local->message, "closed the control socket")) {
      g_propagate_prefixed_error(error, local, "down %s: ", file);
      return 1;
    }
    g_clear_error(&local);
    wait_eof(fd, DOWN_EXIT_WAIT_MS);
    uva_ctl_wait_exit(manager, DOWN_EXIT_WAIT_MS);
  }
  if (any)
    wait_sockets_gone(state_dir, names);
  if (!any && !refused)
    fprintf(stderr, "uva_container: down: no container of %s is running\n",
            file);
  return refused ? 1 : 0;
}

typedef struct {
  const char *state_dir, *name;
} Follow;

static gboolean still_running(gpointer data) {
  Follow *f = data;
  uva_autofd fd = uva_ctl_connect(f->state_dir, f->name, NULL);
  if (fd < 0)
    return FALSE;
  UvaCtlHead req = {.type = UVA_CTL_PS};
  g_autofree char *text = NULL;
  if (!uva_ctl_call(fd, &req, NULL, 0, NULL, 0, PS_WAIT_MS, &text, NULL))
    return FALSE;
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  for (char **l = lines; *l; l++) {
    g_auto(GStrv) fields = g_strsplit(*l, "\t", UVA_PS_FIELDS);
    if (g_strv_length(fields) == UVA_PS_FIELDS &&
        g_str_equal(fields[UVA_PS_NAME], f->name))
      return !g_str_equal(fields[UVA_PS_STATE], "exited");
  }
  return FALSE;
}

int uva_cli_logs(const char *state_dir, const char *name, int tail,
                 gboolean follow, GError **error) {
  Follow f = {state_dir, name};
  return uva_logfile_show(state_dir, name, tail, follow, still_running, &f,
                          error)
             ? 0
             : 1;
}
