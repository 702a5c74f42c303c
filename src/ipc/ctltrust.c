/* ctltrust.c - a client of the control channel (ctl.h) trusts only the
 * manager that made the socket it connected to (issue 22).
 *
 * Theory.  Whoever can write the control directory can bind NAME.sock
 * before NAME's manager does, or after it died, and a later `exec NAME`
 * would hand it the caller's stdin, stdout and stderr (SCM_RIGHTS).  No
 * container can write the directory (hostdir.c refuses a writable area
 * that holds it), but the client does not take that on trust either:
 *
 *  - the manager writes a record ".INO.id" (its pid, the socket's device
 *    and inode) into the same directory, before the socket gets a name; one
 *    socket serves all of a manager's containers, NAME.sock being a hard
 *    link to it per container (ctlserver.c), so one record serves them
 *    too.  The client reads it with O_NOFOLLOW below the directory fd and
 *    compares it with fstatat(2) of NAME.sock (AT_SYMLINK_NOFOLLOW).  The
 *    connected fd is not the listening inode (unix(7): the client end is a
 *    socket of its own), so the path's inode is what can be compared;
 *  - SO_PEERCRED (unix(7)) gives the uid and pid of the process that
 *    called listen(2) on the peer socket: our uid, and the record's pid;
 *  - that pid runs this very executable: /proc/PID/exe and /proc/self/exe
 *    are one file (st_dev, st_ino).  Not the name: an app names its binary
 *    as it likes.  Decided: another copy of uva_container (an installed
 *    one beside a checkout) is refused, naming the binary the manager
 *    runs, since the wire format has no version and a record can only be
 *    proven against a binary we know; one exception, the file that was at
 *    our own path before it was replaced ("PATH (deleted)": a package
 *    upgrade or a rebuild while managers run), which is this program's
 *    earlier build, so `stop` works after an upgrade.
 *
 * Everything is checked after connect(2) and before a byte is sent: the
 * pid binds the connection to the process that wrote the record, whatever
 * the path showed a moment before.  The cost is a handful of system calls
 * on small files (tests/unit.c times it; well under 100 us). */
#include "ipc/ctltrust.h"

#include "base/util.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define RECORD_TAG "uva_container-ctl"
#define RECORD_MAX 128

static char *record_file(ino_t ino) {
  return g_strdup_printf(".%" PRIuMAX ".id", (uintmax_t)ino);
}

gboolean uva_ctltrust_record(int dir_fd, const char *name,
                             const char *sock_file, char **record,
                             GError **error) {
  struct stat st;
  if (fstatat(dir_fd, sock_file, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return uva_fail_errno(error, errno, "control socket for %s", name);
  g_autofree char *file = record_file(st.st_ino);
  g_autofree char *text = g_strdup_printf(
      RECORD_TAG " %d %" PRIuMAX " %" PRIuMAX "\n", (int)getpid(),
      (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
  /* A record left by a dead manager whose socket had this inode number
   * before: ours replaces it (only we write this directory). */
  (void)unlinkat(dir_fd, file, 0);
  uva_autofd fd = openat(
      dir_fd, file,
      O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
  if (fd < 0)
    return uva_fail_errno(error, errno, "record of the control socket for %s",
                          name);
  if (!uva_write_all(fd, text, strlen(text), error)) {
    g_prefix_error(error, "record of the control socket for %s: ", name);
    (void)unlinkat(dir_fd, file, 0);
    return FALSE;
  }
  if (record)
    *record = g_steal_pointer(&file);
  return TRUE;
}

/* Reads the record of NAME's socket of inode ino: FALSE with *why (static
 * text) when it is missing or not a file of ours that only we can write. */
static gboolean read_record(int dir_fd, ino_t ino, pid_t *pid, uintmax_t *dev,
                            uintmax_t *rino, const char **why) {
  g_autofree char *file = record_file(ino);
  uva_autofd fd =
      openat(dir_fd, file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0) {
    *why = "no manager recorded it (a process other than its manager made "
           "it)";
    return FALSE;
  }
  if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
      (st.st_mode & (S_IWGRP | S_IWOTH)) || st.st_nlink != 1) {
    *why = "its record is not a file of yours that only you can write";
    return FALSE;
  }
  char buf[RECORD_MAX + 1];
  ssize_t n;
  do
    n = read(fd, buf, RECORD_MAX);
  while (n < 0 && errno == EINTR);
  int p = 0, end = 0;
  if (n > 0) {
    buf[n] = '\0';
    if (sscanf(buf, RECORD_TAG " %d %ju %ju%n", &p, dev, rino, &end) != 3 ||
        buf[end] != '\n' || p <= 0)
      end = 0;
  }
  if (end == 0) {
    *why = "its record is malformed";
    return FALSE;
  }
  *pid = (pid_t)p;
  return TRUE;
}

/* The stat of our own executable, once: it does not change under us. */
static const struct stat *self_exe(void) {
  static struct stat st;
  static int state; /* 0 not yet, 1 have it, -1 cannot */
  if (state == 0)
    state = stat("/proc/self/exe", &st) == 0 ? 1 : -1;
  return state > 0 ? &st : NULL;
}

/* Whether pid runs this executable (see the theory above); *theirs gets
 * what it runs otherwise, where it can be read. */
static gboolean runs_us(pid_t pid, char **theirs) {
  g_autofree char *link = g_strdup_printf("/proc/%d/exe", (int)pid);
  const struct stat *self = self_exe();
  struct stat st;
  if (self && stat(link, &st) == 0 && st.st_dev == self->st_dev &&
      st.st_ino == self->st_ino)
    return TRUE;
  *theirs = g_file_read_link(link, NULL);
  g_autofree char *ours = g_file_read_link("/proc/self/exe", NULL);
  if (*theirs && ours) {
    g_autofree char *replaced = g_strconcat(ours, " (deleted)", NULL);
    if (g_str_equal(*theirs, replaced))
      return TRUE;
  }
  return FALSE;
}

static gboolean refuse(GError **error, int dir_fd, const char *name,
                       const char *why) {
  g_autofree char *link = g_strdup_printf("/proc/self/fd/%d", dir_fd);
  g_autofree char *dir = g_file_read_link(link, NULL);
  return uva_fail(error,
                  "refusing the control socket of %s (%s/%s.sock): %s; "
                  "nothing was sent to it",
                  name, dir ? dir : "the control directory", name, why);
}

gboolean uva_ctltrust_check(int dir_fd, const char *name, int sock,
                            GError **error) {
  g_autofree char *sock_file = g_strdup_printf("%s.sock", name);
  struct stat st;
  if (fstatat(dir_fd, sock_file, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return refuse(error, dir_fd, name, "it went away while connecting");
  if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid())
    return refuse(error, dir_fd, name, "it is not a socket of yours");
  pid_t pid = 0;
  uintmax_t dev = 0, ino = 0;
  const char *why = NULL;
  if (!read_record(dir_fd, st.st_ino, &pid, &dev, &ino, &why))
    return refuse(error, dir_fd, name, why);
  if (dev != (uintmax_t)st.st_dev || ino != (uintmax_t)st.st_ino)
    return refuse(error, dir_fd, name, "its record names another socket");
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
    g_autofree char *w = g_strdup_printf("SO_PEERCRED: %s", g_strerror(errno));
    return refuse(error, dir_fd, name, w);
  }
  if (cred.uid != geteuid()) {
    g_autofree char *w =
        g_strdup_printf("its listener belongs to uid %u", (unsigned)cred.uid);
    return refuse(error, dir_fd, name, w);
  }
  if (cred.pid != pid) {
    g_autofree char *w = g_strdup_printf(
        "its listener is pid %d, not the manager that recorded it (pid %d)",
        (int)cred.pid, (int)pid);
    return refuse(error, dir_fd, name, w);
  }
  g_autofree char *theirs = NULL;
  if (!runs_us(pid, &theirs)) {
    g_autofree char *ours = g_file_read_link("/proc/self/exe", NULL);
    g_autofree char *w = g_strdup_printf(
        "its manager (pid %d) runs %s, not uva_container %s; use that one",
        (int)pid, theirs ? theirs : "a program that cannot be read",
        ours ? ours : "(this one)");
    return refuse(error, dir_fd, name, w);
  }
  return TRUE;
}

void uva_ctltrust_forget(int dir_fd, ino_t ino, pid_t pid) {
  pid_t who = 0;
  uintmax_t dev = 0, rino = 0;
  const char *why = NULL;
  if (read_record(dir_fd, ino, &who, &dev, &rino, &why) && who == pid)
    uva_ctltrust_forget_any(dir_fd, ino);
}

void uva_ctltrust_forget_any(int dir_fd, ino_t ino) {
  g_autofree char *file = record_file(ino);
  (void)unlinkat(dir_fd, file, 0);
}
