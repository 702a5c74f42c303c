/* relay.c - one direction of a byte stream between two fds, driven by the
 * GLib loop: read when there is room, write when the other side can take
 * it.  The buffer is bounded; a full one stops reading (back-pressure on
 * the producer), so a stopped terminal (Ctrl-S) stalls only this stream. */
#include "base/relay.h"

#include "base/util.h"

#include <fcntl.h>
#include <glib-unix.h>

#define RELAY_BUF 65536

struct UvaRelay {
  int in_fd, out_fd;
  guint in_watch, out_watch;
  char buf[RELAY_BUF];
  size_t len, off;
  gboolean eof;
  void (*done)(gpointer);
  gpointer data;
};

static gboolean on_in(int fd, GIOCondition cond, gpointer data);
static gboolean on_out(int fd, GIOCondition cond, gpointer data);

static void finish(UvaRelay *r) {
  if (r->in_watch)
    g_source_remove(r->in_watch);
  if (r->out_watch)
    g_source_remove(r->out_watch);
  r->in_watch = r->out_watch = 0;
  if (r->done) {
    void (*done)(gpointer) = r->done;
    r->done = NULL;
    done(r->data);
  }
}

/* Writes what is buffered; FALSE when out_fd failed. */
static gboolean flush(UvaRelay *r) {
  while (r->off < r->len) {
    ssize_t n = write(r->out_fd, r->buf + r->off, r->len - r->off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      return TRUE;
    if (n <= 0)
      return FALSE; /* EPIPE, EIO: the reader is gone */
    r->off += (size_t)n;
  }
  r->len = r->off = 0;
  return TRUE;
}

/* Watches exactly one side: out_fd while bytes wait, else in_fd. */
static void arm(UvaRelay *r) {
  gboolean pending = r->off < r->len;
  if (pending && !r->out_watch)
    r->out_watch =
        g_unix_fd_add(r->out_fd, G_IO_OUT | G_IO_ERR | G_IO_HUP, on_out, r);
  if (!pending && !r->eof && !r->in_watch)
    r->in_watch =
        g_unix_fd_add(r->in_fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_in, r);
}

static gboolean on_out(int fd, GIOCondition cond, gpointer data) {
  UvaRelay *r = data;
  (void)fd;
  (void)cond;
  if (!flush(r)) {
    r->out_watch = 0;
    finish(r);
    return G_SOURCE_REMOVE;
  }
  if (r->off < r->len)
    return G_SOURCE_CONTINUE;
  r->out_watch = 0;
  if (r->eof) {
    finish(r);
    return G_SOURCE_REMOVE;
  }
  arm(r);
  return G_SOURCE_REMOVE;
}

static gboolean on_in(int fd, GIOCondition cond, gpointer data) {
  UvaRelay *r = data;
  (void)cond;
  ssize_t n = read(fd, r->buf, sizeof r->buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return G_SOURCE_CONTINUE;
  if (n <= 0) { /* EOF, or EIO from a pty master once its slave is gone */
    r->in_watch = 0;
    r->eof = TRUE;
    finish(r);
    return G_SOURCE_REMOVE;
  }
  r->len = (size_t)n;
  r->off = 0;
  if (!flush(r)) {
    r->in_watch = 0;
    finish(r);
    return G_SOURCE_REMOVE;
  }
  if (r->off < r->len) { /* the reader is slow: stop reading */
    r->in_watch = 0;
    arm(r);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

UvaRelay *uva_relay_new(int in_fd, int out_fd, void (*done)(gpointer),
                        gpointer data) {
  UvaRelay *r = g_new0(UvaRelay, 1);
  r->in_fd = in_fd;
  r->out_fd = out_fd;
  r->done = done;
  r->data = data;
  arm(r);
  return r;
}

void uva_relay_free(UvaRelay *r) {
  if (!r)
    return;
  r->done = NULL;
  finish(r);
  g_free(r);
}
