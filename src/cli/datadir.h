/* datadir.h - where the files uva_container ships beside its binary
 * (http_recorder.py) are found. */
#pragma once

#include <glib.h>

/* The first existing file called name among, in order: the binary's own
 * directory (a checkout after `make`), BINDIR/../share/uva_container (an
 * installed binary, whatever PREFIX it was installed under) and datadir
 * (the compiled-in DATADIR).  exe is the binary's path (/proc/self/exe).
 * NULL and *error naming every path tried and the fix when none exists. */
char *uva_datadir_find(const char *exe, const char *datadir, const char *name,
                       GError **error);
