/* mountpoint.c - the mount point of a volume, found beneath the new root.
 *
 * A target is walked one component at a time below a directory fd on the
 * new root (openat2(2) RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS for each
 * step), so nothing resolves through the host's root.  A symlink met on
 * the way is resolved as bubblewrap and crun resolve one (crun's
 * safe_openat, runc's securejoin): beneath the new root, an absolute
 * target from its top, ".." never above it, at most 40 links
 * (path_resolution(7)).  Unlike theirs, our root holds areas the container
 * wrote in an earlier run (its workdir, volumes): a symlink planted there
 * could point a mount point, or a directory we create, anywhere in the
 * container.  So a symlink is followed only where no container can have
 * put it:
 *  - in the staging root's own top directory, whose entries init made at
 *    this start (/bin -> usr/bin of a merged-/usr host);
 *  - in the host's system directories, bound read-only, when it belongs to
 *    host root (/etc/localtime -> /usr/share/zoneinfo/..., /etc/os-release
 *    -> ../usr/lib/os-release): the files of another host user (a
 *    /usr/local of the user's own) are not trusted;
 * and never at or below a writable area (the workdir, /tmp, a volume, read-
 * only ones included, the scratch tmpfs), wherever that is mounted.  Any
 * other symlink is refused, as before, with the path to name instead. */
#include "sandbox/mountpoint.h"

#include "base/util.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

/* path_resolution(7): "a maximum of 40 symbolic links" per lookup. */
#define MAX_LINKS 40

static int open_beneath(int dirfd, const char *name, int flags) {
  struct open_how how = {.flags = (unsigned long long)(flags | O_CLOEXEC),
                         .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
                                    RESOLVE_NO_MAGICLINKS};
  return (int)syscall(SYS_openat2, dirfd, name, &how, sizeof how);
}

uid_t uva_mountpoint_host_root_uid(void) {
  uid_t overflow = 65534; /* the kernel's default (overflowuid) */
  g_autofree char *text = NULL;
  if (g_file_get_contents("/proc/sys/kernel/overflowuid", &text, NULL, NULL))
    overflow = (uid_t)g_ascii_strtoull(text, NULL, 10);
  g_clear_pointer(&text, g_free);
  if (!g_file_get_contents("/proc/self/uid_map", &text, NULL, NULL))
    return overflow;
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  for (char **l = lines; *l; l++) {
    unsigned long inside, outside, count;
    if (sscanf(*l, "%lu %lu %lu", &inside, &outside, &count) == 3 &&
        outside == 0 && count > 0)
      return (uid_t)inside;
  }
  return overflow;
}

/* path (canonical) is area or lies below it. */
static gboolean at_or_below(const char *path, const char *area) {
  size_t n = strlen(area);
  if (n == 1) /* "/" */
    return TRUE;
  return strncmp(path, area, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* A symlink st found in the directory dir (its canonical path in the new
 * root): can no container have made it?  See the header comment. */
static gboolean link_trusted(const char *dir, const struct stat *st,
                             const UvaMountpointTrust *t) {
  for (const char *const *w = t->writable; *w; w++)
    if (at_or_below(dir, *w))
      return FALSE;
  if (g_str_equal(dir, "/"))
    return TRUE;
  for (const char *const *s = t->system; *s; s++)
    if (at_or_below(dir, *s))
      return st->st_uid == t->host_root;
  return FALSE;
}

static gboolean fail_component(GError **error, int err, const char *target,
                               const char *upto) {
  if (err == ELOOP)
    return uva_fail(error,
                    "mount point %s: %s is a symlink that a container "
                    "can write, or not host root's; mount points follow only "
                    "root's symlinks in the host's read-only directories "
                    "(name the real path)",
                    target, upto);
  /* The system directories are read-only binds of the host's: a missing
   * mount point below them cannot be made.  A scratch layer (an overlay
   * of the host's directory with a tmpfs upper) would need overlayfs in
   * a user namespace with user xattrs and would hide the directory's own
   * submounts; refusing, with what to do instead, is simpler and sound.
   * An existing file or directory there can always be bound over. */
  if (err == EROFS) {
    g_autofree char *parent = g_path_get_dirname(upto);
    return uva_fail(error,
                    "mount point %s: %s does not exist and cannot be "
                    "made: %s is read-only in the container (%s); bind over "
                    "a file or directory that exists there, or below a "
                    "writable directory (/tmp, /app, /run, /var/tmp, the "
                    "home directory)",
                    target, upto, parent, g_strerror(EROFS));
  }
  return uva_fail_errno(error, err, "mount point %s: %s", target, upto);
}

/* Pushes the components of path on the stack todo, the first on top;
 * empty ones and "." are dropped (they name the same directory). */
static void push_components(GPtrArray *todo, const char *path) {
  g_auto(GStrv) parts = g_strsplit(path, "/", -1);
  guint n = g_strv_length(parts);
  for (guint i = n; i-- > 0;)
    if (*parts[i] && !g_str_equal(parts[i], "."))
      g_ptr_array_add(todo, g_strdup(parts[i]));
}

static void close_fd_at(gpointer p) { uva_close_fdp(p); }

/* The walk's state: fds[k] is an O_PATH fd on the k-th directory of the
 * canonical path (fds[0] the new root). */
static void pop_dir(GArray *fds, GString *path) {
  g_array_set_size(fds, fds->len - 1); /* closes it (close_fd_at) */
  char *slash = strrchr(path->str, '/');
  g_string_truncate(path, slash == path->str ? 1 : (gsize)(slash - path->str));
}

/* The missing name in dir, made as a directory (or, last, an empty file). */
static gboolean make_missing(int dir, const char *name, gboolean as_dir,
                             const char *target, const char *upto,
                             GError **error) {
  if (as_dir) {
    if (mkdirat(dir, name, 0755) < 0 && errno != EEXIST)
      return fail_component(error, errno, target, upto);
    return TRUE;
  }
  int made = openat(
      dir, name,
      O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0644);
  if (made < 0)
    return fail_component(error, errno, target, upto);
  close(made);
  return TRUE;
}

int uva_mountpoint_open(int root_fd, const char *target, gboolean is_dir,
                        gboolean existing_only, const UvaMountpointTrust *trust,
                        GError **error) {
  g_autoptr(GPtrArray) todo = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GArray) fds = g_array_new(FALSE, FALSE, sizeof(int));
  g_array_set_clear_func(fds, close_fd_at);
  g_autoptr(GString) path = g_string_new("/");
  int root = fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
  if (root < 0)
    return uva_fail_errno(error, errno, "mount point %s", target), -1;
  g_array_append_val(fds, root);
  push_components(todo, target);
  guint links = 0;
  while (todo->len) {
    g_autofree char *name = g_ptr_array_steal_index(todo, todo->len - 1);
    if (g_str_equal(name, "..")) {
      if (fds->len > 1) /* never above the new root */
        pop_dir(fds, path);
      continue;
    }
    gboolean last = todo->len == 0;
    int dir = g_array_index(fds, int, fds->len - 1);
    g_autofree char *upto = g_build_filename(path->str, name, NULL);
    /* O_NOFOLLOW with O_PATH: a symlink as the last component is opened
     * itself rather than refused (openat2(2), RESOLVE_NO_SYMLINKS). */
    int fd = open_beneath(dir, name, O_PATH | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
      if (existing_only)
        return -1;
      if (!make_missing(dir, name, !last || is_dir, target, upto, error))
        return -1;
      fd = open_beneath(dir, name, O_PATH | O_NOFOLLOW);
    }
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
      int e = errno;
      if (fd >= 0)
        close(fd);
      return fail_component(error, e, target, upto), -1;
    }
    if (S_ISLNK(st.st_mode)) {
      if (!link_trusted(path->str, &st, trust)) {
        close(fd);
        return fail_component(error, ELOOP, target, upto), -1;
      }
      if (++links > MAX_LINKS) {
        close(fd);
        return uva_fail(error,
                        "mount point %s: more than %d symlinks on "
                        "the way (%s)",
                        target, MAX_LINKS, upto),
               -1;
      }
      char link[PATH_MAX];
      ssize_t n = readlinkat(fd, "", link, sizeof link - 1);
      int e = errno;
      close(fd);
      if (n <= 0)
        return fail_component(error, n == 0 ? ENOENT : e, target, upto), -1;
      link[n] = '\0';
      if (link[0] == '/')
        while (fds->len > 1)
          pop_dir(fds, path);
      push_components(todo, link);
      continue;
    }
    if (!last && !S_ISDIR(st.st_mode)) {
      close(fd);
      return fail_component(error, ENOTDIR, target, upto), -1;
    }
    g_array_append_val(fds, fd);
    g_string_assign(path, upto);
  }
  if (fds->len == 1)
    return uva_fail(error, "mount point %s is the container's root", target),
           -1;
  int at = g_array_index(fds, int, fds->len - 1);
  g_array_index(fds, int, fds->len - 1) = -1;
  return at;
}
