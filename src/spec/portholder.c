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
#include "ipc/ctl.h"

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

static char *ctl_state_dir;

void uva_portholder_use_state_dir(const char *state_dir) {
  g_free(ctl_state_dir);
  ctl_state_dir = g_strdup(state_dir);
}

/* A published TCP port listens only once its app does (fwd.c): until then
 * it is bound but in no socket table.  The running managers say which
 * ports they hold (`ps` over the control channel). */
static void ask_managers(guint16 port, gboolean udp, UvaPortHolder *out) {
  g_autoptr(GPtrArray) names =
      ctl_state_dir ? uva_ctl_list(ctl_state_dir, NULL) : NULL;
  /* A ps port field: "HOST:PORT->CPORT/proto". */
  g_autofree char *want = g_strdup_printf(":%u->", port);
  for (guint i = 0; names && i < names->len && !out->pid; i++) {
    uva_autofd fd = uva_ctl_connect(ctl_state_dir, names->pdata[i], NULL);
    UvaCtlHead req = {.type = UVA_CTL_PS};
    g_autofree char *text = NULL;
    if (fd < 0 || !uva_ctl_call(fd, &req, NULL, 0, NULL, 0, 2000, &text, NULL))
      continue;
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l && !out->pid; l++) {
      g_auto(GStrv) f = g_strsplit(*l, "\t", UVA_PS_FIELDS);
      if (g_strv_length(f) != UVA_PS_FIELDS)
        continue;
      g_auto(GStrv) ports = g_strsplit(f[UVA_PS_PORTS], ", ", -1);
      for (char **p = ports; *p && !out->pid; p++)
        if (strstr(*p, want) && g_str_has_suffix(*p, udp ? "/udp" : "/tcp")) {
          out->pid = (pid_t)atoi(f[UVA_PS_PID]);
          out->is_uva = TRUE;
          g_strlcpy(out->comm, "uva_container", sizeof out->comm);
        }
    }
  }
}

void uva_portholder_find(guint16 port, gboolean udp, UvaPortHolder *out) {
  memset(out, 0, sizeof *out);
  g_autoptr(GArray) inodes = g_array_new(FALSE, FALSE, sizeof(unsigned long));
  table_inodes(udp ? "/proc/net/udp" : "/proc/net/tcp", port, udp, inodes);
  table_inodes(udp ? "/proc/net/udp6" : "/proc/net/tcp6", port, udp, inodes);
  if (!inodes->len) {
    ask_managers(port, udp, out);
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
