/* doctor.h - `uva_container check`: can this machine run containers? */
#pragma once

/* Prints one OK/FAIL line per requirement, each FAIL with its fix.  Returns
 * the exit status: 0 when everything is OK, 1 otherwise.  recorder_path is
 * NULL when http_recorder.py was not found; not_found then says why. */
int uva_doctor_run(const char *recorder_path, const char *not_found);
