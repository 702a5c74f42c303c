/* unit.c - GTest cases for the pure parts: publish specs, names, spec
 * validation, id maps, /etc/hosts text, the sync-socket protocol and where
 * a container's command lives on the host. */
#include "base/util.h"
#include "cli/doctor.h"
#include "cli/preflight.h"
#include "ipc/ctl.h"
#include "ipc/ctltrust.h"
#include "ipc/msg.h"
#include "manager/confine.h"
#include "manager/output.h"
#include "net/bypass.h"
#include "net/flowcap.h"
#include "net/fragguard.h"
#include "net/tap.h"
#include "sandbox/app.h"
#include "sandbox/execfmt.h"
#include "sandbox/listening.h"
#include "sandbox/rootfs.h"
#include "sandbox/sandbox.h"
#include "sandbox/seccomp.h"
#include "sandbox/subid.h"
#include "spec/hostdir.h"
#include "spec/portholder.h"
#include "spec/spec.h"
#include "spec/specfile.h"
#include "spec/volume.h"

#include <arpa/inet.h>
#include <elf.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

static void test_publish_good(void) {
  static const struct {
    const char *in, *host;
    guint16 cport;
    gboolean udp;
  } cases[] = {
      {"18080:8080", "127.0.0.1:18080", 8080, FALSE},
      {"127.0.0.2:1:65535", "127.0.0.2:1", 65535, FALSE},
      {"0.0.0.0:80:80/tcp", "0.0.0.0:80", 80, FALSE},
      {"5353:53/udp", "127.0.0.1:5353/udp", 53, TRUE},
      {"[::1]:18080:8080", "[::1]:18080", 8080, FALSE},
      {"[::]:9000:9000/udp", "[::]:9000/udp", 9000, TRUE},
      /* -p CONTAINER_PORT alone: host port 0, chosen at bind time */
      {"8080", "127.0.0.1:0", 8080, FALSE},
      {"53/udp", "127.0.0.1:0/udp", 53, TRUE},
  };
  for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GError) error = NULL;
    UvaPublish p;
    g_assert_true(uva_publish_parse(cases[i].in, &p, &error));
    g_assert_no_error(error);
    g_autofree char *host = uva_publish_host_string(&p);
    g_assert_cmpstr(host, ==, cases[i].host);
    g_assert_cmpuint(p.container_port, ==, cases[i].cport);
    g_assert_cmpint(p.udp, ==, cases[i].udp);
  }
}

static void test_publish_bad(void) {
  static const char *const bad[] = {
      "",           "0",           "0:0",
      "8080:0",     "65536:80",    "80:65536",
      "a:b",        "1.2.3:1:2",   "18080:8080/sctp",
      "[::1:1:2",   "[::1]1:2",    "1:2:3:4",
      "-1:80",      "80:",         ":80",
      "[zz::]:1:2", "18080:8080/", "99999999999999999999:1",
  };
  for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GError) error = NULL;
    UvaPublish p;
    if (uva_publish_parse(bad[i], &p, &error))
      g_error("publish \"%s\" was accepted", bad[i]);
    g_assert_error(error, UVA_ERROR, UVA_ERROR_INVALID);
    /* every message names what the user typed */
    g_assert_nonnull(strstr(error->message, bad[i]));
  }
}

static void test_names(void) {
  const char *good[] = {
      "a", "web-1", "0abc",
      "abcdefghijklmnopqrstuvwxyz0123456789-abcdefghijklmnopqrstuvwxyz"};
  const char *bad[] = {
      "",
      "-a",
      "A",
      "a_b",
      "a.b",
      "a/b",
      "abcdefghijklmnopqrstuvwxyz0123456789-abcdefghijklmnopqrstuvwxyz0"};
  for (size_t i = 0; i < G_N_ELEMENTS(good); i++)
    g_assert_true(uva_name_valid(good[i], NULL));
  for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
    g_assert_false(uva_name_valid(bad[i], NULL));
}

static void test_env(void) {
  const char *good[] = {"A=1", "_x=", "PATH=/bin:/usr/bin", "K=a=b"};
  const char *bad[] = {"", "=1", "A", "1A=2", "A-B=1", "A B=1"};
  for (size_t i = 0; i < G_N_ELEMENTS(good); i++)
    g_assert_true(uva_env_valid(good[i], NULL));
  for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
    g_assert_false(uva_env_valid(bad[i], NULL));
}

/* The home directory becomes a private tmpfs only where nothing else of
 * the container is. */
static void test_home(void) {
  const char *yes[] = {"/home/u",      "/root",         "/var/lib/postgresql",
                       "/nonexistent", "/srv/app-user", "/home"};
  const char *no[] = {NULL,       "",         "home/u",       "/",
                      "/tmp",     "/tmp/u",   "/usr/x",       "/etc/u",
                      "/app",     "/proc",    "/run/u",       "/var/tmp/u",
                      "/home/u/", "/home//u", "/home/../etc", "/dev/shm"};
  for (size_t i = 0; i < G_N_ELEMENTS(yes); i++)
    g_assert_true(uva_home_is_private(yes[i]));
  for (size_t i = 0; i < G_N_ELEMENTS(no); i++)
    g_assert_false(uva_home_is_private(no[i]));
  /* /usrx is not /usr */
  g_assert_true(uva_home_is_private("/usrx/u"));
}

/* HOME, USER and LOGNAME from the passwd entry; no PYTHONUNBUFFERED of
 * our own (the recorder's spec sets it). */
static void test_app_env(void) {
  UvaContainerSpec *c = uva_container_spec_new("e");
  g_auto(GStrv) bare = uva_app_env(c);
  g_assert_cmpstr(g_environ_getenv(bare, "HOME"), ==, "/tmp");
  g_assert_null(g_environ_getenv(bare, "USER"));
  g_assert_null(g_environ_getenv(bare, "PYTHONUNBUFFERED"));
  c->user = g_strdup("alice");
  c->home = g_strdup("/home/alice");
  g_auto(GStrv) env = uva_app_env(c);
  g_assert_cmpstr(g_environ_getenv(env, "HOME"), ==, "/home/alice");
  g_assert_cmpstr(g_environ_getenv(env, "USER"), ==, "alice");
  g_assert_cmpstr(g_environ_getenv(env, "LOGNAME"), ==, "alice");
  g_free(c->home);
  c->home = g_strdup("/usr/lib/alice"); /* cannot be made: /tmp */
  c->env = g_strsplit("HOME=/app", " ", -1);
  g_auto(GStrv) over = uva_app_env(c);
  g_assert_cmpstr(g_environ_getenv(over, "HOME"), ==, "/app");
  uva_container_spec_free(c);
}

/* subuid(5) lines: by name or uid, the first good range. */
static void test_subid(void) {
  const char *text = "# comment\nbob:100000:65536\n1001:200000:10\n"
                     "alice:bad:1\nalice:300000:0\nalice:400000:5\n"
                     "alice:500000:6\n";
  guint32 start = 0, count = 0;
  g_assert_true(uva_subid_find(text, "bob", 1000, &start, &count));
  g_assert_cmpuint(start, ==, 100000);
  g_assert_cmpuint(count, ==, 65536);
  g_assert_true(uva_subid_find(text, "carol", 1001, &start, &count));
  g_assert_cmpuint(start, ==, 200000);
  g_assert_true(uva_subid_find(text, "alice", 7, &start, &count));
  g_assert_cmpuint(start, ==, 400000);
  g_assert_cmpuint(count, ==, 5);
  g_assert_false(uva_subid_find(text, "dave", 1002, &start, &count));
  g_assert_false(uva_subid_find("x:4294967295:2\n", "x", 1, &start, &count));
  gboolean a = FALSE;
  g_assert_true(uva_userns_parse("auto", &a, NULL) && a);
  g_assert_true(uva_userns_parse("single", &a, NULL) && !a);
  g_assert_false(uva_userns_parse("keep-id", &a, NULL));
}

static UvaContainerSpec *container(const char *name, const char *publish) {
  UvaContainerSpec *c = uva_container_spec_new(name);
  c->argv = g_strsplit("/bin/true", " ", -1);
  c->workdir = g_strdup("/w");
  c->tmpdir = g_strdup("/t");
  if (publish) {
    UvaPublish p;
    g_assert_true(uva_publish_parse(publish, &p, NULL));
    g_array_append_val(c->publish, p);
  }
  return c;
}

static void test_spec_validate(void) {
  g_autoptr(GError) error = NULL;
  g_autoptr(UvaSpec) empty = uva_spec_new();
  g_assert_false(uva_spec_validate(empty, &error));
  g_clear_error(&error);

  g_autoptr(UvaSpec) ok = uva_spec_new();
  g_ptr_array_add(ok->containers, container("a", "1000:80"));
  g_ptr_array_add(ok->containers, container("b", "1001:80"));
  g_assert_true(uva_spec_validate(ok, &error));
  g_assert_no_error(error);

  g_autoptr(UvaSpec) dup_port = uva_spec_new();
  g_ptr_array_add(dup_port->containers, container("a", "1000:80"));
  g_ptr_array_add(dup_port->containers, container("b", "127.0.0.1:1000:81"));
  g_assert_false(uva_spec_validate(dup_port, &error));
  g_assert_nonnull(strstr(error->message, "1000"));
  g_assert_nonnull(strstr(error->message, "containers a and b"));
  g_clear_error(&error);

  g_autoptr(UvaSpec) dup_in_one = uva_spec_new();
  UvaContainerSpec *c = container("a", "1000:80");
  UvaPublish p;
  g_assert_true(uva_publish_parse("1000:81", &p, NULL));
  g_array_append_val(c->publish, p);
  g_ptr_array_add(dup_in_one->containers, c);
  g_assert_false(uva_spec_validate(dup_in_one, &error));
  g_clear_error(&error);

  /* bind(2)'s rules: other addresses coexist, a wildcard clashes with
   * its family, IPv4 and IPv6 never clash (V6ONLY). */
  const struct {
    const char *a, *b;
    gboolean clash;
  } pairs[] = {
      {"127.0.0.1:1000:80", "127.0.0.2:1000:80", FALSE},
      {"0.0.0.0:1000:80", "127.0.0.2:1000:80", TRUE},
      {"127.0.0.1:1000:80", "[::1]:1000:80", FALSE},
      {"[::]:1000:80", "[::1]:1000:81", TRUE},
      {"[::1]:1000:80", "[::1]:1000:81", TRUE},
      {"1000:80", "1000:80/udp", FALSE},
  };
  for (guint i = 0; i < G_N_ELEMENTS(pairs); i++) {
    g_autoptr(UvaSpec) two = uva_spec_new();
    g_ptr_array_add(two->containers, container("a", pairs[i].a));
    g_ptr_array_add(two->containers, container("b", pairs[i].b));
    g_assert_cmpint(uva_spec_validate(two, NULL), ==, !pairs[i].clash);
  }

  /* The slirp driver refuses what libslirp cannot carry; splice (the
   * default) takes it. */
  const char *slirp_refuses[] = {"5353:53/udp", "[::1]:1000:80"};
  for (guint i = 0; i < G_N_ELEMENTS(slirp_refuses); i++) {
    g_autoptr(UvaSpec) sp = uva_spec_new();
    UvaContainerSpec *sc = container("a", slirp_refuses[i]);
    g_ptr_array_add(sp->containers, sc);
    g_assert_true(uva_spec_validate(sp, NULL));
    sc->port_driver = UVA_PORT_DRIVER_SLIRP;
    g_assert_false(uva_spec_validate(sp, &error));
    g_assert_nonnull(strstr(error->message, "use --port-driver splice"));
    g_clear_error(&error);
  }

  g_autoptr(UvaSpec) bad_env = uva_spec_new();
  UvaContainerSpec *be = container("a", NULL);
  be->env = g_strsplit("GOOD=1,1BAD=2", ",", -1);
  g_ptr_array_add(bad_env->containers, be);
  g_assert_false(uva_spec_validate(bad_env, &error));
  g_assert_nonnull(strstr(error->message, "1BAD=2"));
  g_clear_error(&error);

  g_autoptr(UvaSpec) none_pub = uva_spec_new();
  UvaContainerSpec *np = container("a", "1000:80");
  np->no_network = TRUE;
  g_ptr_array_add(none_pub->containers, np);
  g_assert_true(uva_spec_validate(none_pub, NULL)); /* splice: fine */
  np->port_driver = UVA_PORT_DRIVER_SLIRP;
  g_assert_false(uva_spec_validate(none_pub, &error));
  g_assert_nonnull(strstr(error->message, "network none"));
  g_clear_error(&error);

  g_autoptr(UvaSpec) dup_name = uva_spec_new();
  g_ptr_array_add(dup_name->containers, container("a", NULL));
  g_ptr_array_add(dup_name->containers, container("a", NULL));
  g_assert_false(uva_spec_validate(dup_name, &error));
  g_assert_nonnull(strstr(error->message, "used twice"));
  g_clear_error(&error);

  g_autoptr(UvaSpec) no_cmd = uva_spec_new();
  UvaContainerSpec *e = container("a", NULL);
  g_strfreev(e->argv);
  e->argv = g_new0(char *, 1);
  g_ptr_array_add(no_cmd->containers, e);
  g_assert_false(uva_spec_validate(no_cmd, &error));
  g_assert_nonnull(strstr(error->message, "command is empty"));
}

static void test_volume_and_driver(void) {
  UvaMount m = {0};
  g_assert_true(uva_volume_parse("/srv/data:/data:ro", NULL, &m, NULL));
  g_assert_cmpstr(m.source, ==, "/srv/data");
  g_assert_cmpstr(m.target, ==, "/data");
  g_assert_true(m.read_only);
  g_free(m.source);
  g_free(m.target);
  g_assert_true(uva_volume_parse("rel/dir:/x/../y:rw", "/base", &m, NULL));
  g_assert_cmpstr(m.source, ==, "/base/rel/dir");
  g_assert_cmpstr(m.target, ==, "/y");
  g_assert_false(m.read_only);
  g_free(m.source);
  g_free(m.target);
  const char *bad[] = {"/a",       "/a:rel",     "/a:/", ":/b",
                       "/a:/b:rx", "/a:/b:ro:x", ""};
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GError) error = NULL;
    g_assert_false(uva_volume_parse(bad[i], NULL, &m, &error));
    g_assert_nonnull(strstr(error->message, "HOST_PATH:/CONTAINER_PATH"));
  }
  UvaContainerSpec *c = uva_container_spec_new("r");
  g_assert_true(uva_restart_parse("on-failure:3", c, NULL));
  g_assert_true(c->restart_on_failure);
  g_assert_cmpuint(c->restart_max, ==, 3);
  g_autofree char *r3 = uva_restart_string(c);
  g_assert_cmpstr(r3, ==, "on-failure:3");
  g_assert_true(uva_restart_parse("on-failure", c, NULL));
  g_assert_cmpuint(c->restart_max, ==, 0);
  g_assert_true(uva_restart_parse("no", c, NULL));
  g_assert_false(c->restart_on_failure);
  const char *bad_restart[] = {"always",       "on-failure:0",  "on-failure:",
                               "on-failure:x", "on-failure:-1", ""};
  for (guint i = 0; i < G_N_ELEMENTS(bad_restart); i++)
    g_assert_false(uva_restart_parse(bad_restart[i], c, NULL));
  uva_container_spec_free(c);
  UvaPortDriver d = UVA_PORT_DRIVER_SPLICE;
  g_assert_true(uva_port_driver_parse("slirp", &d, NULL));
  g_assert_cmpint(d, ==, UVA_PORT_DRIVER_SLIRP);
  g_assert_true(uva_port_driver_parse("splice", &d, NULL));
  g_assert_cmpint(d, ==, UVA_PORT_DRIVER_SPLICE);
  g_assert_true(uva_port_driver_parse("bypass", &d, NULL));
  g_assert_cmpint(d, ==, UVA_PORT_DRIVER_BYPASS);
  g_assert_cmpstr(uva_port_driver_name(d), ==, "bypass");
  gboolean outbound = TRUE;
  g_assert_true(uva_outbound_parse("slirp", &outbound, NULL));
  g_assert_false(outbound);
  g_assert_true(uva_outbound_parse("bypass", &outbound, NULL));
  g_assert_true(outbound);
  g_assert_false(uva_outbound_parse("host", &outbound, NULL));
  g_autoptr(GError) error = NULL;
  g_assert_false(uva_port_driver_parse("Splice", &d, &error));
  g_assert_nonnull(strstr(error->message, "not splice, slirp or bypass"));
}

/* An Ethernet frame holding an IPv4 header with the given fragment field. */
static gsize ip_frame(guint8 *f, guint16 id, guint16 frag) {
  memset(f, 0, 60);
  f[12] = 0x08;
  f[13] = 0x00;
  guint8 *ip = f + 14;
  ip[0] = 0x45;
  ip[4] = (guint8)(id >> 8);
  ip[5] = (guint8)id;
  ip[6] = (guint8)(frag >> 8);
  ip[7] = (guint8)frag;
  ip[9] = 17;
  memcpy(ip + 12, (guint8[]){10, 0, 2, 100, 10, 0, 2, 3}, 8);
  return 60;
}

static void test_pids_limit(void) {
  static const struct {
    const char *in;
    guint want;
    const char *back;
  } good[] = {{"2", 2, "2"},
              {"50", 50, "50"},
              {"2048", 2048, "2048"},
              {"4194304", 4194304, "4194304"},
              {"unlimited", 0, "unlimited"},
              {"0", 0, "unlimited"},
              {"-1", 0, "unlimited"}};
  for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
    g_autoptr(GError) error = NULL;
    guint n = 7;
    g_assert_true(uva_pids_limit_parse(good[i].in, &n, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(n, ==, good[i].want);
    g_autofree char *back = uva_pids_limit_string(n);
    g_assert_cmpstr(back, ==, good[i].back);
  }
  static const char *const bad[] = {"",
                                    "1",
                                    "-2",
                                    "4194305",
                                    "1e3",
                                    " 5",
                                    "5 ",
                                    "+5",
                                    "0x10",
                                    "none",
                                    "99999999999999999999"};
  for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GError) error = NULL;
    guint n = 7;
    if (uva_pids_limit_parse(bad[i], &n, &error))
      g_error("pids limit \"%s\" was accepted", bad[i]);
    g_assert_error(error, UVA_ERROR, UVA_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, bad[i]));
    g_assert_cmpuint(n, ==, 7);
  }
  UvaContainerSpec *c = uva_container_spec_new("x");
  g_assert_cmpuint(c->pids_limit, ==, 2048);
  g_assert_cmpuint(c->shm_size, ==, 64 * 1024 * 1024);
  uva_container_spec_free(c);
}

static void test_size(void) {
  static const struct {
    const char *in;
    guint64 want;
    const char *back;
  } good[] = {
      {"64m", 67108864, "64m"},
      {"64M", 67108864, "64m"},
      {"64mb", 67108864, "64m"},
      {"64MiB", 67108864, "64m"},
      {"1g", 1073741824, "1g"},
      {"1GB", 1073741824, "1g"},
      {"2048k", 2097152, "2m"},
      {"1kib", 1024, "1k"},
      {"4097", 4097, "4097"},
      {"4097b", 4097, "4097"},
      {"1", 1, "1"},
      {"1536k", 1572864, "1536k"},
      {"17179869183g", G_GUINT64_CONSTANT(17179869183) << 30, "17179869183g"},
  };
  for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
    g_autoptr(GError) error = NULL;
    guint64 n = 7;
    if (!uva_size_parse(good[i].in, &n, &error))
      g_error("size \"%s\": %s", good[i].in, error->message);
    g_assert_cmpuint(n, ==, good[i].want);
    g_autofree char *back = uva_size_string(n);
    g_assert_cmpstr(back, ==, good[i].back);
  }
  static const char *const bad[] = {"",
                                    "0",
                                    "0m",
                                    "m",
                                    "-1m",
                                    "1.5g",
                                    "64 m",
                                    " 64m",
                                    "64m ",
                                    "64mm",
                                    "64t",
                                    "64ib",
                                    "64bb",
                                    "64kibb",
                                    "0x10",
                                    "18446744073709551616",
                                    "17179869184g",
                                    "18446744073709551615k"};
  for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GError) error = NULL;
    guint64 n = 7;
    if (uva_size_parse(bad[i], &n, &error))
      g_error("size \"%s\" was accepted", bad[i]);
    g_assert_error(error, UVA_ERROR, UVA_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, bad[i]));
    g_assert_cmpuint(n, ==, 7);
  }
}

static void test_fragguard(void) {
  UvaFragGuard *g = uva_fragguard_new();
  guint8 f[60];
  gint64 t = 1000 * G_USEC_PER_SEC;
  g_assert_true(uva_fragguard_pass(g, f, ip_frame(f, 1, 0x4000), t)); /* DF */
  g_assert_false(
      uva_fragguard_pass(g, f, ip_frame(f, 1, 0x0001), t)); /* lone last */
  g_assert_false(
      uva_fragguard_pass(g, f, ip_frame(f, 1, 0x2001), t)); /* lone middle */
  g_assert_true(
      uva_fragguard_pass(g, f, ip_frame(f, 2, 0x2000), t)); /* first */
  g_assert_true(uva_fragguard_pass(g, f, ip_frame(f, 2, 0x2001), t + 1));
  g_assert_true(uva_fragguard_pass(g, f, ip_frame(f, 2, 0x0002), t + 2));
  g_assert_false(
      uva_fragguard_pass(g, f, ip_frame(f, 3, 0x0002), t + 2)); /* other id */
  g_assert_false(
      uva_fragguard_pass(g, f, ip_frame(f, 2, 0x0002),
                         t + UVA_FRAGGUARD_WINDOW_US)); /* too late */
  guint8 arp[42] = {[12] = 0x08, [13] = 0x06};
  g_assert_true(uva_fragguard_pass(g, arp, sizeof arp, t));
  g_assert_true(uva_fragguard_pass(g, f, 20, t)); /* short: libslirp's call */
  uva_fragguard_free(g);
}

/* A guest frame to 10.0.2.2 or fd00::2: TCP with flags, or UDP; from
 * source port sport. */
static gsize flow_frame(guint8 *f, gboolean v6, guint8 proto, guint8 flags,
                        guint16 sport) {
  memset(f, 0, 128);
  guint8 *ip = f + 14, *l4;
  gsize l4_len = proto == 6 ? 20 : 8;
  if (v6) {
    f[12] = 0x86;
    f[13] = 0xdd;
    ip[0] = 0x60;
    ip[5] = (guint8)l4_len;
    ip[6] = proto;
    ip[8] = 0xfd;
    ip[23] = 100;
    ip[24] = 0xfd;
    ip[39] = 2;
    l4 = ip + 40;
  } else {
    f[12] = 0x08;
    ip[0] = 0x45;
    ip[3] = (guint8)(20 + l4_len);
    ip[9] = proto;
    memcpy(ip + 12, (guint8[]){10, 0, 2, 100, 10, 0, 2, 2}, 8);
    l4 = ip + 20;
  }
  l4[0] = (guint8)(sport >> 8);
  l4[1] = (guint8)sport;
  l4[3] = 80;
  if (proto == 6) {
    l4[7] = 9; /* seq 9 */
    l4[12] = 5 << 4;
    l4[13] = flags;
  }
  return (gsize)(l4 + l4_len - f);
}

/* The ones-complement sum of a reply's transport part with its
 * pseudo-header: 0xffff when its checksum is right. */
static guint16 l4_sum(const guint8 *r, gsize len) {
  const guint8 *ip = r + 14;
  gboolean v6 = r[12] == 0x86;
  const guint8 *l4 = ip + (v6 ? 40 : 20);
  gsize n = len - (gsize)(l4 - r);
  guint32 acc = (guint32)n + (v6 ? ip[6] : ip[9]);
  const guint8 *pseudo = v6 ? ip + 8 : ip + 12;
  for (gsize i = 0; i < (v6 ? 32u : 8u); i += 2)
    acc += (guint32)(pseudo[i] << 8 | pseudo[i + 1]);
  if (!v6 && ip[9] == 1)
    acc = 0; /* ICMPv4: no pseudo-header */
  for (gsize i = 0; i < n; i += 2)
    acc += (guint32)(l4[i] << 8 | (i + 1 < n ? l4[i + 1] : 0));
  while (acc >> 16)
    acc = (acc & 0xffff) + (acc >> 16);
  return (guint16)acc;
}

static void test_flowcap(void) {
  UvaFlowCap *c = uva_flowcap_new(2);
  guint8 f[128], r[UVA_FLOWCAP_REPLY_MAX];
  gsize rl;
  /* Two flows pass and are keyed to the sockets libslirp opens for them;
   * a failed socket() (udp_attach registers -1) counts nothing. */
  g_assert_true(
      uva_flowcap_pass(c, f, flow_frame(f, FALSE, 6, 0x02, 1000), r, &rl));
  uva_flowcap_registered(c, 7);
  uva_flowcap_done(c);
  g_assert_true(
      uva_flowcap_pass(c, f, flow_frame(f, TRUE, 17, 0, 2000), r, &rl));
  uva_flowcap_registered(c, -1);
  uva_flowcap_registered(c, 8);
  uva_flowcap_done(c);
  g_assert_cmpuint(uva_flowcap_count(c), ==, 2);
  /* At the cap: the existing flows still pass (a retransmitted SYN, the
   * UDP port to any destination), segments of connections pass, new
   * flows do not. */
  g_assert_true(
      uva_flowcap_pass(c, f, flow_frame(f, FALSE, 6, 0x02, 1000), r, &rl));
  g_assert_true(
      uva_flowcap_pass(c, f, flow_frame(f, TRUE, 17, 0, 2000), r, &rl));
  g_assert_true(
      uva_flowcap_pass(c, f, flow_frame(f, FALSE, 6, 0x10, 1001), r, &rl));
  g_assert_true(
      uva_flowcap_pass(c, f, flow_frame(f, FALSE, 6, 0x12, 1001), r, &rl));
  guint8 arp[42] = {[12] = 0x08, [13] = 0x06};
  g_assert_true(uva_flowcap_pass(c, arp, sizeof arp, r, &rl));
  /* A new SYN: a RST back, ACK = SEQ + 1, from its destination. */
  gsize n = flow_frame(f, FALSE, 6, 0x02, 1001);
  g_assert_false(uva_flowcap_pass(c, f, n, r, &rl));
  g_assert_cmpuint(rl, ==, 54);
  g_assert_cmpmem(r, 6, f + 6, 6);
  g_assert_cmpmem(r + 14 + 12, 4, f + 14 + 16, 4);
  g_assert_cmpuint(r[14 + 20 + 13], ==, 0x14);
  g_assert_cmpuint(r[14 + 20 + 11], ==, 10);
  g_assert_cmpuint(r[14 + 20 + 2] << 8 | r[14 + 20 + 3], ==, 1001);
  g_assert_cmpuint(l4_sum(r, rl), ==, 0xffff);
  n = flow_frame(f, TRUE, 6, 0x02, 1001);
  g_assert_false(uva_flowcap_pass(c, f, n, r, &rl));
  g_assert_cmpuint(rl, ==, 74);
  g_assert_cmpuint(l4_sum(r, rl), ==, 0xffff);
  /* A new UDP port: ICMP port unreachable quoting its headers. */
  n = flow_frame(f, FALSE, 17, 0, 2001);
  g_assert_false(uva_flowcap_pass(c, f, n, r, &rl));
  g_assert_cmpuint(rl, ==, 14 + 20 + 8 + 28);
  g_assert_cmpuint(r[14 + 20], ==, 3);
  g_assert_cmpuint(r[14 + 21], ==, 3);
  g_assert_cmpuint(l4_sum(r, rl), ==, 0xffff);
  n = flow_frame(f, TRUE, 17, 0, 2001);
  g_assert_false(uva_flowcap_pass(c, f, n, r, &rl));
  g_assert_cmpuint(r[14 + 40], ==, 1);
  g_assert_cmpuint(r[14 + 41], ==, 4);
  g_assert_cmpuint(l4_sum(r, rl), ==, 0xffff);
  /* libslirp closes one: a new flow passes again. */
  uva_flowcap_unregistered(c, 7);
  g_assert_true(
      uva_flowcap_pass(c, f, flow_frame(f, FALSE, 17, 0, 2001), r, &rl));
  uva_flowcap_registered(c, 7);
  uva_flowcap_done(c);
  /* An fd closed without unregister and reused replaces its old entry. */
  uva_flowcap_registered(c, 8);
  g_assert_cmpuint(uva_flowcap_count(c), ==, 2);
  g_assert_false(
      uva_flowcap_pass(c, f, flow_frame(f, TRUE, 17, 0, 2000), r, &rl));
  uva_flowcap_free(c);
}

static void test_sockets_limit(void) {
  guint n = 0;
  g_assert_true(uva_sockets_limit_parse("1", &n, NULL));
  g_assert_cmpuint(n, ==, 1);
  g_assert_true(uva_sockets_limit_parse("1048576", &n, NULL));
  g_assert_cmpuint(n, ==, 1048576);
  static const char *const bad[] = {"",        "0",   "-1", "unlimited",
                                    "1048577", "12x", " 5"};
  for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GError) error = NULL;
    n = 7;
    g_assert_false(uva_sockets_limit_parse(bad[i], &n, &error));
    g_assert_error(error, UVA_ERROR, UVA_ERROR_INVALID);
    g_assert_cmpuint(n, ==, 7);
  }
  UvaContainerSpec *c = uva_container_spec_new("x");
  g_assert_cmpuint(c->sockets_limit, ==, 512);
  uva_container_spec_free(c);
}

static void test_default_spec(void) {
  g_autoptr(UvaSpec) spec = uva_spec_default("/src/http_recorder.py", "/st");
  g_assert_true(uva_spec_validate(spec, NULL));
  g_assert_cmpuint(spec->containers->len, ==, 2);
  const char *names[] = {"a", "b"};
  const guint16 ports[] = {18080, 28080};
  for (guint i = 0; i < 2; i++) {
    UvaContainerSpec *c = spec->containers->pdata[i];
    g_assert_cmpstr(c->name, ==, names[i]);
    g_autofree char *www = g_build_filename("/st", names[i], "www", NULL);
    g_autofree char *tmp = g_build_filename("/st", names[i], "tmp", NULL);
    g_assert_cmpstr(c->workdir, ==, www);
    g_assert_cmpstr(c->tmpdir, ==, tmp);
    g_assert_cmpuint(c->publish->len, ==, 1);
    UvaPublish *p = &g_array_index(c->publish, UvaPublish, 0);
    g_assert_cmpuint(uva_publish_host_port(p), ==, ports[i]);
    g_assert_cmpuint(p->container_port, ==, 8080);
    g_autofree char *host = uva_publish_host_string(p);
    g_assert_true(g_str_has_prefix(host, "127.0.0.1:"));
    /* the exact file, bound read-only, run by its shebang */
    g_assert_cmpstr(g_environ_getenv(c->env, "PYTHONUNBUFFERED"), ==, "1");
    UvaMount *m = &g_array_index(c->mounts, UvaMount, 0);
    g_assert_cmpstr(m->source, ==, "/src/http_recorder.py");
    g_assert_cmpstr(m->target, ==, c->argv[0]);
    g_assert_true(m->read_only);
  }
}

static void test_id_map(void) {
  g_autofree char *a = uva_id_map_text(1000);
  g_autofree char *b = uva_id_map_text(0);
  g_assert_cmpstr(a, ==, "1000 1000 1\n");
  g_assert_cmpstr(b, ==, "0 0 1\n");
}

static void test_hosts_text(void) {
  g_autofree char *h = uva_rootfs_hosts_text("web", TRUE);
  g_assert_nonnull(strstr(h, "127.0.0.1\tlocalhost\n"));
  g_assert_nonnull(strstr(h, "\n10.0.2.100\tweb\n"));
  g_autofree char *none = uva_rootfs_hosts_text("web", FALSE);
  g_assert_null(strstr(none, "10.0.2.100"));
  g_assert_nonnull(strstr(none, "\n127.0.1.1\tweb\n"));
}

static void test_hints(void) {
  g_assert_nonnull(strstr(uva_tap_open_hint(ENOENT), "modprobe tun"));
  /* The way to go on without the node, ports included. */
  g_assert_nonnull(strstr(uva_tap_open_hint(ENOENT),
                          "--network none (network = none in "
                          "a spec) still publishes ports"));
  g_assert_nonnull(strstr(uva_tap_open_hint(EACCES), "chmod 0666"));
  g_assert_null(uva_tap_open_hint(EIO));
  g_autofree char *inval = uva_sandbox_userns_hint(EINVAL);
  g_assert_nonnull(strstr(inval, "CONFIG_USER_NS"));
}

/* A bound socket on 127.0.0.1, port chosen by the kernel. */
static int bound_socket(gboolean udp, guint16 *port) {
  int s = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  g_assert_cmpint(bind(s, (struct sockaddr *)&a, sizeof a), ==, 0);
  if (!udp)
    g_assert_cmpint(listen(s, 1), ==, 0);
  g_assert_cmpint(getsockname(s, (struct sockaddr *)&a, &len), ==, 0);
  *port = ntohs(a.sin_port);
  return s;
}

/* "already in use" names the holder when it is one of our processes, and
 * otherwise an ss(8) command that shows listening sockets (-l). */
static void test_port_holder(void) {
  for (int udp = 0; udp <= 1; udp++) {
    guint16 port;
    int s = bound_socket(udp, &port);
    /* Our own socket is skipped (the manager is not its own holder): the
     * message falls back to ss. */
    g_autofree char *spec =
        g_strdup_printf("127.0.0.1:%u:80%s", port, udp ? "/udp" : "");
    UvaPublish p;
    g_assert_true(uva_publish_parse(spec, &p, NULL));
    g_autoptr(GError) error = NULL;
    g_assert_false(uva_publish_bind_error("a", &p, EADDRINUSE, &error));
    g_autofree char *want = g_strdup_printf(
        "another program (find it with: ss -l%cnp 'sport = :%u'); stop it",
        udp ? 'u' : 't', port);
    if (!strstr(error->message, want))
      g_error("got \"%s\", want \"%s\"", error->message, want);
    /* A child holding the same socket is found, by pid and name. */
    int go[2];
    g_assert_cmpint(pipe2(go, O_CLOEXEC), ==, 0);
    pid_t pid = fork();
    if (pid == 0) {
      char c;
      close(go[1]);
      (void)!read(go[0], &c, 1);
      _exit(0);
    }
    close(s);
    UvaPortHolder h;
    uva_portholder_find(port, udp, &h);
    g_assert_cmpint(h.pid, ==, pid);
    g_assert_false(h.is_uva);
    g_autofree char *d = uva_portholder_describe(port, udp);
    g_autofree char *want2 = g_strdup_printf("(pid %d) of yours", (int)pid);
    g_assert_nonnull(strstr(d, want2));
    close(go[1]);
    close(go[0]);
    waitpid(pid, NULL, 0);
  }
}

/* check's kernel line: the oldest kernel that runs the default is 5.12
 * (mount_setattr), and what an older or newer one lacks is named. */
static void test_kernel_report(void) {
  gboolean ok;
  g_autofree char *old = uva_doctor_kernel_report("5.10.0-28-amd64", &ok);
  g_assert_false(ok);
  g_assert_nonnull(strstr(old, "needs Linux 5.12 or later"));
  g_assert_nonnull(strstr(old, "mount_setattr (read-only binds) 5.12"));
  g_assert_nonnull(strstr(old, "CLOSE_RANGE_CLOEXEC"));
  g_autofree char *mid = uva_doctor_kernel_report("5.13.0", &ok);
  g_assert_true(ok);
  g_assert_nonnull(strstr(mid, "RLIMIT_NPROC per user namespace"));
  g_assert_null(strstr(mid, "mount_setattr"));
  g_autofree char *now = uva_doctor_kernel_report("6.12.1", &ok);
  g_assert_true(ok);
  g_assert_nonnull(strstr(now, "every feature used is there"));
}

/* The bypass drivers need 5.19 (WAIT_KILLABLE_RECV), and say why. */
static void test_bypass_kernel(void) {
  g_autoptr(GError) error = NULL;
  g_assert_false(uva_bypass_kernel_ok("5.18.19", &error));
  g_assert_nonnull(strstr(error->message, "need Linux 5.19, this is 5.18.19"));
  g_assert_nonnull(strstr(error->message, "WAIT_KILLABLE_RECV"));
  g_assert_false(uva_bypass_kernel_ok("4.19.0", NULL));
  g_assert_true(uva_bypass_kernel_ok("5.19.0", NULL));
  g_assert_true(uva_bypass_kernel_ok("6.1.0-28-amd64", NULL));
}

static void test_msg_roundtrip(void) {
  int sv[2];
  g_assert_cmpint(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), ==,
                  0);
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  UvaMsg out = {.type = UVA_MSG_TAP, .err = 5, .value = 42};
  g_strlcpy(out.text, "hello", sizeof out.text);
  g_assert_true(uva_msg_send(sv[0], &out, devnull, NULL));
  UvaMsg in;
  int fd;
  gboolean eof;
  g_assert_true(uva_msg_recv(sv[1], &in, &fd, &eof, NULL));
  g_assert_cmpint(in.type, ==, UVA_MSG_TAP);
  g_assert_cmpint(in.value, ==, 42);
  g_assert_cmpstr(in.text, ==, "hello");
  g_assert_cmpint(fd, >=, 0);
  g_assert_cmpint(fcntl(fd, F_GETFD) & FD_CLOEXEC, ==, FD_CLOEXEC);
  struct stat a, b;
  fstat(fd, &a);
  fstat(devnull, &b);
  g_assert_true(a.st_rdev == b.st_rdev);
  close(fd);

  /* A short message is refused, not half-trusted. */
  g_autoptr(GError) error = NULL;
  g_assert_cmpint(send(sv[0], "xx", 2, 0), ==, 2);
  g_assert_false(uva_msg_recv(sv[1], &in, &fd, &eof, &error));
  g_assert_nonnull(error);
  g_assert_false(eof);
  g_assert_cmpint(fd, ==, -1);

  close(sv[0]);
  g_assert_false(uva_msg_recv(sv[1], &in, &fd, &eof, NULL));
  g_assert_true(eof);
  close(sv[1]);
  close(devnull);
}

/* A peer that exits with our messages unread (an init killed while a dial
 * request waits for it) makes the kernel answer ECONNRESET, not 0: that is
 * the peer's end, an EOF, never an error line. */
static void test_msg_peer_gone_unread(void) {
  int sv[2];
  g_assert_cmpint(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), ==,
                  0);
  UvaMsg out = {.type = UVA_MSG_CONNECT, .value = 7};
  g_assert_true(uva_msg_send(sv[0], &out, -1, NULL));
  close(sv[1]); /* unread: sv[0] gets ECONNRESET from recvmsg(2) */
  UvaMsg in;
  int fd;
  gboolean eof = FALSE;
  g_autoptr(GError) error = NULL;
  g_assert_false(uva_msg_recv(sv[0], &in, &fd, &eof, &error));
  g_assert_no_error(error);
  g_assert_true(eof);
  g_assert_cmpint(fd, ==, -1);
  close(sv[0]);
}

/* An empty datagram that carries fds (SOCK_SEQPACKET delivers it as a
 * read of 0 bytes): taken for EOF, its fds must still be closed, not
 * left installed in the manager.  Before, 4 fds stayed open. */
static int open_fd_count(void) {
  g_autoptr(GDir) d = g_dir_open("/proc/self/fd", 0, NULL);
  int n = 0;
  while (d && g_dir_read_name(d))
    n++;
  return n;
}

static void test_msg_empty_with_fds(void) {
  int sv[2];
  g_assert_cmpint(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), ==,
                  0);
  int before = open_fd_count();
  int fds[4] = {dup(0), dup(0), dup(0), dup(0)};
  union {
    char buf[CMSG_SPACE(sizeof fds)];
    struct cmsghdr align;
  } u;
  memset(&u, 0, sizeof u);
  struct iovec iov = {u.buf, 0};
  struct msghdr mh = {.msg_iov = &iov,
                      .msg_iovlen = 1,
                      .msg_control = u.buf,
                      .msg_controllen = sizeof u.buf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof fds);
  memcpy(CMSG_DATA(c), fds, sizeof fds);
  g_assert_cmpint(sendmsg(sv[0], &mh, 0), ==, 0);
  for (int i = 0; i < 4; i++)
    close(fds[i]);
  UvaMsg in;
  int fd;
  gboolean eof = FALSE;
  g_autoptr(GError) error = NULL;
  g_assert_false(uva_msg_recv(sv[1], &in, &fd, &eof, &error));
  g_assert_no_error(error);
  g_assert_true(eof);
  g_assert_cmpint(fd, ==, -1);
  g_assert_cmpint(open_fd_count(), ==, before);
  close(sv[0]);
  close(sv[1]);
}

/* A listening SEQPACKET socket bound as dir/file (the manager's way). */
static int listen_at(int dir, const char *file) {
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  g_snprintf(sun.sun_path, sizeof sun.sun_path, "/proc/self/fd/%d/%s", dir,
             file);
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  g_assert_cmpint(fd, >=, 0);
  g_assert_cmpint(bind(fd, (struct sockaddr *)&sun, sizeof sun), ==, 0);
  g_assert_cmpint(listen(fd, 4), ==, 0);
  return fd;
}

/* The client's check of its manager (ctltrust.c, issue 22): the real
 * manager's socket passes; a planted one, one whose record names another
 * inode and one whose listener is not the recorded pid are refused.  The
 * check's cost is printed as a timing line (budget: 100 us a request). */
static void test_ctltrust(void) {
  g_autofree char *tmp = g_dir_make_tmp("uva-unit-ctl-XXXXXX", NULL);
  g_assert_nonnull(tmp);
  int dir = open(tmp, O_PATH | O_DIRECTORY | O_CLOEXEC);
  g_assert_cmpint(dir, >=, 0);
  /* The manager's way: bind, record, then the name. */
  int lsn = listen_at(dir, ".good.tmp");
  g_autofree char *record = NULL;
  g_assert_true(uva_ctltrust_record(dir, "good", ".good.tmp", &record, NULL));
  g_assert_cmpint(renameat(dir, ".good.tmp", dir, "good.sock"), ==, 0);
  g_autoptr(GError) error = NULL;
  int c = uva_ctl_connect_dir(dir, "good", &error);
  g_assert_no_error(error);
  g_assert_cmpint(c, >=, 0);
  const int rounds = 2000;
  gint64 t0 = g_get_monotonic_time();
  for (int i = 0; i < rounds; i++)
    g_assert_true(uva_ctltrust_check(dir, "good", c, NULL));
  double us = (double)(g_get_monotonic_time() - t0) / rounds;
  g_test_message("timing: control peer check %.1f us per request "
                 "(budget 100 us; %d rounds)",
                 us, rounds);
  close(c);

  /* Planted: no record. */
  int planted = listen_at(dir, "planted.sock");
  g_clear_error(&error);
  g_assert_cmpint(uva_ctl_connect_dir(dir, "planted", &error), ==, -1);
  g_assert_nonnull(strstr(error->message, "no manager recorded it"));
  g_assert_nonnull(strstr(error->message, "nothing was sent"));
  /* A record copied from another socket names another inode. */
  struct stat st;
  g_assert_cmpint(fstatat(dir, "planted.sock", &st, AT_SYMLINK_NOFOLLOW), ==,
                  0);
  g_autofree char *forged = g_strdup_printf(".%ju.id", (uintmax_t)st.st_ino);
  g_autofree char *good_text = NULL;
  {
    int r = openat(dir, record, O_RDONLY | O_CLOEXEC);
    char buf[128] = {0};
    g_assert_cmpint(read(r, buf, sizeof buf - 1), >, 0);
    close(r);
    good_text = g_strdup(buf);
  }
  int w = openat(dir, forged, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  g_assert_true(uva_write_all(w, good_text, strlen(good_text), NULL));
  close(w);
  g_clear_error(&error);
  g_assert_cmpint(uva_ctl_connect_dir(dir, "planted", &error), ==, -1);
  g_assert_nonnull(strstr(error->message, "names another socket"));
  /* The right inode, but the listener is not the recorded pid. */
  g_autofree char *wrong_pid =
      g_strdup_printf("uva_container-ctl %d %ju %ju\n", (int)getppid(),
                      (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
  g_assert_cmpint(unlinkat(dir, forged, 0), ==, 0);
  w = openat(dir, forged, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  g_assert_true(uva_write_all(w, wrong_pid, strlen(wrong_pid), NULL));
  close(w);
  g_clear_error(&error);
  g_assert_cmpint(uva_ctl_connect_dir(dir, "planted", &error), ==, -1);
  g_assert_nonnull(strstr(error->message, "not the manager that recorded it"));
  /* A record others may write is no record. */
  g_assert_cmpint(fchmodat(dir, record, 0622, 0), ==, 0);
  g_clear_error(&error);
  g_assert_cmpint(uva_ctl_connect_dir(dir, "good", &error), ==, -1);
  g_assert_nonnull(strstr(error->message, "only you can write"));

  close(planted);
  close(lsn);
  const char *files[] = {"good.sock", "planted.sock", forged, record};
  for (size_t i = 0; i < G_N_ELEMENTS(files); i++)
    (void)unlinkat(dir, files[i], 0);
  close(dir);
  g_assert_cmpint(rmdir(tmp), ==, 0);
}

static void test_host_path(void) {
  UvaContainerSpec *c = container("a", NULL);
  UvaMount m = {g_strdup("/src/prog"), g_strdup("/opt/uva/prog"), TRUE};
  g_array_append_val(c->mounts, m);
  g_autofree char *p1 = uva_preflight_host_path(c, "/opt/uva/prog");
  g_autofree char *p2 = uva_preflight_host_path(c, "./run.sh");
  g_autofree char *p3 = uva_preflight_host_path(c, "/app/bin/x");
  g_autofree char *p4 = uva_preflight_host_path(c, "sh");
  g_autofree char *p5 = uva_preflight_host_path(c, "no-such-cmd-uva");
  g_autofree char *p6 = uva_preflight_host_path(c, "/usr/bin/env");
  g_assert_cmpstr(p1, ==, "/src/prog");
  g_assert_cmpstr(p2, ==, "/w/./run.sh");
  g_assert_cmpstr(p3, ==, "/w/bin/x");
  g_assert_nonnull(p4);
  g_assert_true(g_str_has_suffix(p4, "/sh"));
  g_assert_null(p5);
  g_assert_cmpstr(p6, ==, "/usr/bin/env");
  uva_container_spec_free(c);
}

static void test_specfile_roundtrip(void) {
  g_autoptr(UvaSpec) def = uva_spec_default("/src/http_recorder.py", "/st");
  g_autofree char *text = uva_specfile_print(def);
  g_autoptr(GError) error = NULL;
  g_autoptr(UvaSpec) back = uva_specfile_parse("d.spec", text, "/x", &error);
  g_assert_no_error(error);
  g_assert_cmpuint(back->containers->len, ==, 2);
  for (guint i = 0; i < 2; i++) {
    UvaContainerSpec *a = def->containers->pdata[i];
    UvaContainerSpec *b = back->containers->pdata[i];
    g_assert_cmpstr(a->name, ==, b->name);
    g_assert_true(g_strv_equal((const char *const *)a->argv,
                               (const char *const *)b->argv));
    g_assert_cmpstr(a->workdir, ==, b->workdir);
    g_assert_cmpstr(a->tmpdir, ==, b->tmpdir);
    g_assert_cmpstr(a->seed_file, ==, b->seed_file);
    g_assert_cmpstr(a->tmp_log, ==, b->tmp_log);
    g_assert_cmpint(a->probe_http, ==, b->probe_http);
    g_assert_cmpuint(b->publish->len, ==, 1);
    g_autofree char *ha =
        uva_publish_host_string(&g_array_index(a->publish, UvaPublish, 0));
    g_autofree char *hb =
        uva_publish_host_string(&g_array_index(b->publish, UvaPublish, 0));
    g_assert_cmpstr(ha, ==, hb);
    UvaMount *ma = &g_array_index(a->mounts, UvaMount, 0);
    UvaMount *mb = &g_array_index(b->mounts, UvaMount, 0);
    g_assert_cmpstr(ma->source, ==, mb->source);
    g_assert_cmpstr(ma->target, ==, mb->target);
    g_assert_cmpint(ma->read_only, ==, mb->read_only);
    g_assert_cmpuint(b->pids_limit, ==, UVA_DEFAULT_PIDS_LIMIT);
    g_assert_cmpuint(b->shm_size, ==, UVA_DEFAULT_SHM_SIZE);
  }
  /* Defaults are not printed: the default spec stays as short as it was. */
  g_assert_null(strstr(text, "pids-limit"));
  g_assert_null(strstr(text, "shm-size"));
}

static void test_specfile_full(void) {
  const char *text = "# three\n"
                     "[container web-1]\n"
                     "command = python3 -m http.server 'with space'\n"
                     "workdir = site\n"
                     "publish = 18081:8000; 127.0.0.2:18082:8001\n"
                     "env = A=1;B=two\n"
                     "volume = data:/data:ro\n"
                     "hostname = h1\n"
                     "network = slirp\n"
                     "[container quiet]\n"
                     "command = sleep 1\n"
                     "network = none\n"
                     "port-driver = slirp\n"
                     "restart = on-failure:4\n"
                     "pids-limit = 50\n"
                     "shm-size = 1536k\n"
                     "[container free]\n"
                     "command = true\n"
                     "userns = auto\n"
                     "pids-limit = unlimited\n"
                     "sockets-limit = 64\n"
                     "shm-size = 1g\n";
  g_autoptr(GError) error = NULL;
  g_autoptr(UvaSpec) s =
      uva_specfile_parse("/etc/x/s.spec", text, "/st", &error);
  g_assert_no_error(error);
  UvaContainerSpec *w = s->containers->pdata[0];
  g_assert_cmpstr(w->argv[3], ==, "with space");
  g_assert_cmpstr(w->workdir, ==, "/etc/x/site");
  g_assert_cmpstr(w->tmpdir, ==, "/st/web-1/tmp");
  g_assert_cmpuint(w->publish->len, ==, 2);
  g_assert_cmpstr(w->env[1], ==, "B=two");
  UvaMount *m = &g_array_index(w->mounts, UvaMount, 0);
  g_assert_cmpstr(m->source, ==, "/etc/x/data");
  g_assert_cmpstr(m->target, ==, "/data");
  g_assert_true(m->read_only);
  g_assert_cmpstr(w->hostname, ==, "h1");
  UvaContainerSpec *q = s->containers->pdata[1];
  g_assert_true(q->no_network);
  g_assert_cmpstr(q->workdir, ==, "/st/quiet/www");
  g_assert_cmpint(q->port_driver, ==, UVA_PORT_DRIVER_SLIRP);
  g_assert_cmpint(w->port_driver, ==, UVA_PORT_DRIVER_SPLICE);
  g_assert_true(q->restart_on_failure);
  g_assert_cmpuint(q->restart_max, ==, 4);
  g_assert_cmpuint(q->pids_limit, ==, 50);
  g_assert_cmpuint(q->shm_size, ==, 1536 * 1024);
  g_assert_cmpuint(w->pids_limit, ==, UVA_DEFAULT_PIDS_LIMIT);
  g_assert_cmpuint(w->shm_size, ==, UVA_DEFAULT_SHM_SIZE);
  UvaContainerSpec *f = s->containers->pdata[2];
  g_assert_cmpuint(f->pids_limit, ==, 0);
  g_assert_cmpuint(f->shm_size, ==, 1024 * 1024 * 1024);
  g_assert_cmpuint(f->sockets_limit, ==, 64);
  g_assert_cmpuint(w->sockets_limit, ==, UVA_DEFAULT_SOCKETS_LIMIT);
  /* Printed and parsed again, it is the same. */
  g_autofree char *printed = uva_specfile_print(s);
  g_assert_nonnull(strstr(printed, "port-driver=slirp\n"));
  g_assert_nonnull(strstr(printed, "restart=on-failure:4\n"));
  g_assert_nonnull(strstr(printed, "pids-limit=50\n"));
  g_assert_nonnull(strstr(printed, "shm-size=1536k\n"));
  g_assert_nonnull(strstr(printed, "pids-limit=unlimited\n"));
  g_assert_nonnull(strstr(printed, "shm-size=1g\n"));
  g_assert_nonnull(strstr(printed, "sockets-limit=64\n"));
  g_assert_null(strstr(printed, "sockets-limit=512"));
  g_autoptr(UvaSpec) again =
      uva_specfile_parse("/p.spec", printed, "/st", NULL);
  g_assert_nonnull(again);
  UvaContainerSpec *q2 = again->containers->pdata[1];
  g_assert_cmpint(q2->port_driver, ==, UVA_PORT_DRIVER_SLIRP);
  g_assert_cmpuint(q2->restart_max, ==, 4);
  g_assert_cmpuint(q2->pids_limit, ==, 50);
  g_assert_cmpuint(q2->shm_size, ==, 1536 * 1024);
  UvaContainerSpec *w2 = again->containers->pdata[0];
  g_assert_cmpuint(w2->pids_limit, ==, UVA_DEFAULT_PIDS_LIMIT);
  g_assert_cmpuint(w2->shm_size, ==, UVA_DEFAULT_SHM_SIZE);
  UvaContainerSpec *f2 = again->containers->pdata[2];
  g_assert_cmpuint(f2->pids_limit, ==, 0);
  g_assert_cmpuint(f2->shm_size, ==, 1024 * 1024 * 1024);
  g_assert_true(f->userns_auto && f2->userns_auto && !w2->userns_auto);
  g_assert_nonnull(strstr(printed, "userns=auto\n"));
}

/* `command` is sh(1) words, as documented: GKeyFile's escapes (\t, \s,
 * \n) must not apply first, and printing must give the same words back. */
static void test_specfile_command_raw(void) {
  const char *text = "[container a]\n"
                     "command = printf 'a\\tb\\n' x\\sy \"c  d\"\n";
  g_autoptr(GError) error = NULL;
  g_autoptr(UvaSpec) s = uva_specfile_parse("/s.spec", text, "/st", &error);
  g_assert_no_error(error);
  UvaContainerSpec *c = s->containers->pdata[0];
  const char *const want[] = {"printf", "a\\tb\\n", "xsy", "c  d", NULL};
  g_assert_true(g_strv_equal((const char *const *)c->argv, want));
  g_autofree char *printed = uva_specfile_print(s);
  g_autoptr(UvaSpec) again =
      uva_specfile_parse("/s.spec", printed, "/st", &error);
  g_assert_no_error(error);
  UvaContainerSpec *c2 = again->containers->pdata[0];
  g_assert_true(g_strv_equal((const char *const *)c2->argv, want));
}

/* A checkout path with ':' and ';': --print-default-spec prints what `up`
 * reads back to the same spec; -v takes the same escapes. */
static void test_volume_escapes(void) {
  const char *rec = "/home/u/we:ird;dir\\x/http_recorder.py";
  g_autoptr(UvaSpec) def = uva_spec_default(rec, "/st");
  g_autofree char *text = uva_specfile_print(def);
  g_autoptr(GError) error = NULL;
  g_autoptr(UvaSpec) back = uva_specfile_parse("/d.spec", text, "/x", &error);
  g_assert_no_error(error);
  g_assert_cmpuint(back->containers->len, ==, 2);
  for (guint i = 0; i < 2; i++) {
    UvaContainerSpec *b = back->containers->pdata[i];
    g_assert_cmpuint(b->mounts->len, ==, 1);
    UvaMount *m = &g_array_index(b->mounts, UvaMount, 0);
    g_assert_cmpstr(m->source, ==, rec);
    g_assert_cmpstr(m->target, ==, "/opt/uva/http_recorder.py");
    g_assert_true(m->read_only);
  }
  UvaMount m = {0};
  g_assert_true(uva_volume_parse("/a\\:b\\;c:/in\\:side:ro", NULL, &m, &error));
  g_assert_cmpstr(m.source, ==, "/a:b;c");
  g_assert_cmpstr(m.target, ==, "/in:side");
  g_assert_true(m.read_only);
  g_autofree char *str = uva_volume_string(&m);
  g_assert_cmpstr(str, ==, "/a\\:b\\;c:/in\\:side:ro");
  g_free(m.source);
  g_free(m.target);
  g_assert_false(uva_volume_parse("/a\\sb:/x", NULL, &m, &error));
  g_assert_nonnull(strstr(error->message, "unknown escape"));
  g_auto(GStrv) list = uva_volume_split(" /a\\;b:/x ; /c:/y;");
  g_assert_cmpuint(g_strv_length(list), ==, 2);
  g_assert_cmpstr(list[0], ==, "/a\\;b:/x");
  g_assert_cmpstr(list[1], ==, "/c:/y");
  /* A target that ends in a space survives its text form (the entry's
   * ends are stripped when read back). */
  g_clear_error(&error);
  UvaMount sp = {0};
  g_assert_true(uva_volume_parse("/a:/x /y/..", NULL, &sp, &error));
  g_assert_cmpstr(sp.target, ==, "/x ");
  g_autofree char *sp_text = uva_volume_string(&sp);
  g_auto(GStrv) sp_list = uva_volume_split(sp_text);
  UvaMount sp2 = {0};
  g_assert_true(uva_volume_parse(sp_list[0], NULL, &sp2, &error));
  g_assert_cmpstr(sp2.target, ==, "/x ");
  g_free(sp.source);
  g_free(sp.target);
  g_free(sp2.source);
  g_free(sp2.target);
}

static void test_specfile_bad(void) {
  static const struct {
    const char *text, *want;
  } cases[] = {
      {"[container a]\ncommand=x\ncolour=red\n",
       "s.spec:3: unknown key \"colour\""},
      {"[container a]\ncommand=x\n[service b]\ncommand=y\n",
       "s.spec:3: unknown group [service b]"},
      {"[container a]\nworkdir=/w\n", "s.spec:1: [container a] has no command"},
      {"[container a]\ncommand=x\npublish=0:0\n", "s.spec:3: publish \"0:0\""},
      {"[container a]\ncommand=x\nvolume=/a\n", "s.spec:3: volume \"/a\""},
      {"[container a]\ncommand=x\nnetwork=wifi\n",
       "s.spec:3: network \"wifi\""},
      {"[container a]\ncommand=x\nport-driver=fast\n",
       "s.spec:3: port driver \"fast\""},
      {"[container a]\ncommand=x\nrestart=always\n",
       "s.spec:3: restart policy \"always\""},
      {"[container a]\ncommand=x\npids-limit=1\n",
       "s.spec:3: pids limit \"1\""},
      {"[container a]\ncommand=x\nshm-size=64x\n", "s.spec:3: size \"64x\""},
      {"[container a]\ncommand=x\nport-driver=slirp\npublish=53:53/udp\n",
       "s.spec: container a: the slirp port driver cannot publish UDP"},
      {"[container a]\ncommand='unclosed\n", "s.spec:2: command:"},
      {"[container A]\ncommand=x\n", "s.spec:1: container name \"A\""},
      {"[container a]\ncommand=x\npublish=1000:80\n[container "
       "b]\ncommand=y\npublish=1000:81\n",
       "s.spec: host port 127.0.0.1:1000 is published twice"},
      {"[container a]\ncommand=x\nseed-file=../../x\n",
       "s.spec: container a: seed-file \"../../x\" is not a plain file name"},
      {"[container a]\ncommand=x\nseed-file=..\n",
       "s.spec: container a: seed-file \"..\" is not a plain file name"},
      {"[container a]\ncommand=x\nlog=sub/x.log\n",
       "s.spec: container a: log \"sub/x.log\" is not a plain file name"},
      {"this is not a key file\n", "s.spec: "},
      {"", "s.spec: the spec describes no container"},
  };
  for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(UvaSpec) s =
        uva_specfile_parse("s.spec", cases[i].text, "/st", &error);
    if (s)
      g_error("spec %zu was accepted", i);
    g_assert_nonnull(error);
    if (!g_str_has_prefix(error->message, cases[i].want))
      g_error("spec %zu: got \"%s\", want prefix \"%s\"", i, error->message,
              cases[i].want);
  }
  g_autoptr(GError) error = NULL;
  g_assert_null(uva_specfile_load("/nonexistent/uva.spec", "/st", &error));
  g_assert_nonnull(strstr(error->message, "/nonexistent/uva.spec"));
}

/* The resolver follows the user's own symlinks, refuses one planted where
 * a container can write, and keeps a missing tail. */
static void test_hostdir_resolve(void) {
  g_autofree char *dir = g_dir_make_tmp("uva-unit-XXXXXX", NULL);
  g_autofree char *real = g_build_filename(dir, "real", NULL);
  g_autofree char *area = g_build_filename(dir, "area", NULL);
  g_assert_cmpint(mkdir(real, 0700), ==, 0);
  g_assert_cmpint(mkdir(area, 0700), ==, 0);
  g_autofree char *link = g_build_filename(dir, "link", NULL);
  g_autofree char *planted = g_build_filename(area, "planted", NULL);
  g_assert_cmpint(symlink("real", link), ==, 0);
  g_assert_cmpint(symlink(real, planted), ==, 0);
  g_autofree char *canon_dir = realpath(dir, NULL);
  g_autofree char *canon_real = g_build_filename(canon_dir, "real", NULL);
  g_autofree char *canon_area = g_build_filename(canon_dir, "area", NULL);
  const char *areas[] = {canon_area, NULL};

  g_autoptr(GError) error = NULL;
  g_autofree char *in = g_build_filename(link, "missing", "tail", NULL);
  g_autofree char *got = uva_hostdir_resolve(in, areas, &error);
  g_assert_no_error(error);
  g_autofree char *want = g_build_filename(canon_real, "missing", "tail", NULL);
  g_assert_cmpstr(got, ==, want);
  g_autofree char *dots = g_build_filename(link, "..", "real", NULL);
  g_autofree char *got2 = uva_hostdir_resolve(dots, areas, &error);
  g_assert_cmpstr(got2, ==, canon_real);

  g_autofree char *bad = uva_hostdir_resolve(planted, areas, &error);
  g_assert_null(bad);
  g_assert_nonnull(strstr(error->message, "a container can write there"));
  g_clear_error(&error);
  g_autofree char *ok = uva_hostdir_resolve(planted, NULL, &error);
  g_assert_cmpstr(ok, ==, canon_real);

  unlink(planted);
  unlink(link);
  rmdir(area);
  rmdir(real);
  rmdir(dir);
}

/* No app can move the cursor or forge another container's lines. */
static void test_output_escape(void) {
  static const char in[] = "a\tb\033[2J\0\r\x7f\xc2\x9b\xc3\xa9";
  g_autoptr(GString) out = g_string_new(NULL);
  uva_output_escape(out, in, sizeof in - 1);
  g_assert_cmpstr(out->str, ==, "a\tb^[[2J^@^M^?\\u009b\xc3\xa9");
}

/* `check` says what each Landlock ABI gives, and what an older one lacks. */
static void test_confine_describe(void) {
  static const struct {
    int abi;
    const char *want;
  } cases[] = {
      {0, "not available: the manager runs in an empty root of its own "
          "instead (a user and mount namespace holding only "
          "/etc/resolv.conf)"},
      {1, "ABI 1: filesystem (TCP bind rules need ABI 4) (abstract unix "
          "socket scope needs ABI 6)"},
      {4, "ABI 4: filesystem, TCP bind (abstract unix socket scope needs "
          "ABI 6)"},
      {7, "ABI 7: filesystem, TCP bind, abstract unix socket scope"},
  };
  for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *got = uva_confine_describe_landlock(cases[i].abi);
    g_assert_cmpstr(got, ==, cases[i].want);
  }
}

/* The manager's filter, installed in a child: each argument filter lets
 * through what the manager needs and refuses the rest.  The child reports
 * the number of the first failed expectation as its exit status. */
static int filter_child(pid_t init) {
  if (uva_seccomp_manager_filter(&init, 1, NULL, 0) < 0)
    return 1;
  int s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    return 2;
  if (socket(AF_UNIX, SOCK_STREAM, 0) >= 0 || errno != EPERM)
    return 3;
  if (socket(AF_NETLINK, SOCK_RAW, 0) >= 0 || errno != EPERM)
    return 4;
  int avail = 0;
  if (ioctl(s, FIONREAD, &avail) < 0)
    return 5;
  /* TIOCSTI on a socket would be ENOTTY: EPERM is the filter's. */
  char c = ' ';
  if (syscall(SYS_ioctl, s, (unsigned long)TIOCSTI, &c) == 0 || errno != EPERM)
    return 6;
  if (syscall(SYS_ioctl, s, (unsigned long)TIOCSTI | (1UL << 32), &c) == 0 ||
      errno != EPERM)
    return 7;
  if (kill(init, 0) < 0 || kill(getpid(), 0) < 0)
    return 8;
  if (kill(getppid(), 0) == 0 || errno != EPERM)
    return 9;
  if (kill(-1, 0) == 0 || errno != EPERM)
    return 10;
  struct sockaddr_in a = {.sin_family = AF_INET};
  int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (bind(t, (struct sockaddr *)&a, sizeof a) == 0 || errno != EPERM)
    return 11;
  if (listen(t, 1) == 0 || errno != EPERM)
    return 12;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0 || errno != EPERM)
    return 13;
  return 0;
}

static void test_manager_filter(void) {
  pid_t init = fork();
  g_assert_cmpint(init, >=, 0);
  if (init == 0) {
    pause();
    _exit(0);
  }
  pid_t pid = fork();
  g_assert_cmpint(pid, >=, 0);
  /* exit_group directly: _exit() is noreturn, and before such calls ASan
   * runs sigaltstack(), which the filter refuses. */
  if (pid == 0)
    syscall(SYS_exit_group, filter_child(init));
  int st = 0;
  g_assert_cmpint(waitpid(pid, &st, 0), ==, pid);
  kill(init, SIGKILL);
  waitpid(init, NULL, 0);
  g_assert_true(WIFEXITED(st));
  g_assert_cmpint(WEXITSTATUS(st), ==, 0);
}

/* A classic BPF interpreter for what seccomp filters use (net/core/filter.c
 * accepts more; uva's filters use loads of seccomp_data words, ALU AND,
 * jumps and returns): it runs the app's filter on a seccomp_data of our
 * own, so the i386 and x32 rules are tested on any kernel, also one that
 * cannot run such programs (issue: CI on a kernel without IA32 emulation). */
static guint32 bpf_run(const struct sock_filter *prog, unsigned len,
                       const struct seccomp_data *d) {
  guint32 a = 0;
  const unsigned char *data = (const unsigned char *)d;
  for (unsigned pc = 0; pc < len; pc++) {
    const struct sock_filter *f = &prog[pc];
    switch (f->code) {
    case BPF_LD | BPF_W | BPF_ABS:
      g_assert_cmpuint(f->k + 4, <=, sizeof *d);
      memcpy(&a, data + f->k, 4);
      break;
    case BPF_ALU | BPF_AND | BPF_K:
      a &= f->k;
      break;
    case BPF_JMP | BPF_JA:
      pc += f->k;
      break;
    case BPF_JMP | BPF_JEQ | BPF_K:
      pc += a == f->k ? f->jt : f->jf;
      break;
    case BPF_JMP | BPF_JGE | BPF_K:
      pc += a >= f->k ? f->jt : f->jf;
      break;
    case BPF_JMP | BPF_JGT | BPF_K:
      pc += a > f->k ? f->jt : f->jf;
      break;
    case BPF_JMP | BPF_JSET | BPF_K:
      pc += (a & f->k) ? f->jt : f->jf;
      break;
    case BPF_RET | BPF_K:
      return f->k;
    default:
      g_error("bpf_run: instruction %#x at %u not understood", f->code, pc);
    }
  }
  g_error("bpf_run: the program fell off its end");
}

static guint32 app_verdict(gboolean bypass, guint32 arch, guint32 nr,
                           guint64 arg0) {
  struct sock_filter prog[UVA_SECCOMP_APP_PROG_MAX];
  unsigned n = uva_seccomp_app_program(prog, bypass, TRUE, 1000, 1000);
  struct seccomp_data d = {.nr = (int)nr, .arch = arch, .args = {arg0}};
  return bpf_run(prog, n, &d);
}

#define V_ALLOW SECCOMP_RET_ALLOW
#define V_EPERM (SECCOMP_RET_ERRNO | EPERM)
#define V_ENOSYS (SECCOMP_RET_ERRNO | ENOSYS)

/* The app's deny-list under its three x86 ABIs.  Numbers from the
 * kernel's arch/x86/entry/syscalls/syscall_32.tbl and syscall_64.tbl,
 * written out here rather than taken from the headers seccomp32.c uses,
 * so that a wrong table there fails here. */
static void test_app_filter_abis(void) {
#ifdef __x86_64__
  static const struct {
    const char *what;
    guint32 arch, nr;
    guint64 arg0;
    guint32 want;
  } cases[] = {
      {"i386 write", AUDIT_ARCH_I386, 4, 1, V_ALLOW},
      {"i386 exit", AUDIT_ARCH_I386, 1, 0, V_ALLOW},
      {"i386 exit_group", AUDIT_ARCH_I386, 252, 0, V_ALLOW},
      {"i386 keyctl", AUDIT_ARCH_I386, 288, 0, V_EPERM},
      {"i386 add_key", AUDIT_ARCH_I386, 286, 0, V_EPERM},
      {"i386 request_key", AUDIT_ARCH_I386, 287, 0, V_EPERM},
      {"i386 bpf", AUDIT_ARCH_I386, 357, 0, V_EPERM},
      {"i386 perf_event_open", AUDIT_ARCH_I386, 336, 0, V_EPERM},
      {"i386 userfaultfd", AUDIT_ARCH_I386, 374, 0, V_EPERM},
      {"i386 init_module", AUDIT_ARCH_I386, 128, 0, V_EPERM},
      {"i386 finit_module", AUDIT_ARCH_I386, 350, 0, V_EPERM},
      {"i386 delete_module", AUDIT_ARCH_I386, 129, 0, V_EPERM},
      {"i386 kexec_load", AUDIT_ARCH_I386, 283, 0, V_EPERM},
      {"i386 reboot", AUDIT_ARCH_I386, 88, 0, V_EPERM},
      {"i386 io_uring_setup", AUDIT_ARCH_I386, 425, 0, V_EPERM},
      {"i386 clone3", AUDIT_ARCH_I386, 435, 0, V_ENOSYS},
      {"i386 personality(PER_LINUX32)", AUDIT_ARCH_I386, 136, 0x8, V_ALLOW},
      {"i386 personality(READ_IMPLIES_EXEC)", AUDIT_ARCH_I386, 136, 0x400000,
       V_EPERM},
      {"i386 unshare(CLONE_NEWUSER)", AUDIT_ARCH_I386, 310, 0x10000000,
       V_EPERM},
      {"i386 unshare(CLONE_NEWNS)", AUDIT_ARCH_I386, 310, 0x20000, V_ALLOW},
      {"i386 setuid32(own)", AUDIT_ARCH_I386, 213, 1000, V_ALLOW},
      {"i386 setuid32(other)", AUDIT_ARCH_I386, 213, 0, V_EPERM},
      {"x86_64 write", AUDIT_ARCH_X86_64, 1, 1, V_ALLOW},
      {"x86_64 keyctl", AUDIT_ARCH_X86_64, 250, 0, V_EPERM},
      {"x32 getpid", AUDIT_ARCH_X86_64, 0x40000000 | 39, 0, V_ALLOW},
      {"x32 keyctl", AUDIT_ARCH_X86_64, 0x40000000 | 250, 0, V_EPERM},
      {"x32 kexec_load", AUDIT_ARCH_X86_64, 0x40000000 | 528, 0, V_EPERM},
      {"another arch (ARM)", AUDIT_ARCH_ARM, 4, 1, V_EPERM},
  };
  for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
    guint32 got = app_verdict(FALSE, cases[i].arch, cases[i].nr, cases[i].arg0);
    if (got != cases[i].want)
      g_error("%s: verdict %#x, want %#x", cases[i].what, got, cases[i].want);
  }
  /* Under bypass i386's socket calls are refused, x32 wholly. */
  g_assert_cmphex(app_verdict(TRUE, AUDIT_ARCH_I386, 102, 0), ==, V_EPERM);
  g_assert_cmphex(app_verdict(TRUE, AUDIT_ARCH_I386, 361, 0), ==, V_EPERM);
  g_assert_cmphex(app_verdict(TRUE, AUDIT_ARCH_I386, 4, 1), ==, V_ALLOW);
  g_assert_cmphex(app_verdict(TRUE, AUDIT_ARCH_X86_64, 0x40000000 | 39, 0), ==,
                  V_EPERM);
  g_assert_cmphex(app_verdict(TRUE, AUDIT_ARCH_X86_64, 49, 0), ==,
                  SECCOMP_RET_USER_NOTIF);
#else
  g_test_skip("x86_64 only");
#endif
}

/* The ELF headers execfmt reads to say why an exec failed. */
static void test_execfmt_classify(void) {
  static const struct {
    unsigned char cls;
    guint16 machine;
    UvaExecFmt want;
  } cases[] = {
      {ELFCLASS32, EM_386, UVA_EXECFMT_I386},
      {ELFCLASS32, EM_X86_64, UVA_EXECFMT_X32},
      {ELFCLASS64, EM_X86_64, UVA_EXECFMT_OTHER},
      {ELFCLASS32, EM_ARM, UVA_EXECFMT_OTHER},
  };
  for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
    Elf64_Ehdr h = {0};
    memcpy(h.e_ident, ELFMAG, SELFMAG);
    h.e_ident[EI_CLASS] = cases[i].cls;
    h.e_machine = cases[i].machine;
    int fd = memfd_create("unit-elf", MFD_CLOEXEC);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, &h, sizeof h), ==, sizeof h);
    g_assert_cmpint(uva_execfmt_classify(fd), ==, cases[i].want);
    close(fd);
  }
  int fd = memfd_create("unit-script", MFD_CLOEXEC);
  g_assert_cmpint(write(fd, "#!/bin/sh\n", 10), ==, 10);
  g_assert_cmpint(uva_execfmt_classify(fd), ==, UVA_EXECFMT_OTHER);
  close(fd);
  g_assert_cmpint(uva_execfmt_errno(UVA_EXEC_ERR_NO_I386), ==, ENOEXEC);
  g_assert_cmpint(uva_execfmt_errno(ENOENT), ==, ENOENT);
  g_assert_nonnull(strstr(uva_execfmt_strerror(UVA_EXEC_ERR_NO_I386),
                          "this kernel cannot run 32-bit programs"));
}

/* A listener on PORT of family/address, or -1.  v6only for AF_INET6. */
static int listen_on(int family, const char *addr, guint16 *port,
                     gboolean v6only) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint(fd, >=, 0);
  struct sockaddr_storage ss = {0};
  socklen_t len;
  if (family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons(*port);
    g_assert_cmpint(inet_pton(AF_INET, addr, &a->sin_addr), ==, 1);
    len = sizeof *a;
  } else {
    int on = v6only;
    g_assert_cmpint(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on),
                    ==, 0);
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(*port);
    g_assert_cmpint(inet_pton(AF_INET6, addr, &a->sin6_addr), ==, 1);
    len = sizeof *a;
  }
  if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
    close(fd);
    return -1; /* e.g. no IPv6 here */
  }
  g_assert_cmpint(listen(fd, 1), ==, 0);
  g_assert_cmpint(getsockname(fd, (struct sockaddr *)&ss, &len), ==, 0);
  *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                  : ((struct sockaddr_in6 *)&ss)->sin6_port);
  return fd;
}

static double thread_cpu_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

/* Readiness (issue 24): init's answer is right for each kind of listener
 * a dial to 127.0.0.1 does or does not reach, and costs O(1): reading
 * /proc/net/tcp{,6} walked the machine's whole established hash, ~2.4 ms
 * of CPU per answer on a 4 GiB VM, which `up` of 256 containers paid
 * thousands of times. CPU time, not wall time: load does not move it. */
static void test_listening(void) {
  guint16 port = 0;
  int fd = listen_on(AF_INET, "127.0.0.1", &port, FALSE);
  g_assert_true(uva_listening_tcp(port));
  close(fd);
  g_assert_false(uva_listening_tcp(port));
  fd = listen_on(AF_INET, "0.0.0.0", &port, FALSE);
  g_assert_true(uva_listening_tcp(port));
  close(fd);
  /* Bound elsewhere: a dial to 127.0.0.1 is refused. */
  port = 0;
  fd = listen_on(AF_INET, "127.0.0.2", &port, FALSE);
  g_assert_false(uva_listening_tcp(port));
  close(fd);
  port = 0;
  fd = listen_on(AF_INET6, "::", &port, FALSE);
  if (fd >= 0) { /* dual-stack: reached */
    g_assert_true(uva_listening_tcp(port));
    close(fd);
    port = 0;
    fd = listen_on(AF_INET6, "::", &port, TRUE);
    g_assert_cmpint(fd, >=, 0);
    g_assert_false(uva_listening_tcp(port)); /* v6only: not reached */
    close(fd);
  }
  port = 0;
  fd = listen_on(AF_INET, "127.0.0.1", &port, FALSE);
  double t0 = thread_cpu_us();
  for (int i = 0; i < 50; i++)
    g_assert_true(uva_listening_tcp(port));
  double per = (thread_cpu_us() - t0) / 50;
  close(fd);
  if (per > 200)
    g_error("one readiness answer costs %.0f us of CPU (bound 200 us)", per);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/output/escape", test_output_escape);
  g_test_add_func("/hostdir/resolve", test_hostdir_resolve);
  g_test_add_func("/publish/good", test_publish_good);
  g_test_add_func("/confine/describe", test_confine_describe);
  g_test_add_func("/confine/manager-filter", test_manager_filter);
  g_test_add_func("/seccomp/app-filter-abis", test_app_filter_abis);
  g_test_add_func("/execfmt/classify", test_execfmt_classify);
  g_test_add_func("/publish/bad", test_publish_bad);
  g_test_add_func("/spec/names", test_names);
  g_test_add_func("/spec/validate", test_spec_validate);
  g_test_add_func("/spec/env", test_env);
  g_test_add_func("/spec/home", test_home);
  g_test_add_func("/subid/find", test_subid);
  g_test_add_func("/init/app-env", test_app_env);
  g_test_add_func("/spec/volume-and-driver", test_volume_and_driver);
  g_test_add_func("/spec/default", test_default_spec);
  g_test_add_func("/spec/pids-limit", test_pids_limit);
  g_test_add_func("/spec/size", test_size);
  g_test_add_func("/specfile/roundtrip", test_specfile_roundtrip);
  g_test_add_func("/specfile/full", test_specfile_full);
  g_test_add_func("/specfile/bad", test_specfile_bad);
  g_test_add_func("/specfile/command-raw", test_specfile_command_raw);
  g_test_add_func("/specfile/volume-escapes", test_volume_escapes);
  g_test_add_func("/sandbox/id-map", test_id_map);
  g_test_add_func("/rootfs/hosts", test_hosts_text);
  g_test_add_func("/errors/hints", test_hints);
  g_test_add_func("/errors/port-holder", test_port_holder);
  g_test_add_func("/doctor/kernel", test_kernel_report);
  g_test_add_func("/bypass/kernel", test_bypass_kernel);
  g_test_add_func("/msg/roundtrip", test_msg_roundtrip);
  g_test_add_func("/msg/peer-gone-unread", test_msg_peer_gone_unread);
  g_test_add_func("/msg/empty-with-fds", test_msg_empty_with_fds);
  g_test_add_func("/ctl/trust", test_ctltrust);
  g_test_add_func("/net/fragguard", test_fragguard);
  g_test_add_func("/net/flowcap", test_flowcap);
  g_test_add_func("/spec/sockets-limit", test_sockets_limit);
  g_test_add_func("/preflight/host-path", test_host_path);
  g_test_add_func("/init/listening", test_listening);
  return g_test_run();
}
