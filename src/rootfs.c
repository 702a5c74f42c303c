/* rootfs.c - build the container's root the way bubblewrap does.
 *
 * Theory: a new tmpfs is mounted over /tmp and made the root with
 * pivot_root(2); the host's root then sits at /oldroot, where pivot_root moved
 * it, with the host's real /tmp visible again below it (the tmpfs was moved
 * away from /tmp).  Every bind source is therefore named "/oldroot/<host
 * path>", which works even when the checkout, the working directory or the
 * state directory live under /tmp: mounting a private /tmp directly would
 * hide them, and Python resolves its cwd by path.  The new root is assembled
 * in /newroot, /oldroot is detached, and a second pivot_root(".", ".")
 * (pivot_root(2), "NOTES") makes /newroot the root.
 *
 * Every mount below happens in a mount namespace owned by our user namespace,
 * so the host never sees them, and they all vanish with the last process. */
#include "rootfs.h"

#include "util.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

static gboolean do_mount(const char *src, const char *dst, const char *type,
                         unsigned long flags, const char *data,
                         GError **error) {
  if (mount(src, dst, type, flags, data) < 0)
    return uva_fail_errno(error, errno, "mount %s on %s",
                          src ? src : (type ? type : "(none)"), dst);
  return TRUE;
}

/* Read-only for a bind and everything below it.  mount_setattr(2) changes
 * only the read-only bit; a MS_REMOUNT would have to repeat every flag the
 * kernel locked when the mount crossed into our user namespace
 * (mount_namespaces(7), "locked mounts"), or fail with EPERM. */
static gboolean make_read_only(const char *path, gboolean recursive,
                               GError **error) {
  struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
  if (syscall(SYS_mount_setattr, AT_FDCWD, path,
              recursive ? AT_RECURSIVE : 0, &attr, sizeof attr) < 0)
    return uva_fail_errno(error, errno, "making %s read-only", path);
  return TRUE;
}

static gboolean make_dirs(const char *path, GError **error) {
  if (g_mkdir_with_parents(path, 0755) < 0)
    return uva_fail_errno(error, errno, "mkdir %s", path);
  return TRUE;
}

static gboolean make_file(const char *path, GError **error) {
  uva_autofd fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
  if (fd < 0)
    return uva_fail_errno(error, errno, "creating mount point %s", path);
  return TRUE;
}

/* Binds the host path src (seen below /oldroot) at dst inside /newroot,
 * creating the mount point as a file or directory like src. */
static gboolean bind_host(const char *src, const char *dst, gboolean ro,
                          GError **error) {
  g_autofree char *from = g_build_filename("/oldroot", src, NULL);
  g_autofree char *to = g_build_filename("/newroot", dst, NULL);
  struct stat st;
  if (stat(from, &st) < 0)
    return uva_fail_errno(error, errno, "%s", src);
  g_autofree char *parent = g_path_get_dirname(to);
  if (!make_dirs(parent, error))
    return FALSE;
  if (S_ISDIR(st.st_mode) ? !make_dirs(to, error) : !make_file(to, error))
    return FALSE;
  if (!do_mount(from, to, NULL, MS_BIND | MS_REC, NULL, error))
    return FALSE;
  return !ro || make_read_only(to, TRUE, error);
}

/* /usr and friends: read-only binds; the /bin -> usr/bin style symlinks of a
 * merged-/usr system are recreated as symlinks. */
static gboolean bind_system_dirs(GError **error) {
  static const char *const dirs[] = {"usr", "bin",  "sbin", "lib",
                                     "lib32", "lib64", "libx32", "etc"};
  for (size_t i = 0; i < G_N_ELEMENTS(dirs); i++) {
    g_autofree char *from = g_build_filename("/oldroot", dirs[i], NULL);
    g_autofree char *to = g_build_filename("/newroot", dirs[i], NULL);
    struct stat st;
    if (lstat(from, &st) < 0)
      continue; /* not every system has lib32 */
    if (S_ISLNK(st.st_mode)) {
      char target[PATH_MAX];
      ssize_t n = readlink(from, target, sizeof target - 1);
      if (n < 0)
        return uva_fail_errno(error, errno, "readlink %s", from);
      target[n] = '\0';
      if (symlink(target, to) < 0)
        return uva_fail_errno(error, errno, "symlink %s", to);
    } else if (S_ISDIR(st.st_mode)) {
      g_autofree char *host = g_strconcat("/", dirs[i], NULL);
      if (!bind_host(host, host, TRUE, error))
        return FALSE;
    }
  }
  return TRUE;
}

char *uva_rootfs_hosts_text(const char *name) {
  /* Python's HTTPServer calls socket.getfqdn() at start: the container's own
   * name must resolve from this file, never through DNS. */
  return g_strdup_printf("127.0.0.1\tlocalhost\n"
                         "::1\tlocalhost ip6-localhost ip6-loopback\n"
                         "%s\t%s\n",
                         UVA_GUEST_ADDR, name);
}

/* Files we generate live in the staging tmpfs and are bound over the host's
 * (read-only) /etc entries; an entry the host lacks or keeps as a symlink
 * cannot be covered and is skipped unless required. */
static gboolean overlay_etc(const char *file, const char *text,
                            gboolean required, GError **error) {
  g_autofree char *staged = g_build_filename("/", file, NULL);
  g_autofree char *target = g_build_filename("/newroot/etc", file, NULL);
  struct stat st;
  if (lstat(target, &st) < 0 || !S_ISREG(st.st_mode)) {
    if (!required)
      return TRUE;
    return uva_fail(error, "cannot provide /etc/%s: the host's /etc/%s is "
                    "missing or not a regular file", file, file);
  }
  if (!uva_write_file(staged, text, TRUE, error))
    return FALSE;
  if (!do_mount(staged, target, NULL, MS_BIND, NULL, error))
    return FALSE;
  return make_read_only(target, FALSE, error);
}

static gboolean setup_dev(const UvaContainerSpec *c, GError **error) {
  static const char *const nodes[] = {"null",   "zero",    "full",
                                      "random", "urandom", "tty"};
  if (!make_dirs("/newroot/dev", error) ||
      !do_mount("tmpfs", "/newroot/dev", "tmpfs", MS_NOSUID | MS_NOEXEC,
                "mode=0755", error))
    return FALSE;
  for (size_t i = 0; i < G_N_ELEMENTS(nodes); i++) {
    g_autofree char *host = g_build_filename("/dev", nodes[i], NULL);
    if (!bind_host(host, host, FALSE, error))
      return FALSE;
  }
  static const char *const links[][2] = {{"/proc/self/fd", "/newroot/dev/fd"},
                                         {"/proc/self/fd/0", "/newroot/dev/stdin"},
                                         {"/proc/self/fd/1", "/newroot/dev/stdout"},
                                         {"/proc/self/fd/2", "/newroot/dev/stderr"}};
  for (size_t i = 0; i < G_N_ELEMENTS(links); i++)
    if (symlink(links[i][0], links[i][1]) < 0)
      return uva_fail_errno(error, errno, "symlink %s", links[i][1]);
  /* A size of its own, Docker's 64 MiB by default (--shm-size): without
   * one a tmpfs may grow to half of RAM (tmpfs(5), "size"), and its pages
   * are memory the app could fill without owning any process's RSS.  The
   * kernel rounds the size up to whole pages. */
  g_autofree char *shm_options =
      g_strdup_printf("mode=1777,size=%" G_GUINT64_FORMAT, c->shm_size);
  if (!make_dirs("/newroot/dev/shm", error) ||
      !do_mount("tmpfs", "/newroot/dev/shm", "tmpfs",
                MS_NOSUID | MS_NODEV, shm_options, error))
    return FALSE;
  return make_read_only("/newroot/dev", FALSE, error);
}

static gboolean pivot(const char *new_root, const char *put_old,
                      GError **error) {
  if (syscall(SYS_pivot_root, new_root, put_old) < 0)
    return uva_fail_errno(error, errno, "pivot_root %s", new_root);
  return TRUE;
}

gboolean uva_rootfs_setup(const UvaContainerSpec *c, GError **error) {
  /* Slave, not private: we still see the host unmount a disk, but nothing we
   * mount propagates back (mount_namespaces(7)). */
  if (!do_mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL, error) ||
      !do_mount("tmpfs", "/tmp", "tmpfs", MS_NODEV | MS_NOSUID, "mode=0755",
                error))
    return FALSE;
  if (chdir("/tmp") < 0)
    return uva_fail_errno(error, errno, "chdir /tmp");
  if (mkdir("newroot", 0755) < 0 || mkdir("oldroot", 0755) < 0)
    return uva_fail_errno(error, errno, "mkdir in the staging tmpfs");
  /* newroot must be a mount of its own for the final pivot_root. */
  if (!do_mount("newroot", "newroot", NULL, MS_BIND | MS_REC, NULL, error) ||
      !pivot("/tmp", "oldroot", error))
    return FALSE;
  if (chdir("/") < 0)
    return uva_fail_errno(error, errno, "chdir /");

  if (!bind_system_dirs(error) || !setup_dev(c, error))
    return FALSE;
  /* A fresh procfs shows only our pid namespace.  It must be mounted while
   * the host's /proc is still visible below /oldroot: the kernel refuses a
   * new procfs in a user namespace that cannot see a full one already
   * (mount_too_revealing() in fs/namespace.c). */
  if (!make_dirs("/newroot/proc", error) ||
      !do_mount("proc", "/newroot/proc", "proc",
                MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, error))
    return FALSE;
  if (!bind_host(c->tmpdir, "/tmp", FALSE, error) ||
      !bind_host(c->workdir, UVA_APP_DIR, FALSE, error))
    return FALSE;
  for (guint i = 0; i < c->mounts->len; i++) {
    const UvaMount *m = &g_array_index(c->mounts, UvaMount, i);
    if (!bind_host(m->source, m->target, m->read_only, error))
      return FALSE;
  }
  if (!make_dirs("/newroot/run", error) || !make_dirs("/newroot/var/tmp", error))
    return FALSE;

  g_autofree char *hosts = uva_rootfs_hosts_text(uva_container_hostname(c));
  g_autofree char *hostname =
      g_strdup_printf("%s\n", uva_container_hostname(c));
  if (!overlay_etc("hosts", hosts, TRUE, error) ||
      !overlay_etc("hostname", hostname, FALSE, error) ||
      !overlay_etc("resolv.conf", "nameserver " UVA_DNS_ADDR "\n", FALSE,
                   error))
    return FALSE;

  if (umount2("/oldroot", MNT_DETACH) < 0)
    return uva_fail_errno(error, errno, "detaching the host root");
  if (chdir("/newroot") < 0)
    return uva_fail_errno(error, errno, "chdir /newroot");
  if (!pivot(".", ".", error))
    return FALSE;
  if (umount2(".", MNT_DETACH) < 0)
    return uva_fail_errno(error, errno, "detaching the staging root");
  if (chdir("/") < 0)
    return uva_fail_errno(error, errno, "chdir /");
  if (!make_read_only("/", FALSE, error))
    return FALSE;
  if (chdir(UVA_APP_DIR) < 0)
    return uva_fail_errno(error, errno, "chdir %s", UVA_APP_DIR);
  return TRUE;
}
