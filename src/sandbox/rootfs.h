/* rootfs.h - the container's own root: a tmpfs with the host's system
 * directories bound read-only, a fresh /proc, a minimal /dev, and the
 * container's working directory and /tmp from the host. */
#pragma once

#include "spec/hostdir.h"
#include "spec/spec.h"

#include <glib.h>

/* Runs in the container's init, in its new mount and pid namespaces, with
 * the uid/gid maps already written.  binds (of UvaBind, from hostdir.c, in
 * mount order: /tmp, /app, volumes, protections) are mounted only as the
 * objects the manager opened.  On return the process's root and cwd are
 * the new root's / and /app. */
gboolean uva_rootfs_setup(const UvaContainerSpec *c, const GArray *binds,
                          GError **error);

/* The /etc/hosts text of a container named name (with_tap: it has
 * 10.0.2.100; network none: 127.0.1.1, as Debian names a host). */
char *uva_rootfs_hosts_text(const char *name, gboolean with_tap);
