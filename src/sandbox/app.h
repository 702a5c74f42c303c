/* app.h - an app process's start inside a container (app.c), shared by
 * init's app (init.c) and `exec`'s commands (execin.c). */
#pragma once

#include "spec/spec.h"

#include <signal.h>

/* The signals init forwards to the app; they are blocked in init from the
 * moment the container is cloned so that none is lost (a blocked signal is
 * queued even for a namespace's init, which otherwise drops signals it has
 * no handler for: pid_namespaces(7)). */
void uva_app_signal_set(sigset_t *set);

/* The app's environment: small and predictable.  Free with g_strfreev. */
char **uva_app_env(const UvaContainerSpec *c);

/* In a child of init about to exec: every fd but stdio close-on-exec,
 * default signals, then no_new_privs, the app's capabilities and its
 * seccomp filter, as for the app itself (status_fd and go_fd: the app's
 * hand-over of its bypass notifier, init.c; -1 for none); -1 with errno
 * on failure. */
int uva_app_confine(const UvaContainerSpec *c, int status_fd, int go_fd);

/* execve(2) of argv, argv[0] looked up in UVA_APP_PATH when it has no
 * '/'; returns only on failure, with the errno, or a code of execfmt.h
 * for a program this kernel cannot run (uva_execfmt_strerror). */
int uva_app_exec(char **argv, char **env);

/* The end of a child that failed to become its program (the app, an exec
 * command): code (an errno, or a code of execfmt.h) written to status_fd,
 * whose reader tells the manager, then _exit(127). */
G_GNUC_NORETURN void uva_app_fail(int status_fd, int code);

/* The app runs under a bypass driver (--port-driver bypass or --outbound
 * bypass): its filter has a notification listener that init serves. */
gboolean uva_app_uses_bypass(const UvaContainerSpec *c);
