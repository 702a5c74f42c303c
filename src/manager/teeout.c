/* teeout.c - a foreground `run` whose stdout (or stderr) is a pipe, the
 * usual case in scripts and CI (`uva_container run ... | tee out`,
 * `$(uva_container run ...)`): the app writes into a pipe of ours, and
 * the kernel moves its bytes on without a copy through user space:
 * tee(2) duplicates them into the caller's pipe, then splice(2) moves the
 * same bytes into the container's log (logfile.c).  Byte for byte, with
 * the caller's pipe's back-pressure reaching the app, and EPIPE there
 * closing ours, so that the app gets its SIGPIPE as it would in the
 * pipeline itself (`run -- yes | head -1` ends, with status 141).
 *
 * Never blocking: SPLICE_F_NONBLOCK on both pipes (pipe to pipe, the flag
 * decides, whatever O_NONBLOCK the caller's description has, so it is
 * left alone); each wakeup moves at most MOVE_MAX bytes. */
#include "manager/teeout.h"

#include "base/util.h"

#include <fcntl.h>
#include <glib-unix.h>
#include <poll.h>
#include <sys/stat.h>

#define MOVE_MAX (256 * 1024)
/* The app's pipe, as large as an unprivileged process may make it without
 * asking (/proc/sys/fs/pipe-max-size is 1 MiB by default): fewer
 * wakeups, so the copy costs next to nothing. */
#define PIPE_SIZE (1024 * 1024)

struct UvaTee {
  int in;  /* the app's pipe, read end (owned) */
  int out; /* the caller's pipe (not owned) */
  UvaLogfile *log;
  guint in_watch, out_watch;
  void (*closed)(gpointer);
  gpointer data;
};

gboolean uva_tee_wanted(int out_fd) {
  struct stat st;
  return fstat(out_fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

int uva_tee_pipe(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC) < 0)
    return -1;
  (void)fcntl(fds[0], F_SETPIPE_SZ, PIPE_SIZE);
  return 0;
}

static void finish(UvaTee *t) {
  if (t->in_watch)
    g_source_remove(t->in_watch);
  if (t->out_watch)
    g_source_remove(t->out_watch);
  t->in_watch = t->out_watch = 0;
  uva_close_fdp(&t->in);
  t->in = -1;
  if (t->closed)
    t->closed(t->data);
}

static gboolean on_in(int fd, GIOCondition cond, gpointer data);
static gboolean on_out(int fd, GIOCondition cond, gpointer data);

/* Moves what it can; watches whichever side it waits for. */
static void move(UvaTee *t) {
  gsize done = 0;
  while (done < MOVE_MAX) {
    ssize_t n = tee(t->in, t->out, MOVE_MAX - done, SPLICE_F_NONBLOCK);
    if (n < 0 && errno == EINTR)
      continue;
    if (n == 0) { /* every writer closed ours and it is empty */
      finish(t);
      return;
    }
    if (n < 0 && errno == EAGAIN) {
      /* Ours is empty, or theirs is full: poll tells which. */
      struct pollfd p = {t->out, POLLOUT, 0};
      gboolean full = poll(&p, 1, 0) == 0;
      if (full && !t->out_watch) {
        if (t->in_watch)
          g_source_remove(t->in_watch);
        t->in_watch = 0;
        t->out_watch = g_unix_fd_add(t->out, G_IO_OUT | G_IO_ERR, on_out, t);
      } else if (!full && !t->in_watch) {
        if (t->out_watch)
          g_source_remove(t->out_watch);
        t->out_watch = 0;
        t->in_watch =
            g_unix_fd_add(t->in, G_IO_IN | G_IO_HUP | G_IO_ERR, on_in, t);
      }
      return;
    }
    if (n < 0) {
      /* EPIPE: the caller's reader is gone.  Closing ours gives the app
       * its SIGPIPE, as in the pipeline. */
      finish(t);
      return;
    }
    /* The bytes are in the caller's pipe; the same ones go to the log. */
    if (!uva_logfile_splice(t->log, t->in, (gsize)n)) {
      finish(t);
      return;
    }
    done += (gsize)n;
  }
  /* Budget spent: the loop serves the others first. */
  if (!t->in_watch && !t->out_watch)
    t->in_watch = g_unix_fd_add(t->in, G_IO_IN | G_IO_HUP | G_IO_ERR, on_in, t);
}

static gboolean on_in(int fd, GIOCondition cond, gpointer data) {
  UvaTee *t = data;
  (void)fd;
  (void)cond;
  t->in_watch = 0;
  move(t); /* may watch again */
  return G_SOURCE_REMOVE;
}

static gboolean on_out(int fd, GIOCondition cond, gpointer data) {
  UvaTee *t = data;
  (void)fd;
  (void)cond;
  t->out_watch = 0;
  move(t);
  return G_SOURCE_REMOVE;
}

UvaTee *uva_tee_new(int in, int out, UvaLogfile *log, void (*closed)(gpointer),
                    gpointer data) {
  UvaTee *t = g_new0(UvaTee, 1);
  t->in = in;
  t->out = out;
  t->log = log;
  t->closed = closed;
  t->data = data;
  uva_set_nonblock(in, TRUE, NULL);
  t->in_watch = g_unix_fd_add(in, G_IO_IN | G_IO_HUP | G_IO_ERR, on_in, t);
  return t;
}

gboolean uva_tee_open(const UvaTee *t) { return t && t->in >= 0; }

void uva_tee_free(UvaTee *t) {
  if (!t)
    return;
  if (t->in_watch)
    g_source_remove(t->in_watch);
  if (t->out_watch)
    g_source_remove(t->out_watch);
  uva_close_fdp(&t->in);
  g_free(t);
}
