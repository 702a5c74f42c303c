/* kube.c - `uva_container kube`: a spec written as Kubernetes YAML, for
 * `kubectl apply -f` or `podman kube play`.
 *
 * One Pod per container, not one Pod for all: the containers of a Pod
 * share one network namespace, and the default spec's two recorders both
 * bind 8080, which is the whole point of uva_container.  Pods, not
 * Deployments: a Deployment's Pods must have restartPolicy Always, and a
 * spec's `restart` is no or on-failure.
 *
 * What a container is maps field by field (docs/operations.md, "When one
 * machine is not enough"): command (argv[0] resolved in the image, as uva
 * resolves it inside), workingDir /app, env, published ports as containerPort
 * plus hostPort/hostIP (so 127.0.0.1:18080 stays loopback only), ready-http as
 * an httpGet readinessProbe, restart as restartPolicy, stop-timeout as
 * terminationGracePeriodSeconds, shm-size as a sized memory emptyDir.
 * The confinement maps to a securityContext: the app runs with the uid
 * that ran `kube` (uva maps only that id), no privilege escalation
 * (no_new_privs), no capabilities, the runtime's default seccomp profile,
 * a read-only root (uva's system directories are read-only) with
 * writable /tmp, /run and /var/tmp of the Pod's own, and no service
 * account token (nothing of the host is reachable from a uva container).
 * The workdir and volumes are hostPath volumes of the paths the spec
 * names: that ties the Pods to this machine, which is what `podman kube
 * play` and a one-node cluster want; elsewhere replace them with
 * persistent volumes.  /tmp is an emptyDir: a Pod's /tmp is its own.
 *
 * Every string scalar is written double-quoted with YAML's escapes
 * (uva_kube_quote), so no command, path or value can end a scalar early
 * or be read as another type ("no", "1e3", "null"). */
#include "cli/kube.h"

#include "base/util.h"
#include "spec/specfile.h"

#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* tests/kube.sh reads "# uva_container kube" on the first line. */
#define KUBE_HEADER "# uva_container kube"

void uva_kube_quote(GString *out, const char *s) {
  g_string_append_c(out, '"');
  for (const char *p = s; *p; p = g_utf8_next_char(p)) {
    gunichar c = g_utf8_get_char(p);
    switch (c) {
    case '"':
      g_string_append(out, "\\\"");
      continue;
    case '\\':
      g_string_append(out, "\\\\");
      continue;
    case '\n':
      g_string_append(out, "\\n");
      continue;
    case '\t':
      g_string_append(out, "\\t");
      continue;
    case '\r':
      g_string_append(out, "\\r");
      continue;
    }
    /* YAML 1.2's c-printable, less what a YAML 1.1 reader takes for a
     * line break (U+0085, U+2028, U+2029) and the byte-order mark: those
     * are escaped, the rest is written as it is. */
    gboolean printable =
        (c >= 0x20 && c <= 0x7e) ||
        (c >= 0xa0 && c <= 0xd7ff && c != 0x2028 && c != 0x2029) ||
        (c >= 0xe000 && c <= 0xfffd && c != 0xfeff) ||
        (c >= 0x10000 && c <= 0x10ffff);
    if (printable)
      g_string_append_len(out, p, g_utf8_next_char(p) - p);
    else if (c <= 0xff)
      g_string_append_printf(out, "\\x%02x", c);
    else if (c <= 0xffff)
      g_string_append_printf(out, "\\u%04x", c);
    else
      g_string_append_printf(out, "\\U%08x", c);
  }
  g_string_append_c(out, '"');
}

/* "KEY: "value"" at indent. */
static void put_str(GString *o, int indent, const char *key, const char *v) {
  g_string_append_printf(o, "%*s%s: ", indent, "", key);
  uva_kube_quote(o, v);
  g_string_append_c(o, '\n');
}

static void put_int(GString *o, int indent, const char *key, guint64 v) {
  g_string_append_printf(o, "%*s%s: %" G_GUINT64_FORMAT "\n", indent, "", key,
                         v);
}

static void put_bool(GString *o, int indent, const char *key, gboolean v) {
  g_string_append_printf(o, "%*s%s: %s\n", indent, "", key,
                         v ? "true" : "false");
}

/* A Kubernetes quantity: "64Mi", not uva's "64m" (milli in Kubernetes). */
static char *quantity(guint64 bytes) {
  static const char *const units[] = {"", "Ki", "Mi", "Gi", "Ti"};
  guint u = 0;
  while (u + 1 < G_N_ELEMENTS(units) && bytes && bytes % 1024 == 0) {
    bytes /= 1024;
    u++;
  }
  return g_strdup_printf("%" G_GUINT64_FORMAT "%s", bytes, units[u]);
}

/* A DNS-1123 label (Pod, container and volume names, hostname): uva's
 * names allow a trailing '-', Kubernetes' do not. */
static gboolean dns_label_valid(const char *what, const char *s,
                                GError **error) {
  size_t len = strlen(s);
  gboolean ok = len > 0 && len <= 63 && s[0] != '-' && s[len - 1] != '-';
  for (size_t i = 0; ok && i < len; i++)
    ok = g_ascii_islower(s[i]) || g_ascii_isdigit(s[i]) || s[i] == '-';
  if (!ok)
    g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                "%s \"%s\" is not a Kubernetes name (DNS-1123 label: 1 to 63 "
                "of a-z, 0-9 and '-', starting and ending with a letter or "
                "digit)",
                what, s);
  return ok;
}

/* Kubernetes strings are Unicode: a byte string that is not UTF-8 has no
 * YAML form, and is refused, not mangled. */
static gboolean utf8_valid(const char *what, const char *s, GError **error) {
  if (g_utf8_validate(s, -1, NULL))
    return TRUE;
  g_autofree char *shown = g_utf8_make_valid(s, -1);
  g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
              "%s \"%s\" is not UTF-8: Kubernetes strings are Unicode", what,
              shown);
  return FALSE;
}

static gboolean container_valid(const UvaContainerSpec *c, const char *image,
                                GError **error) {
  if (!dns_label_valid("container name", c->name, error))
    return FALSE;
  if (c->hostname && !dns_label_valid("hostname", c->hostname, error))
    return FALSE;
  if (!utf8_valid("image", image, error) ||
      !utf8_valid("workdir", c->workdir, error))
    return FALSE;
  for (char **a = c->argv; *a; a++)
    if (!utf8_valid("command word", *a, error))
      return FALSE;
  for (char **e = c->env; e && *e; e++)
    if (!utf8_valid("env entry", *e, error))
      return FALSE;
  for (guint i = 0; i < c->mounts->len; i++) {
    const UvaMount *m = &g_array_index(c->mounts, UvaMount, i);
    if (!utf8_valid("volume", m->source, error) ||
        !utf8_valid("volume", m->target, error))
      return FALSE;
  }
  return TRUE;
}

static void put_ports(GString *o, const UvaContainerSpec *c) {
  if (!c->publish->len)
    return;
  g_string_append(o, "    ports:\n");
  for (guint i = 0; i < c->publish->len; i++) {
    const UvaPublish *p = &g_array_index(c->publish, UvaPublish, i);
    char ip[INET6_ADDRSTRLEN] = "";
    if (p->host.ss_family == AF_INET6)
      inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&p->host)->sin6_addr,
                ip, sizeof ip);
    else
      inet_ntop(AF_INET, &((const struct sockaddr_in *)&p->host)->sin_addr, ip,
                sizeof ip);
    g_string_append_printf(o, "    - containerPort: %u\n", p->container_port);
    put_int(o, 6, "hostPort", uva_publish_host_port(p));
    put_str(o, 6, "hostIP", ip);
    put_str(o, 6, "protocol", p->udp ? "UDP" : "TCP");
  }
}

/* ready-http: uva asks HEAD / on the first TCP port; a kubelet can only
 * GET (httpGet), so the recorder's log will hold the kubelet's probes. */
static void put_probe(GString *o, const UvaContainerSpec *c) {
  const UvaPublish *tcp = NULL;
  for (guint i = 0; !tcp && i < c->publish->len; i++)
    if (!g_array_index(c->publish, UvaPublish, i).udp)
      tcp = &g_array_index(c->publish, UvaPublish, i);
  /* uva's readiness is "the ports listen inside", then ready-http's
   * answer (ready.c); a Pod has one handler: httpGet where ready-http is
   * set, else tcpSocket on the ready-tcp port or the first published one
   * (a kubelet connects to the Pod's own address, so a connect proves a
   * listener there). */
  guint16 tcp_port = c->probe_tcp_port ? c->probe_tcp_port
                     : tcp             ? tcp->container_port
                                       : 0;
  if (c->probe_http && tcp) {
    g_string_append(o, "    readinessProbe:\n"
                       "      httpGet:\n");
    put_str(o, 8, "path", c->probe_http_path ? c->probe_http_path : "/");
    put_int(o, 8, "port", tcp->container_port);
  } else if (tcp_port) {
    g_string_append(o, "    readinessProbe:\n"
                       "      tcpSocket:\n");
    put_int(o, 8, "port", tcp_port);
  } else {
    return;
  }
  put_int(o, 6, "periodSeconds", 2);
  put_int(o, 6, "timeoutSeconds", 2);
}

/* Docker's default capabilities, which uva grants an app that is root of
 * its namespace (userns = auto; the list is init.c's). */
static const char *const auto_caps[] = {
    "CHOWN",   "DAC_OVERRIDE", "FSETID",           "FOWNER",
    "MKNOD",   "NET_RAW",      "SETGID",           "SETUID",
    "SETFCAP", "SETPCAP",      "NET_BIND_SERVICE", "SYS_CHROOT",
    "KILL",    "AUDIT_WRITE"};

static void put_security(GString *o, const UvaContainerSpec *c) {
  /* Root runs uva's apps as root; a Pod that says runAsNonRoot may not
   * run as 0, so that case runs as nobody. */
  guint64 uid = getuid() ? getuid() : 65534, gid = getuid() ? getgid() : 65534;
  g_string_append(o, "    securityContext:\n");
  if (c->userns_auto) {
    put_bool(o, 6, "runAsNonRoot", FALSE);
    put_int(o, 6, "runAsUser", 0);
    put_int(o, 6, "runAsGroup", 0);
  } else {
    put_bool(o, 6, "runAsNonRoot", TRUE);
    put_int(o, 6, "runAsUser", uid);
    put_int(o, 6, "runAsGroup", gid);
  }
  put_bool(o, 6, "allowPrivilegeEscalation", FALSE);
  put_bool(o, 6, "privileged", FALSE);
  put_bool(o, 6, "readOnlyRootFilesystem", TRUE);
  g_string_append(o, "      capabilities:\n"
                     "        drop:\n"
                     "        - \"ALL\"\n");
  if (c->userns_auto) {
    g_string_append(o, "        add:\n");
    for (size_t i = 0; i < G_N_ELEMENTS(auto_caps); i++)
      g_string_append_printf(o, "        - \"%s\"\n", auto_caps[i]);
  }
  g_string_append(o, "      seccompProfile:\n");
  put_str(o, 8, "type", "RuntimeDefault");
}

/* The Pod's volumes and where they are mounted, in one table so the two
 * lists cannot disagree. */
typedef struct {
  char *name;
  char *mount_path;
  gboolean read_only;
  char *host_path;    /* hostPath, or NULL: an emptyDir */
  const char *type;   /* hostPath type, or NULL */
  gboolean memory;    /* emptyDir in memory */
  guint64 size_limit; /* emptyDir sizeLimit; 0: none */
} KubeVolume;

static void kube_volume_clear(gpointer p) {
  KubeVolume *v = p;
  g_free(v->name);
  g_free(v->mount_path);
  g_free(v->host_path);
}

/* A volume name unique to c's Pod.  Kubernetes scopes volume names to
 * their Pod, but podman 4.3's kube play turns each emptyDir into a named
 * volume of that name, shared by every Pod that names it: a plain "tmp"
 * gave both recorders one /tmp and one log.  A name too long for a DNS
 * label takes a hash of the container's name instead. */
static char *volume_name(const UvaContainerSpec *c, const char *what) {
  if (strlen(c->name) + 1 + strlen(what) <= 63)
    return g_strdup_printf("%s-%s", c->name, what);
  return g_strdup_printf("v%08x-%s", g_str_hash(c->name), what);
}

/* Appends a volume; host_path NULL makes an emptyDir. */
static void add_volume(GArray *vs, const UvaContainerSpec *c, const char *what,
                       const char *mount_path, const char *host_path,
                       const char *type) {
  KubeVolume v = {.name = volume_name(c, what),
                  .mount_path = g_strdup(mount_path),
                  .host_path = g_strdup(host_path),
                  .type = type};
  g_array_append_val(vs, v);
}

static GArray *volumes_of(const UvaContainerSpec *c) {
  GArray *vs = g_array_new(FALSE, TRUE, sizeof(KubeVolume));
  g_array_set_clear_func(vs, kube_volume_clear);
  add_volume(vs, c, "app", UVA_APP_DIR, c->workdir, "DirectoryOrCreate");
  add_volume(vs, c, "tmp", "/tmp", NULL, NULL);
  /* rootfs.c's private tmpfs mounts, with its sizes. */
  add_volume(vs, c, "run", "/run", NULL, NULL);
  g_array_index(vs, KubeVolume, vs->len - 1).memory = TRUE;
  g_array_index(vs, KubeVolume, vs->len - 1).size_limit = UVA_RUN_SIZE;
  add_volume(vs, c, "var-tmp", "/var/tmp", NULL, NULL);
  g_array_index(vs, KubeVolume, vs->len - 1).size_limit = UVA_VAR_TMP_SIZE;
  add_volume(vs, c, "shm", "/dev/shm", NULL, NULL);
  g_array_index(vs, KubeVolume, vs->len - 1).memory = TRUE;
  g_array_index(vs, KubeVolume, vs->len - 1).size_limit = c->shm_size;
  for (guint i = 0; i < c->mounts->len; i++) {
    const UvaMount *m = &g_array_index(c->mounts, UvaMount, i);
    g_autofree char *what = g_strdup_printf("volume-%u", i);
    add_volume(vs, c, what, m->target, m->source, NULL);
    g_array_index(vs, KubeVolume, vs->len - 1).read_only = m->read_only;
  }
  return vs;
}

static void put_mounts(GString *o, GArray *vs) {
  g_string_append(o, "    volumeMounts:\n");
  for (guint i = 0; i < vs->len; i++) {
    const KubeVolume *v = &g_array_index(vs, KubeVolume, i);
    g_string_append(o, "    - name: ");
    uva_kube_quote(o, v->name);
    g_string_append_c(o, '\n');
    put_str(o, 6, "mountPath", v->mount_path);
    if (v->read_only)
      put_bool(o, 6, "readOnly", TRUE);
  }
}

static void put_volumes(GString *o, GArray *vs) {
  g_string_append(o, "  volumes:\n");
  for (guint i = 0; i < vs->len; i++) {
    const KubeVolume *v = &g_array_index(vs, KubeVolume, i);
    g_string_append(o, "  - name: ");
    uva_kube_quote(o, v->name);
    g_string_append_c(o, '\n');
    if (v->host_path) {
      g_string_append(o, "    hostPath:\n");
      put_str(o, 6, "path", v->host_path);
      if (v->type)
        put_str(o, 6, "type", v->type);
      continue;
    }
    if (!v->memory && !v->size_limit) {
      g_string_append(o, "    emptyDir: {}\n");
      continue;
    }
    g_string_append(o, "    emptyDir:\n");
    if (v->memory)
      put_str(o, 6, "medium", "Memory");
    if (v->size_limit) {
      g_autofree char *q = quantity(v->size_limit);
      put_str(o, 6, "sizeLimit", q);
    }
  }
}

static void put_env(GString *o, const UvaContainerSpec *c) {
  g_string_append(o, "    env:\n");
  /* uva's fixed environment, less what names this host (HOSTNAME is the
   * Pod's, PATH the image's): the image has no passwd entry for our uid,
   * so HOME is the writable /tmp, as uva makes it where the home
   * directory cannot be private.  The spec's own entries come after and
   * win, as `-e` does. */
  static const char *const base[][2] = {
      {"LANG", "C.UTF-8"}, {"container", "uva_container"}, {"HOME", "/tmp"}};
  for (size_t i = 0; i < G_N_ELEMENTS(base); i++) {
    gboolean overridden = FALSE;
    for (char **e = c->env; e && *e && !overridden; e++)
      overridden =
          g_str_has_prefix(*e, base[i][0]) && (*e)[strlen(base[i][0])] == '=';
    if (overridden)
      continue;
    put_str(o, 4, "- name", base[i][0]);
    put_str(o, 6, "value", base[i][1]);
  }
  for (char **e = c->env; e && *e; e++) {
    const char *eq = strchr(*e, '=');
    g_autofree char *name = g_strndup(*e, eq - *e);
    put_str(o, 4, "- name", name);
    put_str(o, 6, "value", eq + 1);
  }
}

static void put_pod(GString *o, const UvaContainerSpec *c, const char *image) {
  g_string_append(o, "---\n");
  if (c->stop_signal != SIGTERM)
    g_string_append_printf(o,
                           "# stop-signal = SIG%s: a kubelet stops with "
                           "SIGTERM unless the image's STOPSIGNAL says so\n",
                           sigabbrev_np(c->stop_signal));
  if (c->no_network)
    g_string_append(o, "# network = none: a Pod always has a network; its "
                       "ports below are the only ones published\n");
  if (c->restart_on_failure && c->restart_max)
    g_string_append_printf(o,
                           "# restart = on-failure:%u: Kubernetes has no "
                           "maximum, the kubelet backs off up to 5 minutes\n",
                           c->restart_max);
  g_string_append(o, "apiVersion: v1\n"
                     "kind: Pod\n"
                     "metadata:\n");
  put_str(o, 2, "name", c->name);
  g_string_append(o, "  labels:\n");
  put_str(o, 4, "app.kubernetes.io/name", c->name);
  put_str(o, 4, "app.kubernetes.io/managed-by", "uva_container");
  g_string_append(o, "spec:\n");
  if (c->hostname)
    put_str(o, 2, "hostname", c->hostname);
  put_str(o, 2, "restartPolicy", c->restart_on_failure ? "OnFailure" : "Never");
  put_int(o, 2, "terminationGracePeriodSeconds", c->stop_timeout);
  put_bool(o, 2, "automountServiceAccountToken", FALSE);
  put_bool(o, 2, "enableServiceLinks", FALSE);
  g_string_append(o, "  containers:\n");
  put_str(o, 2, "- name", c->name);
  put_str(o, 4, "image", image);
  put_str(o, 4, "imagePullPolicy", "IfNotPresent");
  g_string_append(o, "    command:\n");
  for (char **a = c->argv; *a; a++) {
    g_string_append(o, "    - ");
    uva_kube_quote(o, *a);
    g_string_append_c(o, '\n');
  }
  put_str(o, 4, "workingDir", UVA_APP_DIR);
  put_env(o, c);
  put_ports(o, c);
  put_probe(o, c);
  put_security(o, c);
  g_autoptr(GArray) vs = volumes_of(c);
  put_mounts(o, vs);
  put_volumes(o, vs);
}

char *uva_kube_yaml(const UvaSpec *spec, const char *const *images,
                    const char *source, GError **error) {
  for (guint i = 0; i < spec->containers->len; i++)
    if (!container_valid(spec->containers->pdata[i], images[i], error)) {
      g_prefix_error(error, "container %s: ",
                     ((UvaContainerSpec *)spec->containers->pdata[i])->name);
      return NULL;
    }
  g_autoptr(GString) o = g_string_new(KUBE_HEADER " of ");
  /* A comment line ends at a newline: the source's is shown escaped. */
  g_autofree char *shown = g_strescape(source, NULL);
  g_string_append_printf(
      o,
      "%s: one Pod per container (each\n"
      "# has its own network namespace, so each may bind the same port).\n"
      "# hostPath volumes name this machine's directories: run it here "
      "(podman kube\n"
      "# play, a one-node cluster) or replace them with persistent "
      "volumes.\n",
      shown);
  for (guint i = 0; i < spec->containers->len; i++)
    put_pod(o, spec->containers->pdata[i], images[i]);
  return g_string_free(g_steal_pointer(&o), FALSE);
}

int uva_kube_command(int argc, char **argv, const char *state,
                     UvaSpec *(*default_spec)(const char *state,
                                              GError **error),
                     GError **error) {
  g_auto(GStrv) image_args = NULL, files = NULL;
  GOptionEntry entries[] = {
      /* FILENAME: the bytes as given.  A STRING is converted from the
       * locale's charset, which in the C locale of `env -i` or a CI
       * runner refuses every non-ASCII byte ("Invalid byte sequence in
       * conversion input", naming nothing); container_valid() checks
       * that an image is UTF-8 and says which. */
      {"image", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &image_args,
       "The image of every container, or of container NAME (repeatable; "
       "default: " UVA_KUBE_DEFAULT_IMAGE ")",
       "[NAME=]IMAGE"},
      {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &files, NULL,
       NULL},
      G_OPTION_ENTRY_NULL};
  g_autoptr(GOptionContext) ctx = g_option_context_new(
      "[FILE] - print the spec FILE (default: the default spec) as "
      "Kubernetes Pods");
  g_option_context_add_main_entries(ctx, entries, NULL);
  if (!g_option_context_parse(ctx, &argc, &argv, error)) {
    g_prefix_error(error, "kube: ");
    return 2;
  }
  if (files && files[0] && files[1]) {
    g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                "kube: one FILE at most, not %u", g_strv_length(files));
    return 2;
  }
  const char *file = files ? files[0] : NULL;
  g_autoptr(UvaSpec) spec =
      file ? uva_specfile_load(file, state, error) : default_spec(state, error);
  if (!spec)
    return file ? 2 : 1;
  if (!uva_spec_validate(spec, error))
    return 2;
  guint n = spec->containers->len;
  g_autofree const char **images = g_new0(const char *, n + 1);
  for (guint i = 0; i < n; i++)
    images[i] = UVA_KUBE_DEFAULT_IMAGE;
  /* An image reference holds no '=': NAME=IMAGE is one container's. */
  for (char **a = image_args; a && *a; a++) {
    const char *eq = strchr(*a, '=');
    const char *image = eq ? eq + 1 : *a;
    if (!*image) {
      g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                  "kube: --image %s: no image named", *a);
      return 2;
    }
    gboolean found = FALSE;
    for (guint i = 0; i < n; i++) {
      const UvaContainerSpec *c = spec->containers->pdata[i];
      if (!eq || (strlen(c->name) == (size_t)(eq - *a) &&
                  strncmp(c->name, *a, eq - *a) == 0)) {
        images[i] = image;
        found = TRUE;
      }
    }
    if (!found) {
      g_autofree char *name = g_strndup(*a, eq - *a);
      g_set_error(error, UVA_ERROR, UVA_ERROR_INVALID,
                  "kube: --image %s: no container %s in the spec", *a, name);
      return 2;
    }
  }
  g_autofree char *yaml =
      uva_kube_yaml(spec, images, file ? file : "the default spec", error);
  if (!yaml) {
    g_prefix_error(error, "kube: ");
    return 1;
  }
  if (fputs(yaml, stdout) == EOF || fflush(stdout) != 0)
    return uva_fail_errno(error, errno, "kube: writing the YAML"), 1;
  return 0;
}
