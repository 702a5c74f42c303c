/* portholder.c - naming what holds a port, so that "already in use" says
 * who.  Only on the error path, and cheap: the socket tables of our own
 * network namespace (proc(5), /proc/net/tcp: local_address as hex
 * ADDR:PORT, st 0A = LISTEN, the inode last but one of the fixed
 * columns) give the socket inodes on the port; /proc/PID/fd of the
 * processes we own (others' are unreadable: ptrace access mode, proc(5))
 * shows which one holds "socket:[INODE]".  Nothing here is trusted for
 * anything but the message. */
#include "spec/portholder.h"

#include "base/util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TCP_LISTEN 0x0A

/* Adds to inodes those of sockets on port in one /proc/net table. */
static void table_inodes(const char *path, guint16 port, gboolean udp,
                         GArray *inodes) {
  g_autofree char *text = NULL;
  if (!g_file_get_contents(path, &text, NULL, NULL))
    return; /* no IPv6 (ipv6.disable=1): no tcp6 */
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  for (char **l = lines; *l && l[1]; l++) {
    if (l == lines)
      continue; /* the header */
    char local[64];
    unsigned st = 0;
    unsigned long inode = 0;
    /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
    if (sscanf(*l, " %*s %63s %*s %x %*s %*s %*s %*u %*u %lu", local, &st,
               &inode) != 3)
      continue;
    const char *colon = strrchr(local, ':');
    if (!colon || strtoul(colon + 1, NULL, 16) != port || !inode)
      continue;
    if (!udp && st != TCP_LISTEN)
      continue;
    g_array_append_val(inodes, inode);
  }
}

static gboolean holds_one(const char *pid, const GArray *inodes) {
  g_autofree char *fd_dir = g_strdup_printf("/proc/%s/fd", pid);
  DIR *d = opendir(fd_dir);
  if (!d)
    return FALSE;
  gboolean found = FALSE;
  struct dirent *e;
  while (!found && (e = readdir(d))) {
    char link[64];
    g_autofree char *p = g_strdup_printf("%s/%s", fd_dir, e->d_name);
    ssize_t n = readlink(p, link, sizeof link - 1);
    unsigned long inode;
    if (n <= 0)
      continue;
    link[n] = '\0';
    if (sscanf(link, "socket:[%lu]", &inode) != 1)
      continue;
    for (guint i = 0; i < inodes->len && !found; i++)
      found = g_array_index(inodes, unsigned long, i) == inode;
  }
  closedir(d);
  return found;
}

static UvaPortAskFunc ask_managers;
static gpointer ask_data;

void uva_portholder_set_asker(UvaPortAskFunc ask, gpointer data) {
  ask_managers = ask;
  ask_data = data;
}

void uva_portholder_find(guint16 port, gboolean udp, UvaPortHolder *out) {
  memset(out, 0, sizeof *out);
  g_autoptr(GArray) inodes = g_array_new(FALSE, FALSE, sizeof(unsigned long));
  table_inodes(udp ? "/proc/net/udp" : "/proc/net/tcp", port, udp, inodes);
  table_inodes(udp ? "/proc/net/udp6" : "/proc/net/tcp6", port, udp, inodes);
  if (!inodes->len) {
    /* A published TCP port listens only once its app does (fwd.c): until
     * then it is bound but in no socket table, and only the managers can
     * say who holds it. */
    out->pid = ask_managers ? ask_managers(port, udp, ask_data) : 0;
    if (out->pid) {
      out->is_uva = TRUE;
      g_strlcpy(out->comm, "uva_container", sizeof out->comm);
    }
    return;
  }
  DIR *proc = opendir("/proc");
  if (!proc)
    return;
  struct dirent *e;
  while ((e = readdir(proc))) {
    char *end;
    long pid = strtol(e->d_name, &end, 10);
    struct stat st;
    if (*end || pid <= 0 || pid == (long)getpid())
      continue;
    g_autofree char *dir = g_strdup_printf("/proc/%ld", pid);
    if (stat(dir, &st) < 0 || st.st_uid != getuid() ||
        !holds_one(e->d_name, inodes))
      continue;
    out->pid = (pid_t)pid;
    g_autofree char *comm_path = g_strdup_printf("%s/comm", dir);
    g_autofree char *comm = uva_read_small_file(comm_path, NULL);
    g_strlcpy(out->comm, comm ? g_strstrip(comm) : "?", sizeof out->comm);
    g_autofree char *exe_path = g_strdup_printf("%s/exe", dir);
    g_autofree char *exe = g_file_read_link(exe_path, NULL);
    g_autofree char *base = exe ? g_path_get_basename(exe) : NULL;
    out->is_uva = base && g_str_has_prefix(base, "uva_container");
    break;
  }
  closedir(proc);
}

char *uva_portholder_describe(guint16 port, gboolean udp) {
  UvaPortHolder h;
  uva_portholder_find(port, udp, &h);
  if (h.pid && h.is_uva)
    return g_strdup_printf("another uva_container of yours (pid %d)",
                           (int)h.pid);
  if (h.pid)
    return g_strdup_printf("%s (pid %d) of yours", h.comm, (int)h.pid);
  return g_strdup_printf("another program (find it with: ss -l%cnp "
                         "'sport = :%u')",
                         udp ? 'u' : 't', port);
}
