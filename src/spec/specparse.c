/* specparse.c - the text forms of a spec's fields: each option's parser
 * (-p, --restart, --pids-limit, sizes, --userns, --port-driver,
 * --outbound, --stop-signal, --ready-*) and the printer that gives the
 * same text back (--print-default-spec, `ps`).  Pure functions over
 * spec.h's types, declared in spec.h; the model, validation and the
 * default spec are spec.c's, which calls these and is never called back. */
#include "spec/spec.h"

#include "base/util.h"

#include <arpa/inet.h>
#include <limits.h>
#include <signal.h>
#include <string.h>

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
