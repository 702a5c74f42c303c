/* portholder.h - who holds a host port we could not bind: best effort,
 * for the message only. */
#pragma once

#include <glib.h>
#include <sys/types.h>

typedef struct {
  pid_t pid;       /* 0: not found among the processes we can see */
  char comm[32];   /* its /proc/PID/comm */
  gboolean is_uva; /* its executable is a uva_container */
} UvaPortHolder;

/* Looks for a process of ours holding a socket on port: a listening TCP
 * socket, or a bound UDP one (/proc/net/{tcp,tcp6,udp,udp6} of our network
 * namespace give the socket inode, /proc/PID/fd of our own processes the
 * holder).  Another user's processes are not readable, so their sockets
 * are never found: pid stays 0. */
void uva_portholder_find(guint16 port, gboolean udp, UvaPortHolder *out);
/* A port bound by a running manager but not yet listening is in no socket
 * table: the managers are asked, with this callback (main.c gives
 * uva_ctl_port_holder: the control channel sits above this folder, so it
 * is called, not included).  Returns the manager's pid, or 0. */
typedef pid_t (*UvaPortAskFunc)(guint16 port, gboolean udp, gpointer data);
/* data is borrowed: it must outlive every uva_portholder_find(). */
void uva_portholder_set_asker(UvaPortAskFunc ask, gpointer data);

/* "another uva_container of yours (pid N)", "python3 (pid N) of yours" or
 * "another program (find it with: ss -ltnp 'sport = :PORT')". */
char *uva_portholder_describe(guint16 port, gboolean udp);
