/* specfile.h - specs as GKeyFile text: one [container NAME] group each.
 * `uva_container up FILE` reads one; --print-default-spec writes the
 * built-in default as one. */
#pragma once

#include "spec/spec.h"

#include <glib.h>

/* Parses text (read from path, which only names it in errors and anchors
 * relative paths).  Missing workdir/tmp default to state_dir/NAME/www and
 * state_dir/NAME/tmp.  Every error names the file and, where it has one,
 * the line. */
UvaSpec *uva_specfile_parse(const char *path, const char *text,
                            const char *state_dir, GError **error);
UvaSpec *uva_specfile_load(const char *path, const char *state_dir,
                           GError **error);
/* The key file text of spec. */
char *uva_specfile_print(const UvaSpec *spec);
