/* doctor.h - `uva_container check`: can this machine run containers? */
#pragma once

#include <glib.h>

/* Prints one OK/FAIL line per requirement, each FAIL with its fix.  Returns
 * the exit status: 0 when everything is OK, 1 otherwise.  recorder_path is
 * NULL when http_recorder.py was not found; not_found then says why. */
int uva_doctor_run(const char *recorder_path, const char *not_found);

/* The "kernel" line for release (uname -r): which features of those the
 * code uses it lacks, and whether the default runs (*ok).  Exposed for the
 * unit tests. */
char *uva_doctor_kernel_report(const char *release, gboolean *ok);
