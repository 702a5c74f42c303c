/* volume.h - bind mounts asked for with -v and `volume =`: their text
 * form, with escapes, so that any path can be named and printed back. */
#pragma once

#include "spec/spec.h"

#include <glib.h>

/* "HOST_PATH:/CONTAINER_PATH[:ro|:rw]"; a relative HOST_PATH is relative
 * to base_dir (NULL: the current directory).  Inside a path, \: is a
 * colon, \; a semicolon and \\ a backslash; any other \ is an error. */
gboolean uva_volume_parse(const char *text, const char *base_dir, UvaMount *out,
                          GError **error);

/* Splits a spec file's raw `volume` value at every ';' not escaped as \;,
 * keeping the escapes for uva_volume_parse, trimming blanks around each
 * entry and dropping empty ones. */
char **uva_volume_split(const char *raw);

/* The text uva_volume_parse reads back to the same mount: ':', ';' and
 * '\' in either path escaped. */
char *uva_volume_string(const UvaMount *m);
