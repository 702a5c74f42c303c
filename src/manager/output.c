/* output.c - the terminal is not the loop's to wait on.
 *
 * Every byte the manager shows goes into a sink: a queue in front of its
 * stdout or stderr, written when poll says the fd can take more.  A stopped
 * terminal (Ctrl-S), a paused pager or a full pipe therefore stalls output
 * only: forwarding goes on.  The queue is bounded per app stream; a stream
 * past its share stops reading its pipe, so the app that writes too much
 * blocks in write(2) and no other does.  When the reader goes away (EPIPE:
 * `uva_container up FILE | head -3`), the sink says so once and drops the
 * rest, as a shell pipeline expects, instead of retrying forever.
 *
 * App lines are escaped: an escape sequence from one container could
 * otherwise rewrite another container's lines, or the manager's. */
#include "manager/output.h"

#include "base/util.h"

#include <fcntl.h>
#include <glib-unix.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>

#define STREAM_QUEUE_MAX (256 * 1024) /* per app stream, in the sink */
#define OWN_QUEUE_MAX (1024 * 1024)   /* the manager's own lines */
#define MAX_LINE 65536
#define PARTIAL_MS 100
#define READ_CHUNK 16384

typedef struct {
  gpointer owner;
  gsize len;
} Chunk;

struct UvaSink {
  int fd, own_fd; /* own_fd: our non-blocking description, or -1 */
  GString *q;     /* bytes not yet written, from q->str + off */
  gsize off;
  GQueue chunks; /* of Chunk*, who queued which bytes, in order */
  guint watch;
  gboolean broken;
  void (*on_broken)(gpointer);
  gpointer data;
  GPtrArray *paused; /* of UvaStream*, waiting for room */
  gsize own_queued;  /* bytes of the manager's own lines */
  FILE *file;
};

struct UvaStream {
  UvaSink *sink;
  int fd;
  guint watch, partial_timer;
  char *prefix;
  GString *line;     /* an unfinished line */
  gsize queued;      /* its bytes in the sink */
  gboolean draining; /* its app is gone: read on, drop what has no room */
  UvaLogfile *log;   /* a copy of every byte, or NULL */
  void (*closed)(gpointer);
  gpointer data;
};

static void stream_resume(UvaStream *s);

/* ---- sink ---------------------------------------------------------- */

/* Who queued bytes: an app stream, or NULL for the manager's lines. */
static gsize *queued_of(UvaSink *k, gpointer owner) {
  return owner ? &((UvaStream *)owner)->queued : &k->own_queued;
}

static void sink_fail(UvaSink *k) {
  if (k->broken)
    return;
  k->broken = TRUE;
  g_string_truncate(k->q, 0);
  k->off = 0;
  Chunk *c;
  while ((c = g_queue_pop_head(&k->chunks))) {
    *queued_of(k, c->owner) = 0;
    g_free(c);
  }
  /* Paused streams read on (and drop), so their apps see no stall and
   * their pipes reach EOF. */
  while (k->paused->len)
    stream_resume(g_ptr_array_steal_index_fast(k->paused, 0));
  if (k->on_broken)
    k->on_broken(k->data);
}

/* Account n written bytes to their owners; wake streams with room. */
static void sink_consumed(UvaSink *k, gsize n) {
  while (n > 0) {
    Chunk *c = g_queue_peek_head(&k->chunks);
    gsize take = MIN(n, c->len);
    c->len -= take;
    *queued_of(k, c->owner) -= take;
    n -= take;
    if (c->len == 0)
      g_free(g_queue_pop_head(&k->chunks));
  }
  for (guint i = 0; i < k->paused->len;) {
    UvaStream *s = k->paused->pdata[i];
    if (s->queued < STREAM_QUEUE_MAX / 2) {
      g_ptr_array_remove_index_fast(k->paused, i);
      stream_resume(s);
    } else {
      i++;
    }
  }
}

/* Writes what the fd takes now; TRUE while bytes are left. */
static gboolean sink_write_out(UvaSink *k) {
  while (!k->broken && k->off < k->q->len) {
    ssize_t n = write(k->fd, k->q->str + k->off, k->q->len - k->off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      break;
    if (n <= 0) {
      sink_fail(k);
      return FALSE;
    }
    k->off += (size_t)n;
    sink_consumed(k, (gsize)n);
  }
  if (k->off == k->q->len) {
    g_string_truncate(k->q, 0);
    k->off = 0;
  } else if (k->off > 65536) {
    g_string_erase(k->q, 0, (gssize)k->off);
    k->off = 0;
  }
  return !k->broken && k->off < k->q->len;
}

static gboolean on_writable(int fd, GIOCondition cond, gpointer data) {
  UvaSink *k = data;
  (void)fd;
  (void)cond;
  if (sink_write_out(k))
    return G_SOURCE_CONTINUE;
  k->watch = 0;
  return G_SOURCE_REMOVE;
}

/* Writes what it can now; the fd is watched for the rest. */
static void sink_push(UvaSink *k) {
  if (!k->watch && sink_write_out(k))
    k->watch =
        g_unix_fd_add(k->fd, G_IO_OUT | G_IO_ERR | G_IO_HUP, on_writable, k);
}

static void sink_write(UvaSink *k, gpointer owner, const char *buf, gsize len) {
  if (k->broken || len == 0)
    return;
  g_string_append_len(k->q, buf, (gssize)len);
  Chunk *last = g_queue_peek_tail(&k->chunks);
  if (last && last->owner == owner) {
    last->len += len;
  } else {
    Chunk *c = g_new(Chunk, 1);
    *c = (Chunk){owner, len};
    g_queue_push_tail(&k->chunks, c);
  }
  *queued_of(k, owner) += len;
  sink_push(k);
}

static ssize_t cookie_write(void *cookie, const char *buf, size_t len) {
  UvaSink *k = cookie;
  /* The manager's own lines are few; past the bound (a reader that
   * stopped long ago) they are dropped rather than grow without end. */
  if (*queued_of(k, NULL) + len <= OWN_QUEUE_MAX)
    sink_write(k, NULL, buf, len);
  return (ssize_t)len;
}

UvaSink *uva_sink_new(int fd, void (*broken)(gpointer), gpointer data) {
  UvaSink *k = g_new0(UvaSink, 1);
  k->q = g_string_new(NULL);
  g_queue_init(&k->chunks);
  k->paused = g_ptr_array_new();
  k->on_broken = broken;
  k->data = data;
  k->own_fd = -1;
  k->fd = fd;
  k->own_fd = uva_reopen_nonblock(fd, O_WRONLY);
  if (k->own_fd >= 0)
    k->fd = k->own_fd;
  cookie_io_functions_t io = {.write = cookie_write};
  k->file = fopencookie(k, "w", io);
  if (k->file)
    setvbuf(k->file, NULL, _IOLBF, 0);
  return k;
}

FILE *uva_sink_file(UvaSink *k) { return k->file; }

/* Writes what is queued, waiting at most timeout_ms (blocking: only at
 * the end, or once when -d lets the caller go), with no watch left. */
static void sink_flush(UvaSink *k, int timeout_ms) {
  if (k->watch)
    g_source_remove(k->watch);
  k->watch = 0;
  gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
  while (sink_write_out(k)) {
    int left = (int)((end - g_get_monotonic_time()) / 1000);
    struct pollfd p = {k->fd, POLLOUT, 0};
    if (left <= 0 || poll(&p, 1, left) <= 0)
      break;
  }
}

void uva_sink_detach(UvaSink *k, int timeout_ms) {
  if (k->file)
    fflush(k->file);
  sink_flush(k, timeout_ms);
  /* From now on everything is dropped, and paused streams read on. */
  k->on_broken = NULL;
  sink_fail(k);
  uva_close_fdp(&k->own_fd);
  k->own_fd = -1;
}

void uva_sink_free(UvaSink *k, int timeout_ms) {
  if (!k)
    return;
  if (k->file) {
    fflush(k->file);
    fclose(k->file);
  }
  /* The last lines (the stop messages) are worth a short wait. */
  sink_flush(k, timeout_ms);
  Chunk *c;
  while ((c = g_queue_pop_head(&k->chunks)))
    g_free(c);
  g_string_free(k->q, TRUE);
  g_ptr_array_unref(k->paused);
  uva_close_fdp(&k->own_fd);
  g_free(k);
}

/* ---- app streams ---------------------------------------------------- */

void uva_output_escape(GString *out, const char *buf, gsize len) {
  for (gsize i = 0; i < len; i++) {
    unsigned char b = (unsigned char)buf[i];
    if (b == '\t' || (b >= 0x20 && b != 0x7f)) {
      /* C1 controls in UTF-8 (U+0080..U+009F: 0xC2 0x80..0x9F) act as
       * CSI and friends on some terminals: shown as their code. */
      if (b == 0xc2 && i + 1 < len && (unsigned char)buf[i + 1] >= 0x80 &&
          (unsigned char)buf[i + 1] <= 0x9f) {
        g_string_append_printf(out, "\\u%04x", (unsigned char)buf[i + 1]);
        i++;
        continue;
      }
      g_string_append_c(out, (char)b);
    } else {
      g_string_append_c(out, '^');
      g_string_append_c(out, b == 0x7f ? '?' : (char)(b + '@'));
    }
  }
}

static void emit(UvaStream *s, const char *line, gsize len) {
  if (s->draining && s->queued >= STREAM_QUEUE_MAX)
    return;
  g_autoptr(GString) out = g_string_new(s->prefix);
  uva_output_escape(out, line, len);
  g_string_append_c(out, '\n');
  sink_write(s->sink, s, out->str, out->len);
}

static void emit_lines(UvaStream *s) {
  gsize start = 0;
  for (gsize i = 0; i < s->line->len; i++) {
    if (s->line->str[i] == '\n') {
      emit(s, s->line->str + start, i - start);
      start = i + 1;
    } else if (i - start + 1 >= MAX_LINE) {
      emit(s, s->line->str + start, i - start + 1);
      start = i + 1;
    }
  }
  g_string_erase(s->line, 0, (gssize)start);
}

static gboolean on_partial(gpointer data) {
  UvaStream *s = data;
  s->partial_timer = 0;
  if (s->line->len) { /* a prompt or a progress bar: show it now */
    emit(s, s->line->str, s->line->len);
    g_string_truncate(s->line, 0);
  }
  return G_SOURCE_REMOVE;
}

static gboolean on_readable(int fd, GIOCondition cond, gpointer data);

static void stream_resume(UvaStream *s) {
  if (s->fd >= 0 && !s->watch)
    s->watch =
        g_unix_fd_add(s->fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_readable, s);
}

static void stream_end(UvaStream *s) {
  if (s->line->len)
    emit(s, s->line->str, s->line->len);
  g_string_truncate(s->line, 0);
  if (s->partial_timer)
    g_source_remove(s->partial_timer);
  s->partial_timer = 0;
  uva_close_fdp(&s->fd);
  s->fd = -1;
  if (s->closed)
    s->closed(s->data);
}

static gboolean on_readable(int fd, GIOCondition cond, gpointer data) {
  UvaStream *s = data;
  (void)cond;
  char buf[READ_CHUNK];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return G_SOURCE_CONTINUE;
  if (n <= 0) {
    s->watch = 0;
    stream_end(s);
    return G_SOURCE_REMOVE;
  }
  if (s->log)
    uva_logfile_write(s->log, buf, (gsize)n);
  g_string_append_len(s->line, buf, n);
  emit_lines(s);
  if (s->line->len && !s->partial_timer)
    s->partial_timer = g_timeout_add(PARTIAL_MS, on_partial, s);
  if (s->queued >= STREAM_QUEUE_MAX && !s->sink->broken && !s->draining) {
    s->watch = 0; /* back-pressure: this app waits, no other */
    g_ptr_array_add(s->sink->paused, s);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

UvaStream *uva_stream_new(UvaSink *k, int fd, const char *name, int width,
                          void (*closed)(gpointer), gpointer data) {
  UvaStream *s = g_new0(UvaStream, 1);
  s->sink = k;
  s->fd = fd;
  s->prefix = g_strdup_printf("%-*s | ", width, name);
  s->line = g_string_new(NULL);
  s->closed = closed;
  s->data = data;
  uva_set_nonblock(fd, TRUE, NULL);
  stream_resume(s);
  return s;
}

gboolean uva_stream_open(const UvaStream *s) { return s && s->fd >= 0; }

void uva_stream_drain(UvaStream *s) {
  if (!s || s->draining)
    return;
  s->draining = TRUE;
  if (g_ptr_array_remove(s->sink->paused, s))
    stream_resume(s);
}

void uva_stream_set_log(UvaStream *s, UvaLogfile *log) {
  if (s)
    s->log = log;
}

void uva_stream_free(UvaStream *s) {
  if (!s)
    return;
  if (s->watch)
    g_source_remove(s->watch);
  if (s->partial_timer)
    g_source_remove(s->partial_timer);
  g_ptr_array_remove(s->sink->paused, s);
  /* Its bytes still queued stay, counted as the manager's own. */
  for (GList *l = s->sink->chunks.head; l; l = l->next) {
    Chunk *c = l->data;
    if (c->owner == s) {
      c->owner = NULL;
      s->sink->own_queued += c->len;
    }
  }
  uva_close_fdp(&s->fd);
  g_string_free(s->line, TRUE);
  g_free(s->prefix);
  g_free(s);
}
