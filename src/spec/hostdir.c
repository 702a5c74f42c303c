/* hostdir.c - everything the manager does with host paths before a
 * container starts.
 *
 * Theory: whatever a container can write is hostile, also between runs:
 * its workdir, its /tmp and its read-write volumes (the "areas").  An app
 * that plants a symlink there must not make the manager create, truncate
 * or mount anything through it, and a directory another local user can
 * write must not be where the manager keeps a container's files.  So:
 *
 *  - every host path is resolved here once, component by component, with
 *    lstat(2); a symlink inside an area, or owned by another user, is
 *    refused in one line (fs.protected_symlinks reasons the same way);
 *  - the result is canonical, so it is then opened with openat2(2)
 *    RESOLVE_NO_SYMLINKS: a symlink swapped in meanwhile fails (ELOOP);
 *  - directories the manager uses are walked down from / with directory
 *    fds and checked with fstat(2): the state root and everything below
 *    it, the workdir and /tmp must be ours and not group- or
 *    world-writable; directories above them must be root's or ours, and
 *    writable by others only with the sticky bit (like /tmp);
 *  - files are created with O_CREAT|O_EXCL|O_NOFOLLOW relative to a
 *    directory fd, and a tree is emptied with unlinkat(2), never by path;
 *  - the child gets O_PATH fds and mounts exactly those objects (rootfs.c
 *    checks device and inode again in its own mount namespace).
 *
 * Running as root, the same ownership rule refuses another user's
 * directories, so `sudo -E` never leaves root-owned files in a home. */
#include "spec/hostdir.h"

#include "base/util.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define MAX_SYMLINKS 40 /* the kernel's own limit (path_resolution(7)) */
#define MAX_EMPTY_DEPTH 256

static gboolean within(const char *path, const char *dir) {
  if (g_str_equal(dir, "/"))
    return TRUE;
  size_t n = strlen(dir);
  return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static const char *area_of(const char *dir, const char *const *areas) {
  for (const char *const *a = areas; a && *a; a++)
    if (within(dir, *a))
      return *a;
  return NULL;
}

static int openat2_fd(int dirfd, const char *path, int flags,
                      unsigned long long resolve) {
  struct open_how how = {.flags = (unsigned long long)(flags | O_CLOEXEC),
                         .resolve = resolve};
  return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

int uva_hostdir_open_canonical(const char *path, int extra_flags,
                               GError **error) {
  int fd = openat2_fd(AT_FDCWD, path, O_PATH | extra_flags,
                      RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
  if (fd < 0 && errno == ELOOP)
    uva_fail(error,
             "%s changed while it was being resolved (a symlink "
             "appeared on the way); refusing it",
             path);
  else if (fd < 0)
    uva_fail_errno(error, errno, "%s", path);
  return fd;
}

/* Inside a user namespace (`unshare -Ur`, a rootless CI runner) the
 * host's root, like every unmapped id, shows as the overflow uid
 * (user_namespaces(7), "Unmapped user and group IDs"); on the host that
 * uid is the real user nobody and gets no such trust. */
static gboolean is_unmapped_root(uid_t uid) {
  static int in_userns = -1;
  static uid_t overflow = (uid_t)-1;
  if (in_userns < 0) {
    g_autofree char *map = uva_read_small_file("/proc/self/uid_map", NULL);
    g_autofree char *over =
        uva_read_small_file("/proc/sys/kernel/overflowuid", NULL);
    unsigned a = 0, b = 0, n = 0;
    in_userns = map && !(sscanf(map, "%u %u %u", &a, &b, &n) == 3 && a == 0 &&
                         b == 0 && n == 4294967295U);
    overflow = over ? (uid_t)atoi(over) : 65534;
  }
  return in_userns && uid == overflow;
}

char *uva_hostdir_resolve(const char *path, const char *const *areas,
                          GError **error) {
  g_autofree char *abs = g_canonicalize_filename(path, NULL);
  /* todo: the components still to walk, first at the head. */
  g_autoptr(GQueue) todo = g_queue_new();
  g_auto(GStrv) parts = g_strsplit(abs, "/", -1);
  for (char **p = parts; *p; p++)
    if (**p)
      g_queue_push_tail(todo, g_strdup(*p));
  g_autoptr(GString) cur = g_string_new(""); /* canonical; "" is / */
  int links = 0;
  char *comp;
  while ((comp = g_queue_pop_head(todo))) {
    g_autofree char *c = comp;
    if (g_str_equal(c, "."))
      continue;
    if (g_str_equal(c, "..")) {
      char *slash = strrchr(cur->str, '/');
      g_string_truncate(cur, slash ? (gsize)(slash - cur->str) : 0);
      continue;
    }
    g_autofree char *full = g_strconcat(cur->str, "/", c, NULL);
    struct stat st;
    if (lstat(full, &st) < 0) {
      if (errno != ENOENT) {
        int e = errno;
        while ((comp = g_queue_pop_head(todo)))
          g_free(comp);
        uva_fail_errno(error, e, "%s", full);
        return NULL;
      }
      /* Missing: the rest is created later, below a checked parent. */
      g_string_append_printf(cur, "/%s", c);
      while ((comp = g_queue_pop_head(todo))) {
        if (!g_str_equal(comp, ".") && !g_str_equal(comp, ".."))
          g_string_append_printf(cur, "/%s", comp);
        g_free(comp);
      }
      break;
    }
    if (!S_ISLNK(st.st_mode)) {
      g_string_assign(cur, full);
      continue;
    }
    const char *dir = cur->len ? cur->str : "/";
    const char *area = area_of(dir, areas);
    const char *fail = NULL;
    if (area)
      fail = "a container can write there";
    else if (st.st_uid != 0 && st.st_uid != geteuid() &&
             !is_unmapped_root(st.st_uid))
      fail = "it belongs to another user";
    else if (++links > MAX_SYMLINKS)
      fail = "too many levels of symbolic links";
    g_autofree char *target = fail ? NULL : g_file_read_link(full, NULL);
    if (!fail && !target)
      fail = "it cannot be read";
    if (fail) {
      while ((comp = g_queue_pop_head(todo)))
        g_free(comp);
      uva_fail(error,
               "%s is a symlink and %s: refusing to follow it "
               "(name the real path instead)",
               full, fail);
      return NULL;
    }
    g_auto(GStrv) tparts = g_strsplit(target, "/", -1);
    for (int i = (int)g_strv_length(tparts) - 1; i >= 0; i--)
      if (*tparts[i])
        g_queue_push_head(todo, g_strdup(tparts[i]));
    if (target[0] == '/')
      g_string_truncate(cur, 0);
  }
  return cur->len ? g_strdup(cur->str) : g_strdup("/");
}

char *uva_hostdir_control_dir(const char *state_dir, char **own_from,
                              GError **error) {
  const char *xdg = g_getenv("XDG_RUNTIME_DIR");
  g_autofree char *dir = NULL, *from = NULL;
  if (xdg && g_path_is_absolute(xdg) && g_file_test(xdg, G_FILE_TEST_IS_DIR)) {
    g_autofree char *base = uva_hostdir_resolve(xdg, NULL, error);
    if (!base)
      return NULL;
    dir = g_build_filename(base, "uva_container", NULL);
    from = g_strdup(dir);
  } else {
    /* No runtime directory (a CI runner's `env -i`, su without a login
     * session): the state directory, which is ours already. */
    g_autofree char *base = uva_hostdir_resolve(state_dir, NULL, error);
    if (!base)
      return NULL;
    dir = g_build_filename(base, UVA_STATE_CONTROL_DIR, NULL);
    from = g_steal_pointer(&base);
  }
  if (own_from)
    *own_from = g_steal_pointer(&from);
  return g_steal_pointer(&dir);
}

/* What no writable area (what = "workdir", "tmp", "volume source") may
 * hold or lie in (issue 22): the control directory ctl, where an app could
 * bind another container's NAME.sock before its manager does and receive
 * the stdin, stdout and stderr of a later `exec NAME`; the state root and
 * each container's state directory below it (STATE/NAME), which hold the
 * logs `logs` shows (log.0, log.1) and, without XDG_RUNTIME_DIR, the
 * control directory.  A container's www and tmp below STATE/NAME are
 * fine: that is where they are by default.  Canonical paths, compared as
 * the symlink rule compares them. */
static gboolean check_area(const char *area, const char *what, const char *root,
                           const char *ctl, GError **error) {
  const char *fix = "use a directory outside it";
  if (ctl && within(ctl, area))
    return uva_fail(error,
                    "%s %s holds the control directory %s: an app could "
                    "plant a control socket there and receive the fds of a "
                    "later exec; %s",
                    what, area, ctl, fix);
  if (ctl && within(area, ctl))
    return uva_fail(error,
                    "%s %s lies inside the control directory %s: an app "
                    "could plant a control socket there and receive the fds "
                    "of a later exec; %s",
                    what, area, ctl, fix);
  if (!root)
    return TRUE;
  if (within(root, area))
    return uva_fail(error,
                    "%s %s holds the state directory %s: an app could plant "
                    "control sockets and rewrite logs there; %s",
                    what, area, root, fix);
  if (!within(area, root) || g_str_equal(root, "/"))
    return TRUE;
  const char *rel = area + strlen(root) + 1; /* NAME[/...] */
  const char *slash = strchr(rel, '/');
  if (!slash)
    return uva_fail(error,
                    "%s %s is a container's state directory, which holds "
                    "its logs: an app could rewrite what `logs` shows; use "
                    "its www or tmp below, or a directory outside %s",
                    what, area, root);
  if (g_str_equal(slash + 1, "log.0") || g_str_equal(slash + 1, "log.1"))
    return uva_fail(error,
                    "%s %s is a container's log file: an app could rewrite "
                    "what `logs` shows; use a file outside %s",
                    what, area, root);
  return TRUE;
}

/* The rule for a directory the manager keeps a container's files in. */
static gboolean check_own(const char *path, const struct stat *st,
                          GError **error) {
  if (st->st_uid != geteuid()) {
    if (geteuid() == 0)
      return uva_fail(error,
                      "%s belongs to uid %u, not to root: running as "
                      "root (sudo?) would leave root-owned files in another "
                      "user's directory; run uva_container as that user, "
                      "without sudo, or set XDG_STATE_HOME (and -w, --tmp) "
                      "to directories of root's",
                      path, (unsigned)st->st_uid);
    return uva_fail(error,
                    "%s belongs to uid %u, not to you (uid %u): "
                    "another user could replace what is inside; use a "
                    "directory of your own (XDG_STATE_HOME, -w, --tmp)",
                    path, (unsigned)st->st_uid, (unsigned)geteuid());
  }
  if (st->st_mode & (S_IWGRP | S_IWOTH))
    return uva_fail(error,
                    "%s is writable by group or others (mode %04o): "
                    "another user could replace what is inside; run "
                    "'chmod go-w %s'",
                    path, (unsigned)(st->st_mode & 07777), path);
  return TRUE;
}

/* The rule for a directory above those: root's or ours, and if others
 * may write it, sticky, so that they cannot rename what we own in it. */
static gboolean check_ancestor(const char *path, const struct stat *st,
                               GError **error) {
  if (st->st_uid != 0 && st->st_uid != geteuid() &&
      !is_unmapped_root(st->st_uid)) {
    if (geteuid() == 0)
      return check_own(path, st, error);
    return uva_fail(error,
                    "%s belongs to uid %u, neither to you nor to "
                    "root: that user could replace the directories below "
                    "it; use a directory of your own (XDG_STATE_HOME, -w, "
                    "--tmp)",
                    path, (unsigned)st->st_uid);
  }
  if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(st->st_mode & S_ISVTX))
    return uva_fail(error,
                    "%s is writable by group or others without the "
                    "sticky bit (mode %04o): another user could replace the "
                    "directories below it; run 'chmod go-w %s'",
                    path, (unsigned)(st->st_mode & 07777), path);
  return TRUE;
}

/* Walks the canonical directory path down from /, creating what is missing
 * (0700), and returns an O_PATH fd on it.  Every directory at or below
 * own_from (canonical; NULL: only path itself) must be ours. */
int uva_hostdir_open_dir(const char *path, const char *own_from,
                         GError **error) {
  uva_autofd fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    uva_fail_errno(error, errno, "/");
    return -1;
  }
  g_auto(GStrv) parts = g_strsplit(path, "/", -1);
  g_autoptr(GString) cur = g_string_new("");
  for (char **p = parts; *p; p++) {
    if (!**p)
      continue;
    g_string_append_printf(cur, "/%s", *p);
    const unsigned long long how =
        RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    int next = openat2_fd(fd, *p, O_PATH | O_DIRECTORY, how);
    if (next < 0 && errno == ENOENT) {
      if (mkdirat(fd, *p, 0700) < 0 && errno != EEXIST) {
        uva_fail_errno(error, errno, "creating %s", cur->str);
        return -1;
      }
      next = openat2_fd(fd, *p, O_PATH | O_DIRECTORY, how);
    }
    if (next < 0) {
      if (errno == ELOOP)
        uva_fail(error, "%s is a symlink: refusing to follow it", cur->str);
      else
        uva_fail_errno(error, errno, "%s", cur->str);
      return -1;
    }
    uva_close_fdp(&fd);
    fd = next;
    struct stat st;
    if (fstat(fd, &st) < 0) {
      uva_fail_errno(error, errno, "%s", cur->str);
      return -1;
    }
    gboolean last = p[1] == NULL;
    gboolean own = last || (own_from && within(cur->str, own_from));
    if (own ? !check_own(cur->str, &st, error)
            : !check_ancestor(cur->str, &st, error))
      return -1;
  }
  if (!cur->len) {
    uva_fail(error, "/ cannot be a container's directory");
    return -1;
  }
  return uva_steal_fd(&fd);
}

/* Removes everything below the directory open on fd (O_RDONLY), never
 * following a symlink: entries are unlinked relative to their parent. */
static gboolean empty_dir(int fd, const char *shown, int depth,
                          GError **error) {
  if (depth > MAX_EMPTY_DEPTH)
    return uva_fail(error,
                    "%s is nested more than %d directories deep; "
                    "remove it by hand",
                    shown, MAX_EMPTY_DEPTH);
  /* The app may have taken our write or search bit away: it is ours. */
  (void)fchmod(fd, 0700);
  int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
  if (!d) {
    int e = errno;
    uva_close_fdp(&dup_fd);
    return uva_fail_errno(error, e, "reading %s", shown);
  }
  gboolean ok = TRUE;
  struct dirent *e;
  while (ok && (errno = 0, e = readdir(d))) {
    if (g_str_equal(e->d_name, ".") || g_str_equal(e->d_name, ".."))
      continue;
    if (unlinkat(fd, e->d_name, 0) == 0)
      continue;
    if (errno != EISDIR) {
      ok = uva_fail_errno(error, errno, "removing %s/%s", shown, e->d_name);
      break;
    }
    g_autofree char *sub_shown = g_build_filename(shown, e->d_name, NULL);
    uva_autofd sub =
        openat(fd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0 && errno == EACCES &&
        fchmodat(fd, e->d_name, 0700, AT_SYMLINK_NOFOLLOW) == 0)
      sub = openat(fd, e->d_name,
                   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0)
      ok = uva_fail_errno(error, errno, "opening %s", sub_shown);
    else if ((ok = empty_dir(sub, sub_shown, depth + 1, error)) &&
             unlinkat(fd, e->d_name, AT_REMOVEDIR) < 0)
      ok = uva_fail_errno(error, errno, "removing %s", sub_shown);
  }
  if (ok && errno != 0)
    ok = uva_fail_errno(error, errno, "reading %s", shown);
  closedir(d);
  return ok;
}

/* Creates name in the directory dir_fd unless something (anything, a
 * symlink included) is there already. */
static gboolean write_seed(int dir_fd, const char *shown, const char *name,
                           const char *text, GError **error) {
  uva_autofd fd = openat(
      dir_fd, name,
      O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0644);
  if (fd < 0 && errno == EEXIST)
    return TRUE;
  if (fd < 0)
    return uva_fail_errno(error, errno, "creating %s/%s", shown, name);
  if (!uva_write_all(fd, text, strlen(text), error)) {
    g_prefix_error(error, "%s/%s: ", shown, name);
    return FALSE;
  }
  return TRUE;
}

gboolean uva_hostdir_check_spec_file(int fd, const char *path, dev_t *dev,
                                     ino_t *ino, GError **error) {
  struct stat st;
  if (fstat(fd, &st) < 0)
    return uva_fail_errno(error, errno, "%s", path);
  if (!S_ISREG(st.st_mode))
    return uva_fail(error, "%s is not a regular file", path);
  if (st.st_uid != 0 && st.st_uid != geteuid())
    return uva_fail(error,
                    "%s belongs to uid %u, not to you: its owner "
                    "could change what runs and what is mounted; copy it",
                    path, (unsigned)st.st_uid);
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    return uva_fail(error,
                    "%s is writable by group or others (mode %04o): "
                    "they could change what runs and what is mounted; run "
                    "'chmod go-w %s'",
                    path, (unsigned)(st.st_mode & 07777), path);
  if (st.st_nlink != 1)
    return uva_fail(error,
                    "%s has %u hard links: a container could change "
                    "it through another one; copy it to a file of its own",
                    path, (unsigned)st.st_nlink);
  *dev = st.st_dev;
  *ino = st.st_ino;
  return TRUE;
}

static void bind_clear(gpointer p) {
  UvaBind *b = p;
  g_free(b->path);
  g_free(b->target);
  uva_close_fdp(&b->fd);
}

void uva_hostdir_free(UvaHostdirs *h) {
  if (!h)
    return;
  g_array_unref(h->binds);
  uva_close_fdp(&h->lock_fd);
  g_free(h);
}

/* Appends a bind of the canonical path, opened and identified now. */
static gboolean add_bind(UvaHostdirs *h, const char *path, const char *target,
                         gboolean read_only, gboolean existing_only,
                         GError **error) {
  UvaBind b = {.fd = uva_hostdir_open_canonical(path, 0, error),
               .read_only = read_only,
               .existing_only = existing_only};
  struct stat st;
  if (b.fd < 0)
    return FALSE;
  if (fstat(b.fd, &st) < 0) {
    int e = errno;
    close(b.fd);
    return uva_fail_errno(error, e, "%s", path);
  }
  b.dev = st.st_dev;
  b.ino = st.st_ino;
  b.is_dir = S_ISDIR(st.st_mode);
  b.path = g_strdup(path);
  b.target = g_strdup(target);
  g_array_append_val(h->binds, b);
  return TRUE;
}

/* The spec file, where a writable bind shows it, is bound read-only over
 * itself, and each directory between the bind and the file over itself:
 * a mount point cannot be renamed or removed in its own mount namespace
 * (EBUSY, rename(2), rmdir(2)), so the app can neither rewrite the spec
 * nor put another one in its place for the next `up`. */
static gboolean protect_spec(const UvaSpec *spec, UvaHostdirs *h,
                             GError **error) {
  guint n = h->binds->len;
  for (guint i = 0; i < n; i++) {
    const UvaBind *b = &g_array_index(h->binds, UvaBind, i);
    if (b->read_only || !within(spec->file, b->path))
      continue;
    g_autofree char *src = g_strdup(b->path);
    g_autofree char *dst = g_strdup(b->target);
    const char *rel = spec->file + strlen(g_str_equal(src, "/") ? "" : src);
    g_auto(GStrv) parts = g_strsplit(rel, "/", -1);
    for (char **p = parts; *p; p++) {
      if (!**p)
        continue;
      char *s = g_build_filename(src, *p, NULL),
           *d = g_build_filename(dst, *p, NULL);
      g_free(src);
      g_free(dst);
      src = s;
      dst = d;
      if (!add_bind(h, src, dst, p[1] == NULL, TRUE, error))
        return FALSE;
    }
    if (!*rel && !add_bind(h, src, dst, TRUE, TRUE, error))
      return FALSE;
    const UvaBind *file = &g_array_index(h->binds, UvaBind, h->binds->len - 1);
    if (file->dev != spec->file_dev || file->ino != spec->file_ino)
      return uva_fail(error, "%s changed since it was read", spec->file);
  }
  return TRUE;
}

static gboolean prepare_one(const UvaSpec *spec, UvaContainerSpec *c,
                            const char *root, const char *const *areas,
                            UvaHostdirs *h, GError **error) {
  g_autofree char *work = NULL;
  g_autofree char *tmp = uva_hostdir_resolve(c->tmpdir, areas, error);
  if (!tmp)
    return FALSE;
  uva_autofd tmp_fd = uva_hostdir_open_dir(tmp, root, error);
  if (tmp_fd < 0)
    return FALSE;
  /* Two managers must not share a container's /tmp (its logs): flock(2),
   * which the kernel drops with the last fd, so a killed manager leaves
   * no stale lock.  Taken before the workdir is emptied, so a second
   * manager of the same name stops here and empties nothing. */
  h->lock_fd = openat(tmp_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (h->lock_fd < 0)
    return uva_fail_errno(error, errno, "opening %s", tmp);
  if (flock(h->lock_fd, LOCK_EX | LOCK_NB) < 0) {
    if (errno == EWOULDBLOCK)
      return uva_fail(error,
                      "its /tmp (%s) is in use by another running "
                      "uva_container; stop that one, or give this one "
                      "another --name or --tmp",
                      tmp);
    return uva_fail_errno(error, errno, "locking %s", tmp);
  }
  work = uva_hostdir_resolve(c->workdir, areas, error);
  if (!work)
    return FALSE;
  uva_autofd work_fd = uva_hostdir_open_dir(work, root, error);
  if (work_fd < 0)
    return FALSE;
  if (c->fresh_workdir) {
    uva_autofd rd = openat(work_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rd < 0)
      return uva_fail_errno(error, errno, "opening %s", work);
    if (!empty_dir(rd, work, 0, error))
      return FALSE;
  }
  if (c->seed_file) {
    g_autofree char *text = g_strdup_printf(
        "This file lives in the working directory of container %s.\n", c->name);
    if (!write_seed(work_fd, work, c->seed_file, text, error))
      return FALSE;
  }
  g_free(c->tmpdir);
  c->tmpdir = g_steal_pointer(&tmp);
  g_free(c->workdir);
  c->workdir = g_steal_pointer(&work);
  if (!add_bind(h, c->tmpdir, "/tmp", FALSE, FALSE, error) ||
      !add_bind(h, c->workdir, UVA_APP_DIR, FALSE, FALSE, error))
    return FALSE;
  for (guint i = 0; i < c->mounts->len; i++) {
    UvaMount *m = &g_array_index(c->mounts, UvaMount, i);
    char *src = uva_hostdir_resolve(m->source, areas, error);
    if (!src)
      return FALSE;
    g_free(m->source);
    m->source = src;
    if (!add_bind(h, m->source, m->target, m->read_only, FALSE, error)) {
      /* Docker creates a missing source as root; podman refuses it, and
       * so do we (a typo would otherwise become an empty directory the
       * app writes into), but by name and with the fix.  Asked only once
       * the open failed: nothing more on the way of a good volume. */
      struct stat st;
      if (lstat(m->source, &st) < 0 && errno == ENOENT) {
        g_clear_error(error);
        return uva_fail(error,
                        "volume %s:%s: the host path %s does not exist; "
                        "create it first (a missing source is not created)",
                        m->source, m->target, m->source);
      }
      g_prefix_error(error, "volume %s:%s: ", m->source, m->target);
      return FALSE;
    }
  }
  return !spec->file || protect_spec(spec, h, error);
}

gboolean uva_hostdir_remove_state(const char *state_dir, const char *name,
                                  GError **error) {
  if (!uva_name_valid(name, error))
    return FALSE;
  g_autofree char *root = uva_hostdir_resolve(state_dir, NULL, error);
  if (!root)
    return FALSE;
  uva_autofd root_fd = openat2_fd(AT_FDCWD, root, O_RDONLY | O_DIRECTORY,
                                  RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
  struct stat st;
  if (root_fd < 0 || fstat(root_fd, &st) < 0)
    return uva_fail_errno(error, errno, "no container %s: %s", name, root);
  if (!check_own(root, &st, error))
    return FALSE;
  g_autofree char *dir = g_build_filename(root, name, NULL);
  uva_autofd fd =
      openat(root_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return uva_fail_errno(error, errno, "no container %s: %s", name, dir);
  /* A running manager holds the flock on its /tmp (prepare_one). */
  uva_autofd tmp =
      openat(fd, "tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (tmp >= 0 && flock(tmp, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK)
    return uva_fail(error, "container %s is running: stop it first", name);
  if (!empty_dir(fd, dir, 0, error))
    return FALSE;
  if (unlinkat(root_fd, name, AT_REMOVEDIR) < 0)
    return uva_fail_errno(error, errno, "removing %s", dir);
  return TRUE;
}

/* The state root, before any container's directory below it: a HOME that
 * does not exist or is not ours (HOME=/nonexistent, the typical CI user)
 * fails here, and the fix is XDG_STATE_HOME rather than that path.  The
 * messages of check_own and check_ancestor name it already. */
static gboolean open_state_root(const char *root, GError **error) {
  g_autoptr(GError) local = NULL;
  uva_autofd fd = uva_hostdir_open_dir(root, root, &local);
  if (fd >= 0)
    return TRUE;
  if (strstr(local->message, "XDG_STATE_HOME"))
    return uva_fail(error, "state directory %s: %s", root, local->message);
  return uva_fail(error,
                  "state directory %s: %s; set XDG_STATE_HOME to a "
                  "directory of yours (e.g. XDG_STATE_HOME=/tmp/state "
                  "uva_container ...)",
                  root, local->message);
}

GPtrArray *uva_hostdir_prepare(const UvaSpec *spec, GError **error) {
  /* First what every container can write, resolved as they are now: a
   * symlink found inside any of them later is refused. */
  g_autoptr(GPtrArray) areas = g_ptr_array_new_with_free_func(g_free);
  const char *root = NULL; /* the state root, canonical: all of it ours */
  if (spec->state_dir) {
    char *r = uva_hostdir_resolve(spec->state_dir, NULL, error);
    if (!r) {
      g_prefix_error(error, "state directory: ");
      return NULL;
    }
    g_ptr_array_add(areas, r);
    root = r;
  }
  /* Where the control sockets will be: no area may reach it.  A failure
   * here is the control server's to report, with its context. */
  g_autofree char *ctl =
      root ? uva_hostdir_control_dir(spec->state_dir, NULL, NULL) : NULL;
  gboolean uses_root = FALSE;
  for (guint i = 0; i < spec->containers->len; i++) {
    const UvaContainerSpec *c = spec->containers->pdata[i];
    const char *paths[] = {c->workdir, c->tmpdir};
    const char *whats[] = {"workdir", "tmp"};
    gboolean ok = TRUE;
    for (size_t k = 0; k < G_N_ELEMENTS(paths); k++) {
      char *p = uva_hostdir_resolve(paths[k], NULL, NULL);
      if (p)
        g_ptr_array_add(areas, p);
      uses_root |= p && root && within(p, root);
      ok = ok && (!p || check_area(p, whats[k], root, ctl, error));
    }
    for (guint k = 0; k < c->mounts->len; k++) {
      const UvaMount *m = &g_array_index(c->mounts, UvaMount, k);
      char *p =
          m->read_only ? NULL : uva_hostdir_resolve(m->source, NULL, NULL);
      if (p)
        g_ptr_array_add(areas, p);
      ok = ok && (!p || check_area(p, "volume source", root, ctl, error));
    }
    if (!ok) {
      g_prefix_error(error, "container %s: ", c->name);
      return NULL;
    }
  }
  g_ptr_array_add(areas, NULL);
  if (uses_root && !open_state_root(root, error))
    return NULL;
  g_autoptr(GPtrArray) all =
      g_ptr_array_new_with_free_func((GDestroyNotify)uva_hostdir_free);
  for (guint i = 0; i < spec->containers->len; i++) {
    UvaContainerSpec *c = spec->containers->pdata[i];
    UvaHostdirs *h = g_new0(UvaHostdirs, 1);
    h->lock_fd = -1;
    h->binds = g_array_new(FALSE, TRUE, sizeof(UvaBind));
    g_array_set_clear_func(h->binds, bind_clear);
    g_ptr_array_add(all, h);
    if (!prepare_one(spec, c, root, (const char *const *)areas->pdata, h,
                     error)) {
      g_prefix_error(error, "container %s: ", c->name);
      return NULL;
    }
  }
  return g_steal_pointer(&all);
}
