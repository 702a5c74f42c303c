/* hostdir.h - the host directories and files a container is given, resolved
 * once by the manager and handed to the container's init as O_PATH fds. */
#pragma once

#include "spec/spec.h"

#include <glib.h>
#include <sys/types.h>

/* One host object mounted into a container. */
typedef struct {
  char *path;   /* canonical host path (no symlink in it) */
  char *target; /* absolute path inside the container */
  int fd;       /* O_PATH on path, opened by the manager (owned) */
  dev_t dev;    /* what fd is: the child mounts only this object */
  ino_t ino;
  gboolean is_dir;
  gboolean read_only;
  /* A protection (the spec file over itself, a directory on its way):
   * the target must already show this very object, or it is skipped;
   * nothing is ever created for it. */
  gboolean existing_only;
} UvaBind;

/* A container's host side, ready to start: its binds (/tmp first, /app
 * second, then volumes and protections, in mount order) and the flock(2)
 * on its /tmp that keeps a second manager off it. */
typedef struct {
  GArray *binds; /* of UvaBind */
  int lock_fd;
} UvaHostdirs;

/* For every container of spec, in order: resolves its workdir, /tmp and
 * volume sources without following a symlink that any container could
 * have planted, checks (and creates, 0700) the directories the manager
 * owns, locks each /tmp, empties a fresh workdir, writes the seed file,
 * and lists what each container mounts.  Returns an array of UvaHostdirs*
 * parallel to spec->containers, or NULL with *error naming the path and
 * the fix. */
GPtrArray *uva_hostdir_prepare(const UvaSpec *spec, GError **error);
void uva_hostdir_free(UvaHostdirs *h);

/* Where the control sockets live (ctl.h), canonical: the runtime
 * directory's uva_container ($XDG_RUNTIME_DIR), else STATE/run.  *own_from
 * (may be NULL) gets the first directory that must be ours on the way. */
char *uva_hostdir_control_dir(const char *state_dir, char **own_from,
                              GError **error);

/* Walks the canonical directory path down from /, creating what is missing
 * (0700), never through a symlink, and returns an O_PATH fd on it.  Every
 * directory at or below own_from (canonical; NULL: only path itself) must
 * be ours and not writable by others; those above, root's or ours. */
int uva_hostdir_open_dir(const char *path, const char *own_from,
                         GError **error);

/* Opens the canonical path with O_PATH and no symlink anywhere on the way
 * (openat2(2) RESOLVE_NO_SYMLINKS): what was resolved is what is opened. */
int uva_hostdir_open_canonical(const char *path, int extra_flags,
                               GError **error);

/* Resolves path to a canonical one like realpath(3), but refuses a
 * symlink that lies in a directory at or below one of areas (NULL-ended,
 * canonical) or that is owned by another user than root or us.  Missing
 * trailing components are kept as they are (created later).  Exposed for
 * the unit tests. */
char *uva_hostdir_resolve(const char *path, const char *const *areas,
                          GError **error);

/* Checks the spec file open on fd (named path): a regular file, owned by
 * us (or root), not writable by group or others, with one link only (a
 * hard link elsewhere could be written behind the protection). */
gboolean uva_hostdir_check_spec_file(int fd, const char *path, dev_t *dev,
                                     ino_t *ino, GError **error);

/* Removes state_dir/NAME (a container's default workdir and /tmp), never
 * following a symlink in it; refused while a manager runs it. */
gboolean uva_hostdir_remove_state(const char *state_dir, const char *name,
                                  GError **error);
