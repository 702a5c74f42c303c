/* logfile.c - each container's output kept for `uva_container logs`, with
 * a cap: two files take turns (log.0, log.1); when the one written would
 * pass UVA_LOG_HALF the other is emptied and written instead.  No rename
 * and no open after start-up: the confined manager may do neither
 * (confine.c), it only writes and ftruncate(2)s the two fds it opened.
 * The reader tells the older file from the newer by mtime.  Both are in
 * the container's state directory, which no container can write (only its
 * www and tmp below are mounted). */
#include "manager/logfile.h"

#include "base/util.h"
#include "spec/hostdir.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

static const char *const names[2] = {"log.0", "log.1"};

/* logs -f (uva_logfile_show): no pause after a pass that moved this much,
 * FOLLOW_PAUSE_MS after one that moved less, the manager asked whether
 * the container runs at most every FOLLOW_ALIVE_MS. */
#define FOLLOW_BURST (1 << 20)
#define FOLLOW_PAUSE_MS 10
#define FOLLOW_ALIVE_MS 200

struct UvaLogfile {
  int fd[2];
  int cur;
  gsize size; /* of fd[cur] */
};

static gboolean own_regular(int fd, const char *dir, const char *name,
                            GError **error) {
  struct stat st;
  if (fstat(fd, &st) < 0)
    return uva_fail_errno(error, errno, "%s/%s", dir, name);
  if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_nlink != 1)
    return uva_fail(error,
                    "%s/%s is not a regular file of yours with one link: "
                    "refusing it (remove it)",
                    dir, name);
  return TRUE;
}

UvaLogfile *uva_logfile_open(int dir_fd, const char *dir, GError **error) {
  UvaLogfile *l = g_new0(UvaLogfile, 1);
  l->fd[0] = l->fd[1] = -1;
  for (int i = 0; i < 2; i++) {
    l->fd[i] = openat(dir_fd, names[i],
                      O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (l->fd[i] < 0) {
      uva_fail_errno(error, errno, "log file %s/%s", dir, names[i]);
      uva_logfile_free(l);
      return NULL;
    }
    if (!own_regular(l->fd[i], dir, names[i], error) ||
        ftruncate(l->fd[i], 0) < 0) {
      if (error && !*error)
        uva_fail_errno(error, errno, "emptying %s/%s", dir, names[i]);
      uva_logfile_free(l);
      return NULL;
    }
  }
  return l;
}

/* The next len bytes go to the other file if they would take this one
 * past its half. */
static void make_room(UvaLogfile *l, gsize len) {
  if (l->size > 0 && l->size + len > UVA_LOG_HALF) {
    l->cur ^= 1;
    l->size = 0;
    (void)ftruncate(l->fd[l->cur], 0);
  }
}

/* Explicit offsets, not O_APPEND: splice(2) refuses a file opened for
 * appending (EINVAL). */
void uva_logfile_write(UvaLogfile *l, const void *buf, gsize len) {
  if (!l || len == 0)
    return;
  make_room(l, len);
  const char *p = buf;
  while (len > 0) {
    ssize_t n = pwrite(l->fd[l->cur], p, len, (off_t)l->size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return; /* ENOSPC, EDQUOT: these bytes are not kept */
    p += n;
    len -= (gsize)n;
    l->size += (gsize)n;
  }
}

gboolean uva_logfile_splice(UvaLogfile *l, int pipe_fd, gsize len) {
  if (!l)
    return FALSE;
  make_room(l, len);
  loff_t off = (loff_t)l->size;
  gsize moved = 0;
  while (moved < len) {
    ssize_t n = splice(pipe_fd, NULL, l->fd[l->cur], &off, len - moved,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    moved += (gsize)n;
  }
  l->size = (gsize)off;
  if (moved == len)
    return TRUE;
  /* A full disk: what the log could not take is dropped from the pipe,
   * whose bytes went to their reader already (tee). */
  char buf[16384];
  while (moved < len) {
    ssize_t n = read(pipe_fd, buf, MIN(sizeof buf, len - moved));
    if (n <= 0)
      return FALSE;
    moved += (gsize)n;
  }
  return TRUE;
}

void uva_logfile_free(UvaLogfile *l) {
  if (!l)
    return;
  uva_close_fdp(&l->fd[0]);
  uva_close_fdp(&l->fd[1]);
  g_free(l);
}

/* ---- the reader --------------------------------------------------------- */

typedef struct {
  int fd;
  off_t off;
  struct timespec mtime;
  off_t size;
  guint64 copied; /* bytes copied out so far */
  /* The last bytes copied out, ending at off: at a turn they tell whether
   * the file still holds what was read (see missed_turn). */
  char seen[4096];
  size_t n_seen;
  gboolean rewritten; /* copy_out found seen gone: see fell_behind */
} Reader;

static void reader_stat(Reader *r) {
  struct stat st;
  if (r->fd < 0 || fstat(r->fd, &st) < 0) {
    r->size = 0;
    return;
  }
  r->size = st.st_size;
  r->mtime = st.st_mtim;
  if (r->size < r->off) {
    r->off = 0; /* emptied: it is the newer one now */
    r->n_seen = 0;
  }
}

static gboolean older(const Reader *a, const Reader *b) {
  if (a->mtime.tv_sec != b->mtime.tv_sec)
    return a->mtime.tv_sec < b->mtime.tv_sec;
  if (a->mtime.tv_nsec != b->mtime.tv_nsec)
    return a->mtime.tv_nsec < b->mtime.tv_nsec;
  /* The same tick (mtime has the kernel's coarse clock): the file being
   * written is the one just emptied at a turn, so the smaller, unless it
   * is empty (nothing was written at all yet). */
  if (b->size == 0 || a->size == 0)
    return b->size == 0 ? FALSE : TRUE;
  return a->size >= b->size;
}

static gboolean changed(const Reader *r, off_t size, struct timespec mtime) {
  return r->size != size || r->mtime.tv_sec != mtime.tv_sec ||
         r->mtime.tv_nsec != mtime.tv_nsec;
}

/* Whether the file still holds, just before offset at, the last bytes
 * read up to there.  4 KiB: a log of lines alike but for a counter or a
 * time (the bench's, most servers') differs within that; 64 bytes of one
 * line's tail did not.  A log of one line repeated cannot be told apart:
 * its loss goes unsaid. */
static gboolean still_holds(const Reader *r, off_t at) {
  if (r->n_seen == 0 || at < (off_t)r->n_seen)
    return TRUE;
  char now[sizeof r->seen];
  ssize_t n = pread(r->fd, now, r->n_seen, at - (off_t)r->n_seen);
  return n == (ssize_t)r->n_seen && memcmp(now, r->seen, r->n_seen) == 0;
}

/* At a turn seen from file cur to the other: whether the writer has
 * turned back to cur since (a follower away longer than one file takes to
 * fill), emptying it and writing it again: cur is shorter than the offset
 * read (had), or no longer holds, just before had, the bytes that were
 * read there.  Not by mtime: with multigrain timestamps (Linux 6.13) the
 * mtimes of two files need not follow the order of their writes. */
static gboolean missed_turn(const Reader *cur, off_t had) {
  return cur->size < had || !still_holds(cur, had);
}

/* Copies r from its offset to its size out.  With check, before each
 * read: the file must still hold what was read last, or the writer came
 * back to it while this pass read (a follower stopped in the middle of a
 * pass): then r->rewritten, and nothing more is copied. */
static gboolean copy_out(Reader *r, gboolean check, GError **error) {
  char buf[65536];
  while (r->off < r->size) {
    if (check && !still_holds(r, r->off)) {
      r->rewritten = TRUE;
      break;
    }
    size_t want = (size_t)MIN((off_t)sizeof buf, r->size - r->off);
    ssize_t n = pread(r->fd, buf, want, r->off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    if (!uva_write_all(1, buf, (size_t)n, error))
      return FALSE;
    r->off += n;
    r->copied += (guint64)n;
    /* The last sizeof seen bytes up to off, for missed_turn. */
    size_t keep = MIN((size_t)n, sizeof r->seen);
    if (keep < sizeof r->seen && r->n_seen + keep > sizeof r->seen) {
      size_t drop = r->n_seen + keep - sizeof r->seen;
      memmove(r->seen, r->seen + drop, r->n_seen - drop);
      r->n_seen -= drop;
    } else if (keep == sizeof r->seen) {
      r->n_seen = 0;
    }
    memcpy(r->seen + r->n_seen, buf + (size_t)n - keep, keep);
    r->n_seen += keep;
  }
  return TRUE;
}

static GString *read_rest(Reader *r) {
  GString *s = g_string_new(NULL);
  char buf[65536];
  while (r->off < r->size) {
    ssize_t n = pread(r->fd, buf, sizeof buf, r->off);
    if (n <= 0)
      break;
    g_string_append_len(s, buf, n);
    r->off += n;
  }
  return s;
}

/* The last tail lines of text (a last line without a newline counts). */
static const char *last_lines(const GString *text, int tail) {
  gsize i = text->len;
  if (i > 0 && text->str[i - 1] == '\n')
    i--;
  int seen = 0;
  while (i > 0) {
    if (text->str[i - 1] == '\n' && ++seen == tail)
      return text->str + i;
    i--;
  }
  return tail == 0 ? text->str + text->len : text->str;
}

static int open_log(int dir, const char *name) {
  int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return -1;
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
    close(fd);
    errno = EPERM;
    return -1;
  }
  return fd;
}

/* The follower fell two turns or more behind: what stood between is
 * gone.  Said, not hidden; the line cut off ends, so the next starts
 * whole; then the older file whole, and *cur is the newer, to be read
 * from its start, so nothing is doubled.  Which is the newer depends on
 * how many turns were missed: told by mtime, which is sound here (the
 * older file's last write is a whole file's filling ago, many clock
 * ticks), where it was not for telling a turn from no turn. */
static gboolean fell_behind(Reader *r, int *cur, const char *name,
                            GError **error) {
  g_printerr("uva_container: logs: %s: fell behind the writer by more than "
             "a log file (%d MiB): some output was lost here\n",
             name, (int)(UVA_LOG_HALF >> 20));
  const Reader *c = &r[*cur];
  if (c->n_seen > 0 && c->seen[c->n_seen - 1] != '\n' &&
      !uva_write_all(1, "\n", 1, error))
    return FALSE;
  reader_stat(&r[0]);
  reader_stat(&r[1]);
  *cur = older(&r[*cur], &r[*cur ^ 1]) ? *cur ^ 1 : *cur;
  for (int i = 0; i < 2; i++) {
    r[i].off = 0;
    r[i].n_seen = 0;
    r[i].rewritten = FALSE;
  }
  return copy_out(&r[*cur ^ 1], FALSE, error);
}

gboolean uva_logfile_show(const char *state_dir, const char *name, int tail,
                          gboolean follow, gboolean (*still_running)(gpointer),
                          gpointer data, GError **error) {
  g_autofree char *root = uva_hostdir_resolve(state_dir, NULL, error);
  if (!root)
    return FALSE;
  struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                         .resolve =
                             RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
  g_autofree char *dir = g_build_filename(root, name, NULL);
  uva_autofd dir_fd =
      (int)syscall(SYS_openat2, AT_FDCWD, dir, &how, sizeof how);
  if (dir_fd < 0)
    return uva_fail(error, "no container %s (no state directory %s)", name,
                    dir);
  Reader r[2] = {{.fd = open_log(dir_fd, names[0])},
                 {.fd = open_log(dir_fd, names[1])}};
  if (r[0].fd < 0 && r[1].fd < 0)
    return uva_fail(error, "container %s has no log (%s/log.0)", name, dir);
  gboolean ok = TRUE;
  reader_stat(&r[0]);
  reader_stat(&r[1]);
  int first = older(&r[0], &r[1]) ? 0 : 1;
  if (tail >= 0) {
    g_autoptr(GString) all = read_rest(&r[first]);
    g_autoptr(GString) rest = read_rest(&r[first ^ 1]);
    g_string_append_len(all, rest->str, (gssize)rest->len);
    const char *from = last_lines(all, tail);
    ok = uva_write_all(1, from, all->len - (gsize)(from - all->str), error);
  } else {
    ok = copy_out(&r[first], FALSE, error) &&
         copy_out(&r[first ^ 1], FALSE, error);
  }
  /* Following: the writer writes one file only, the current one, and
   * turns to the other by emptying it (make_room).  So the file not being
   * written changes only at a turn: when it has changed since the last
   * pass, the current one is finished to its final size (it stays so
   * until the next turn) and the other is read from its start.  mtime
   * order alone cannot tell: two writes in one tick of the kernel's
   * coarse clock have the same mtime, and a file emptied at a turn can
   * grow past the offset read in it before.  Polled, never blocking:
   * without a pause while bytes come (a writer at 100 MB/s fills a file
   * in 40 ms, and one more turn would empty what was not read yet),
   * FOLLOW_PAUSE_MS when little or nothing came, still_running() (a
   * round trip to the manager) at most every FOLLOW_ALIVE_MS. */
  int cur = first ^ 1;
  gboolean last = FALSE; /* the container is gone: drain, then end */
  gint64 alive_at = g_get_monotonic_time();
  while (ok && follow) {
    guint64 before = r[0].copied + r[1].copied;
    off_t other_size = r[cur ^ 1].size;
    struct timespec other_mtime = r[cur ^ 1].mtime;
    off_t had = r[cur].off; /* before a stat that finds cur emptied */
    reader_stat(&r[0]);
    reader_stat(&r[1]);
    if (changed(&r[cur ^ 1], other_size, other_mtime)) {
      reader_stat(&r[cur]); /* its final size, past the stat above */
      if (missed_turn(&r[cur], had)) {
        ok = fell_behind(r, &cur, name, error);
      } else {
        ok = copy_out(&r[cur], TRUE, error);
        if (ok && r[cur].rewritten) {
          ok = fell_behind(r, &cur, name, error);
        } else {
          cur ^= 1;
          r[cur].off = 0;
          r[cur].n_seen = 0;
        }
      }
    }
    ok = ok && copy_out(&r[cur], TRUE, error);
    if (ok && r[cur].rewritten)
      ok = fell_behind(r, &cur, name, error) && copy_out(&r[cur], TRUE, error);
    guint64 moved = r[0].copied + r[1].copied - before;
    if (last && moved == 0)
      break;
    if (last || moved >= FOLLOW_BURST)
      continue;
    g_usleep(FOLLOW_PAUSE_MS * 1000);
    if (moved == 0 &&
        g_get_monotonic_time() - alive_at >= FOLLOW_ALIVE_MS * 1000) {
      alive_at = g_get_monotonic_time();
      last = !still_running(data);
    }
  }
  uva_close_fdp(&r[0].fd);
  uva_close_fdp(&r[1].fd);
  return ok;
}
