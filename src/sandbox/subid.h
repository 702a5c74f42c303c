/* subid.h - the subordinate id ranges of `--userns auto`: found in
 * /etc/subuid and /etc/subgid, mapped with newuidmap(1) and newgidmap(1). */
#pragma once

#include <glib.h>
#include <sys/types.h>

/* Looks the user (name, or uid as a number, as subuid(5) allows) up in the
 * text of /etc/subuid or /etc/subgid: the first range is *start, *count.
 * FALSE if none. */
gboolean uva_subid_find(const char *text, const char *name, unsigned id,
                        guint32 *start, guint32 *count);

/* The same from the file at path; FALSE with *error saying what to ask
 * root for. */
gboolean uva_subid_lookup(const char *path, const char *name, unsigned id,
                          guint32 *start, guint32 *count, GError **error);

/* The setuid helpers, found at their install paths (never through PATH:
 * they run with root's power).  NULL with *error naming the package. */
char *uva_subid_helper(const char *name, GError **error);

/* Writes pid's uid_map and gid_map through the helpers: 0 inside is our
 * own id, 1 .. count the subordinate range. */
gboolean uva_subid_write_maps(pid_t pid, guint32 uid_start, guint32 uid_count,
                              guint32 gid_start, guint32 gid_count,
                              GError **error);
