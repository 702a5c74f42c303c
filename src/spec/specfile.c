/* specfile.c - the spec file format.
 *
 *   [container a]
 *   command = /opt/uva/http_recorder.py          (sh(1) words, read raw)
 *   workdir = www/a                               (host dir, mounted at /app)
 *   tmp = tmp/a                                   (host dir behind /tmp)
 *   publish = 127.0.0.1:18080:8080;18081:8081    (list)
 *   env = DEBUG=1;MODE=test                       (list)
 *   volume = /host/file:/opt/x:ro                 (list: HOST:CONTAINER[:ro];
 *                                                  \: \; \\ in a path)
 *   hostname = a
 *   network = slirp | none
 *   port-driver = splice | slirp  (how published ports reach the app)
 *   restart = no | on-failure | on-failure:N
 *   pids-limit = 2048 | unlimited  (processes and threads, init included)
 *   sockets-limit = 512      (libslirp sockets for outbound flows)
 *   shm-size = 64m           (size of /dev/shm: bytes, or with k, m, g)
 *   stop-signal = TERM       (what stops the app: TERM INT QUIT HUP USR1 USR2
 * KILL) stop-timeout = 10        (seconds before SIGKILL) userns = single |
 * auto   (auto: subordinate ids, root inside) ready-http = true        (ready =
 * an HTTP answer on the first port) seed-file = hello.txt    (a file name,
 * created in workdir if missing) log = http_recorder.log  (a file name in /tmp,
 * shown at start)
 *
 * Relative host paths are relative to the spec file's directory.  Unknown
 * groups and keys are errors, not silently ignored typos. */
#include "spec/specfile.h"

#include "base/util.h"
#include "spec/hostdir.h"
#include "spec/volume.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static const char *const known_keys[] = {
    "command",     "workdir",     "tmp",          "publish",
    "env",         "volume",      "hostname",     "network",
    "port-driver", "restart",     "pids-limit",   "sockets-limit",
    "shm-size",    "stop-signal", "stop-timeout", "ready-http",
    "seed-file",   "log",         "userns",       "ready-tcp",
    "outbound",    NULL};

/* The 1-based line of "[group]" or of "key" within it; 0 if not found. */
static int line_of(const char *text, const char *group, const char *key) {
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  gboolean in_group = FALSE;
  for (int i = 0; lines[i]; i++) {
    const char *l = lines[i];
    while (*l == ' ' || *l == '\t')
      l++;
    if (*l == '[') {
      g_autofree char *want = g_strdup_printf("[%s]", group);
      in_group = g_str_has_prefix(l, want);
      if (in_group && !key)
        return i + 1;
    } else if (in_group && key && g_str_has_prefix(l, key)) {
      const char *rest = l + strlen(key);
      while (*rest == ' ' || *rest == '\t')
        rest++;
      if (*rest == '=' || *rest == '[')
        return i + 1;
    }
  }
  return 0;
}

static gboolean fail_at(GError **error, const char *path, const char *text,
                        const char *group, const char *key, GError *cause) {
  int line = line_of(text, group, key);
  if (line > 0)
    g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID, "%s:%d: %s", path, line,
                cause->message);
  else
    g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID, "%s: %s", path,
                cause->message);
  g_error_free(cause);
  return FALSE;
}

static char *host_path(const char *base_dir, const char *value) {
  if (g_path_is_absolute(value))
    return g_canonicalize_filename(value, NULL);
  return g_canonicalize_filename(value, base_dir);
}

static UvaContainerSpec *parse_group(GKeyFile *kf, const char *group,
                                     const char *name, const char *base_dir,
                                     const char *state_dir,
                                     const char **bad_key, GError **error) {
  /* Every auto-freed variable is declared here: a goto may not jump over
   * one (its cleanup would free garbage). */
  g_autoptr(GError) local = NULL;
  g_autofree char *command = NULL, *workdir = NULL, *tmp = NULL,
                  *network = NULL, *driver = NULL, *restart = NULL,
                  *pids_limit = NULL, *shm_size = NULL, *stop_signal = NULL,
                  *stop_timeout = NULL, *sockets_limit = NULL,
                  *raw_volumes = NULL, *userns = NULL, *ready_http = NULL,
                  *ready_tcp = NULL, *outbound = NULL;
  g_auto(GStrv) publish = NULL, volumes = NULL;
  UvaContainerSpec *c = uva_container_spec_new(name);
#define KEY(k) (*bad_key = (k), (k))
  /* Raw: the value is sh(1) words, as documented, and GKeyFile's own
   * escapes (\t, \s, \n) would change them before the shell parse. */
  command = g_key_file_get_value(kf, group, KEY("command"), NULL);
  if (!command) {
    *bad_key = NULL;
    g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID, "[%s] has no command",
                group);
    goto fail;
  }
  if (!g_shell_parse_argv(command, NULL, &c->argv, &local)) {
    g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID, "command: %s",
                local->message);
    goto fail;
  }
  workdir = g_key_file_get_string(kf, group, KEY("workdir"), NULL);
  tmp = g_key_file_get_string(kf, group, KEY("tmp"), NULL);
  c->workdir = workdir ? host_path(base_dir, workdir)
                       : g_build_filename(state_dir, name, "www", NULL);
  c->tmpdir = tmp ? host_path(base_dir, tmp)
                  : g_build_filename(state_dir, name, "tmp", NULL);
  publish = g_key_file_get_string_list(kf, group, KEY("publish"), NULL, NULL);
  for (char **p = publish; p && *p; p++) {
    UvaPublish pub;
    if (!uva_publish_parse(g_strstrip(*p), &pub, error))
      goto fail;
    g_array_append_val(c->publish, pub);
  }
  c->env = g_key_file_get_string_list(kf, group, KEY("env"), NULL, NULL);
  /* Raw too, split by volume.c: a path may hold ':' or ';' (\: and \;),
   * escapes GKeyFile's list parser refuses. */
  raw_volumes = g_key_file_get_value(kf, group, KEY("volume"), NULL);
  volumes = raw_volumes ? uva_volume_split(raw_volumes) : NULL;
  for (char **v = volumes; v && *v; v++) {
    UvaMount m = {0};
    if (!uva_volume_parse(*v, base_dir, &m, error))
      goto fail;
    g_array_append_val(c->mounts, m);
  }
  c->hostname = g_key_file_get_string(kf, group, KEY("hostname"), NULL);
  network = g_key_file_get_string(kf, group, KEY("network"), NULL);
  if (network && !g_str_equal(network, "slirp") &&
      !g_str_equal(network, "none")) {
    g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                "network \"%s\" is not slirp or none", network);
    goto fail;
  }
  c->no_network = network && g_str_equal(network, "none");
  driver = g_key_file_get_string(kf, group, KEY("port-driver"), NULL);
  if (driver && !uva_port_driver_parse(driver, &c->port_driver, error))
    goto fail;
  outbound = g_key_file_get_string(kf, group, KEY("outbound"), NULL);
  if (outbound && !uva_outbound_parse(outbound, &c->outbound_bypass, error))
    goto fail;
  restart = g_key_file_get_string(kf, group, KEY("restart"), NULL);
  if (restart && !uva_restart_parse(restart, c, error))
    goto fail;
  pids_limit = g_key_file_get_string(kf, group, KEY("pids-limit"), NULL);
  if (pids_limit && !uva_pids_limit_parse(pids_limit, &c->pids_limit, error))
    goto fail;
  sockets_limit = g_key_file_get_string(kf, group, KEY("sockets-limit"), NULL);
  if (sockets_limit &&
      !uva_sockets_limit_parse(sockets_limit, &c->sockets_limit, error))
    goto fail;
  shm_size = g_key_file_get_string(kf, group, KEY("shm-size"), NULL);
  if (shm_size && !uva_size_parse(shm_size, &c->shm_size, error))
    goto fail;
  stop_signal = g_key_file_get_string(kf, group, KEY("stop-signal"), NULL);
  if (stop_signal &&
      !uva_stop_signal_parse(stop_signal, &c->stop_signal, error))
    goto fail;
  stop_timeout = g_key_file_get_string(kf, group, KEY("stop-timeout"), NULL);
  if (stop_timeout &&
      !uva_stop_timeout_parse(stop_timeout, &c->stop_timeout, error))
    goto fail;
  userns = g_key_file_get_string(kf, group, KEY("userns"), NULL);
  if (userns && !uva_userns_parse(userns, &c->userns_auto, error))
    goto fail;
  ready_http = g_key_file_get_string(kf, group, KEY("ready-http"), NULL);
  if (ready_http && !uva_ready_http_parse(ready_http, TRUE, c, error))
    goto fail;
  ready_tcp = g_key_file_get_string(kf, group, KEY("ready-tcp"), NULL);
  if (ready_tcp && !uva_ready_tcp_parse(ready_tcp, TRUE, c, error))
    goto fail;
  c->seed_file = g_key_file_get_string(kf, group, KEY("seed-file"), NULL);
  c->tmp_log = g_key_file_get_string(kf, group, KEY("log"), NULL);
#undef KEY
  return c;
fail:
  uva_container_spec_free(c);
  return NULL;
}

UvaSpec *uva_specfile_parse(const char *path, const char *text,
                            const char *state_dir, GError **error) {
  g_autoptr(GKeyFile) kf = g_key_file_new();
  g_key_file_set_list_separator(kf, ';');
  GError *local = NULL;
  if (!g_key_file_load_from_data(kf, text, (gsize)-1, G_KEY_FILE_NONE,
                                 &local)) {
    g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID, "%s: %s", path,
                local->message);
    g_error_free(local);
    return NULL;
  }
  g_autofree char *abs = g_canonicalize_filename(path, NULL);
  g_autofree char *base_dir = g_path_get_dirname(abs);
  g_autoptr(UvaSpec) spec = uva_spec_new();
  spec->state_dir = g_strdup(state_dir);
  g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);
  for (char **g = groups; *g; g++) {
    if (!g_str_has_prefix(*g, "container ") || !(*g)[10]) {
      fail_at(error, path, text, *g, NULL,
              g_error_new(UVA_ERROR, UVA_ERROR_INVALID,
                          "unknown group [%s]: groups are [container NAME]",
                          *g));
      return NULL;
    }
    const char *name = *g + strlen("container ");
    if (!uva_name_valid(name, &local)) {
      fail_at(error, path, text, *g, NULL, local);
      return NULL;
    }
    /* Unknown keys first, named while the key list is alive (user input is
     * not interned: g_intern_string never frees). */
    g_auto(GStrv) keys = g_key_file_get_keys(kf, *g, NULL, NULL);
    for (char **k = keys; k && *k; k++) {
      if (!g_strv_contains(known_keys, *k)) {
        g_set_error(&local, UVA_ERROR, UVA_ERROR_INVALID,
                    "unknown key \"%s\" in [%s] (known: command, workdir, "
                    "tmp, publish, env, volume, hostname, network, "
                    "port-driver, restart, pids-limit, sockets-limit, "
                    "shm-size, stop-signal, stop-timeout, ready-http, "
                    "seed-file, log, userns, outbound)",
                    *k, *g);
        fail_at(error, path, text, *g, *k, local);
        return NULL;
      }
      /* GKeyFile answers NULL both for a missing key and for a value with
       * an invalid escape ("\'"), and parse_group reads without an error:
       * such a value would be dropped without a word (a whole env, a
       * workdir back to its default).  command and volume are read raw,
       * with escapes of their own. */
      g_autoptr(GError) esc = NULL;
      g_auto(GStrv) parsed = NULL;
      if (!g_str_equal(*k, "command") && !g_str_equal(*k, "volume") &&
          !(parsed = g_key_file_get_string_list(kf, *g, *k, NULL, &esc))) {
        g_set_error(&local, UVA_ERROR, UVA_ERROR_INVALID, "%s: %s", *k,
                    esc->message);
        fail_at(error, path, text, *g, *k, local);
        return NULL;
      }
    }
    const char *bad_key = NULL;
    UvaContainerSpec *c =
        parse_group(kf, *g, name, base_dir, state_dir, &bad_key, &local);
    if (!c) {
      fail_at(error, path, text, *g, bad_key, local);
      return NULL;
    }
    g_ptr_array_add(spec->containers, c);
  }
  if (!uva_spec_validate(spec, &local)) {
    g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID, "%s: %s", path,
                local->message);
    g_error_free(local);
    return NULL;
  }
  return g_steal_pointer(&spec);
}

UvaSpec *uva_specfile_load(const char *path, const char *state_dir,
                           GError **error) {
  g_autofree char *canon = realpath(path, NULL);
  int open_err = errno;
  uva_autofd fd = canon ? open(canon, O_RDONLY | O_NOFOLLOW | O_NOCTTY |
                                          O_NONBLOCK | O_CLOEXEC)
                        : -1;
  if (fd < 0) {
    uva_fail_errno(error, canon ? errno : open_err, "cannot read spec file %s",
                   path);
    return NULL;
  }
  dev_t dev;
  ino_t ino;
  if (!uva_hostdir_check_spec_file(fd, canon, &dev, &ino, error))
    return NULL;
  /* Read from the fd just checked, not from the path again. */
  g_autoptr(GString) text = g_string_new(NULL);
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) != 0) {
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      uva_fail_errno(error, errno, "reading spec file %s", path);
      return NULL;
    }
    if (text->len + (gsize)n > 1024 * 1024) {
      uva_fail(error, "spec file %s is larger than 1 MiB", path);
      return NULL;
    }
    g_string_append_len(text, buf, n);
  }
  UvaSpec *spec = uva_specfile_parse(path, text->str, state_dir, error);
  if (spec) {
    spec->file = g_steal_pointer(&canon);
    spec->file_dev = dev;
    spec->file_ino = ino;
  }
  return spec;
}

/* Printed through GKeyFile, which escapes what the parser unescapes (a
 * newline, a leading space, a ';' inside a list entry); command and volume
 * are read raw and printed raw, in their own quoting (sh(1) words, the
 * escapes of volume.c).  So what parses prints and parses again to the
 * same spec (tests/fuzz/fuzz_specfile.c, tests/unit.c). */
char *uva_specfile_print(const UvaSpec *spec) {
  g_autoptr(GKeyFile) kf = g_key_file_new();
  g_key_file_set_list_separator(kf, ';');
  for (guint i = 0; i < spec->containers->len; i++) {
    const UvaContainerSpec *c = spec->containers->pdata[i];
    g_autofree char *group = g_strdup_printf("container %s", c->name);
    GString *cmd = g_string_new(NULL);
    for (char **a = c->argv; *a; a++) {
      g_autofree char *q = g_shell_quote(*a);
      g_string_append_printf(cmd, "%s%s", a == c->argv ? "" : " ", q);
    }
    g_autofree char *command = g_string_free(cmd, FALSE);
    /* Raw, as it is read: g_shell_quote's quoting is all it needs.  No
     * word holds a newline: a parsed one comes from one line. */
    g_key_file_set_value(kf, group, "command", command);
    g_key_file_set_string(kf, group, "workdir", c->workdir);
    g_key_file_set_string(kf, group, "tmp", c->tmpdir);
    g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(g_free);
    for (guint j = 0; j < c->publish->len; j++) {
      const UvaPublish *p = &g_array_index(c->publish, UvaPublish, j);
      g_autofree char *h = uva_publish_host_string(p);
      /* "host:port/udp" -> "host:port:cport/udp" */
      char *slash = strchr(h, '/');
      if (slash)
        *slash = '\0';
      g_ptr_array_add(list, g_strdup_printf("%s:%u%s", h, p->container_port,
                                            p->udp ? "/udp" : ""));
    }
    if (list->len)
      g_key_file_set_string_list(kf, group, "publish",
                                 (const char *const *)list->pdata, list->len);
    g_ptr_array_set_size(list, 0);
    for (guint j = 0; j < c->mounts->len; j++)
      g_ptr_array_add(
          list, uva_volume_string(&g_array_index(c->mounts, UvaMount, j)));
    if (list->len) {
      g_ptr_array_add(list, NULL);
      g_autofree char *v = g_strjoinv(";", (char **)list->pdata);
      g_key_file_set_value(kf, group, "volume", v);
    }
    if (c->env && c->env[0])
      g_key_file_set_string_list(kf, group, "env", (const char *const *)c->env,
                                 g_strv_length(c->env));
    if (c->hostname)
      g_key_file_set_string(kf, group, "hostname", c->hostname);
    if (c->no_network)
      g_key_file_set_string(kf, group, "network", "none");
    if (c->restart_on_failure) {
      g_autofree char *r = uva_restart_string(c);
      g_key_file_set_string(kf, group, "restart", r);
    }
    if (c->port_driver != UVA_PORT_DRIVER_SPLICE)
      g_key_file_set_string(kf, group, "port-driver",
                            uva_port_driver_name(c->port_driver));
    if (c->outbound_bypass)
      g_key_file_set_string(kf, group, "outbound", "bypass");
    if (c->pids_limit != UVA_DEFAULT_PIDS_LIMIT) {
      g_autofree char *n = uva_pids_limit_string(c->pids_limit);
      g_key_file_set_string(kf, group, "pids-limit", n);
    }
    if (c->sockets_limit != UVA_DEFAULT_SOCKETS_LIMIT)
      g_key_file_set_integer(kf, group, "sockets-limit",
                             (gint)c->sockets_limit);
    if (c->shm_size != UVA_DEFAULT_SHM_SIZE) {
      g_autofree char *size = uva_size_string(c->shm_size);
      g_key_file_set_string(kf, group, "shm-size", size);
    }
    if (c->stop_signal != SIGTERM) {
      g_autofree char *sig = g_strdup_printf("%d", c->stop_signal);
      g_key_file_set_string(kf, group, "stop-signal", sig);
    }
    if (c->stop_timeout != 10)
      g_key_file_set_integer(kf, group, "stop-timeout", (gint)c->stop_timeout);
    if (c->userns_auto)
      g_key_file_set_string(kf, group, "userns", "auto");
    if (c->probe_http)
      g_key_file_set_string(kf, group, "ready-http",
                            c->probe_http_path ? c->probe_http_path : "true");
    if (c->probe_tcp && c->probe_tcp_port) {
      g_autofree char *port = g_strdup_printf("%u", c->probe_tcp_port);
      g_key_file_set_string(kf, group, "ready-tcp", port);
    } else if (c->probe_tcp) {
      g_key_file_set_boolean(kf, group, "ready-tcp", TRUE);
    }
    if (c->seed_file)
      g_key_file_set_string(kf, group, "seed-file", c->seed_file);
    if (c->tmp_log)
      g_key_file_set_string(kf, group, "log", c->tmp_log);
  }
  g_autofree char *body = g_key_file_to_data(kf, NULL, NULL);
  return g_strconcat(
      "# uva_container spec: one [container NAME] group per container.\n"
      "# Run it with: uva_container up FILE\n\n",
      body, NULL);
}
