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
 * What the container can write (its workdir, /tmp, volumes) is not bound
 * by path: the manager resolved each once and passed an O_PATH fd
 * (hostdir.c).  Such an fd belongs to the manager's mount namespace, which
 * open_tree(2) refuses to clone from (EINVAL), so the child opens the same
 * canonical path again in its own namespace, before mounting anything,
 * with no symlink allowed on the way, and mounts it only if it is the very
 * object the manager opened (device and inode).  Mount points are made
 * below a /newroot directory fd, one component at a time (mountpoint.c),
 * following only symlinks no container can have planted (root's, in the
 * read-only system directories): a symlink the app planted in its workdir
 * between runs cannot send a mount point, or a created directory, out of
 * the container or elsewhere in it.
 *
 * Every mount below happens in a mount namespace owned by our user namespace,
 * so the host never sees them, and they all vanish with the last process. */
#include "sandbox/rootfs.h"

#include "base/util.h"
#include "sandbox/mountpoint.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
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
  if (syscall(SYS_mount_setattr, AT_FDCWD, path, recursive ? AT_RECURSIVE : 0,
              &attr, sizeof attr) < 0)
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
 * creating the mount point as a file or directory like src.  For the
 * host's own system directories and device nodes only: nothing a
 * container can write is bound by path (uva_rootfs_setup). */
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

/* In the child's own mount namespace, before any mount: the manager's
 * object again, as a detached copy of its mount tree (open_tree(2)). */
static int clone_bind(const UvaBind *b, GError **error) {
  struct open_how how = {.flags = O_PATH | O_CLOEXEC,
                         .resolve =
                             RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
  uva_autofd fd =
      (int)syscall(SYS_openat2, AT_FDCWD, b->path, &how, sizeof how);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0)
    return uva_fail_errno(error, errno, "%s", b->path), -1;
  if (st.st_dev != b->dev || st.st_ino != b->ino)
    return uva_fail(error, "%s was replaced after the manager checked it",
                    b->path),
           -1;
  int tree = (int)syscall(SYS_open_tree, fd, "",
                          OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH |
                              AT_RECURSIVE);
  if (tree < 0)
    return uva_fail_errno(error, errno, "cloning the mount of %s", b->path), -1;
  if (b->read_only) {
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
    if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE,
                &attr, sizeof attr) < 0) {
      int e = errno;
      close(tree);
      return uva_fail_errno(error, e, "making %s read-only", b->path), -1;
    }
  }
  return tree;
}

static gboolean attach_bind(int root_fd, const UvaBind *b, int tree,
                            const UvaMountpointTrust *trust, GError **error) {
  uva_autofd at = uva_mountpoint_open(root_fd, b->target, b->is_dir,
                                      b->existing_only, trust, error);
  if (at < 0)
    return b->existing_only && !(error && *error);
  if (b->existing_only) {
    /* A later volume may hide this path: protect only what shows here. */
    struct stat st;
    if (fstat(at, &st) < 0 || st.st_dev != b->dev || st.st_ino != b->ino)
      return TRUE;
  } else {
    struct stat st;
    if (fstat(at, &st) < 0)
      return uva_fail_errno(error, errno, "mount point %s", b->target);
    if (!S_ISDIR(st.st_mode) != !b->is_dir)
      return uva_fail(error, "mount point %s is a %s, but %s is a %s",
                      b->target, S_ISDIR(st.st_mode) ? "directory" : "file",
                      b->path, b->is_dir ? "directory" : "file");
  }
  if (syscall(SYS_move_mount, tree, "", at, "",
              MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    return uva_fail_errno(error, errno, "mounting %s on %s", b->path,
                          b->target);
  return TRUE;
}

/* The host's own system directories, shown read-only in every container
 * (and where mountpoint.c trusts root's symlinks). */
static const char *const system_dirs[] = {"/usr",    "/bin",   "/sbin",
                                          "/lib",    "/lib32", "/lib64",
                                          "/libx32", "/etc",   NULL};

/* /usr and friends: read-only binds; the /bin -> usr/bin style symlinks of a
 * merged-/usr system are recreated as symlinks. */
static gboolean bind_system_dirs(GError **error) {
  for (const char *const *d = system_dirs; *d; d++) {
    g_autofree char *from = g_build_filename("/oldroot", *d, NULL);
    g_autofree char *to = g_build_filename("/newroot", *d, NULL);
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
      if (!bind_host(*d, *d, TRUE, error))
        return FALSE;
    }
  }
  return TRUE;
}

char *uva_rootfs_hosts_text(const char *name, gboolean with_tap) {
  /* Python's HTTPServer calls socket.getfqdn() at start: the container's own
   * name must resolve from this file, never through DNS.  Without a tap
   * (network none) no interface has 10.0.2.100: the name is loopback's. */
  return g_strdup_printf("127.0.0.1\tlocalhost\n"
                         "::1\tlocalhost ip6-localhost ip6-loopback\n"
                         "%s\t%s\n",
                         with_tap ? UVA_GUEST_ADDR : "127.0.1.1", name);
}

/* A volume of the user's at path or above it (a file over /etc/hosts, a
 * directory over /etc): the user's wins, as in Docker, which leaves out
 * its own /etc/hosts, /etc/hostname and /etc/resolv.conf where the user
 * mounted one (daemon/oci_linux.go, "userMounts"). */
static gboolean user_mounted(const GArray *binds, const char *path) {
  for (guint i = 0; i < binds->len; i++) {
    const UvaBind *b = &g_array_index(binds, UvaBind, i);
    size_t n = strlen(b->target);
    if (!b->existing_only && strncmp(path, b->target, n) == 0 &&
        (path[n] == '\0' || path[n] == '/'))
      return TRUE;
  }
  return FALSE;
}

/* Files we generate live in the staging tmpfs and are bound over the host's
 * (read-only) /etc entries, before any volume, so that one the user
 * mounts there (or over /etc) lies on top; where the user mounted one,
 * ours is not even written.  An entry the host lacks or keeps as a
 * symlink cannot be covered and is skipped unless required. */
static gboolean overlay_etc(const GArray *binds, const char *file,
                            const char *text, gboolean required,
                            GError **error) {
  g_autofree char *staged = g_build_filename("/", file, NULL);
  g_autofree char *inside = g_build_filename("/etc", file, NULL);
  g_autofree char *target = g_build_filename("/newroot/etc", file, NULL);
  if (user_mounted(binds, inside))
    return TRUE;
  struct stat st;
  if (lstat(target, &st) < 0 || !S_ISREG(st.st_mode)) {
    if (!required)
      return TRUE;
    return uva_fail(error,
                    "cannot provide /etc/%s: the host's /etc/%s is "
                    "missing or not a regular file (mount a file of yours "
                    "there: -v FILE:/etc/%s:ro)",
                    file, file, file);
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
  static const char *const links[][2] = {
      {"/proc/self/fd", "/newroot/dev/fd"},
      {"/proc/self/fd/0", "/newroot/dev/stdin"},
      {"/proc/self/fd/1", "/newroot/dev/stdout"},
      {"/proc/self/fd/2", "/newroot/dev/stderr"}};
  for (size_t i = 0; i < G_N_ELEMENTS(links); i++)
    if (symlink(links[i][0], links[i][1]) < 0)
      return uva_fail_errno(error, errno, "symlink %s", links[i][1]);
  /* A devpts instance of our own (newinstance is implied since Linux 4.7):
   * openpty(3), script(1), tmux and `run -t` work, and no pty of the host
   * is visible.  /dev/ptmx points into it (devpts(5) documentation,
   * Documentation/filesystems/devpts.rst). */
  if (!make_dirs("/newroot/dev/pts", error) ||
      !do_mount("devpts", "/newroot/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                "newinstance,ptmxmode=0666,mode=0620", error))
    return FALSE;
  if (symlink("pts/ptmx", "/newroot/dev/ptmx") < 0)
    return uva_fail_errno(error, errno, "symlink /dev/ptmx");
  /* A size of its own, Docker's 64 MiB by default (--shm-size): without
   * one a tmpfs may grow to half of RAM (tmpfs(5), "size"), and its pages
   * are memory the app could fill without owning any process's RSS.  The
   * kernel rounds the size up to whole pages. */
  g_autofree char *shm_options =
      g_strdup_printf("mode=1777,size=%" G_GUINT64_FORMAT, c->shm_size);
  if (!make_dirs("/newroot/dev/shm", error) ||
      !do_mount("tmpfs", "/newroot/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV,
                shm_options, error))
    return FALSE;
  return make_read_only("/newroot/dev", FALSE, error);
}

/* A private, writable tmpfs of its own size at dir (tmpfs(5): without
 * size= it may grow to half of RAM, pages the app pins without owning
 * them), owned by our ids, the only ones mapped (a uid= of an unmapped id
 * is refused). */
static gboolean mount_scratch(const char *dir, const char *mode, guint64 size,
                              GError **error) {
  g_autofree char *path = g_build_filename("/newroot", dir, NULL);
  g_autofree char *options =
      g_strdup_printf("mode=%s,size=%" G_GUINT64_FORMAT ",uid=%u,gid=%u", mode,
                      size, (unsigned)getuid(), (unsigned)getgid());
  return make_dirs(path, error) &&
         do_mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, options, error);
}

/* Where programs write besides /tmp, each the container's own and gone
 * with it: the home directory the passwd entry names (it does not exist
 * inside otherwise: the host's /home is not shown), /run (sockets and
 * pid files: nginx, PostgreSQL, redis) and /var/tmp (large temporary
 * files).  Before the volumes, which may lie below them; the home first,
 * so that a home of /var cannot hide /var/tmp. */
static gboolean mount_scratch_dirs(const UvaContainerSpec *c, GError **error) {
  if (uva_home_is_private(c->home) &&
      !mount_scratch(c->home, "0700", UVA_HOME_SIZE, error))
    return FALSE;
  return mount_scratch("/run", "0755", UVA_RUN_SIZE, error) &&
         mount_scratch("/var/tmp", "1777", UVA_VAR_TMP_SIZE, error);
}

static gboolean pivot(const char *new_root, const char *put_old,
                      GError **error) {
  if (syscall(SYS_pivot_root, new_root, put_old) < 0)
    return uva_fail_errno(error, errno, "pivot_root %s", new_root);
  return TRUE;
}

static gboolean setup_root(const UvaContainerSpec *c, const GArray *binds,
                           const int *trees, uid_t host_root, GError **error) {
  if (!do_mount("tmpfs", "/tmp", "tmpfs", MS_NODEV | MS_NOSUID, "mode=0755",
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
  uva_autofd root_fd = open("/newroot", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0)
    return uva_fail_errno(error, errno, "/newroot");
  if (!mount_scratch_dirs(c, error))
    return FALSE;
  g_autofree char *hosts =
      uva_rootfs_hosts_text(uva_container_hostname(c), !c->no_network);
  g_autofree char *hostname =
      g_strdup_printf("%s\n", uva_container_hostname(c));
  if (!overlay_etc(binds, "hosts", hosts, TRUE, error) ||
      !overlay_etc(binds, "hostname", hostname, FALSE, error) ||
      !overlay_etc(binds, "resolv.conf", "nameserver " UVA_DNS_ADDR "\n", FALSE,
                   error))
    return FALSE;
  /* Every place a container can write, or wrote in an earlier run: no
   * symlink at or below one is followed to a mount point. */
  g_autoptr(GPtrArray) writable = g_ptr_array_new();
  for (guint i = 0; i < binds->len; i++)
    g_ptr_array_add(writable, g_array_index(binds, UvaBind, i).target);
  if (uva_home_is_private(c->home))
    g_ptr_array_add(writable, c->home);
  const char *scratch[] = {"/run",  "/var/tmp", "/dev",
                           "/proc", "/tmp",     UVA_APP_DIR};
  for (size_t i = 0; i < G_N_ELEMENTS(scratch); i++)
    g_ptr_array_add(writable, (char *)scratch[i]);
  g_ptr_array_add(writable, NULL);
  UvaMountpointTrust trust = {.writable = (const char *const *)writable->pdata,
                              .system = system_dirs,
                              .host_root = host_root};
  for (guint i = 0; i < binds->len; i++)
    if (!attach_bind(root_fd, &g_array_index(binds, UvaBind, i), trees[i],
                     &trust, error))
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

gboolean uva_rootfs_setup(const UvaContainerSpec *c, const GArray *binds,
                          GError **error) {
  /* Slave, not private: we still see the host unmount a disk, but nothing we
   * mount propagates back (mount_namespaces(7)). */
  if (!do_mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL, error))
    return FALSE;
  /* Before the tmpfs covers the host's /tmp: the binds' paths are host
   * paths, and may lie below /tmp. */
  g_autofree int *trees = g_new(int, binds->len + 1);
  gboolean ok = TRUE;
  guint made = 0;
  for (; ok && made < binds->len; made++) {
    trees[made] = clone_bind(&g_array_index(binds, UvaBind, made), error);
    ok = trees[made] >= 0;
  }
  /* Read while /proc is still the host's: how host root's files show. */
  uid_t host_root = uva_mountpoint_host_root_uid();
  if (ok)
    ok = setup_root(c, binds, trees, host_root, error);
  for (guint i = 0; i < made; i++)
    if (trees[i] >= 0)
      close(trees[i]);
  return ok;
}
