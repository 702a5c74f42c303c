/* probe.c - when is a container ready?  A TCP connect alone proves nothing
 * (the forwarder accepts before the app listens); an HTTP status line
 * does.  One attempt at a time, each bounded, retried until the owner
 * stops it; a user waiting on a wrong port is told what is awaited. */
#include "manager/probe.h"

#include "base/util.h"

#include <glib-unix.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define PROBE_INTERVAL_MS 100
#define PROBE_ATTEMPT_MS 2000
#define PROBE_SAY_S 5

struct UvaProbe {
  char *name;
  char *path;
  UvaPublish pub;
  int fd;
  guint watch, timer, say_timer;
  GString *reply;
  gint64 started;
  void (*ready)(gpointer);
  gpointer data;
};

static gboolean on_timer(gpointer data);

static void attempt_end(UvaProbe *pr) {
  if (pr->watch)
    g_source_remove(pr->watch);
  if (pr->timer)
    g_source_remove(pr->timer);
  pr->watch = pr->timer = 0;
  uva_close_fdp(&pr->fd);
  pr->fd = -1;
  g_string_truncate(pr->reply, 0);
}

static void retry(UvaProbe *pr) {
  attempt_end(pr);
  pr->timer = g_timeout_add(PROBE_INTERVAL_MS, on_timer, pr);
}

static gboolean on_io(int fd, GIOCondition cond, gpointer data) {
  UvaProbe *pr = data;
  pr->watch = 0;
  if (cond & G_IO_OUT) {
    int soerr = 0;
    socklen_t len = sizeof soerr;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
    /* HEAD, not GET: the recorder logs every GET to its log file, and the
     * user's log should hold only the user's requests. */
    g_autofree char *host = uva_publish_host_string(&pr->pub);
    g_autofree char *req =
        g_strdup_printf("HEAD %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: "
                        "uva_container-readiness\r\n\r\n",
                        pr->path, host);
    if (soerr || send(fd, req, strlen(req), MSG_NOSIGNAL) < 0) {
      retry(pr);
      return G_SOURCE_REMOVE;
    }
    pr->watch = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_io, pr);
    return G_SOURCE_REMOVE;
  }
  char buf[512];
  ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  if (n < 0 && errno == EAGAIN) {
    pr->watch = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_io, pr);
    return G_SOURCE_REMOVE;
  }
  if (n > 0) {
    g_string_append_len(pr->reply, buf, n);
    if (pr->reply->len < 9) {
      pr->watch = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_io, pr);
      return G_SOURCE_REMOVE;
    }
  }
  if (!g_str_has_prefix(pr->reply->str, "HTTP/1.")) {
    retry(pr);
    return G_SOURCE_REMOVE;
  }
  attempt_end(pr);
  if (pr->say_timer)
    g_source_remove(pr->say_timer);
  pr->say_timer = 0;
  pr->ready(pr->data); /* may free pr: nothing after this */
  return G_SOURCE_REMOVE;
}

static gboolean on_timer(gpointer data) {
  UvaProbe *pr = data;
  pr->timer = 0;
  if (pr->fd >= 0) { /* the attempt took too long */
    retry(pr);
    return G_SOURCE_REMOVE;
  }
  pr->fd = socket(pr->pub.host.ss_family,
                  SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (pr->fd < 0 || (connect(pr->fd, (const struct sockaddr *)&pr->pub.host,
                             pr->pub.host_len) < 0 &&
                     errno != EINPROGRESS)) {
    retry(pr);
    return G_SOURCE_REMOVE;
  }
  pr->watch = g_unix_fd_add(pr->fd, G_IO_OUT, on_io, pr);
  pr->timer = g_timeout_add(PROBE_ATTEMPT_MS, on_timer, pr);
  return G_SOURCE_REMOVE;
}

/* `ready-http` on the wrong port used to wait forever in silence. */
static gboolean on_say(gpointer data) {
  UvaProbe *pr = data;
  g_autofree char *host = uva_publish_host_string(&pr->pub);
  fprintf(stderr,
          "uva_container: %s: still waiting for an HTTP answer from "
          "http://%s%s (port %u inside), %.0f s so far\n",
          pr->name, host, pr->path, pr->pub.container_port,
          (g_get_monotonic_time() - pr->started) / 1e6);
  return G_SOURCE_CONTINUE;
}

UvaProbe *uva_probe_new(const char *name, const UvaPublish *p, const char *path,
                        void (*ready)(gpointer), gpointer data) {
  UvaProbe *pr = g_new0(UvaProbe, 1);
  pr->name = g_strdup(name);
  pr->path = g_strdup(path ? path : "/");
  pr->pub = *p;
  pr->fd = -1;
  pr->reply = g_string_new(NULL);
  pr->ready = ready;
  pr->data = data;
  pr->started = g_get_monotonic_time();
  pr->timer = g_timeout_add(0, on_timer, pr);
  pr->say_timer = g_timeout_add_seconds(PROBE_SAY_S, on_say, pr);
  return pr;
}

void uva_probe_free(UvaProbe *pr) {
  if (!pr)
    return;
  attempt_end(pr);
  if (pr->say_timer)
    g_source_remove(pr->say_timer);
  g_string_free(pr->reply, TRUE);
  g_free(pr->name);
  g_free(pr->path);
  g_free(pr);
}
