/* seccomp.h - the app's seccomp deny-list and the manager's allow-list. */
#pragma once

/* Installs the filter on the calling thread (after no_new_privs).  Returns
 * 0, or -1 with errno set: it runs in the forked app child, which reports
 * errno to init over its status pipe. */
int uva_seccomp_app_filter(void);

/* Installs the manager's allow-list (and no_new_privs) on the calling
 * thread: from then on it can forward, print, signal and reap, but not
 * execve, open files, clone, ptrace or mount.  0, or -1 with errno. */
int uva_seccomp_manager_filter(void);
