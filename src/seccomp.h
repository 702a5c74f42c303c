/* seccomp.h - the app's default seccomp deny-list. */
#pragma once

/* Installs the filter on the calling thread (after no_new_privs).  Returns
 * 0, or -1 with errno set: it runs in the forked app child, which reports
 * errno to init over its status pipe. */
int uva_seccomp_app_filter(void);
