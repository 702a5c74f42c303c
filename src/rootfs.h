/* rootfs.h - the container's own root: a tmpfs with the host's system
 * directories bound read-only, a fresh /proc, a minimal /dev, and the
 * container's working directory and /tmp from the host. */
#pragma once

#include "spec.h"

#include <glib.h>

/* Runs in the container's init, in its new mount and pid namespaces, with
 * the uid/gid maps already written.  Host paths in c must be absolute and
 * canonical.  On return the process's root and cwd are the new root's / and
 * /app. */
gboolean uva_rootfs_setup(const UvaContainerSpec *c, GError **error);

/* The /etc/hosts text of a container named name. */
char *uva_rootfs_hosts_text(const char *name);
