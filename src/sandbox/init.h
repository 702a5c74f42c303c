/* init.h - pid 1 of a container: starts the app as pid 2, reaps every child,
 * forwards signals, exits with the app's status. */
#pragma once

#include "spec/spec.h"

/* The signals init forwards to the app; they are blocked in init from the
 * moment the container is cloned so that none is lost (a blocked signal is
 * queued even for a namespace's init, which otherwise drops signals it has
 * no handler for: pid_namespaces(7)). */
void uva_init_signal_set(sigset_t *set);

/* Forks and execs c->argv as pid 2 with stdout/stderr on out_fd/err_fd, then
 * supervises it.  Reports READY or ERROR to the manager on sync_fd.  Never
 * returns: exits with the app's status, 128+n if it died of signal n. */
G_GNUC_NORETURN void uva_init_run(const UvaContainerSpec *c, int sync_fd,
                                  int out_fd, int err_fd);

/* The app's environment: small and predictable.  Free with g_strfreev. */
char **uva_init_app_env(const UvaContainerSpec *c);
/* In a child of init about to exec: every fd but stdio close-on-exec,
 * default signals, then no_new_privs, the app's capabilities and its
 * seccomp filter, as for the app itself (status_fd and go_fd: the app's
 * hand-over of its bypass notifier, init.c; -1 for none); -1 with errno
 * on failure. */
int uva_init_confine(const UvaContainerSpec *c, int status_fd, int go_fd);
/* execve(2) of argv, argv[0] looked up in UVA_APP_PATH when it has no
 * '/'; returns only on failure, with the errno, or a code of execfmt.h
 * for a program this kernel cannot run (uva_execfmt_strerror). */
int uva_init_exec(char **argv, char **env);
