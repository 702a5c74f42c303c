/* mountpoint.h - where a volume's target lies in the new root: walked one
 * component at a time beneath it, following only the symlinks no
 * container can have planted (see mountpoint.c). */
#pragma once

#include <glib.h>
#include <sys/types.h>

/* What the walk trusts, gathered once per container before any volume is
 * attached.  writable: canonical container paths (NULL-ended) below which
 * a container can write, or could have written in an earlier run (the
 * workdir, /tmp, every volume, the scratch tmpfs); system: the read-only
 * binds of the host's own directories; host_root: the uid under which
 * host root's files show in this user namespace. */
typedef struct {
  const char *const *writable;
  const char *const *system;
  uid_t host_root;
} UvaMountpointTrust;

/* The uid under which this process (in its user namespace) sees host
 * root's files: root's inside id if /proc/self/uid_map maps host 0, else
 * the overflow uid (user_namespaces(7), "Unmapped user and group IDs"). */
uid_t uva_mountpoint_host_root_uid(void);

/* An O_PATH fd on the mount point for target below root_fd (the new root,
 * a path of its own: symlinks resolve beneath it, as RESOLVE_IN_ROOT).
 * Missing directories are made; a missing last component is made as a
 * directory or an empty file (O_EXCL) unless existing_only, where -1 and
 * no error mean "not there".  A symlink on the way is followed only if
 * trust says nobody but host root can have put it there. */
int uva_mountpoint_open(int root_fd, const char *target, gboolean is_dir,
                        gboolean existing_only, const UvaMountpointTrust *trust,
                        GError **error);
