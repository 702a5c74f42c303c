/* ready.c - a container's readiness, in two steps (ready.h).
 *
 * 1. Its ports listen inside.  The manager asks init (UVA_MSG_LISTENING_Q),
 *    which asks its namespace's socket table (listening.c, an O(1) lookup):
 *    no connection is made to the app, so nothing shows in its log.  The
 *    first question goes at once, the next after CHECK_FIRST_MS, each
 *    interval twice the last up to CHECK_MS: most apps listen within a
 *    few ms of their exec, and a fixed 100 ms poll made every container
 *    wait 50 ms on average for nothing.
 *    Each port that listens is passed to listening(), where the manager
 *    starts listening on its host side: until then a client is refused,
 *    as by the app itself, and `curl --retry-connrefused` waits.
 * 2. With ready-http, a HEAD request through the published port gets a
 *    status line (probe.c).
 *
 * While waiting, a line every SAY_S seconds says what for. */
#include "manager/ready.h"

#include "manager/probe.h"

#include <stdio.h>
#include <string.h>

#define CHECK_FIRST_MS 2
#define CHECK_MS 100
#define SAY_S 5

typedef struct {
  guint16 port;
  gboolean listening, asked;
} Port;

struct UvaReady {
  const UvaContainerSpec *c;
  UvaReadyOps ops;
  gpointer data;
  GArray *ports; /* of Port */
  guint timer, say_timer;
  guint interval; /* ms, of the next check */
  UvaProbe *probe;
  gint64 started;
  gboolean done;
};

static void add_port(UvaReady *r, guint16 port) {
  for (guint i = 0; i < r->ports->len; i++)
    if (g_array_index(r->ports, Port, i).port == port)
      return;
  Port p = {.port = port};
  g_array_append_val(r->ports, p);
}

static const UvaPublish *first_tcp(const UvaContainerSpec *c) {
  for (guint i = 0; i < c->publish->len; i++) {
    const UvaPublish *p = &g_array_index(c->publish, UvaPublish, i);
    if (!p->udp)
      return p;
  }
  return NULL;
}

static void finish(UvaReady *r) {
  if (r->done)
    return;
  r->done = TRUE;
  if (r->timer)
    g_source_remove(r->timer);
  if (r->say_timer)
    g_source_remove(r->say_timer);
  r->timer = r->say_timer = 0;
  r->ops.ready(r->data); /* may free r */
}

static void on_probe_ready(gpointer data) {
  UvaReady *r = data;
  finish(r);
}

/* Step 1 done: step 2 or ready. */
static void ports_done(UvaReady *r) {
  if (r->timer)
    g_source_remove(r->timer);
  r->timer = 0;
  const UvaPublish *p = first_tcp(r->c);
  if (r->c->probe_http && p) {
    if (r->say_timer)
      g_source_remove(r->say_timer);
    r->say_timer = 0; /* the probe says its own lines */
    r->probe =
        uva_probe_new(r->c->name, p, r->c->probe_http_path, on_probe_ready, r);
    return;
  }
  finish(r);
}

static gboolean on_check(gpointer data);

static void ask_all(UvaReady *r) {
  for (guint i = 0; i < r->ports->len; i++) {
    Port *p = &g_array_index(r->ports, Port, i);
    /* One question at a time per port: a slow init is not flooded. */
    if (!p->listening && !p->asked)
      p->asked = r->ops.ask(p->port, r->data);
  }
}

static gboolean on_check(gpointer data) {
  UvaReady *r = data;
  r->timer = g_timeout_add(r->interval, on_check, r);
  r->interval = MIN(r->interval * 2, CHECK_MS);
  ask_all(r); /* the answers come later, from the loop */
  return G_SOURCE_REMOVE;
}

static gboolean on_say(gpointer data) {
  UvaReady *r = data;
  g_autofree char *what = uva_ready_awaiting(r);
  fprintf(stderr, "uva_container: %s: still waiting for %s, %.0f s so far\n",
          r->c->name, what, (g_get_monotonic_time() - r->started) / 1e6);
  return G_SOURCE_CONTINUE;
}

UvaReady *uva_ready_new(const UvaContainerSpec *c, const UvaReadyOps *ops,
                        gpointer data) {
  UvaReady *r = g_new0(UvaReady, 1);
  r->c = c;
  r->ops = *ops;
  r->data = data;
  r->ports = g_array_new(FALSE, FALSE, sizeof(Port));
  r->started = g_get_monotonic_time();
  if (c->probe_tcp && c->probe_tcp_port)
    add_port(r, c->probe_tcp_port);
  /* Every published TCP port, also with ready-tcp PORT: the manager must
   * know when to listen on each. */
  for (guint i = 0; i < c->publish->len; i++) {
    const UvaPublish *p = &g_array_index(c->publish, UvaPublish, i);
    if (!p->udp)
      add_port(r, p->container_port);
  }
  if (r->ports->len == 0) {
    ports_done(r);
    return r;
  }
  r->say_timer = g_timeout_add_seconds(SAY_S, on_say, r);
  r->interval = CHECK_FIRST_MS;
  on_check(r);
  return r;
}

void uva_ready_answer(UvaReady *r, guint16 port, gboolean listening) {
  if (!r || r->done || r->probe)
    return;
  gboolean all = TRUE;
  for (guint i = 0; i < r->ports->len; i++) {
    Port *p = &g_array_index(r->ports, Port, i);
    if (p->port == port && !p->listening) {
      p->asked = FALSE;
      p->listening = listening;
      if (listening)
        r->ops.listening(port, r->data);
    }
    all &= p->listening;
  }
  if (all)
    ports_done(r);
}

char *uva_ready_awaiting(const UvaReady *r) {
  g_autoptr(GString) s = g_string_new(NULL);
  for (guint i = 0; i < r->ports->len; i++) {
    const Port *p = &g_array_index(r->ports, Port, i);
    if (!p->listening)
      g_string_append_printf(s, "%s%u", s->len ? ", " : "", p->port);
  }
  if (s->len) {
    gboolean one = !strchr(s->str, ',');
    g_string_prepend(s, one ? "port " : "ports ");
    g_string_append(s, " to listen inside");
    return g_string_free(g_steal_pointer(&s), FALSE);
  }
  const UvaPublish *p = first_tcp(r->c);
  g_autofree char *host = p ? uva_publish_host_string(p) : NULL;
  return g_strdup_printf("an HTTP answer from http://%s%s", host ? host : "?",
                         r->c->probe_http_path ? r->c->probe_http_path : "/");
}

void uva_ready_free(UvaReady *r) {
  if (!r)
    return;
  if (r->timer)
    g_source_remove(r->timer);
  if (r->say_timer)
    g_source_remove(r->say_timer);
  uva_probe_free(r->probe);
  g_array_unref(r->ports);
  g_free(r);
}
