/* spec.c - containers as data: the model (new, free), the default spec
 * and the validation every spec goes through before anything is started.
 * Each field's text form (parsers and printers) is specparse.c's. */
#include "spec/spec.h"

#include "base/util.h"
#include "spec/portholder.h"

#include <arpa/inet.h>
#include <limits.h>
#include <signal.h>
#include <string.h>

UvaSpec *uva_spec_new(void) {
  UvaSpec *spec = g_new0(UvaSpec, 1);
  spec->containers =
      g_ptr_array_new_with_free_func((GDestroyNotify)uva_container_spec_free);
  return spec;
}

void uva_spec_free(UvaSpec *spec) {
  if (!spec)
    return;
  g_ptr_array_unref(spec->containers);
  g_free(spec->state_dir);
  g_free(spec->file);
  g_free(spec);
}

static void mount_clear(gpointer p) {
  UvaMount *m = p;
  g_free(m->source);
  g_free(m->target);
}

UvaContainerSpec *uva_container_spec_new(const char *name) {
  UvaContainerSpec *c = g_new0(UvaContainerSpec, 1);
  c->name = g_strdup(name);
  c->publish = g_array_new(FALSE, TRUE, sizeof(UvaPublish));
  c->mounts = g_array_new(FALSE, TRUE, sizeof(UvaMount));
  g_array_set_clear_func(c->mounts, mount_clear);
  c->stop_signal = SIGTERM;
  c->stop_timeout = UVA_DEFAULT_STOP_TIMEOUT;
  c->pids_limit = UVA_DEFAULT_PIDS_LIMIT;
  c->shm_size = UVA_DEFAULT_SHM_SIZE;
  c->sockets_limit = UVA_DEFAULT_SOCKETS_LIMIT;
  return c;
}

void uva_container_spec_free(UvaContainerSpec *c) {
  if (!c)
    return;
  g_free(c->name);
  g_strfreev(c->argv);
  g_free(c->workdir);
  g_free(c->tmpdir);
  g_free(c->seed_file);
  g_free(c->tmp_log);
  g_free(c->hostname);
  g_strfreev(c->env);
  g_array_unref(c->publish);
  g_array_unref(c->mounts);
  g_free(c->user);
  g_free(c->probe_http_path);
  g_free(c->home);
  g_free(c);
}

gboolean uva_name_valid(const char *name, GError **error) {
  size_t len = strlen(name);
  /* 63: the longest hostname label (RFC 1035), which the name becomes. */
  gboolean ok = len > 0 && len <= 63 && name[0] != '-';
  for (size_t i = 0; ok && i < len; i++)
    ok = g_ascii_islower(name[i]) || g_ascii_isdigit(name[i]) || name[i] == '-';
  if (!ok) {
    g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                "container name \"%s\" is not valid: use 1 to 63 of a-z, 0-9 "
                "and '-', not starting with '-'",
                name);
    return FALSE;
  }
  if (g_str_equal(name, UVA_STATE_CONTROL_DIR)) {
    g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                "container name \"%s\" is reserved (the control "
                "directory's name in the state directory); choose another",
                name);
    return FALSE;
  }
  return TRUE;
}

gboolean uva_env_valid(const char *entry, GError **error) {
  const char *eq = strchr(entry, '=');
  gboolean ok =
      eq && eq != entry && (g_ascii_isalpha(entry[0]) || entry[0] == '_');
  for (const char *p = entry; ok && p < eq; p++)
    ok = g_ascii_isalnum(*p) || *p == '_';
  if (!ok)
    g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                "environment entry \"%s\" is not NAME=VALUE (NAME of "
                "letters, digits and '_', not starting with a digit)",
                entry);
  return ok;
}

gboolean uva_publish_bind_error(const char *name, const UvaPublish *p, int err,
                                GError **error) {
  g_autofree char *where = uva_publish_host_string(p);
  guint16 port = uva_publish_host_port(p);
  if (err == EADDRINUSE) {
    g_autofree char *holder = uva_portholder_describe(port, p->udp);
    return uva_fail(error,
                    "%s: cannot publish host port %s: it is already in use "
                    "by %s; stop it or publish another port",
                    name, where, holder);
  }
  if (err == EACCES && port < 1024)
    return uva_fail(error,
                    "%s: cannot publish host port %s: ports below 1024 need "
                    "privilege (sysctl net.ipv4.ip_unprivileged_port_start); "
                    "publish a port from 1024 up",
                    name, where);
  if (err == EADDRNOTAVAIL)
    return uva_fail(error,
                    "%s: cannot publish host port %s: no interface of this "
                    "host has that address",
                    name, where);
  return uva_fail_errno(error, err, "%s: cannot publish host port %s", name,
                        where);
}

gboolean uva_home_is_private(const char *home) {
  static const char *const taken[] = {
      "/usr",   "/bin",      "/sbin", "/lib",     "/lib32",
      "/lib64", "/libx32",   "/etc",  "/proc",    "/dev",
      "/tmp",   UVA_APP_DIR, "/run",  "/var/tmp", "/sys"};
  if (!home || !g_path_is_absolute(home) || g_str_equal(home, "/") ||
      strlen(home) >= PATH_MAX)
    return FALSE;
  g_autofree char *canon = g_canonicalize_filename(home, "/");
  if (!g_str_equal(canon, home))
    return FALSE; /* "/home/u/", "/home//u", "/x/../etc": not as written */
  for (size_t i = 0; i < G_N_ELEMENTS(taken); i++) {
    size_t n = strlen(taken[i]);
    if (strncmp(home, taken[i], n) == 0 && (home[n] == '\0' || home[n] == '/'))
      return FALSE;
  }
  return TRUE;
}

const char *uva_container_home(const UvaContainerSpec *c) {
  return uva_home_is_private(c->home) ? c->home : "/tmp";
}

const char *uva_container_hostname(const UvaContainerSpec *c) {
  return c->hostname ? c->hostname : c->name;
}

static gboolean is_wildcard(const UvaPublish *p) {
  if (p->host.ss_family == AF_INET)
    return ((const struct sockaddr_in *)&p->host)->sin_addr.s_addr ==
           htonl(INADDR_ANY);
  return IN6_IS_ADDR_UNSPECIFIED(
      &((const struct sockaddr_in6 *)&p->host)->sin6_addr);
}

/* Two publishes clash when bind(2) would: same protocol and port, same
 * family, and the same address or a wildcard on either side.  IPv4 and
 * IPv6 never clash: IPv6 listeners are IPV6_V6ONLY. */
static gboolean same_host_endpoint(const UvaPublish *a, const UvaPublish *b) {
  /* Port 0: each gets a port of its own. */
  if (uva_publish_host_port(a) == 0)
    return FALSE;
  if (a->udp != b->udp || a->host.ss_family != b->host.ss_family ||
      uva_publish_host_port(a) != uva_publish_host_port(b))
    return FALSE;
  if (is_wildcard(a) || is_wildcard(b))
    return TRUE;
  if (a->host.ss_family == AF_INET)
    return ((const struct sockaddr_in *)&a->host)->sin_addr.s_addr ==
           ((const struct sockaddr_in *)&b->host)->sin_addr.s_addr;
  return IN6_ARE_ADDR_EQUAL(
      &((const struct sockaddr_in6 *)&a->host)->sin6_addr,
      &((const struct sockaddr_in6 *)&b->host)->sin6_addr);
}

gboolean uva_plain_name_valid(const char *what, const char *name,
                              GError **error) {
  /* A file name in one directory, nothing more: the manager creates it
   * relative to a directory fd, and a '/' or ".." would reach out. */
  if (*name && strlen(name) <= 255 && !strchr(name, '/') &&
      !g_str_equal(name, ".") && !g_str_equal(name, ".."))
    return TRUE;
  g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
              "%s \"%s\" is not a plain file name (no '/', not '.' or '..')",
              what, name);
  return FALSE;
}

gboolean uva_spec_validate(const UvaSpec *spec, GError **error) {
  if (spec->containers->len == 0)
    return uva_fail(error, "the spec describes no container");
  for (guint i = 0; i < spec->containers->len; i++) {
    const UvaContainerSpec *c = spec->containers->pdata[i];
    if (!uva_name_valid(c->name, error))
      return FALSE;
    if (!c->argv || !c->argv[0] || !*c->argv[0]) {
      g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                  "container %s: the command is empty", c->name);
      return FALSE;
    }
    for (char **e = c->env; e && *e; e++)
      if (!uva_env_valid(*e, error)) {
        g_prefix_error(error, "container %s: ", c->name);
        return FALSE;
      }
    if ((c->seed_file &&
         !uva_plain_name_valid("seed-file", c->seed_file, error)) ||
        (c->tmp_log && !uva_plain_name_valid("log", c->tmp_log, error))) {
      g_prefix_error(error, "container %s: ", c->name);
      return FALSE;
    }
    if (c->hostname && !uva_name_valid(c->hostname, error)) {
      g_prefix_error(error, "container %s: hostname: ", c->name);
      return FALSE;
    }
    gboolean slirp = c->port_driver == UVA_PORT_DRIVER_SLIRP;
    /* Host sockets for outbound TCP would give a container without a
     * network one after all. */
    if (c->no_network && c->outbound_bypass) {
      g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                  "container %s: outbound bypass needs a network (it is "
                  "network none)",
                  c->name);
      return FALSE;
    }
    if (c->no_network && c->port_driver == UVA_PORT_DRIVER_BYPASS &&
        c->publish->len > 0) {
      g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                  "container %s: the bypass port driver cannot publish ports "
                  "with network none (the splice driver can)",
                  c->name);
      return FALSE;
    }
    if (c->no_network && slirp && c->publish->len > 0) {
      g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                  "container %s: the slirp port driver cannot publish ports "
                  "with network none (the splice driver can)",
                  c->name);
      return FALSE;
    }
    for (guint k = 0; k < c->mounts->len; k++) {
      const UvaMount *m = &g_array_index(c->mounts, UvaMount, k);
      if (!g_path_is_absolute(m->target) || strstr(m->target, "/..") ||
          g_str_equal(m->target, "/")) {
        g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                    "container %s: volume target \"%s\" is not an absolute "
                    "path below /",
                    c->name, m->target);
        return FALSE;
      }
    }
    for (guint j = 0; j < i; j++) {
      const UvaContainerSpec *o = spec->containers->pdata[j];
      if (g_str_equal(o->name, c->name)) {
        g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                    "container name \"%s\" is used twice", c->name);
        return FALSE;
      }
    }
    for (guint k = 0; k < c->publish->len; k++) {
      const UvaPublish *p = &g_array_index(c->publish, UvaPublish, k);
      g_autofree char *shown = uva_publish_host_string(p);
      /* libslirp 4.7 accepts both but carries neither: a UDP reply from
       * the container is addressed to 10.0.2.2, which libslirp maps to
       * host loopback and drops because of disable_host_loopback; an IPv6
       * listener forwarding to the IPv4 guest closes every connection.
       * Refused rather than half-working; the splice driver does both. */
      if (slirp && (p->udp || p->host.ss_family == AF_INET6)) {
        g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                    "container %s: the slirp port driver cannot publish %s "
                    "(%s); use --port-driver splice",
                    c->name, p->udp ? "UDP" : "on an IPv6 host address", shown);
        return FALSE;
      }
      /* The bypass driver hands the app's bind() a host socket: TCP only
       * (a UDP socket of the host's could send to any host address), and
       * one host address per container port (one bind, one socket). */
      gboolean twice = FALSE;
      for (guint l = 0; l < k; l++) {
        const UvaPublish *q = &g_array_index(c->publish, UvaPublish, l);
        twice |= !q->udp && q->container_port == p->container_port;
      }
      if (c->port_driver == UVA_PORT_DRIVER_BYPASS && (p->udp || twice)) {
        g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                    "container %s: the bypass port driver cannot publish %s "
                    "(%s); use --port-driver splice",
                    c->name,
                    p->udp ? "UDP" : "one container port on two host addresses",
                    shown);
        return FALSE;
      }
      for (guint j = 0; j <= i; j++) {
        const UvaContainerSpec *o = spec->containers->pdata[j];
        guint limit = j == i ? k : o->publish->len;
        for (guint l = 0; l < limit; l++) {
          const UvaPublish *q = &g_array_index(o->publish, UvaPublish, l);
          if (same_host_endpoint(p, q)) {
            g_autofree char *where = uva_publish_host_string(p);
            g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                        "host port %s is published twice (containers %s and "
                        "%s)",
                        where, o->name, c->name);
            return FALSE;
          }
        }
      }
    }
  }
  return TRUE;
}

static UvaContainerSpec *recorder(const char *name, const char *publish,
                                  const char *recorder_path,
                                  const char *state_dir) {
  UvaContainerSpec *c = uva_container_spec_new(name);
  /* The program is bind-mounted read-only at a fixed path and executed by
   * its shebang: the exact file of the checkout, not a copy. */
  const char *target = "/opt/uva/http_recorder.py";
  c->argv = g_new0(char *, 2);
  c->argv[0] = g_strdup(target);
  c->workdir = g_build_filename(state_dir, name, "www", NULL);
  c->tmpdir = g_build_filename(state_dir, name, "tmp", NULL);
  c->seed_file = g_strdup_printf("hello-from-%s.txt", name);
  c->tmp_log = g_strdup("http_recorder.log");
  c->probe_http = TRUE;
  UvaPublish p;
  gboolean ok = uva_publish_parse(publish, &p, NULL);
  g_assert(ok);
  g_array_append_val(c->publish, p);
  /* Lines reach the terminal as they are printed, not when a 4 KiB stdio
   * buffer fills: the recorder's stdout is a pipe, not a tty.  Its own
   * setting, not every app's: buffering changes what a program does. */
  c->env = g_new0(char *, 2);
  c->env[0] = g_strdup("PYTHONUNBUFFERED=1");
  UvaMount m = {g_strdup(recorder_path), g_strdup(target), TRUE};
  g_array_append_val(c->mounts, m);
  return c;
}

UvaSpec *uva_spec_default(const char *recorder_path, const char *state_dir) {
  UvaSpec *spec = uva_spec_new();
  spec->state_dir = g_strdup(state_dir);
  g_ptr_array_add(spec->containers, recorder("a", "127.0.0.1:18080:8080",
                                             recorder_path, state_dir));
  g_ptr_array_add(spec->containers, recorder("b", "127.0.0.1:28080:8080",
                                             recorder_path, state_dir));
  return spec;
}
