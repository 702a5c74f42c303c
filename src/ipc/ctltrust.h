/* ctltrust.h - whether the peer of a control socket is the manager that
 * made it (issue 22).  The manager writes a record next to the socket it
 * creates; a client checks it before it sends anything, fds above all.
 * See ctltrust.c for why each part of the check is there. */
#pragma once

#include <glib.h>
#include <sys/stat.h>
#include <sys/types.h>

/* The record of the socket sock_file (as bound, before it is linked into
 * place as NAME.sock) in the control directory dir_fd: ".INO.id", holding
 * our pid and the socket's device and inode, created 0600 without
 * following a symlink; name is for messages.  *record gets its file name
 * (free it).  Written before the socket shows under a name, so that a
 * client never meets a socket without its record. */
gboolean uva_ctltrust_record(int dir_fd, const char *name,
                             const char *sock_file, char **record,
                             GError **error);
/* Removes the record of the socket of inode ino if it names pid (the
 * manager that wrote it). */
void uva_ctltrust_forget(int dir_fd, ino_t ino, pid_t pid);
/* Removes the record of the socket of inode ino whoever wrote it (a dead
 * manager's, with its socket). */
void uva_ctltrust_forget_any(int dir_fd, ino_t ino);

/* Whether sock, connected to NAME.sock in the control directory dir_fd,
 * talks to the manager that made it: the socket there is ours, its record
 * is ours and names this very inode, and the peer (SO_PEERCRED) has our
 * uid and the record's pid, which runs this uva_container.  FALSE with
 * *error in one line ("refusing the control socket of NAME: ...") when
 * not; nothing is ever sent on sock here. */
gboolean uva_ctltrust_check(int dir_fd, const char *name, int sock,
                            GError **error);
