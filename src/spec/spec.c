/* spec.c - containers as data: the default spec, the publish parser and the
 * validation every spec goes through before anything is started. */
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

static gboolean parse_port(const char *text, const char *what, guint16 *out,
                           GError **error) {
  guint64 v = 0;
  if (!g_ascii_string_to_unsigned(text, 10, 1, 65535, &v, NULL)) {
    g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                "%s \"%s\" is not a port number from 1 to 65535", what, text);
    return FALSE;
  }
  *out = (guint16)v;
  return TRUE;
}

gboolean uva_publish_parse(const char *text, UvaPublish *out, GError **error) {
  memset(out, 0, sizeof *out);
  g_autofree char *s = g_strdup(text);

  char *proto = strrchr(s, '/');
  if (proto) {
    *proto++ = '\0';
    if (g_str_equal(proto, "udp"))
      out->udp = TRUE;
    else if (!g_str_equal(proto, "tcp")) {
      g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                  "publish \"%s\": unknown protocol \"%s\" (use tcp or udp)",
                  text, proto);
      return FALSE;
    }
  }

  /* Split off an optional address: bracketed IPv6, or IPv4 before the first
   * of two colons. */
  const char *addr = "127.0.0.1";
  char *ports = s;
  if (s[0] == '[') {
    char *end = strchr(s, ']');
    if (!end || end[1] != ':') {
      g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                  "publish \"%s\": expected [IPV6]:HOST_PORT:CONTAINER_PORT",
                  text);
      return FALSE;
    }
    *end = '\0';
    addr = s + 1;
    ports = end + 2;
  } else {
    char *first = strchr(s, ':');
    if (first && strchr(first + 1, ':')) {
      *first = '\0';
      addr = s;
      ports = first + 1;
    }
  }
  char *colon = strchr(ports, ':');
  if (!colon && ports == s && s[0] != '[') {
    /* "-p 8080" alone (docker's habit): a host port the kernel picks on
     * 127.0.0.1, learnt at bind time (fwd.c) and shown by the banner and
     * `ps`. */
    guint16 container_port;
    if (!parse_port(ports, "container port", &container_port, error)) {
      g_prefix_error(error, "publish \"%s\": ", text);
      return FALSE;
    }
    out->container_port = container_port;
    struct sockaddr_in *sin = (struct sockaddr_in *)&out->host;
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    out->host_len = sizeof *sin;
    return TRUE;
  }
  if (!colon || strchr(colon + 1, ':')) {
    g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                "publish \"%s\": expected [HOST_IP:]HOST_PORT:CONTAINER_PORT"
                "[/tcp|/udp]",
                text);
    return FALSE;
  }
  *colon = '\0';
  guint16 host_port, container_port;
  /* Host port 0: chosen at bind time, as -p PORT alone (and how a spec
   * prints that back, so that it reads again). */
  if (g_str_equal(ports, "0"))
    host_port = 0;
  else if (!parse_port(ports, "host port", &host_port, error)) {
    g_prefix_error(error, "publish \"%s\": ", text);
    return FALSE;
  }
  if (!parse_port(colon + 1, "container port", &container_port, error)) {
    g_prefix_error(error, "publish \"%s\": ", text);
    return FALSE;
  }
  out->container_port = container_port;

  struct sockaddr_in *sin = (struct sockaddr_in *)&out->host;
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->host;
  if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
    sin->sin_family = AF_INET;
    sin->sin_port = htons(host_port);
    out->host_len = sizeof *sin;
  } else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(host_port);
    out->host_len = sizeof *sin6;
  } else {
    g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                "publish \"%s\": \"%s\" is not an IPv4 or IPv6 address "
                "(write IPv6 in brackets: [::1]:18080:8080)",
                text, addr);
    return FALSE;
  }
  return TRUE;
}

guint16 uva_publish_host_port(const UvaPublish *p) {
  if (p->host.ss_family == AF_INET6)
    return ntohs(((const struct sockaddr_in6 *)&p->host)->sin6_port);
  return ntohs(((const struct sockaddr_in *)&p->host)->sin_port);
}

char *uva_publish_host_string(const UvaPublish *p) {
  char buf[INET6_ADDRSTRLEN];
  const char *proto = p->udp ? "/udp" : "";
  if (p->host.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&p->host)->sin6_addr,
              buf, sizeof buf);
    return g_strdup_printf("[%s]:%u%s", buf, uva_publish_host_port(p), proto);
  }
  inet_ntop(AF_INET, &((const struct sockaddr_in *)&p->host)->sin_addr, buf,
            sizeof buf);
  return g_strdup_printf("%s:%u%s", buf, uva_publish_host_port(p), proto);
}

gboolean uva_name_valid(const char *name, GError **error) {
  size_t len = strlen(name);
  /* 63: the longest hostname label (RFC 1035), which the name becomes. */
  gboolean ok = len > 0 && len <= 63 && name[0] != '-';
  for (size_t i = 0; ok && i < len; i++)
    ok = g_ascii_islower(name[i]) || g_ascii_isdigit(name[i]) || name[i] == '-';
  if (!ok)
    g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                "container name \"%s\" is not valid: use 1 to 63 of a-z, 0-9 "
                "and '-', not starting with '-'",
                name);
  return ok;
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

gboolean uva_restart_parse(const char *text, UvaContainerSpec *c,
                           GError **error) {
  guint64 n = 0;
  if (g_str_equal(text, "no")) {
    c->restart_on_failure = FALSE;
    c->restart_max = 0;
    return TRUE;
  }
  if (g_str_equal(text, "on-failure") ||
      (g_str_has_prefix(text, "on-failure:") &&
       g_ascii_string_to_unsigned(text + strlen("on-failure:"), 10, 1, 1000000,
                                  &n, NULL))) {
    c->restart_on_failure = TRUE;
    c->restart_max = (guint)n;
    return TRUE;
  }
  g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
              "restart policy \"%s\" is not no, on-failure or on-failure:N",
              text);
  return FALSE;
}

char *uva_restart_string(const UvaContainerSpec *c) {
  if (!c->restart_on_failure)
    return g_strdup("no");
  if (c->restart_max == 0)
    return g_strdup("on-failure");
  return g_strdup_printf("on-failure:%u", c->restart_max);
}

gboolean uva_pids_limit_parse(const char *text, guint *out, GError **error) {
  guint64 n = 0;
  if (g_str_equal(text, "unlimited") || g_str_equal(text, "0") ||
      g_str_equal(text, "-1")) {
    *out = 0;
    return TRUE;
  }
  /* From 2: the cap counts the container's init, so 1 would leave no room
   * for the app. */
  if (!g_ascii_string_to_unsigned(text, 10, 2, UVA_MAX_PIDS_LIMIT, &n, NULL))
    return g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                       "pids limit \"%s\" is not a number of processes "
                       "from 2 (init and the app) to %u, or unlimited",
                       text, UVA_MAX_PIDS_LIMIT),
           FALSE;
  *out = (guint)n;
  return TRUE;
}

char *uva_pids_limit_string(guint limit) {
  return limit ? g_strdup_printf("%u", limit) : g_strdup("unlimited");
}

gboolean uva_sockets_limit_parse(const char *text, guint *out, GError **error) {
  guint64 n = 0;
  /* No "unlimited": one container's flood of flows is what the cap keeps
   * from the others (issue 12). */
  if (!g_ascii_string_to_unsigned(text, 10, 1, UVA_MAX_SOCKETS_LIMIT, &n, NULL))
    return g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                       "sockets limit \"%s\" is not a number from 1 to %u",
                       text, UVA_MAX_SOCKETS_LIMIT),
           FALSE;
  *out = (guint)n;
  return TRUE;
}

static const struct {
  char unit;
  guint64 factor;
} size_units[] = {
    {'g', 1024 * 1024 * 1024}, {'m', 1024 * 1024}, {'k', 1024}, {'b', 1}};

gboolean uva_size_parse(const char *text, guint64 *out, GError **error) {
  const char *p = text;
  while (g_ascii_isdigit(*p))
    p++;
  g_autofree char *digits = g_strndup(text, (gsize)(p - text));
  g_autofree char *unit = g_ascii_strdown(p, -1);
  guint64 factor = 0, n = 0;
  if (!*unit)
    factor = 1;
  for (size_t i = 0; !factor && i < G_N_ELEMENTS(size_units); i++) {
    char u = size_units[i].unit;
    /* "m", and for k, m and g also "mb" and "mib". */
    if (unit[0] == u &&
        (!unit[1] || (u != 'b' && (g_str_equal(unit + 1, "b") ||
                                   g_str_equal(unit + 1, "ib")))))
      factor = size_units[i].factor;
  }
  if (!factor || !*digits ||
      !g_ascii_string_to_unsigned(digits, 10, 1, G_MAXUINT64 / factor, &n,
                                  NULL))
    return g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                       "size \"%s\" is not a number of bytes greater than "
                       "0, optionally followed by k, m or g (64m, 1g)",
                       text),
           FALSE;
  *out = n * factor;
  return TRUE;
}

char *uva_size_string(guint64 bytes) {
  for (size_t i = 0; i + 1 < G_N_ELEMENTS(size_units); i++)
    if (bytes % size_units[i].factor == 0)
      return g_strdup_printf("%" G_GUINT64_FORMAT "%c",
                             bytes / size_units[i].factor, size_units[i].unit);
  return g_strdup_printf("%" G_GUINT64_FORMAT, bytes);
}

gboolean uva_userns_parse(const char *text, gboolean *automatic,
                          GError **error) {
  if (!g_str_equal(text, "single") && !g_str_equal(text, "auto"))
    return g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                       "userns \"%s\" is not single or auto", text),
           FALSE;
  *automatic = g_str_equal(text, "auto");
  return TRUE;
}

gboolean uva_port_driver_parse(const char *text, UvaPortDriver *out,
                               GError **error) {
  if (g_str_equal(text, "splice"))
    *out = UVA_PORT_DRIVER_SPLICE;
  else if (g_str_equal(text, "slirp"))
    *out = UVA_PORT_DRIVER_SLIRP;
  else if (g_str_equal(text, "bypass"))
    *out = UVA_PORT_DRIVER_BYPASS;
  else
    return g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                       "port driver \"%s\" is not splice, slirp or bypass",
                       text),
           FALSE;
  return TRUE;
}

gboolean uva_outbound_parse(const char *text, gboolean *bypass,
                            GError **error) {
  if (!g_str_equal(text, "slirp") && !g_str_equal(text, "bypass"))
    return g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                       "outbound \"%s\" is not slirp or bypass", text),
           FALSE;
  *bypass = g_str_equal(text, "bypass");
  return TRUE;
}

const char *uva_port_driver_name(UvaPortDriver d) {
  return d == UVA_PORT_DRIVER_SLIRP    ? "slirp"
         : d == UVA_PORT_DRIVER_BYPASS ? "bypass"
                                       : "splice";
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

gboolean uva_stop_signal_parse(const char *text, int *out, GError **error) {
  /* The ones init passes on to the app (init.c), and KILL. */
  static const struct {
    const char *name;
    int sig;
  } sigs[] = {{"TERM", SIGTERM}, {"INT", SIGINT},   {"QUIT", SIGQUIT},
              {"HUP", SIGHUP},   {"USR1", SIGUSR1}, {"USR2", SIGUSR2},
              {"KILL", SIGKILL}};
  const char *name = g_str_has_prefix(text, "SIG") ? text + 3 : text;
  guint64 n = 0;
  gboolean numeric = g_ascii_string_to_unsigned(text, 10, 1, 64, &n, NULL);
  for (size_t i = 0; i < G_N_ELEMENTS(sigs); i++)
    if ((numeric && (int)n == sigs[i].sig) ||
        (!numeric && g_ascii_strcasecmp(name, sigs[i].name) == 0)) {
      *out = sigs[i].sig;
      return TRUE;
    }
  g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
              "stop signal \"%s\" is not one of TERM, INT, QUIT, HUP, USR1, "
              "USR2, KILL",
              text);
  return FALSE;
}

gboolean uva_stop_timeout_parse(const char *text, guint *out, GError **error) {
  guint64 n = 0;
  if (!g_ascii_string_to_unsigned(text, 10, 0, 3600, &n, NULL)) {
    g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                "stop timeout \"%s\" is not a number of seconds from 0 to "
                "3600",
                text);
    return FALSE;
  }
  *out = (guint)n;
  return TRUE;
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

char *uva_id_map_text(unsigned id) {
  return g_strdup_printf("%u %u 1\n", id, id);
}

gboolean uva_ready_http_parse(const char *text, gboolean bools,
                              UvaContainerSpec *c, GError **error) {
  g_clear_pointer(&c->probe_http_path, g_free);
  if (bools && (g_str_equal(text, "true") || g_str_equal(text, "false"))) {
    c->probe_http = g_str_equal(text, "true");
    return TRUE;
  }
  /* A path as an HTTP request line carries it: no space or control. */
  gboolean ok = text[0] == '/';
  for (const char *p = text; ok && *p; p++)
    ok = (unsigned char)*p > 0x20 && *p != 0x7f;
  if (!ok) {
    g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                "ready-http \"%s\" is not %san absolute path without spaces "
                "(e.g. /healthz)",
                text, bools ? "true, false or " : "");
    return FALSE;
  }
  c->probe_http = TRUE;
  c->probe_http_path = g_strdup(text);
  return TRUE;
}

gboolean uva_ready_tcp_parse(const char *text, gboolean bools,
                             UvaContainerSpec *c, GError **error) {
  c->probe_tcp_port = 0;
  if (bools && (g_str_equal(text, "true") || g_str_equal(text, "false"))) {
    c->probe_tcp = g_str_equal(text, "true");
    return TRUE;
  }
  if (!parse_port(text, "ready-tcp", &c->probe_tcp_port, error))
    return FALSE;
  c->probe_tcp = TRUE;
  return TRUE;
}
