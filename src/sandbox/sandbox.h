/* sandbox.h - starting a container: clone into new namespaces, write the
 * uid/gid maps, and, in the child, set up network, root and hand over to
 * init. */
#pragma once

#include "spec/hostdir.h"
#include "spec/spec.h"

#include <glib.h>
#include <sys/types.h>

typedef struct {
  pid_t pid;   /* host pid of the container's init */
  int sync_fd; /* manager's end of the sync socket (owned) */
} UvaSandbox;

/* Raises our soft RLIMIT_NOFILE to the hard one, remembering the caller's,
 * which each container started after gets back before anything else.
 * The manager holds about nine fds per container, and each forwarded
 * connection two: the usual soft limit of 1024 made `up` of 168
 * containers fail with "Too many open files". */
void uva_sandbox_raise_nofile(void);

/* Clones c's init with its stdout/stderr going to out_fd/err_fd (which the
 * caller keeps and closes) and the host objects of binds (of UvaBind, the
 * caller keeps their fds), writes its id maps and lets it go.  The init
 * then sends TAP (unless with_tap is FALSE), then READY or ERROR. */
gboolean uva_sandbox_start(const UvaContainerSpec *c, const GArray *binds,
                           gboolean with_tap, int out_fd, int err_fd,
                           UvaSandbox *out, GError **error);

/* A sentence on what to do when creating a user namespace failed with err,
 * read from the sysctls that explain it; NULL when nothing is known. */
char *uva_sandbox_userns_hint(int err);
